//! Foreign exchange: rates, cross rates, the platform's markup and the amount math. Pure and
//! exact: rates are `rust_decimal` decimals, amounts are integer minor units, and no float is
//! ever involved.
//!
//! A rate for the pair `USDSGD` is the price of one USD in SGD (`1 USD = 1.3456 SGD`). A
//! conversion "sells" one currency and "buys" another; its rate is always expressed as units of
//! the buy currency per unit of the sell currency.
//!
//! Rounding, always against the client (the platform never gives away a minor unit):
//! - the client rate is `mid × (1 − markup)`, rounded **down** to [`RATE_SCALE`] decimal places;
//! - sell side fixed: `buy = sell × client_rate`, rounded **down** to the buy currency's minor unit;
//! - buy side fixed: `sell = buy ÷ client_rate`, rounded **up** to the sell currency's minor unit.
//!
//! The amounts are exact functions of the published client rate (integer arithmetic on its
//! mantissa), so anyone can recompute them from the quote.

use std::collections::HashMap;
use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::money::MAX_MINOR;
use crate::{Amount, Currency, CurrencyError};

/// Most decimal places a rate may carry.
pub const RATE_SCALE: u32 = 10;

/// Cross rates go through this currency when neither the pair nor its reverse is known.
pub const CROSS_CURRENCY: &str = "USD";

/// Markups are whole basis points below this (100%).
pub const MAX_MARKUP_BPS: u32 = 10_000;

/// Largest rate accepted: one unit of any currency is worth less than a billion of any other.
fn max_rate() -> Decimal {
    Decimal::from(1_000_000_000u64)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    #[error("must be a plain decimal number such as \"1.3456\" (no sign, exponent or spaces)")]
    NotDecimal,
    #[error("must be greater than zero")]
    NotPositive,
    #[error("has more than {RATE_SCALE} decimal places")]
    TooManyDecimals,
    #[error("is larger than the maximum of 1000000000")]
    TooLarge,
}

/// A positive exchange rate with at most [`RATE_SCALE`] decimal places.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rate(Decimal);

impl Rate {
    /// Parse a plain decimal string exactly. Trailing zeros beyond the scale carry no value and
    /// are accepted (`"1.50000000000"`); any other digit there is refused, never rounded.
    pub fn parse(text: &str) -> Result<Self, RateError> {
        let (whole, fraction) = match text.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (text, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || fraction.is_some_and(|f| !all_digits(f)) {
            return Err(RateError::NotDecimal);
        }
        let fraction = fraction.unwrap_or("").trim_end_matches('0');
        if fraction.len() > RATE_SCALE as usize {
            return Err(RateError::TooManyDecimals);
        }
        let whole = whole.trim_start_matches('0');
        if whole.len() > 10 {
            return Err(RateError::TooLarge);
        }
        let canonical = format!("{}.{}", if whole.is_empty() { "0" } else { whole }, fraction);
        let canonical = canonical.trim_end_matches('.');
        let value = Decimal::from_str_exact(canonical).map_err(|_| RateError::NotDecimal)?;
        Self::new(value)
    }

    /// A rate from a decimal that must already fit: positive, at most [`RATE_SCALE`] places.
    pub fn new(value: Decimal) -> Result<Self, RateError> {
        let value = value.normalize();
        if value <= Decimal::ZERO {
            return Err(RateError::NotPositive);
        }
        if value.scale() > RATE_SCALE {
            return Err(RateError::TooManyDecimals);
        }
        if value > max_rate() {
            return Err(RateError::TooLarge);
        }
        Ok(Self(value))
    }

    fn rounded(value: Decimal, strategy: RoundingStrategy) -> Result<Self, RateError> {
        Self::new(value.round_dp_with_strategy(RATE_SCALE, strategy))
    }

    /// `value` rounded down (towards zero) to [`RATE_SCALE`] places.
    pub fn round_down(value: Decimal) -> Result<Self, RateError> {
        Self::rounded(value, RoundingStrategy::ToZero)
    }

    /// `value` rounded up (away from zero) to [`RATE_SCALE`] places.
    pub fn round_up(value: Decimal) -> Result<Self, RateError> {
        Self::rounded(value, RoundingStrategy::AwayFromZero)
    }

    /// `value` rounded to the nearest (ties to even) at [`RATE_SCALE`] places: for display only.
    pub fn round_nearest(value: Decimal) -> Result<Self, RateError> {
        Self::rounded(value, RoundingStrategy::MidpointNearestEven)
    }

    pub fn value(self) -> Decimal {
        self.0
    }

    /// `1 ÷ rate`, rounded up: the price of the other side, never better for the client.
    pub fn inverse_up(self) -> Result<Self, RateError> {
        Self::round_up(Decimal::ONE.checked_div(self.0).ok_or(RateError::TooLarge)?)
    }
}

impl fmt::Display for Rate {
    /// The shortest exact decimal: `1.3456`, never an exponent.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairError {
    #[error("must be two ISO 4217 codes written together, such as USDSGD")]
    Malformed,
    #[error("names {code}, which {reason}")]
    Currency { code: String, reason: CurrencyError },
    #[error("must name two different currencies")]
    SameCurrency,
}

/// A currency pair such as `USDSGD`: the price of one `base` in `quote`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CurrencyPair {
    pub base: Currency,
    pub quote: Currency,
}

impl CurrencyPair {
    pub fn new(base: Currency, quote: Currency) -> Result<Self, PairError> {
        if base == quote { Err(PairError::SameCurrency) } else { Ok(Self { base, quote }) }
    }

    pub fn parse(text: &str) -> Result<Self, PairError> {
        if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(PairError::Malformed);
        }
        let currency =
            |code: &str| Currency::parse(code).map_err(|reason| PairError::Currency { code: code.to_owned(), reason });
        Self::new(currency(&text[..3])?, currency(&text[3..])?)
    }

    pub fn code(self) -> String {
        format!("{}{}", self.base.code(), self.quote.code())
    }

    pub fn reversed(self) -> Self {
        Self { base: self.quote, quote: self.base }
    }
}

impl fmt::Display for CurrencyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.base, self.quote)
    }
}

/// The platform's markup, in basis points, taken from the client's rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Markup(u32);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the FX markup must be below {MAX_MARKUP_BPS} basis points (got {0})")]
pub struct MarkupError(pub u32);

impl Markup {
    pub fn from_bps(bps: u32) -> Result<Self, MarkupError> {
        if bps < MAX_MARKUP_BPS { Ok(Self(bps)) } else { Err(MarkupError(bps)) }
    }

    pub fn bps(self) -> u32 {
        self.0
    }

    /// `1 − markup`, exactly.
    fn keep(self) -> Decimal {
        Decimal::ONE - Decimal::new(i64::from(self.0), 4)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FxError {
    #[error("the rate is out of range after markup and rounding: it {0}")]
    Rate(RateError),
    #[error("the amount is too small: the other side would be zero")]
    TooSmall,
    #[error("the amount is too large: the other side would exceed the maximum amount")]
    TooLarge,
}

/// The client's rate: `mid × (1 − markup)`, rounded down to [`RATE_SCALE`] places. Units of the
/// buy currency per unit of the sell currency.
pub fn client_rate(mid: Decimal, markup: Markup) -> Result<Rate, FxError> {
    let value = mid.checked_mul(markup.keep()).ok_or(FxError::Rate(RateError::TooLarge))?;
    Rate::round_down(value).map_err(FxError::Rate)
}

/// Known mid rates, and the cross rates derived from them.
#[derive(Clone, Debug, Default)]
pub struct RateTable {
    rates: HashMap<(Currency, Currency), Decimal>,
}

impl RateTable {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, pair: CurrencyPair, rate: Rate) {
        self.rates.insert((pair.base, pair.quote), rate.value());
    }

    pub fn is_empty(&self) -> bool {
        self.rates.is_empty()
    }

    /// The pairs whose rates [`RateTable::mid`] may need for a `sell → buy` conversion.
    pub fn candidate_pairs(sell: Currency, buy: Currency) -> Vec<CurrencyPair> {
        let mut out = Vec::with_capacity(6);
        let mut push = |a: Currency, b: Currency| {
            if let Ok(pair) = CurrencyPair::new(a, b)
                && !out.contains(&pair)
            {
                out.push(pair);
            }
        };
        push(sell, buy);
        push(buy, sell);
        if let Ok(usd) = Currency::parse(CROSS_CURRENCY) {
            push(sell, usd);
            push(usd, sell);
            push(buy, usd);
            push(usd, buy);
        }
        out
    }

    /// One hop: the pair as loaded, or the inverse of its reverse.
    fn hop(&self, from: Currency, to: Currency) -> Option<Decimal> {
        if let Some(rate) = self.rates.get(&(from, to)) {
            return Some(*rate);
        }
        self.rates.get(&(to, from)).and_then(|r| Decimal::ONE.checked_div(*r))
    }

    /// The mid rate of `sell → buy` (units of buy per unit of sell): the pair as loaded, else the
    /// inverse of the reverse pair, else through [`CROSS_CURRENCY`]. Not rounded: intermediate
    /// precision is rust_decimal's 28 digits, and the client rate derived from it is rounded
    /// against the client.
    pub fn mid(&self, sell: Currency, buy: Currency) -> Option<Decimal> {
        if sell == buy {
            return None;
        }
        if let Some(rate) = self.hop(sell, buy) {
            return Some(rate);
        }
        let usd = Currency::parse(CROSS_CURRENCY).ok()?;
        if sell == usd || buy == usd {
            return None;
        }
        self.hop(sell, usd)?.checked_mul(self.hop(usd, buy)?)
    }
}

/// Indicative prices of one pair, markup included either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prices {
    /// What the client pays, in the quote currency, to buy one base: the inverse of the client
    /// rate of quote → base, rounded up.
    pub buy: Rate,
    /// What the client gets, in the quote currency, selling one base: the client rate of
    /// base → quote (rounded down).
    pub sell: Rate,
}

impl RateTable {
    /// The prices a quote for `pair` would use, in either direction.
    pub fn prices(&self, pair: CurrencyPair, markup: Markup) -> Option<Prices> {
        let sell = client_rate(self.mid(pair.base, pair.quote)?, markup).ok()?;
        let buy = client_rate(self.mid(pair.quote, pair.base)?, markup).ok()?.inverse_up().ok()?;
        Some(Prices { buy, sell })
    }
}

/// What a quote may be used for (UQPAY: "mixing usage is not allowed").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransactionType {
    Conversion,
    Payout,
}

impl TransactionType {
    pub fn as_str(self) -> &'static str {
        match self {
            TransactionType::Conversion => "conversion",
            TransactionType::Payout => "payout",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "conversion" => Some(TransactionType::Conversion),
            "payout" => Some(TransactionType::Payout),
            _ => None,
        }
    }
}

/// Which side of a conversion the client fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fixed {
    Sell(Amount),
    Buy(Amount),
}

/// Both amounts of a deal, in minor units of their currencies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deal {
    pub sell: Amount,
    pub buy: Amount,
}

fn pow10(exp: u32) -> Option<i128> {
    10i128.checked_pow(exp)
}

/// The rate as `mantissa / 10^scale`.
fn parts(rate: Rate) -> (i128, u32) {
    (rate.0.mantissa(), rate.0.scale())
}

fn to_amount(minor: i128) -> Result<Amount, FxError> {
    if minor <= 0 {
        return Err(FxError::TooSmall);
    }
    if minor > i128::from(MAX_MINOR) {
        return Err(FxError::TooLarge);
    }
    Amount::from_minor(i64::try_from(minor).map_err(|_| FxError::TooLarge)?).map_err(|_| FxError::TooLarge)
}

/// Sell side fixed: `sell × rate`, rounded down to the buy currency's minor unit.
pub fn buy_for_sell(
    sell: Amount,
    sell_currency: Currency,
    buy_currency: Currency,
    rate: Rate,
) -> Result<Amount, FxError> {
    // buy_minor = sell_minor × m × 10^eb / 10^(s + es)
    let (m, s) = parts(rate);
    let num = i128::from(sell.minor())
        .checked_mul(m)
        .and_then(|v| v.checked_mul(pow10(buy_currency.exponent())?))
        .ok_or(FxError::TooLarge)?;
    let den = pow10(s + sell_currency.exponent()).ok_or(FxError::TooLarge)?;
    to_amount(num / den)
}

/// Buy side fixed: `buy ÷ rate`, rounded up to the sell currency's minor unit.
pub fn sell_for_buy(
    buy: Amount,
    sell_currency: Currency,
    buy_currency: Currency,
    rate: Rate,
) -> Result<Amount, FxError> {
    // sell_minor = ceil(buy_minor × 10^(s + es) / (m × 10^eb))
    let (m, s) = parts(rate);
    let num = i128::from(buy.minor())
        .checked_mul(pow10(s + sell_currency.exponent()).ok_or(FxError::TooLarge)?)
        .ok_or(FxError::TooLarge)?;
    let den = m.checked_mul(pow10(buy_currency.exponent()).ok_or(FxError::TooLarge)?).ok_or(FxError::TooLarge)?;
    // Both are positive: ceiling division.
    let quotient = num / den + i128::from(num % den != 0);
    to_amount(quotient)
}

/// Both amounts of a deal at `rate`, from the side the client fixed.
pub fn deal(sell_currency: Currency, buy_currency: Currency, rate: Rate, fixed: Fixed) -> Result<Deal, FxError> {
    match fixed {
        Fixed::Sell(sell) => Ok(Deal { sell, buy: buy_for_sell(sell, sell_currency, buy_currency, rate)? }),
        Fixed::Buy(buy) => Ok(Deal { sell: sell_for_buy(buy, sell_currency, buy_currency, rate)?, buy }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn c(code: &str) -> Currency {
        Currency::parse(code).expect("currency")
    }

    fn rate(text: &str) -> Rate {
        Rate::parse(text).expect("rate")
    }

    fn amount(minor: i64) -> Amount {
        Amount::from_minor(minor).expect("amount")
    }

    #[test]
    fn rates_parse_exactly() {
        assert_eq!(rate("1.3456").to_string(), "1.3456");
        assert_eq!(rate("1.50000000000").to_string(), "1.5");
        assert_eq!(rate("0.0000000001").to_string(), "0.0000000001");
        assert_eq!(rate("007.10").to_string(), "7.1");
        assert_eq!(rate("150").to_string(), "150");
        assert_eq!(Rate::parse("0.00000000001"), Err(RateError::TooManyDecimals));
        assert_eq!(Rate::parse("0"), Err(RateError::NotPositive));
        assert_eq!(Rate::parse("0.0000"), Err(RateError::NotPositive));
        assert_eq!(Rate::parse("1000000001"), Err(RateError::TooLarge));
        assert_eq!(Rate::parse("99999999999999999999"), Err(RateError::TooLarge));
        for bad in ["", "-1.2", "+1.2", "1e3", "1.2.3", ".5", "5.", " 1", "1,5", "NaN", "inf", "0x10"] {
            assert_eq!(Rate::parse(bad), Err(RateError::NotDecimal), "{bad:?}");
        }
    }

    #[test]
    fn pairs_parse_and_refuse() {
        let pair = CurrencyPair::parse("USDSGD").expect("pair");
        assert_eq!((pair.base, pair.quote), (c("USD"), c("SGD")));
        assert_eq!(pair.code(), "USDSGD");
        assert_eq!(pair.reversed().code(), "SGDUSD");
        assert_eq!(CurrencyPair::parse("usdsgd"), Err(PairError::Malformed));
        assert_eq!(CurrencyPair::parse("USD/SGD"), Err(PairError::Malformed));
        assert_eq!(CurrencyPair::parse("USDUSD"), Err(PairError::SameCurrency));
        assert!(matches!(CurrencyPair::parse("USDZZZ"), Err(PairError::Currency { .. })));
    }

    #[test]
    fn markup_is_taken_from_the_client_and_rounded_down() {
        let markup = Markup::from_bps(50).expect("markup");
        // 1.3456 × 0.995 = 1.338872
        assert_eq!(client_rate(rate("1.3456").value(), markup).expect("rate").to_string(), "1.338872");
        // 1 / 1.3456 = 0.74316290130796670630202140309..., × 0.995 = 0.7394470868...; rounded down.
        let mid = Decimal::ONE / rate("1.3456").value();
        assert_eq!(client_rate(mid, markup).expect("rate").to_string(), "0.7394470868");
        assert_eq!(client_rate(rate("2").value(), Markup::from_bps(0).expect("zero")).expect("rate").to_string(), "2");
        assert!(Markup::from_bps(10_000).is_err());
        assert!(matches!(
            client_rate(rate("0.0000000001").value(), markup),
            Err(FxError::Rate(RateError::NotPositive))
        ));
    }

    #[test]
    fn cross_rates_direct_inverse_and_via_usd() {
        let mut table = RateTable::new();
        table.insert(CurrencyPair::parse("USDSGD").expect("pair"), rate("1.25"));
        table.insert(CurrencyPair::parse("EURUSD").expect("pair"), rate("1.1"));
        assert_eq!(table.mid(c("USD"), c("SGD")), Some(rate("1.25").value()));
        assert_eq!(table.mid(c("SGD"), c("USD")), Some(Decimal::new(8, 1)));
        // EUR → SGD: 1.1 × 1.25
        assert_eq!(table.mid(c("EUR"), c("SGD")).map(|d| d.normalize()), Some(Decimal::new(1375, 3)));
        // SGD → EUR: 0.8 / 1.1
        let sgd_eur = table.mid(c("SGD"), c("EUR")).expect("cross");
        assert_eq!(Rate::round_nearest(sgd_eur).expect("rate").to_string(), "0.7272727273");
        assert_eq!(table.mid(c("USD"), c("JPY")), None);
        assert_eq!(table.mid(c("USD"), c("USD")), None);
        let candidates: Vec<String> =
            RateTable::candidate_pairs(c("EUR"), c("SGD")).into_iter().map(CurrencyPair::code).collect();
        assert_eq!(candidates, ["EURSGD", "SGDEUR", "EURUSD", "USDEUR", "SGDUSD", "USDSGD"]);
        assert_eq!(RateTable::candidate_pairs(c("USD"), c("SGD")).len(), 2);
    }

    #[test]
    fn prices_carry_the_markup_either_way() {
        let mut table = RateTable::new();
        let pair = CurrencyPair::parse("USDSGD").expect("pair");
        table.insert(pair, rate("1.25"));
        let prices = table.prices(pair, Markup::from_bps(100).expect("markup")).expect("prices");
        // Selling 1 USD: 1.25 × 0.99. Buying 1 USD: 1 / (0.8 × 0.99) = 1.2626262626..., up.
        assert_eq!(prices.sell.to_string(), "1.2375");
        assert_eq!(prices.buy.to_string(), "1.2626262627");
        assert!(prices.buy > prices.sell);
        assert_eq!(table.prices(CurrencyPair::parse("USDJPY").expect("pair"), Markup::from_bps(0).expect("0")), None);
    }

    #[test]
    fn amounts_round_against_the_client() {
        let (usd, sgd, jpy, bhd) = (c("USD"), c("SGD"), c("JPY"), c("BHD"));
        let r = rate("1.338872");
        // 100.00 USD × 1.338872 = 133.8872 SGD → 133.88 (down).
        assert_eq!(buy_for_sell(amount(10_000), usd, sgd, r), Ok(amount(13_388)));
        // 133.89 SGD ÷ 1.338872 = 100.00298... USD → 100.01 (up).
        assert_eq!(sell_for_buy(amount(13_389), usd, sgd, r), Ok(amount(10_001)));
        // Exact results are not rounded either way.
        assert_eq!(sell_for_buy(amount(13_000), usd, sgd, rate("1.3")), Ok(amount(10_000)));
        assert_eq!(buy_for_sell(amount(10_000), usd, sgd, rate("1.3")), Ok(amount(13_000)));
        // Exponents differ: 10.00 USD at 149.5 JPY = 1495 JPY; 1 JPY costs 0.01 USD (0.0066... up).
        assert_eq!(buy_for_sell(amount(1_000), usd, jpy, rate("149.5")), Ok(amount(1_495)));
        assert_eq!(sell_for_buy(amount(1), usd, jpy, rate("149.5")), Ok(amount(1)));
        // 1000 JPY → BHD at 0.0025 = 2.500 BHD.
        assert_eq!(buy_for_sell(amount(1_000), jpy, bhd, rate("0.0025")), Ok(amount(2_500)));
        // Too small: 0.01 USD buys no JPY at 0.5.
        assert_eq!(buy_for_sell(amount(1), usd, jpy, rate("0.5")), Err(FxError::TooSmall));
        // Too large: the biggest amount at the biggest rate.
        assert_eq!(buy_for_sell(amount(MAX_MINOR), usd, jpy, rate("1000000000")), Err(FxError::TooLarge));
        let deal_sell = deal(usd, sgd, r, Fixed::Sell(amount(10_000))).expect("deal");
        assert_eq!(deal_sell, Deal { sell: amount(10_000), buy: amount(13_388) });
        let deal_buy = deal(usd, sgd, r, Fixed::Buy(amount(13_388))).expect("deal");
        assert_eq!(deal_buy, Deal { sell: amount(10_000), buy: amount(13_388) });
    }

    fn currency() -> impl Strategy<Value = Currency> {
        prop::sample::select(vec!["USD", "JPY", "BHD", "EUR", "SGD", "KWD", "CLF"]).prop_map(c)
    }

    /// Rates from 0.0000000001 to 1000000000 with 4 to 10 decimal places.
    fn any_rate() -> impl Strategy<Value = Rate> {
        (1u64..=10_000_000_000_000u64, 0u32..=6)
            .prop_map(|(m, s)| Rate::new(Decimal::from_i128_with_scale(i128::from(m), s + 4)).expect("in range"))
    }

    /// Exactly `minor × rate × 10^(eb − es)` as a rational `num / den` (both positive).
    fn exact(minor: i64, from: Currency, to: Currency, rate: Rate) -> (i128, i128) {
        let (m, s) = parts(rate);
        (i128::from(minor) * m * 10i128.pow(to.exponent()), 10i128.pow(s + from.exponent()))
    }

    proptest! {
        #[test]
        fn rounding_never_favours_the_client(
            minor in 1i64..=1_000_000_000_000,
            sc in currency(),
            bc in currency(),
            rate in any_rate(),
        ) {
            // Sell fixed: the client never receives more than sell × rate, and less by under one unit.
            if let Ok(buy) = buy_for_sell(amount(minor), sc, bc, rate) {
                let (num, den) = exact(minor, sc, bc, rate);
                prop_assert!(i128::from(buy.minor()) * den <= num);
                prop_assert!((i128::from(buy.minor()) + 1) * den > num);
            }
            // Buy fixed: what the client pays always covers buy ÷ rate, by under one unit more.
            if let Ok(sell) = sell_for_buy(amount(minor), sc, bc, rate) {
                let (num, den) = exact(sell.minor(), sc, bc, rate);
                let wanted = i128::from(minor) * den;
                prop_assert!(num >= wanted, "paying {} does not cover {}", sell.minor(), minor);
                let (less, _) = exact(sell.minor() - 1, sc, bc, rate);
                prop_assert!(less < wanted, "{} would have been enough", sell.minor() - 1);
            }
        }

        #[test]
        fn round_trips_stay_within_one_unit(
            minor in 1i64..=1_000_000_000_000,
            sc in currency(),
            bc in currency(),
            rate in any_rate(),
        ) {
            // Sell S, buy B = floor(S × r); buying B back costs ceil(B ÷ r) ≤ S.
            if let Ok(buy) = buy_for_sell(amount(minor), sc, bc, rate)
                && let Ok(sell_again) = sell_for_buy(buy, sc, bc, rate)
            {
                prop_assert!(sell_again.minor() <= minor);
                // And it buys the same B: the client loses nothing but the rounding of B.
                prop_assert_eq!(buy_for_sell(sell_again, sc, bc, rate), Ok(buy));
            }
            // Buy B for S = ceil(B ÷ r); selling S gets at least B.
            if let Ok(sell) = sell_for_buy(amount(minor), sc, bc, rate)
                && let Ok(buy_again) = buy_for_sell(sell, sc, bc, rate)
            {
                prop_assert!(buy_again.minor() >= minor);
            }
        }

        #[test]
        fn client_rate_is_never_above_mid(rate in any_rate(), bps in 0u32..2_000) {
            let markup = Markup::from_bps(bps).expect("markup");
            if let Ok(client) = client_rate(rate.value(), markup) {
                prop_assert!(client.value() <= rate.value());
                let exact = rate.value() * (Decimal::ONE - Decimal::new(i64::from(bps), 4));
                prop_assert!(client.value() <= exact);
                prop_assert!(exact - client.value() < Decimal::new(1, RATE_SCALE));
            }
        }

        #[test]
        fn rate_parse_never_panics(text in "\\PC{0,30}") {
            let _ = Rate::parse(&text);
        }
    }
}
