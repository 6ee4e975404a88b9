//! Idempotency (DESIGN.md section 5): scope (account, key); same key and same body replays the
//! first response exactly; a different body is refused; a request still running is refused as
//! retryable. Only successful effects are stored, in the transaction that made them.

use std::sync::Arc;

use outlay_core::{AccountId, IdempotencyKey};
use sha2::{Digest, Sha256};

use crate::Outcome;

/// The response stored with a key and replayed byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

pub type Renderer = Arc<dyn Fn(&Outcome) -> StoredResponse + Send + Sync>;

#[derive(Clone)]
pub struct IdempotencyContext {
    pub account: AccountId,
    pub key: IdempotencyKey,
    pub request_hash: String,
    /// Turns the command's outcome into the wire response inside the transaction.
    pub render: Renderer,
}

#[derive(Debug)]
pub enum WriteResult {
    Done { outcome: Box<Outcome>, response: Option<StoredResponse> },
    Replayed(StoredResponse),
}

/// Fingerprint of a request: method, path, acting account and the JSON body in canonical form
/// (so whitespace and key order do not make "the same body" different).
pub fn request_hash(method: &str, path: &str, acting_for: AccountId, body: &serde_json::Value) -> String {
    let mut h = Sha256::new();
    for part in [method, path, &acting_for.to_string(), &body.to_string()] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// SHA-256 of raw content, for fingerprints of requests that are not JSON.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
