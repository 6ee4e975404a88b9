//! National routing codes that travel in UQPAY's `routing_code_type1/value1` pair: US ABA routing
//! numbers, GB sort codes, AU BSBs, IN IFSCs and CN CNAPS codes.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{RuleError, all_digits, compact, string_newtype};

/// The routing-code names used in `routing_code_type1/2` and in `validation_field`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingCodeType {
    Aba,
    SortCode,
    BsbCode,
    Ifsc,
    Cnaps,
}

impl RoutingCodeType {
    pub const ALL: [RoutingCodeType; 5] = [
        RoutingCodeType::Aba,
        RoutingCodeType::SortCode,
        RoutingCodeType::BsbCode,
        RoutingCodeType::Ifsc,
        RoutingCodeType::Cnaps,
    ];

    /// The wire name: `aba`, `sort_code`, `bsb_code`, `ifsc`, `cnaps`.
    pub fn name(self) -> &'static str {
        match self {
            RoutingCodeType::Aba => "aba",
            RoutingCodeType::SortCode => "sort_code",
            RoutingCodeType::BsbCode => "bsb_code",
            RoutingCodeType::Ifsc => "ifsc",
            RoutingCodeType::Cnaps => "cnaps",
        }
    }

    /// Case-insensitive. `ach` is accepted for `aba` (UQPAY's own example sends both, and an ACH
    /// routing number is an ABA number) and `bsb` for `bsb_code` (the Airwallex spelling).
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.trim().to_ascii_lowercase();
        match name.as_str() {
            "aba" | "ach" => Some(RoutingCodeType::Aba),
            "sort_code" => Some(RoutingCodeType::SortCode),
            "bsb_code" | "bsb" => Some(RoutingCodeType::BsbCode),
            "ifsc" => Some(RoutingCodeType::Ifsc),
            "cnaps" => Some(RoutingCodeType::Cnaps),
            _ => None,
        }
    }

    /// Checks `value` with this code's validator.
    pub fn check(self, value: &str) -> Result<(), RoutingCodeError> {
        match self {
            RoutingCodeType::Aba => AbaRouting::parse(value).map(drop).map_err(RoutingCodeError::from),
            RoutingCodeType::SortCode => SortCode::parse(value).map(drop).map_err(RoutingCodeError::from),
            RoutingCodeType::BsbCode => Bsb::parse(value).map(drop).map_err(RoutingCodeError::from),
            RoutingCodeType::Ifsc => Ifsc::parse(value).map(drop).map_err(RoutingCodeError::from),
            RoutingCodeType::Cnaps => CnapsCode::parse(value).map(drop).map_err(RoutingCodeError::from),
        }
    }
}

/// Why a routing code of some [`RoutingCodeType`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingCodeError {
    #[error(transparent)]
    Aba(#[from] AbaRoutingError),
    #[error(transparent)]
    Shape(#[from] CodeShapeError),
}

impl RuleError for RoutingCodeError {
    fn code(&self) -> &'static str {
        match self {
            RoutingCodeError::Aba(e) => e.code(),
            RoutingCodeError::Shape(e) => e.code(),
        }
    }
}

impl fmt::Display for RoutingCodeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A code whose only rule is its shape; the rule text says what the shape is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeShapeError {
    #[error("is empty")]
    Empty,
    #[error("must be {0}")]
    Shape(&'static str),
}

impl RuleError for CodeShapeError {
    fn code(&self) -> &'static str {
        match self {
            CodeShapeError::Empty => "required",
            CodeShapeError::Shape(_) => "invalid_format",
        }
    }
}

/// Normalises `text` (dropping `separators`) and checks it is exactly `len` digits.
fn digits(text: &str, len: usize, separators: &[char], rule: &'static str) -> Result<String, CodeShapeError> {
    let code = compact(text, separators);
    if code.is_empty() {
        Err(CodeShapeError::Empty)
    } else if code.len() == len && all_digits(&code) {
        Ok(code)
    } else {
        Err(CodeShapeError::Shape(rule))
    }
}

/// A US ABA routing transit number: 9 digits whose 3-7-1 weighted sum is a multiple of 10.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AbaRouting(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AbaRoutingError {
    #[error("is empty")]
    Empty,
    #[error("must be 9 digits")]
    Shape,
    #[error("must start with a Federal Reserve routing symbol (01-12, 21-32, 61-72 or 80)")]
    BadPrefix,
    #[error("fails the ABA check digit")]
    BadChecksum,
}

impl RuleError for AbaRoutingError {
    fn code(&self) -> &'static str {
        match self {
            AbaRoutingError::Empty => "required",
            AbaRoutingError::Shape | AbaRoutingError::BadPrefix => "invalid_format",
            AbaRoutingError::BadChecksum => "invalid_checksum",
        }
    }
}

impl AbaRouting {
    pub fn parse(text: &str) -> Result<Self, AbaRoutingError> {
        let code = compact(text, &['-']);
        if code.is_empty() {
            return Err(AbaRoutingError::Empty);
        }
        if code.len() != 9 || !all_digits(&code) {
            return Err(AbaRoutingError::Shape);
        }
        let d: Vec<u32> = code.bytes().map(|b| u32::from(b - b'0')).collect();
        // 00 is the US Treasury's own range (and makes 000000000 pass the checksum): never a payee.
        let prefix = d[0] * 10 + d[1];
        if !matches!(prefix, 1..=12 | 21..=32 | 61..=72 | 80) {
            return Err(AbaRoutingError::BadPrefix);
        }
        let sum = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8]);
        if !sum.is_multiple_of(10) {
            return Err(AbaRoutingError::BadChecksum);
        }
        Ok(Self(code))
    }

    /// The Federal Reserve district or routing symbol, the first four digits.
    pub fn fed_routing_symbol(&self) -> &str {
        &self.0[..4]
    }
}

string_newtype!(AbaRouting, AbaRoutingError, "ABA routing number");

/// A GB sort code, stored as 6 digits; accepts `12-34-56` and `12 34 56`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SortCode(String);

impl SortCode {
    pub fn parse(text: &str) -> Result<Self, CodeShapeError> {
        digits(text, 6, &['-'], "6 digits, written 123456 or 12-34-56").map(Self)
    }

    /// `12-34-56`, as printed on UK cheques and statements.
    pub fn to_dashed(&self) -> String {
        format!("{}-{}-{}", &self.0[..2], &self.0[2..4], &self.0[4..])
    }
}

string_newtype!(SortCode, CodeShapeError, "sort code");

/// An AU Bank-State-Branch number, stored as 6 digits; accepts `123-456`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bsb(String);

impl Bsb {
    pub fn parse(text: &str) -> Result<Self, CodeShapeError> {
        digits(text, 6, &['-'], "6 digits, written 123456 or 123-456").map(Self)
    }

    pub fn to_dashed(&self) -> String {
        format!("{}-{}", &self.0[..3], &self.0[3..])
    }
}

string_newtype!(Bsb, CodeShapeError, "BSB");

/// An Indian Financial System Code: 4-letter bank code, a `0` reserved for future use, and a
/// 6-character branch code (`SBIN0001234`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ifsc(String);

impl Ifsc {
    pub fn parse(text: &str) -> Result<Self, CodeShapeError> {
        const RULE: &str = "11 characters: a 4-letter bank code, a 0, then 6 letters or digits (SBIN0001234)";
        let code = compact(text, &[]);
        if code.is_empty() {
            return Err(CodeShapeError::Empty);
        }
        let b = code.as_bytes();
        let ok = b.len() == 11
            && b[..4].iter().all(u8::is_ascii_uppercase)
            && b[4] == b'0'
            && b[5..].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if ok { Ok(Self(code)) } else { Err(CodeShapeError::Shape(RULE)) }
    }

    pub fn bank_code(&self) -> &str {
        &self.0[..4]
    }

    pub fn branch_code(&self) -> &str {
        &self.0[5..]
    }
}

string_newtype!(Ifsc, CodeShapeError, "IFSC");

/// A China National Advanced Payment System bank code: 12 digits (bank, city, branch, check).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CnapsCode(String);

impl CnapsCode {
    pub fn parse(text: &str) -> Result<Self, CodeShapeError> {
        digits(text, 12, &['-'], "12 digits").map(Self)
    }

    /// The 3-digit bank category code (102 ICBC, 103 ABC, 104 BOC, 105 CCB, ...).
    pub fn bank_code(&self) -> &str {
        &self.0[..3]
    }
}

string_newtype!(CnapsCode, CodeShapeError, "CNAPS code");

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn aba_accepts_real_routing_numbers() {
        // JPMorgan Chase NY, Fed Boston, Bank of America, Wells Fargo CA, Chase CA.
        for code in ["021000021", "011000015", "026009593", "121000248", "322271627", "011000028"] {
            assert!(AbaRouting::parse(code).is_ok(), "{code}");
        }
        assert_eq!(AbaRouting::parse("0210-0002-1").map(|a| a.to_string()), Ok("021000021".into()));
        assert_eq!(AbaRouting::parse("021000021").expect("valid").fed_routing_symbol(), "0210");
    }

    #[test]
    fn aba_refuses_bad_numbers() {
        assert_eq!(AbaRouting::parse("123456789"), Err(AbaRoutingError::BadChecksum));
        assert_eq!(AbaRouting::parse("021000022"), Err(AbaRoutingError::BadChecksum));
        assert_eq!(AbaRouting::parse("02100002"), Err(AbaRoutingError::Shape));
        assert_eq!(AbaRouting::parse("0210000210"), Err(AbaRoutingError::Shape));
        assert_eq!(AbaRouting::parse("02100002A"), Err(AbaRoutingError::Shape));
        assert_eq!(AbaRouting::parse("000000000"), Err(AbaRoutingError::BadPrefix));
        // 99 is no routing symbol even though the digits balance.
        assert_eq!(AbaRouting::parse("990000000"), Err(AbaRoutingError::BadPrefix));
        assert_eq!(AbaRouting::parse(""), Err(AbaRoutingError::Empty));
        assert_eq!(AbaRoutingError::BadChecksum.code(), "invalid_checksum");
    }

    #[test]
    fn sort_codes_and_bsbs_accept_their_printed_forms() {
        let sc = SortCode::parse("60-16-13").expect("valid");
        assert_eq!(sc.as_str(), "601613");
        assert_eq!(sc.to_dashed(), "60-16-13");
        assert!(SortCode::parse("601613").is_ok());
        assert!(SortCode::parse("60 16 13").is_ok());
        assert_eq!(SortCode::parse("60-16-1"), Err(CodeShapeError::Shape("6 digits, written 123456 or 12-34-56")));
        assert!(SortCode::parse("60/16/13").is_err());
        assert!(SortCode::parse("6016133").is_err());

        let bsb = Bsb::parse("062-000").expect("valid");
        assert_eq!(bsb.as_str(), "062000");
        assert_eq!(bsb.to_dashed(), "062-000");
        assert!(Bsb::parse("06200").is_err());
        assert!(Bsb::parse("O62000").is_err());
        assert_eq!(Bsb::parse(" "), Err(CodeShapeError::Empty));
    }

    #[test]
    fn ifsc_needs_bank_letters_a_zero_and_a_branch() {
        for code in ["SBIN0001234", "HDFC0000001", "icic0000104", "UTIB0CCH274"] {
            assert!(Ifsc::parse(code).is_ok(), "{code}");
        }
        let ifsc = Ifsc::parse("HDFC0000001").expect("valid");
        assert_eq!((ifsc.bank_code(), ifsc.branch_code()), ("HDFC", "000001"));
        for bad in ["SBIN1001234", "SBI00001234", "SBIN000123", "SBIN00012345", "SBIN0-01234"] {
            assert!(Ifsc::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cnaps_is_twelve_digits() {
        // 102 is ICBC's bank category code.
        let code = CnapsCode::parse("102100099996").expect("valid");
        assert_eq!(code.bank_code(), "102");
        assert!(CnapsCode::parse("10210009999").is_err());
        assert!(CnapsCode::parse("10210009999X").is_err());
    }

    #[test]
    fn routing_code_types_have_wire_names_and_aliases() {
        for kind in RoutingCodeType::ALL {
            assert_eq!(RoutingCodeType::from_name(kind.name()), Some(kind));
        }
        assert_eq!(RoutingCodeType::from_name("ACH"), Some(RoutingCodeType::Aba));
        assert_eq!(RoutingCodeType::from_name("BSB"), Some(RoutingCodeType::BsbCode));
        assert_eq!(RoutingCodeType::from_name("institution_no"), None);
        assert!(RoutingCodeType::SortCode.check("12-34-56").is_ok());
        let err = RoutingCodeType::Aba.check("123456789").expect_err("bad checksum");
        assert_eq!((err.code(), err.to_string().as_str()), ("invalid_checksum", "fails the ABA check digit"));
    }

    proptest! {
        #[test]
        fn aba_check_digit_catches_every_single_digit_change(
            prefix in prop::sample::select(vec![1u32, 2, 9, 12, 21, 32, 61, 72, 80]),
            body in prop::collection::vec(0u32..10, 6),
            pos in 0usize..9,
            delta in 1u32..10,
        ) {
            let mut d = vec![prefix / 10, prefix % 10];
            d.extend(body);
            let partial = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5]);
            d.push((10 - partial % 10) % 10);
            let text: String = d.iter().map(|n| char::from(b'0' + *n as u8)).collect();
            prop_assert!(AbaRouting::parse(&text).is_ok(), "{text}");
            // Weights 3, 7 and 1 are all coprime to 10, so any single change moves the sum.
            d[pos] = (d[pos] + delta) % 10;
            let changed: String = d.iter().map(|n| char::from(b'0' + *n as u8)).collect();
            prop_assert!(AbaRouting::parse(&changed).is_err(), "{changed}");
        }
    }
}
