//! A short-lived cache of valid tokens, so an authenticated request does not cost a database
//! read. Entries live at most `TTL`; a token's own expiry is still checked on every request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use outlay_store::TokenGrant;

const TTL: Duration = Duration::from_secs(30);
const MAX_ENTRIES: usize = 100_000;

#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, (TokenGrant, Instant)>>,
}

impl TokenCache {
    pub fn get(&self, token_hash: &str) -> Option<TokenGrant> {
        let entries = self.entries.lock().ok()?;
        let (grant, cached) = entries.get(token_hash)?;
        (cached.elapsed() < TTL).then(|| grant.clone())
    }

    /// Forget every cached grant (a credential was revoked: its tokens must stop working now).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }

    pub fn put(&self, token_hash: String, grant: TokenGrant) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                // Cheaper than an LRU and bounded: the next requests refill it.
                entries.clear();
            }
            entries.insert(token_hash, (grant, Instant::now()));
        }
    }
}
