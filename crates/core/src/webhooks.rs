//! Signed webhooks as UQPAY sends them: the event types Outlay emits, the signature
//! (`x-wk-signature` = lowercase hex HMAC-SHA512(secret, raw body ‖ `x-wk-timestamp`)), and the
//! retry schedule. Pure: the caller supplies the time and the jitter.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha512;
use time::{Duration, OffsetDateTime};

/// `version` of the envelope, as UQPAY's v1.6 webhooks carry it.
pub const ENVELOPE_VERSION: &str = "V1.6.0";
/// Unix milliseconds, as a decimal string.
pub const TIMESTAMP_HEADER: &str = "x-wk-timestamp";
pub const SIGNATURE_HEADER: &str = "x-wk-signature";
/// The event id: the same on every attempt and every replay, for receivers to drop duplicates.
pub const EVENT_ID_HEADER: &str = "x-wk-event-id";
/// The delivery id: one per (event, endpoint, replay).
pub const DELIVERY_ID_HEADER: &str = "x-wk-delivery-id";

/// Every event type Outlay emits, with its UQPAY `event_name` category. Endpoints may filter on
/// these; the engine test `every_emitted_event_type_is_listed` keeps the list complete.
pub const EVENT_TYPES: &[(&str, &str)] = &[
    ("DEPOSIT", "deposit.pending"),
    ("DEPOSIT", "deposit.completed"),
    ("DEPOSIT", "deposit.compliance.rejected"),
    ("WITHDRAWAL", "withdrawal.pending"),
    ("WITHDRAWAL", "withdrawal.completed"),
    ("WITHDRAWAL", "withdrawal.failed"),
    ("PAYOUT", "payout.ready.send"),
    ("PAYOUT", "payout.completed"),
    ("PAYOUT", "payout.failed"),
    ("PAYOUT", "payout.compliance.rejected"),
    ("PAYOUT", "payout.cancelled"),
    ("PAYOUT", "payout.returned"),
    ("BENEFICIARY", "beneficiary.successful"),
    ("BENEFICIARY", "beneficiary.deleted"),
    ("CONVERSION", "conversion.trade.settled"),
    ("TRANSFER", "transfer.completed"),
    ("WALLET_PAYOUT", "wallet_payout.completed"),
    // --- batches ---
    ("BATCH", "batch.validated"),
    ("BATCH", "batch.completed"),
];

pub fn is_event_type(event_type: &str) -> bool {
    EVENT_TYPES.iter().any(|(_, t)| *t == event_type)
}

type HmacSha512 = Hmac<Sha512>;

fn mac(secret: &str, body: &[u8], timestamp: &str) -> HmacSha512 {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = <HmacSha512 as KeyInit>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    mac.update(timestamp.as_bytes());
    mac
}

/// `x-wk-signature`: lowercase hex of HMAC-SHA512 keyed with the endpoint's secret over the raw
/// body bytes followed by the `x-wk-timestamp` header string.
pub fn sign(secret: &str, body: &[u8], timestamp: &str) -> String {
    hex::encode(mac(secret, body, timestamp).finalize().into_bytes())
}

/// Check a signature in constant time, as a receiver does (hex in either case).
pub fn verify(secret: &str, body: &[u8], timestamp: &str, signature: &str) -> bool {
    match hex::decode(signature.trim()) {
        Ok(bytes) => mac(secret, body, timestamp).verify_slice(&bytes).is_ok(),
        Err(_) => false,
    }
}

/// Unix milliseconds of `t`, the form Outlay sends in `x-wk-timestamp`.
pub fn timestamp_millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// A timestamp header in milliseconds (what Outlay and UQPAY's hub send) or seconds (what UQPAY's
/// docs show), as UQPAY's SDKs read it: values from 10^11 up are milliseconds.
pub fn parse_timestamp_millis(text: &str) -> Option<i64> {
    let value: i64 = text.trim().parse().ok()?;
    if value < 0 {
        None
    } else if value >= 100_000_000_000 {
        Some(value)
    } else {
        value.checked_mul(1000)
    }
}

/// Whether a timestamp header is within `tolerance` of `now` (replay protection for receivers;
/// UQPAY's SDKs use five minutes).
pub fn timestamp_is_fresh(text: &str, now: OffsetDateTime, tolerance: Duration) -> bool {
    parse_timestamp_millis(text).is_some_and(|ms| {
        u128::from((timestamp_millis(now) - ms).unsigned_abs()) <= tolerance.whole_milliseconds().unsigned_abs()
    })
}

/// The delay after the first failed attempt; it doubles with each failure.
pub const FIRST_RETRY_DELAY: Duration = Duration::seconds(30);
/// The longest delay between two attempts.
pub const MAX_RETRY_DELAY: Duration = Duration::hours(6);
/// Attempts continue until this long after the first one, then the delivery is failed.
pub const RETRY_HORIZON: Duration = Duration::days(3);

/// The delay before the next attempt after `attempt` (1-based) failed, before jitter:
/// 30 s, 1 min, 2 min, … doubling, capped at 6 h.
pub fn retry_delay(attempt: i32) -> Duration {
    let doublings = attempt.saturating_sub(1).clamp(0, 20) as u32;
    let seconds = FIRST_RETRY_DELAY.whole_seconds().saturating_mul(1_i64 << doublings);
    Duration::seconds(seconds).min(MAX_RETRY_DELAY)
}

/// When to try again after `attempt` failed at `now`, or `None` when the delivery has been tried
/// for [`RETRY_HORIZON`] and is failed. `jitter` in [0, 1) takes up to 20% off the delay, so
/// receivers that failed together do not all come back at once and a delay never exceeds
/// [`retry_delay`]. The last attempt is made at the horizon itself.
pub fn next_attempt_at(
    attempt: i32,
    first_attempt_at: OffsetDateTime,
    now: OffsetDateTime,
    jitter: f64,
) -> Option<OffsetDateTime> {
    let horizon = first_attempt_at + RETRY_HORIZON;
    if now >= horizon {
        return None;
    }
    let base = retry_delay(attempt);
    let jitter = if jitter.is_finite() { jitter.clamp(0.0, 1.0) } else { 0.0 };
    let delay = base - base * (0.2 * jitter);
    Some((now + delay).min(horizon))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    /// Computed independently: `hmac.new(b"whsec_test", b'{"a":1}' + b"1711077773000", hashlib.sha512).hexdigest()`.
    const VECTOR: &str = "ae9ceb72dcd21c0eae67191d709e12efaa994f1e78bbb0276b55c859a6c28691\
                          f15d473f110d8dcb8c51430800d33369fc794cfff0a8acf4b7bff5609dc9e1a2";

    #[test]
    fn signature_matches_the_test_vector_and_verifies() {
        let signature = sign("whsec_test", br#"{"a":1}"#, "1711077773000");
        assert_eq!(signature, VECTOR);
        assert!(verify("whsec_test", br#"{"a":1}"#, "1711077773000", &signature));
        assert!(verify("whsec_test", br#"{"a":1}"#, "1711077773000", &signature.to_uppercase()));
        assert!(!verify("whsec_other", br#"{"a":1}"#, "1711077773000", &signature));
        assert!(!verify("whsec_test", br#"{"a":2}"#, "1711077773000", &signature));
        assert!(!verify("whsec_test", br#"{"a":1}"#, "1711077773001", &signature));
        assert!(!verify("whsec_test", br#"{"a":1}"#, "1711077773000", "not hex"));
    }

    #[test]
    fn timestamps_in_milliseconds_or_seconds() {
        assert_eq!(parse_timestamp_millis("1711077773000"), Some(1_711_077_773_000));
        assert_eq!(parse_timestamp_millis("1711077773"), Some(1_711_077_773_000));
        assert_eq!(parse_timestamp_millis("-1"), None);
        assert_eq!(parse_timestamp_millis("soon"), None);
        let now = datetime!(2024-03-22 03:22:53 UTC);
        assert_eq!(timestamp_millis(now), 1_711_077_773_000);
        assert!(timestamp_is_fresh("1711077773", now, Duration::minutes(5)));
        assert!(timestamp_is_fresh("1711077473000", now, Duration::minutes(5)));
        assert!(!timestamp_is_fresh("1711077472999", now, Duration::minutes(5)));
    }

    #[test]
    fn backoff_doubles_to_six_hours_and_stops_after_three_days() {
        let delays: Vec<i64> = (1..=12).map(|n| retry_delay(n).whole_seconds()).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600, 21600]);
        assert_eq!(retry_delay(1000), MAX_RETRY_DELAY);

        // Failing every time: the attempts span at least three days, then the delivery fails.
        let first = datetime!(2026-11-24 02:00 UTC);
        let (mut now, mut attempt) = (first, 1);
        while let Some(next) = next_attempt_at(attempt, first, now, 0.0) {
            assert!(next > now && next - now <= MAX_RETRY_DELAY);
            now = next;
            attempt += 1;
        }
        assert_eq!(now, first + RETRY_HORIZON, "the last attempt is made at the horizon");
        assert_eq!(attempt, 22);

        // Jitter only shortens a delay, by at most 20%.
        let next = next_attempt_at(3, first, first, 0.999).expect("retry");
        assert!(next - first <= Duration::seconds(120) && next - first >= Duration::seconds(96));
    }

    #[test]
    fn event_types_are_unique_and_named() {
        for (i, (name, t)) in EVENT_TYPES.iter().enumerate() {
            assert!(t.starts_with(&name.to_lowercase()), "{t} under {name}");
            assert!(EVENT_TYPES[i + 1..].iter().all(|(_, other)| other != t), "{t} listed twice");
        }
        assert!(is_event_type("payout.completed") && !is_event_type("payout.done"));
    }
}
