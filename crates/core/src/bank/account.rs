//! Account numbers: UQPAY's generic shape, plus the per-corridor length rules that the corridor
//! table attaches.

use serde::Deserialize;

use super::{RuleError, all_digits, string_newtype};

/// UQPAY's limit on `bank_details.account_number`.
pub const MAX_ACCOUNT_NUMBER_LEN: usize = 60;

/// A bank account number: 1 to 60 ASCII letters and digits (UQPAY's `^[a-zA-Z0-9]*$`, at most
/// 60). Spaces and dashes are refused rather than stripped, as UQPAY refuses them: the client
/// must send the number as the bank holds it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountNumberError {
    #[error("is empty")]
    Empty,
    #[error("must be at most {MAX_ACCOUNT_NUMBER_LEN} characters long")]
    TooLong,
    #[error("must contain only letters and digits, without spaces or dashes")]
    BadCharacters,
    #[error("must contain only digits")]
    NotDigits,
    #[error("must be {} long", length_rule(*.min, *.max))]
    WrongLength { min: usize, max: usize },
}

fn length_rule(min: usize, max: usize) -> String {
    if min == max { format!("exactly {min} digits") } else { format!("{min} to {max} digits") }
}

impl RuleError for AccountNumberError {
    fn code(&self) -> &'static str {
        match self {
            AccountNumberError::Empty => "required",
            AccountNumberError::TooLong => "too_long",
            AccountNumberError::BadCharacters | AccountNumberError::NotDigits => "invalid_characters",
            AccountNumberError::WrongLength { .. } => "invalid_length",
        }
    }
}

/// A corridor's account-number rule: how many characters, and whether only digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountNumberRule {
    pub min: usize,
    pub max: usize,
    #[serde(default)]
    pub digits_only: bool,
}

impl AccountNumber {
    pub fn parse(text: &str) -> Result<Self, AccountNumberError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(AccountNumberError::Empty);
        }
        if !text.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(AccountNumberError::BadCharacters);
        }
        if text.len() > MAX_ACCOUNT_NUMBER_LEN {
            return Err(AccountNumberError::TooLong);
        }
        Ok(Self(text.to_owned()))
    }

    /// Applies a corridor's rule on top of the generic shape.
    pub fn check(&self, rule: &AccountNumberRule) -> Result<(), AccountNumberError> {
        if rule.digits_only && !all_digits(&self.0) {
            return Err(AccountNumberError::NotDigits);
        }
        if !(rule.min..=rule.max).contains(&self.0.len()) {
            return Err(AccountNumberError::WrongLength { min: rule.min, max: rule.max });
        }
        Ok(())
    }
}

string_newtype!(AccountNumber, AccountNumberError, "account number");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_letters_and_digits_up_to_sixty() {
        for ok in ["12345678", "0123456789012", "DE89370400440532013000", "a1", "7", &"9".repeat(60)] {
            assert!(AccountNumber::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(AccountNumber::parse(" 12345678 ").map(|a| a.to_string()), Ok("12345678".into()));
    }

    #[test]
    fn refuses_what_uqpay_refuses() {
        assert_eq!(AccountNumber::parse(""), Err(AccountNumberError::Empty));
        assert_eq!(AccountNumber::parse(&"9".repeat(61)), Err(AccountNumberError::TooLong));
        for bad in ["1234 5678", "1234-5678", "12345678.", "１２３", "ÄBC123"] {
            assert_eq!(AccountNumber::parse(bad), Err(AccountNumberError::BadCharacters), "{bad}");
        }
    }

    #[test]
    fn corridor_rules_bound_length_and_digits() {
        let gb = AccountNumberRule { min: 8, max: 8, digits_only: true };
        let ok = AccountNumber::parse("31926819").expect("valid");
        assert_eq!(ok.check(&gb), Ok(()));
        let short = AccountNumber::parse("3192681").expect("valid shape");
        assert_eq!(short.check(&gb), Err(AccountNumberError::WrongLength { min: 8, max: 8 }));
        assert_eq!(short.check(&gb).map_err(|e| e.to_string()), Err("must be exactly 8 digits long".into()));
        let letters = AccountNumber::parse("3192681A").expect("valid shape");
        assert_eq!(letters.check(&gb), Err(AccountNumberError::NotDigits));
        let us = AccountNumberRule { min: 4, max: 17, digits_only: true };
        assert_eq!(
            AccountNumber::parse(&"1".repeat(18)).expect("shape").check(&us).map_err(|e| e.to_string()),
            Err("must be 4 to 17 digits long".into())
        );
    }
}
