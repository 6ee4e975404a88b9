//! Character rules for beneficiary names and the payout reference.
//!
//! SWIFT messages carry a restricted Latin character set, so UQPAY refuses other characters in
//! SWIFT payouts: names must match its `^[a-zA-Z0-9 -_().,@#~!$%^&*+={}\|:"'<>?/]*$` (read as
//! the characters listed, not as the ` -_` range a regex engine would see) and the payout
//! reference `^[a-zA-Z0-9/\-?:().'+, ]+$`. LOCAL payouts accept local scripts.

use super::{PaymentMethod, RuleError};

/// UQPAY's limit on `payout_reference`.
pub const MAX_PAYOUT_REFERENCE_LEN: usize = 100;

const NAME_SYMBOLS: &str = " -_().,@#~!$%^&*+={}|:\"'<>?/";
const REFERENCE_SYMBOLS: &str = " /-?:().'+,";

/// The beneficiary name fields and their length limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NameField {
    FirstName,
    LastName,
    CompanyName,
}

impl NameField {
    pub fn max_len(self) -> usize {
        match self {
            NameField::FirstName | NameField::LastName => 45,
            NameField::CompanyName => 120,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            NameField::FirstName => "first_name",
            NameField::LastName => "last_name",
            NameField::CompanyName => "company_name",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("is empty")]
    Empty,
    #[error("must be at most {max} characters long")]
    TooLong { max: usize },
    #[error(
        "must use only English letters, digits, spaces and - _ ( ) . , @ # ~ ! $ % ^ & * + = {{ }} | : \" ' < > ? / \
         for SWIFT payouts (found {found:?})"
    )]
    BadCharacter { found: char },
}

impl RuleError for NameError {
    fn code(&self) -> &'static str {
        match self {
            NameError::Empty => "required",
            NameError::TooLong { .. } => "too_long",
            NameError::BadCharacter { .. } => "invalid_characters",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("is empty")]
    Empty,
    #[error("must be at most {MAX_PAYOUT_REFERENCE_LEN} characters long")]
    TooLong,
    #[error("must use only English letters, digits, spaces and - / ? : ( ) . ' + , (found {found:?})")]
    BadCharacter { found: char },
}

impl RuleError for ReferenceError {
    fn code(&self) -> &'static str {
        match self {
            ReferenceError::Empty => "required",
            ReferenceError::TooLong => "too_long",
            ReferenceError::BadCharacter { .. } => "invalid_characters",
        }
    }
}

/// The first character outside the SWIFT name set, if any.
pub fn check_swift_text(value: &str) -> Result<(), NameError> {
    match value.chars().find(|c| !c.is_ascii_alphanumeric() && !NAME_SYMBOLS.contains(*c)) {
        Some(found) => Err(NameError::BadCharacter { found }),
        None => Ok(()),
    }
}

/// A first, last or company name. The length limits apply to every payout (counted in
/// characters, so local scripts are not penalised for their UTF-8 size); the character set only
/// to SWIFT payouts, as UQPAY documents no rule for LOCAL ones.
pub fn check_name(field: NameField, method: PaymentMethod, value: &str) -> Result<(), NameError> {
    if value.trim().is_empty() {
        return Err(NameError::Empty);
    }
    if value.chars().count() > field.max_len() {
        return Err(NameError::TooLong { max: field.max_len() });
    }
    if method == PaymentMethod::Swift {
        check_swift_text(value)?;
    }
    Ok(())
}

/// The payout reference: at most 100 characters, and in the SWIFT set for SWIFT payouts and for
/// LOCAL ones in SGD or CNH (the two currencies UQPAY does not exempt).
pub fn check_payout_reference(reference: &str, method: PaymentMethod, currency: &str) -> Result<(), ReferenceError> {
    if reference.is_empty() {
        return Err(ReferenceError::Empty);
    }
    if reference.chars().count() > MAX_PAYOUT_REFERENCE_LEN {
        return Err(ReferenceError::TooLong);
    }
    let strict =
        method == PaymentMethod::Swift || currency.eq_ignore_ascii_case("SGD") || currency.eq_ignore_ascii_case("CNH");
    if strict
        && let Some(found) = reference.chars().find(|c| !c.is_ascii_alphanumeric() && !REFERENCE_SYMBOLS.contains(*c))
    {
        return Err(ReferenceError::BadCharacter { found });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use PaymentMethod::{Local, Swift};

    #[test]
    fn swift_names_allow_english_and_the_listed_symbols() {
        for ok in ["John", "O'Brien", "Smith-Jones", "Mary Ann", "J. R. R.", "AT&T (Asia) Pte. Ltd.", "A/B #2 {x} <y>"]
        {
            assert_eq!(check_name(NameField::CompanyName, Swift, ok), Ok(()), "{ok}");
        }
        assert_eq!(check_name(NameField::LastName, Swift, "Müller"), Err(NameError::BadCharacter { found: 'ü' }));
        assert_eq!(check_name(NameField::CompanyName, Swift, "张三公司"), Err(NameError::BadCharacter { found: '张' }));
        assert_eq!(check_name(NameField::FirstName, Swift, "semi;colon"), Err(NameError::BadCharacter { found: ';' }));
        assert_eq!(check_name(NameField::FirstName, Swift, "tab\there"), Err(NameError::BadCharacter { found: '\t' }));
    }

    #[test]
    fn local_names_allow_local_scripts_but_keep_the_limits() {
        assert_eq!(check_name(NameField::LastName, Local, "Müller"), Ok(()));
        assert_eq!(check_name(NameField::CompanyName, Local, "深圳市腾讯计算机系统有限公司"), Ok(()));
        assert_eq!(check_name(NameField::FirstName, Local, "ณัฐวุฒิ"), Ok(()));
        assert_eq!(check_name(NameField::FirstName, Local, "  "), Err(NameError::Empty));
        // 45 Thai characters are far more than 45 bytes and still fit.
        assert_eq!(check_name(NameField::FirstName, Local, &"ก".repeat(45)), Ok(()));
    }

    #[test]
    fn name_lengths_are_45_and_120() {
        assert_eq!(check_name(NameField::FirstName, Swift, &"a".repeat(45)), Ok(()));
        assert_eq!(check_name(NameField::FirstName, Swift, &"a".repeat(46)), Err(NameError::TooLong { max: 45 }));
        assert_eq!(check_name(NameField::LastName, Local, &"a".repeat(46)), Err(NameError::TooLong { max: 45 }));
        assert_eq!(check_name(NameField::CompanyName, Swift, &"a".repeat(120)), Ok(()));
        assert_eq!(check_name(NameField::CompanyName, Swift, &"a".repeat(121)), Err(NameError::TooLong { max: 120 }));
    }

    #[test]
    fn name_errors_read_as_rules() {
        let e = check_name(NameField::FirstName, Swift, "José").expect_err("accent");
        assert_eq!(e.code(), "invalid_characters");
        assert!(e.to_string().starts_with("must use only English letters"), "{e}");
        assert!(e.to_string().ends_with("(found 'é')"), "{e}");
    }

    #[test]
    fn payout_reference_follows_the_seed_regex() {
        for ok in ["026073150", "INV-2024/001", "Invoice 12 (March), ref: A.B'C+D?"] {
            assert_eq!(check_payout_reference(ok, Swift, "USD"), Ok(()), "{ok}");
        }
        for (bad, found) in [("INV#1", '#'), ("pay_roll", '_'), ("a&b", '&'), ("Zahlung für", 'ü'), ("x\"y", '"')] {
            assert_eq!(check_payout_reference(bad, Swift, "USD"), Err(ReferenceError::BadCharacter { found }), "{bad}");
        }
        assert_eq!(check_payout_reference("", Local, "THB"), Err(ReferenceError::Empty));
        assert_eq!(check_payout_reference(&"a".repeat(100), Swift, "USD"), Ok(()));
        assert_eq!(check_payout_reference(&"a".repeat(101), Local, "THB"), Err(ReferenceError::TooLong));
    }

    #[test]
    fn local_references_are_free_except_in_sgd_and_cnh() {
        assert_eq!(check_payout_reference("ค่าจ้าง #12", Local, "THB"), Ok(()));
        assert_eq!(check_payout_reference("INV#1", Local, "SGD"), Err(ReferenceError::BadCharacter { found: '#' }));
        assert_eq!(check_payout_reference("货款", Local, "CNH"), Err(ReferenceError::BadCharacter { found: '货' }));
        assert_eq!(check_payout_reference("货款", Local, "CNY"), Ok(()));
    }
}
