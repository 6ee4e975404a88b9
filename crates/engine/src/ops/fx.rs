//! FX: the operator's mid rates, quotes (valid 75 seconds, used once, for one transaction type)
//! and conversions between an account's own currency balances through the platform's FX
//! position. The arithmetic and its rounding are in `outlay_core::fx`.

use outlay_core::fx::{self, CurrencyPair, Fixed, FxError, Markup, Rate, RateTable};
use outlay_core::ledger::{Reference, rules};
use outlay_core::{AccountId, Amount, Currency};
use outlay_store::{ConversionRow, FxRateRow, QuoteRow, WriteTx};
use time::{Date, Duration, OffsetDateTime, UtcOffset};
use uuid::Uuid;

use super::{Ctx, posting};
use crate::events::{conversion_data, event};
use crate::{CommandError, NewConversion, NewQuote, Outcome};

/// How long a quote can be used (UQPAY: 75 seconds).
pub const QUOTE_VALIDITY: Duration = Duration::seconds(75);

/// Prefix of conversion short references (`XC240822-TXCRWAEI`, as UQPAY's system references).
pub const SHORT_REF_PREFIX: &str = "XC";

fn rejected(field: &'static str, code: &'static str, message: impl Into<String>) -> CommandError {
    CommandError::Rejected { field, code, message: message.into() }
}

fn internal(what: &str, e: impl std::fmt::Display) -> CommandError {
    CommandError::Internal(format!("{what}: {e}"))
}

/// `t` to the millisecond, as both stores keep it, so a response equals what is read back later.
fn to_ms(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_millisecond(t.millisecond()).unwrap_or(t)
}

/// The calendar date in UTC: the only conversion date Outlay settles on.
pub fn utc_today(now: OffsetDateTime) -> Date {
    now.to_offset(UtcOffset::UTC).date()
}

fn check_conversion_date(date: Date, now: OffsetDateTime) -> Result<(), CommandError> {
    let today = utc_today(now);
    if date == today {
        Ok(())
    } else {
        Err(rejected(
            "conversion_date",
            "invalid_conversion_date",
            format!("conversion_date must be today's date in UTC ({today}); only the current date is supported"),
        ))
    }
}

pub async fn set_rates(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    rates: &[(CurrencyPair, Rate)],
    source: &str,
) -> Result<Outcome, CommandError> {
    for (pair, rate) in rates {
        let row = FxRateRow {
            currency_pair: pair.code(),
            rate: rate.to_string(),
            source: source.to_owned(),
            updated_at: ctx.now,
        };
        tx.upsert_fx_rate(&row).await?;
    }
    Ok(Outcome::RatesSet { count: rates.len() })
}

/// The stored rates a `sell → buy` conversion may need (direct, reverse, and through USD).
async fn rate_table(tx: &mut dyn WriteTx, sell: Currency, buy: Currency) -> Result<RateTable, CommandError> {
    let mut table = RateTable::new();
    for pair in RateTable::candidate_pairs(sell, buy) {
        if let Some(row) = tx.fx_rate(&pair.code()).await? {
            let rate =
                Rate::parse(&row.rate).map_err(|e| internal(&format!("stored rate {}", row.currency_pair), e))?;
            table.insert(pair, rate);
        }
    }
    Ok(table)
}

pub async fn create_quote(tx: &mut dyn WriteTx, ctx: &Ctx<'_>, q: &NewQuote) -> Result<Outcome, CommandError> {
    let (sell, buy) = (q.sell_currency, q.buy_currency);
    if sell == buy {
        return Err(rejected("buy_currency", "same_currency", "buy_currency must differ from sell_currency"));
    }
    check_conversion_date(q.conversion_date, ctx.now)?;
    let pair = format!("{sell}{buy}");
    let table = rate_table(tx, sell, buy).await?;
    let Some(mid) = table.mid(sell, buy) else {
        return Err(rejected(
            "currency_pair",
            "unsupported_currency_pair",
            format!(
                "currency_pair {pair} is not supported: there is no rate for it, its reverse, or both legs through USD"
            ),
        ));
    };
    let markup = Markup::from_bps(ctx.config.fx_markup_bps).map_err(|e| internal("configuration", e))?;
    let client_rate = fx::client_rate(mid, markup).map_err(|e| {
        rejected("currency_pair", "rate_out_of_range", format!("currency_pair {pair} cannot be quoted: {e}"))
    })?;
    let mid_rate = Rate::round_nearest(mid).map_or_else(|_| mid.normalize().to_string(), |r| r.to_string());
    let deal = fx::deal(sell, buy, client_rate, q.fixed).map_err(|e| {
        let (field, currency) = match q.fixed {
            Fixed::Sell(_) => ("sell_amount", buy),
            Fixed::Buy(_) => ("buy_amount", sell),
        };
        match e {
            FxError::TooSmall => rejected(
                field,
                "amount_too_small",
                format!("{field} is too small: at {client_rate} it converts to less than the minor unit of {currency}"),
            ),
            FxError::TooLarge => rejected(
                field,
                "amount_too_large",
                format!("{field} is too large: at {client_rate} the {currency} amount would exceed the maximum"),
            ),
            FxError::Rate(e) => internal("client rate", e),
        }
    })?;
    let row = QuoteRow {
        id: Uuid::now_v7(),
        account_id: q.account,
        sell_currency: sell.code().to_owned(),
        sell_amount: deal.sell.minor(),
        buy_currency: buy.code().to_owned(),
        buy_amount: deal.buy.minor(),
        fixed_side: match q.fixed {
            Fixed::Sell(_) => "sell",
            Fixed::Buy(_) => "buy",
        }
        .to_owned(),
        mid_rate,
        client_rate: client_rate.to_string(),
        markup_bps: i32::try_from(markup.bps()).map_err(|e| internal("markup", e))?,
        transaction_type: q.transaction_type.as_str().to_owned(),
        conversion_date: q.conversion_date,
        valid_from: to_ms(ctx.now),
        valid_to: to_ms(ctx.now) + QUOTE_VALIDITY,
        used_at: None,
        used_by: None,
    };
    tx.insert_quote(&row).await?;
    Ok(Outcome::Quote(Box::new(row)))
}

/// Use a quote for a `expected_type` operation (`conversion` or `payout`) of `account`: it
/// must exist and belong to the account, have that transaction type, be unused and within its
/// validity. The quote is marked used by `used_by` (the conversion or payout) in the caller's
/// transaction (a conditional update, so two writers can never both use it); a refusal later in
/// the same command rolls that back too.
pub(crate) async fn consume_quote_for(
    tx: &mut dyn WriteTx,
    account: AccountId,
    quote_id: Uuid,
    expected_type: &str,
    used_by: Uuid,
    now: OffsetDateTime,
) -> Result<QuoteRow, CommandError> {
    let mut quote = match tx.quote(quote_id).await? {
        // Another account's quote is reported exactly as a missing one.
        Some(q) if q.account_id == account => q,
        _ => return Err(rejected("quote_id", "quote_not_found", format!("quote {quote_id} does not exist"))),
    };
    if quote.transaction_type != expected_type {
        return Err(rejected(
            "quote_id",
            "quote_type_mismatch",
            format!(
                "quote {quote_id} was created with transaction_type {}; a {expected_type} needs a quote created with transaction_type {expected_type}",
                quote.transaction_type
            ),
        ));
    }
    let already_used = || rejected("quote_id", "quote_already_used", format!("quote {quote_id} was already used"));
    if quote.used_at.is_some() {
        return Err(already_used());
    }
    if now > quote.valid_to {
        return Err(rejected(
            "quote_id",
            "quote_expired",
            format!(
                "quote {quote_id} expired at {}; quotes are valid for {} seconds, request a new one",
                crate::events::rfc3339(quote.valid_to),
                QUOTE_VALIDITY.whole_seconds()
            ),
        ));
    }
    if !tx.mark_quote_used(quote_id, used_by, now).await? {
        return Err(already_used());
    }
    quote.used_at = Some(to_ms(now));
    quote.used_by = Some(used_by);
    Ok(quote)
}

fn stored_currency(code: &str) -> Result<Currency, CommandError> {
    Currency::parse(code).map_err(|e| internal(&format!("stored currency {code}"), e))
}

fn stored_amount(minor: i64) -> Result<Amount, CommandError> {
    Amount::from_minor(minor).map_err(|e| internal("stored amount", e))
}

pub async fn create_conversion(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    c: &NewConversion,
) -> Result<Outcome, CommandError> {
    let id = Uuid::now_v7();
    let quote = consume_quote_for(tx, c.account, c.quote_id, "conversion", id, ctx.now).await?;
    let mismatch = |field: &'static str, sent: String, quoted: String| {
        rejected(
            field,
            "quote_mismatch",
            format!(
                "{field} {sent} does not match the quote's {quoted}: key conversion parameters must match the quote"
            ),
        )
    };
    if c.sell_currency.code() != quote.sell_currency {
        return Err(mismatch("sell_currency", c.sell_currency.to_string(), quote.sell_currency));
    }
    if c.buy_currency.code() != quote.buy_currency {
        return Err(mismatch("buy_currency", c.buy_currency.to_string(), quote.buy_currency));
    }
    if c.conversion_date != quote.conversion_date {
        return Err(mismatch("conversion_date", c.conversion_date.to_string(), quote.conversion_date.to_string()));
    }
    let (sell, buy) = (stored_currency(&quote.sell_currency)?, stored_currency(&quote.buy_currency)?);
    let (sell_amount, buy_amount) = (stored_amount(quote.sell_amount)?, stored_amount(quote.buy_amount)?);
    if let Some(sent) = c.sell_amount
        && sent != sell_amount
    {
        return Err(mismatch("sell_amount", sent.to_decimal_string(sell), sell_amount.to_decimal_string(sell)));
    }
    if let Some(sent) = c.buy_amount
        && sent != buy_amount
    {
        return Err(mismatch("buy_amount", sent.to_decimal_string(buy), buy_amount.to_decimal_string(buy)));
    }
    check_conversion_date(c.conversion_date, ctx.now)?;

    let entry = rules::conversion(c.account, sell, sell_amount, buy, buy_amount, Reference { kind: "conversion", id });
    tx.post_entry(&entry, Uuid::now_v7(), ctx.now).await.map_err(|e| posting(e, sell.code()))?;
    let row = ConversionRow {
        id,
        account_id: c.account,
        short_reference_id: ctx.short_ref(SHORT_REF_PREFIX),
        quote_id: quote.id,
        sell_currency: quote.sell_currency,
        sell_amount: quote.sell_amount,
        buy_currency: quote.buy_currency,
        buy_amount: quote.buy_amount,
        client_rate: quote.client_rate,
        status: "COMPLETED".to_owned(),
        conversion_date: quote.conversion_date,
        reference: c.reference.clone(),
        created_at: to_ms(ctx.now),
        completed_at: Some(to_ms(ctx.now)),
    };
    tx.insert_conversion(&row).await?;
    tx.insert_event(&event(c.account, "CONVERSION", "conversion.trade.settled", id, conversion_data(&row), ctx.now))
        .await?;
    Ok(Outcome::Conversion(Box::new(row)))
}
