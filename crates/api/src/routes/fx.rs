//! FX, as UQPAY: `POST /api/v1/conversion/quote`, `POST /api/v1/conversion`,
//! `GET /api/v1/conversion`, `GET /api/v1/conversion/{id}` and `GET /api/v1/exchange/rates`.
//! Rates are exact decimal strings; the rounding rules are in `outlay_core::fx`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use outlay_core::fx::{CurrencyPair, Fixed, Rate, RateTable, TransactionType};
use outlay_core::{Amount, Currency};
use outlay_engine::events::{conversion_data, decimal, rfc3339};
use outlay_engine::{Command, NewConversion, NewQuote, Outcome, StoredResponse};
use outlay_store::{ConversionFilter, QuoteRow};
use serde::Deserialize;
use serde_json::{Value, json};
use time::{Date, OffsetDateTime};

use crate::extract::{Caller, DecimalInput, JsonBody, ListQuery, Required, parse_currency, parse_id};
use crate::idempotency::{Mutation, execute, ok_json};
use crate::wire::List;
use crate::{ApiError, AppState};

/// The envelope `type` of FX business errors.
pub const ERROR_KIND: &str = "conversion_error";

/// Statuses UQPAY documents for conversions; Outlay's settle at once as COMPLETED.
const STATUSES: &[&str] =
    &["PENDING", "AWAITING_FUNDS", "FUNDS_ARRIVED", "TRADE_SETTLED", "COMPLETED", "CANCELED", "FAILED"];

/// Most pairs one rates request may name (as UQPAY).
const MAX_PAIRS: usize = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/conversion/quote", post(create_quote))
        .route("/api/v1/conversion", get(list).post(create))
        .route("/api/v1/conversion/{id}", get(retrieve))
        .route("/api/v1/exchange/rates", get(rates))
}

/// SDKs send optional fields as empty strings: treat those as absent.
fn present(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

fn present_amount(value: Option<DecimalInput>) -> Option<DecimalInput> {
    value.filter(|v| !matches!(v, DecimalInput::Text(t) if t.is_empty()))
}

fn parse_date(field: &str, text: &str) -> Result<Date, ApiError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, format).map_err(|_| {
        ApiError::validation(field, "invalid_date", "must be a date written YYYY-MM-DD, such as 2024-03-01")
    })
}

fn unix_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuoteBody {
    sell_currency: Option<String>,
    buy_currency: Option<String>,
    sell_amount: Option<DecimalInput>,
    buy_amount: Option<DecimalInput>,
    conversion_date: Option<String>,
    transaction_type: Option<String>,
}

fn quote_json(q: &QuoteRow) -> Value {
    // The inverse is informational: rounded up, so it never reads better than the direct rate.
    let inverse = Rate::parse(&q.client_rate).ok().and_then(|r| r.inverse_up().ok()).map(|r| r.to_string());
    json!({
        "sell_currency": q.sell_currency,
        "sell_amount": decimal(q.sell_amount, &q.sell_currency),
        "buy_currency": q.buy_currency,
        "buy_amount": decimal(q.buy_amount, &q.buy_currency),
        "conversion_date": q.conversion_date.to_string(),
        "transaction_type": q.transaction_type,
        "quote_price": {
            "currency_pair": format!("{}{}", q.sell_currency, q.buy_currency),
            "direct_rate": q.client_rate,
            "inverse_rate": inverse,
            "quote_id": q.id,
            "validity": {"valid_from": unix_ms(q.valid_from), "valid_to": unix_ms(q.valid_to)},
        },
    })
}

fn quote_response(outcome: &Outcome) -> StoredResponse {
    match outcome {
        Outcome::Quote(q) => ok_json(&quote_json(q)),
        other => unexpected(other),
    }
}

fn conversion_response(outcome: &Outcome) -> StoredResponse {
    match outcome {
        Outcome::Conversion(c) => ok_json(&conversion_data(c)),
        other => unexpected(other),
    }
}

fn unexpected(outcome: &Outcome) -> StoredResponse {
    tracing::error!(?outcome, "renderer got an outcome of another command");
    StoredResponse {
        status: 500,
        body: r#"{"type":"api_error","code":"internal_error","message":"internal error"}"#.into(),
    }
}

/// Insufficient funds names the field of this request that moves the money.
fn name_sell_amount(e: ApiError) -> ApiError {
    match e {
        ApiError::Business { kind, code: "insufficient_balance", message, .. } => {
            ApiError::Business { kind, code: "insufficient_balance", message, field: Some("sell_amount") }
        }
        other => other,
    }
}

async fn create_quote(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: JsonBody<QuoteBody>,
) -> Result<Response, ApiError> {
    let b = body.value;
    let mut required = Required::default();
    let sell_currency = required.take("sell_currency", present(b.sell_currency));
    let buy_currency = required.take("buy_currency", present(b.buy_currency));
    let conversion_date = required.take("conversion_date", present(b.conversion_date));
    required.finish()?;
    let (Some(sell_currency), Some(buy_currency), Some(conversion_date)) =
        (sell_currency, buy_currency, conversion_date)
    else {
        return Err(ApiError::Internal("unreachable".into()));
    };
    let sell = parse_currency("sell_currency", &sell_currency)?;
    let buy = parse_currency("buy_currency", &buy_currency)?;
    if sell == buy {
        return Err(ApiError::validation("buy_currency", "same_currency", "must differ from sell_currency"));
    }
    let fixed = match (present_amount(b.sell_amount), present_amount(b.buy_amount)) {
        (Some(amount), None) => Fixed::Sell(amount.parse("sell_amount", sell)?),
        (None, Some(amount)) => Fixed::Buy(amount.parse("buy_amount", buy)?),
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "buy_amount",
                "conflicting_amounts",
                "must not be sent together with sell_amount: send only the side you fix",
            ));
        }
        (None, None) => {
            return Err(ApiError::validation(
                "sell_amount",
                "amount_required",
                "or buy_amount is required: send the side you fix (exactly one)",
            ));
        }
    };
    let conversion_date = parse_date("conversion_date", &conversion_date)?;
    let transaction_type = match present(b.transaction_type) {
        None => TransactionType::Conversion,
        Some(t) => TransactionType::parse(&t)
            .ok_or_else(|| ApiError::validation("transaction_type", "invalid_value", "must be conversion or payout"))?,
    };
    let command = Command::CreateQuote(NewQuote {
        account: caller.account,
        sell_currency: sell,
        buy_currency: buy,
        fixed,
        conversion_date,
        transaction_type,
    });
    let m = Mutation {
        caller: &caller,
        headers: &headers,
        path: "/api/v1/conversion/quote",
        body: &body.raw,
        key_required: false,
        error_kind: ERROR_KIND,
    };
    execute(&state, m, command, quote_response).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConversionBody {
    quote_id: Option<String>,
    sell_currency: Option<String>,
    buy_currency: Option<String>,
    conversion_date: Option<String>,
    sell_amount: Option<DecimalInput>,
    buy_amount: Option<DecimalInput>,
    reference: Option<String>,
}

fn optional_amount(field: &str, value: Option<DecimalInput>, currency: Currency) -> Result<Option<Amount>, ApiError> {
    present_amount(value).map(|a| a.parse(field, currency)).transpose()
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: JsonBody<ConversionBody>,
) -> Result<Response, ApiError> {
    let b = body.value;
    let mut required = Required::default();
    let quote_id = required.take("quote_id", present(b.quote_id));
    let sell_currency = required.take("sell_currency", present(b.sell_currency));
    let buy_currency = required.take("buy_currency", present(b.buy_currency));
    let conversion_date = required.take("conversion_date", present(b.conversion_date));
    required.finish()?;
    let (Some(quote_id), Some(sell_currency), Some(buy_currency), Some(conversion_date)) =
        (quote_id, sell_currency, buy_currency, conversion_date)
    else {
        return Err(ApiError::Internal("unreachable".into()));
    };
    let quote_id = uuid::Uuid::parse_str(&quote_id)
        .map_err(|_| ApiError::validation("quote_id", "invalid_id", "must be the quote_id of a quote (a UUID)"))?;
    let sell = parse_currency("sell_currency", &sell_currency)?;
    let buy = parse_currency("buy_currency", &buy_currency)?;
    let conversion_date = parse_date("conversion_date", &conversion_date)?;
    let reference = present(b.reference);
    if reference.as_ref().is_some_and(|r| r.chars().count() > 100) {
        return Err(ApiError::validation("reference", "too_long", "must be at most 100 characters"));
    }
    let command = Command::CreateConversion(NewConversion {
        account: caller.account,
        quote_id,
        sell_currency: sell,
        buy_currency: buy,
        conversion_date,
        sell_amount: optional_amount("sell_amount", b.sell_amount, sell)?,
        buy_amount: optional_amount("buy_amount", b.buy_amount, buy)?,
        reference,
    });
    let m = Mutation {
        caller: &caller,
        headers: &headers,
        path: "/api/v1/conversion",
        body: &body.raw,
        // Money moves: a retry must never convert twice.
        key_required: true,
        error_kind: ERROR_KIND,
    };
    execute(&state, m, command, conversion_response).await.map_err(name_sell_amount)
}

/// UQPAY documents conversion list times as Unix milliseconds; ISO 8601 works too, as on the
/// other lists.
fn list_time(query: &ListQuery, name: &str) -> Result<Option<OffsetDateTime>, ApiError> {
    match query.get(name) {
        Some(text) if text.bytes().all(|b| b.is_ascii_digit()) => {
            let invalid = || ApiError::validation(name, "invalid_time", "is not a valid Unix time in milliseconds");
            let ms: i128 = text.parse().map_err(|_| invalid())?;
            OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).map(Some).map_err(|_| invalid())
        }
        _ => query.time(name),
    }
}

async fn list(State(state): State<AppState>, caller: Caller, query: ListQuery) -> Result<Json<List<Value>>, ApiError> {
    let filter = ConversionFilter {
        status: query.one_of("conversion_status", STATUSES)?,
        sell_currency: query.currency("sell_currency")?,
        buy_currency: query.currency("buy_currency")?,
        start_time: list_time(&query, "start_time")?,
        end_time: list_time(&query, "end_time")?,
    };
    let page = state.engine.store().conversions(caller.account, &filter, query.page).await?;
    Ok(Json(List::from_page(page, query.page, |c| conversion_data(&c))))
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id("conversion", &id)?;
    let c = state
        .engine
        .store()
        .conversion(caller.account, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("conversion".into()))?;
    Ok(Json(conversion_data(&c)))
}

async fn rates(State(state): State<AppState>, _caller: Caller, query: ListQuery) -> Result<Json<Value>, ApiError> {
    let stored = state.engine.store().fx_rates().await?;
    let mut table = RateTable::new();
    let mut loaded = Vec::with_capacity(stored.len());
    for row in &stored {
        // Rows are written through the writer, already validated; skip one that is not.
        if let (Ok(pair), Ok(rate)) = (CurrencyPair::parse(&row.currency_pair), Rate::parse(&row.rate)) {
            table.insert(pair, rate);
            loaded.push(row.currency_pair.clone());
        }
    }
    let last_updated = stored.iter().map(|r| r.updated_at).max().map(rfc3339);

    let requested: Vec<String> = match query.get("currency_pairs") {
        None => loaded,
        Some(list) => {
            let mut out: Vec<String> = Vec::new();
            for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                // `USD/EUR` is accepted as `USDEUR` (some SDK versions send it).
                let code = item.replace('/', "");
                if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
                    return Err(ApiError::validation(
                        "currency_pairs",
                        "invalid_currency_pair",
                        format!("must be comma-separated pairs such as USDEUR,GBPUSD ({item:?} is not one)"),
                    ));
                }
                if !out.contains(&code) {
                    out.push(code);
                }
            }
            if out.len() > MAX_PAIRS {
                return Err(ApiError::validation(
                    "currency_pairs",
                    "too_many_pairs",
                    format!("must name at most {MAX_PAIRS} pairs"),
                ));
            }
            out
        }
    };

    // Buy and sell prices carry the markup either way, exactly as a quote would (see
    // `RateTable::prices`).
    let markup = state.engine.fx_markup();
    let mut rates = Vec::new();
    let mut unavailable = Vec::new();
    for code in requested {
        match CurrencyPair::parse(&code).ok().and_then(|pair| table.prices(pair, markup)) {
            Some(p) => rates.push(json!({
                "currency_pair": code,
                "buy_price": p.buy.to_string(),
                "sell_price": p.sell.to_string(),
            })),
            None => unavailable.push(code),
        }
    }
    Ok(Json(json!({
        "rates": rates,
        "unavailable_currency_pairs": unavailable,
        "last_updated": last_updated,
    })))
}
