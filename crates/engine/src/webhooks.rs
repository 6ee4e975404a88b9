//! Webhooks: the envelope every delivery carries, and the limits the API enforces. Sending is
//! the worker's job (`outlay-worker`); endpoints, replays, claims and results are commands.

use outlay_core::webhooks::ENVELOPE_VERSION;
use outlay_store::EventRow;
use serde_json::{Value, json};

use crate::events::rfc3339;

/// Active endpoints one account may have (every event fans out to each of them).
pub const MAX_ENDPOINTS: u64 = 20;
/// Events one replay request may deliver again.
pub const MAX_REPLAY_EVENTS: u64 = 10_000;
/// How long a claimed delivery is leased to its worker before another may take it.
pub const LEASE: time::Duration = time::Duration::seconds(60);

/// UQPAY's envelope `{version, event_name, event_type, event_id, source_id, data}` plus Outlay's
/// `sequence` (per source object, so receivers can drop stale events), `account_id` (whose event
/// it is: a connected account's events reach its parent's endpoints too) and `created_at`.
pub fn envelope(e: &EventRow) -> Value {
    json!({
        "version": ENVELOPE_VERSION,
        "event_name": e.event_name,
        "event_type": e.event_type,
        "event_id": e.id,
        "source_id": e.source_id,
        "data": e.data,
        "sequence": e.object_seq,
        "account_id": e.account_id,
        "created_at": rfc3339(e.created_at),
    })
}

#[cfg(test)]
mod tests {
    use outlay_core::webhooks::{EVENT_TYPES, is_event_type};

    /// Every event type written by an operation is in the one list endpoints filter on.
    #[test]
    fn every_emitted_event_type_is_listed() {
        let sources = [
            include_str!("ops/accounts.rs"),
            include_str!("ops/batches.rs"),
            include_str!("ops/beneficiaries.rs"),
            include_str!("ops/deposits.rs"),
            include_str!("ops/files.rs"),
            include_str!("ops/fx.rs"),
            include_str!("ops/payouts.rs"),
            include_str!("ops/reserves.rs"),
            include_str!("ops/transfers.rs"),
            include_str!("ops/withdrawals.rs"),
            include_str!("ops/wallets.rs"),
        ];
        let prefixes: Vec<String> = EVENT_TYPES.iter().map(|(name, _)| format!("{}.", name.to_lowercase())).collect();
        let mut found = std::collections::BTreeSet::new();
        for source in sources {
            for literal in source.split('"').skip(1).step_by(2) {
                let looks_like_event = prefixes.iter().any(|p| literal.starts_with(p.as_str()))
                    && literal.bytes().all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_');
                if looks_like_event {
                    assert!(
                        is_event_type(literal),
                        "{literal} is emitted but not in outlay_core::webhooks::EVENT_TYPES"
                    );
                    found.insert(literal);
                }
            }
        }
        let listed: std::collections::BTreeSet<&str> = EVENT_TYPES.iter().map(|(_, t)| *t).collect();
        assert_eq!(found, listed, "EVENT_TYPES lists a type no operation emits");
    }
}
