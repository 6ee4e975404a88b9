//! BIC / SWIFT code (ISO 9362): 4 letters for the bank, 2 for the country, 2 alphanumerics for the
//! location and an optional 3-character branch.

use super::{RuleError, compact, string_newtype};

/// A BIC in upper case without spaces, 8 or 11 characters (`DEUTDEFF`, `DEUTDEFF500`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bic(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BicError {
    #[error("is empty")]
    Empty,
    #[error("must be 8 or 11 characters long, not {0}")]
    WrongLength(usize),
    #[error("must start with a four-letter bank code")]
    BadBankCode,
    #[error("must have a two-letter country code in positions 5 and 6")]
    BadCountryCode,
    #[error("must have a two-character letter-or-digit location code in positions 7 and 8")]
    BadLocationCode,
    #[error("must end with a three-character letter-or-digit branch code when 11 characters long")]
    BadBranchCode,
}

impl RuleError for BicError {
    fn code(&self) -> &'static str {
        match self {
            BicError::Empty => "required",
            BicError::WrongLength(_) => "invalid_length",
            BicError::BadBankCode | BicError::BadLocationCode | BicError::BadBranchCode => "invalid_format",
            BicError::BadCountryCode => "unknown_country",
        }
    }
}

impl Bic {
    pub fn parse(text: &str) -> Result<Self, BicError> {
        let bic = compact(text, &[]);
        if bic.is_empty() {
            return Err(BicError::Empty);
        }
        // Count characters, not bytes, so "must be 8 or 11 characters" stays true for non-ASCII.
        let len = bic.chars().count();
        if len != 8 && len != 11 {
            return Err(BicError::WrongLength(len));
        }
        if !bic.is_ascii() {
            return Err(BicError::BadBankCode);
        }
        let b = bic.as_bytes();
        let alnum = |s: &[u8]| s.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if !b[..4].iter().all(u8::is_ascii_uppercase) {
            return Err(BicError::BadBankCode);
        }
        if !b[4..6].iter().all(u8::is_ascii_uppercase) {
            return Err(BicError::BadCountryCode);
        }
        if !alnum(&b[6..8]) {
            return Err(BicError::BadLocationCode);
        }
        if len == 11 && !alnum(&b[8..]) {
            return Err(BicError::BadBranchCode);
        }
        Ok(Self(bic))
    }

    pub fn bank_code(&self) -> &str {
        &self.0[..4]
    }

    /// ISO 3166 alpha-2 country of the institution (shape-checked, not looked up).
    pub fn country(&self) -> &str {
        &self.0[4..6]
    }

    pub fn location(&self) -> &str {
        &self.0[6..8]
    }

    /// The branch code, `None` for an 8-character BIC (which means the head office, `XXX`).
    pub fn branch(&self) -> Option<&str> {
        self.0.get(8..).filter(|branch| !branch.is_empty())
    }

    /// A `0` in the second location character marks a test-and-training BIC, never a live bank.
    pub fn is_test(&self) -> bool {
        self.0.as_bytes()[7] == b'0'
    }

    /// The 11-character form (`XXX` for the head office), for comparing BICs.
    pub fn to_bic11(&self) -> String {
        if self.0.len() == 11 { self.0.clone() } else { format!("{}XXX", self.0) }
    }
}

string_newtype!(Bic, BicError, "SWIFT code");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_bics() {
        for (text, country, branch) in [
            ("DEUTDEFF", "DE", None),
            ("DEUTDEFF500", "DE", Some("500")),
            ("NWBKGB2L", "GB", None),
            ("DBSSSGSG", "SG", None),
            ("MBBEMYKL", "MY", None),
            ("CHASUS33", "US", None),
            ("BKKBTHBK", "TH", None),
            ("HSBCHKHHHKH", "HK", Some("HKH")),
            ("ICICINBBCTS", "IN", Some("CTS")),
            ("BKCHCNBJ", "CN", None),
            ("TGBATRIS", "TR", None),
            ("CTBAAU2S", "AU", None),
            ("WELGBE22", "BE", None),
        ] {
            let bic = Bic::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(bic.country(), country, "{text}");
            assert_eq!(bic.branch(), branch, "{text}");
        }
    }

    #[test]
    fn normalises_case_and_spaces() {
        let bic = Bic::parse(" deut de ff 500 ").expect("valid");
        assert_eq!(bic.as_str(), "DEUTDEFF500");
        assert_eq!(bic.bank_code(), "DEUT");
        assert_eq!(bic.location(), "FF");
        assert_eq!(bic.to_bic11(), "DEUTDEFF500");
        assert_eq!(Bic::parse("DEUTDEFF").expect("valid").to_bic11(), "DEUTDEFFXXX");
    }

    #[test]
    fn refuses_malformed_bics() {
        assert_eq!(Bic::parse(""), Err(BicError::Empty));
        assert_eq!(Bic::parse("DEUTDEF"), Err(BicError::WrongLength(7)));
        assert_eq!(Bic::parse("DEUTDEFF50"), Err(BicError::WrongLength(10)));
        assert_eq!(Bic::parse("DEUTDEFF5000"), Err(BicError::WrongLength(12)));
        assert_eq!(Bic::parse("D3UTDEFF"), Err(BicError::BadBankCode));
        assert_eq!(Bic::parse("DEUTD1FF"), Err(BicError::BadCountryCode));
        assert_eq!(Bic::parse("DEUTDEF-"), Err(BicError::BadLocationCode));
        assert_eq!(Bic::parse("DEUTDEFF5_0"), Err(BicError::BadBranchCode));
        assert_eq!(Bic::parse("DÉUTDEFF"), Err(BicError::BadBankCode));
        assert_eq!(
            Bic::parse("DEUTDEF").map_err(|e| e.to_string()),
            Err("must be 8 or 11 characters long, not 7".into())
        );
    }

    #[test]
    fn spots_test_bics() {
        assert!(Bic::parse("DEUTDEF0").expect("valid").is_test());
        assert!(!Bic::parse("DEUTDEFF").expect("valid").is_test());
    }
}
