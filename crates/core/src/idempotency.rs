//! The `x-idempotency-key` header value.

use std::fmt;

/// 1 to 64 visible ASCII characters (UUIDs recommended), the bound UQPAY's gateway uses.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdempotencyKeyError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most 64 characters")]
    TooLong,
    #[error("must contain only visible ASCII characters (a UUID is recommended)")]
    BadCharacters,
}

impl IdempotencyKey {
    pub const MAX_LEN: usize = 64;

    pub fn parse(value: &str) -> Result<Self, IdempotencyKeyError> {
        if value.is_empty() {
            Err(IdempotencyKeyError::Empty)
        } else if value.len() > Self::MAX_LEN {
            Err(IdempotencyKeyError::TooLong)
        } else if !value.bytes().all(|b| b.is_ascii_graphic()) {
            Err(IdempotencyKeyError::BadCharacters)
        } else {
            Ok(Self(value.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert!(IdempotencyKey::parse("3f0e8c8e-1c1e-4c59-9f59-0a3c1c2b4d5e").is_ok());
        assert_eq!(IdempotencyKey::parse(""), Err(IdempotencyKeyError::Empty));
        assert_eq!(IdempotencyKey::parse(&"a".repeat(65)), Err(IdempotencyKeyError::TooLong));
        assert_eq!(IdempotencyKey::parse("a b"), Err(IdempotencyKeyError::BadCharacters));
    }
}
