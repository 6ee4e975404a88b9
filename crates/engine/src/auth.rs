//! Credentials and tokens: random secrets shown once, stored only as SHA-256 hashes (they are
//! high-entropy, so a slow password hash buys nothing), compared in constant time.

use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const TOKEN_LIFETIME_SECS: i64 = 30 * 60;

fn random_string(len: usize) -> String {
    rand::rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

pub fn new_client_id() -> String {
    format!("cli_{}", random_string(24))
}

pub fn new_api_key() -> String {
    format!("sk_{}", random_string(48))
}

pub fn new_token() -> String {
    format!("tok_{}", random_string(48))
}

/// A webhook signing secret. Unlike API keys it is stored as issued: Outlay signs with it.
pub fn new_webhook_secret() -> String {
    format!("whsec_{}", random_string(48))
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time comparison of a presented secret with a stored hash.
pub fn secret_matches(presented: &str, stored_hash: &str) -> bool {
    hash_secret(presented).as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_hash_and_compare() {
        let key = new_api_key();
        let stored = hash_secret(&key);
        assert!(secret_matches(&key, &stored));
        assert!(!secret_matches("sk_wrong", &stored));
        assert_ne!(new_api_key(), key);
        assert!(key.len() > 40);
    }
}
