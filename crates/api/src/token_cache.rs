//! A short-lived cache of valid tokens, so an authenticated request does not cost a database
//! read. Entries live at most `TTL`; a token's own expiry is still checked on every request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use outlay_core::AccountId;
use time::OffsetDateTime;

const TTL: Duration = Duration::from_secs(30);
const MAX_ENTRIES: usize = 100_000;

#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, (AccountId, OffsetDateTime, Instant)>>,
}

impl TokenCache {
    pub fn get(&self, token_hash: &str) -> Option<(AccountId, OffsetDateTime)> {
        let entries = self.entries.lock().ok()?;
        let (account, expires_at, cached) = entries.get(token_hash)?;
        (cached.elapsed() < TTL).then_some((*account, *expires_at))
    }

    pub fn put(&self, token_hash: String, account: AccountId, expires_at: OffsetDateTime) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                // Cheaper than an LRU and bounded: the next requests refill it.
                entries.clear();
            }
            entries.insert(token_hash, (account, expires_at, Instant::now()));
        }
    }
}
