//! Proxy identifiers for the instant-payment schemes that pay to an alias instead of an account:
//! Singapore's PayNow, Malaysia's DuitNow and Thailand's PromptPay. UQPAY carries them in
//! `additional_info.proxy_id`.

use time::Month;

use super::{RuleError, all_digits, compact, string_newtype};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    #[error("is empty")]
    Empty,
    #[error("must be {0}")]
    Shape(&'static str),
    #[error("has an invalid check digit")]
    BadChecksum,
}

impl RuleError for ProxyError {
    fn code(&self) -> &'static str {
        match self {
            ProxyError::Empty => "required",
            ProxyError::Shape(_) => "invalid_format",
            ProxyError::BadChecksum => "invalid_checksum",
        }
    }
}

/// What a proxy identifies the payee by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProxyKind {
    /// A mobile number, stored in E.164 (`+6591234567`).
    Mobile,
    /// Singapore Unique Entity Number of a business or organisation.
    Uen,
    /// Malaysian MyKad number (12 digits, starting with the holder's date of birth).
    MyKad,
    /// Malaysian company or business registration number (SSM).
    BusinessRegistration,
    /// Thai 13-digit citizen ID; juristic persons' tax IDs have the same form and check digit.
    NationalId,
}

/// Drops spaces and dashes and upper-cases; refuses an empty result.
fn normalise(text: &str) -> Result<String, ProxyError> {
    let value = compact(text, &['-']);
    if value.is_empty() { Err(ProxyError::Empty) } else { Ok(value) }
}

/// `text` is exactly `len` digits, the first of which is in `first`.
fn is_number(text: &str, len: usize, first: &[u8]) -> bool {
    text.len() == len && all_digits(text) && first.contains(&text.as_bytes()[0])
}

/// A PayNow proxy: a UEN or a Singapore mobile number.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PayNowProxy {
    kind: ProxyKind,
    value: String,
}

impl PayNowProxy {
    const RULE: &str = "a UEN (201912345K, 53012345D, T09LL0001B) or a +65 mobile number (+6591234567)";

    pub fn parse(text: &str) -> Result<Self, ProxyError> {
        let value = normalise(text)?;
        let b = value.as_bytes();
        let kind = if let Some(number) = value.strip_prefix("+65") {
            // Singapore mobiles are 8 digits starting with 8 or 9.
            is_number(number, 8, b"89").then_some(ProxyKind::Mobile)
        } else {
            let letters = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_uppercase);
            let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
            // ACRA's three UEN forms: businesses nnnnnnnnX, local companies yyyynnnnnX, and other
            // entities TyyPQnnnnX (T/S/R for the 2000s/1900s/1800s, PQ the entity type). The check
            // letter's algorithm is not published for every form, so only the shape is checked.
            let uen = match b.len() {
                9 => digits(0..8) && letters(8..9),
                10 if digits(0..4) => {
                    let year: u32 = value[..4].parse().unwrap_or(0);
                    (1800..=2099).contains(&year) && digits(4..9) && letters(9..10)
                }
                10 => {
                    matches!(b[0], b'T' | b'S' | b'R')
                        && digits(1..3)
                        && letters(3..5)
                        && digits(5..9)
                        && letters(9..10)
                }
                _ => false,
            };
            uen.then_some(ProxyKind::Uen)
        };
        kind.map(|kind| Self { kind, value }).ok_or(ProxyError::Shape(Self::RULE))
    }

    pub fn kind(&self) -> ProxyKind {
        self.kind
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }
}

string_newtype!(impls PayNowProxy, ProxyError, "PayNow proxy");

/// A DuitNow proxy: a Malaysian mobile number, a MyKad number or a business registration number.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DuitNowProxy {
    kind: ProxyKind,
    value: String,
}

impl DuitNowProxy {
    const RULE: &str = "a +60 or 01 mobile number (+60123456789), a 12-digit MyKad number (900101-14-5678) \
                        or a business registration number (201901000005, 123456-A)";

    pub fn parse(text: &str) -> Result<Self, ProxyError> {
        let value = normalise(text)?;
        let shape = ProxyError::Shape(Self::RULE);
        // Malaysian mobiles: 01 then 8 or 9 more digits; stored as +60 1....
        if let Some(number) = value.strip_prefix("+60") {
            return if number.starts_with('1') && (number.len() == 9 || number.len() == 10) && all_digits(number) {
                Ok(Self { kind: ProxyKind::Mobile, value })
            } else {
                Err(shape)
            };
        }
        if value.starts_with("01") && (value.len() == 10 || value.len() == 11) && all_digits(&value) {
            return Ok(Self { kind: ProxyKind::Mobile, value: format!("+6{value}") });
        }
        if value.len() == 12 && all_digits(&value) {
            return if is_ssm_number(&value) {
                Ok(Self { kind: ProxyKind::BusinessRegistration, value })
            } else if is_mykad(&value) {
                Ok(Self { kind: ProxyKind::MyKad, value })
            } else {
                Err(shape)
            };
        }
        // The pre-2019 company number: up to 7 digits and a check letter (123456-A).
        if value.is_ascii() {
            let (digits, letter) = value.split_at(value.len() - 1);
            if (1..=7).contains(&digits.len()) && all_digits(digits) && letter.bytes().all(|b| b.is_ascii_uppercase()) {
                return Ok(Self { kind: ProxyKind::BusinessRegistration, value });
            }
        }
        Err(shape)
    }

    pub fn kind(&self) -> ProxyKind {
        self.kind
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }
}

string_newtype!(impls DuitNowProxy, ProxyError, "DuitNow proxy");

/// SSM's 12-digit number since 2019: registration year, a 2-digit entity type (01 local company,
/// 02 foreign company, 03 business, 04 LLP) and a serial. A 12-digit value that could also be a
/// MyKad counts as an SSM number when it starts with a plausible year: that MyKad reading would
/// mean a holder born in 1919/1920 or 2019/2020, rarely a payee.
fn is_ssm_number(value: &str) -> bool {
    let year: u32 = value[..4].parse().unwrap_or(0);
    let entity: u32 = value[4..6].parse().unwrap_or(0);
    (1900..=2099).contains(&year) && (1..=4).contains(&entity)
}

/// A MyKad starts with the holder's date of birth, YYMMDD. The century is not encoded, so a day
/// is accepted if it exists in 20YY, which is also the leap-year reading of 19YY (except 1900).
fn is_mykad(value: &str) -> bool {
    let field = |r: std::ops::Range<usize>| value[r].parse::<u8>().unwrap_or(0);
    let (yy, mm, dd) = (field(0..2), field(2..4), field(4..6));
    Month::try_from(mm).is_ok_and(|month| dd >= 1 && dd <= month.length(2000 + i32::from(yy)))
}

/// A PromptPay proxy: a Thai mobile number or a 13-digit national ID / tax ID.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PromptPayProxy {
    kind: ProxyKind,
    value: String,
}

impl PromptPayProxy {
    const RULE: &str = "a Thai mobile number (0812345678 or +66812345678) or a 13-digit national ID";

    pub fn parse(text: &str) -> Result<Self, ProxyError> {
        let value = normalise(text)?;
        // Thai mobiles are 10 digits starting 06, 08 or 09; stored as +66 and the last 9.
        if let Some(number) = value.strip_prefix("+66") {
            return if is_number(number, 9, b"689") {
                Ok(Self { kind: ProxyKind::Mobile, value })
            } else {
                Err(ProxyError::Shape(Self::RULE))
            };
        }
        if value.len() == 10 && value.starts_with('0') && is_number(&value[1..], 9, b"689") {
            return Ok(Self { kind: ProxyKind::Mobile, value: format!("+66{}", &value[1..]) });
        }
        if value.len() == 13 && all_digits(&value) {
            return if thai_id_check_digit(&value[..12]) == value.as_bytes()[12] - b'0' {
                Ok(Self { kind: ProxyKind::NationalId, value })
            } else {
                Err(ProxyError::BadChecksum)
            };
        }
        Err(ProxyError::Shape(Self::RULE))
    }

    pub fn kind(&self) -> ProxyKind {
        self.kind
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }
}

string_newtype!(impls PromptPayProxy, ProxyError, "PromptPay proxy");

/// Thai national ID check digit: weights 13 down to 2 over the first 12 digits, then
/// (11 - sum mod 11) mod 10. `first12` must be 12 ASCII digits.
fn thai_id_check_digit(first12: &str) -> u8 {
    let sum: u32 = first12.bytes().zip((2..=13).rev()).map(|(b, w)| u32::from(b - b'0') * w).sum();
    // Both operands are below 11, so the result fits a u8.
    ((11 - sum % 11) % 10) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paynow_accepts_uens_and_singapore_mobiles() {
        for (text, kind, stored) in [
            ("201912345K", ProxyKind::Uen, "201912345K"),
            ("53012345D", ProxyKind::Uen, "53012345D"),
            ("T09LL0001B", ProxyKind::Uen, "T09LL0001B"),
            ("s99ss0001a", ProxyKind::Uen, "S99SS0001A"),
            ("+6591234567", ProxyKind::Mobile, "+6591234567"),
            ("+65 8123 4567", ProxyKind::Mobile, "+6581234567"),
        ] {
            let proxy = PayNowProxy::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!((proxy.kind(), proxy.as_str()), (kind, stored), "{text}");
        }
    }

    #[test]
    fn paynow_refuses_other_shapes() {
        for bad in [
            "91234567",     // a mobile without +65 could be a truncated UEN: refuse
            "+6571234567",  // 7 is no mobile prefix
            "+659123456",   // too short
            "+60123456789", // Malaysian
            "2019123K",     // 8 characters
            "201912345",    // no check letter
            "X09LL0001B",   // X is no century letter
            "T09L10001B",
            "170012345K", // year 1700
        ] {
            assert_eq!(PayNowProxy::parse(bad).map_err(|e| e.code()), Err("invalid_format"), "{bad}");
        }
        assert_eq!(PayNowProxy::parse(" "), Err(ProxyError::Empty));
    }

    #[test]
    fn duitnow_accepts_mobiles_mykad_and_registrations() {
        for (text, kind, stored) in [
            ("+60123456789", ProxyKind::Mobile, "+60123456789"),
            ("+601123456789", ProxyKind::Mobile, "+601123456789"),
            ("012-345 6789", ProxyKind::Mobile, "+60123456789"),
            ("01123456789", ProxyKind::Mobile, "+601123456789"),
            ("900101-14-5678", ProxyKind::MyKad, "900101145678"),
            ("000229-10-1234", ProxyKind::MyKad, "000229101234"),
            ("201901000005", ProxyKind::BusinessRegistration, "201901000005"),
            ("123456-A", ProxyKind::BusinessRegistration, "123456A"),
        ] {
            let proxy = DuitNowProxy::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!((proxy.kind(), proxy.as_str()), (kind, stored), "{text}");
        }
    }

    #[test]
    fn duitnow_refuses_impossible_numbers() {
        for bad in [
            "+6012345678",  // one digit short
            "+60312345678", // a landline
            "0312345678",   // a landline
            "901301145678", // month 13
            "900230145678", // 30 February
            "010229101234", // 29 February 2001 does not exist
            "12345678-A",   // 8 digits: too long for the old form
            "ABC",
            "12345É",
        ] {
            assert!(DuitNowProxy::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn promptpay_accepts_mobiles_and_valid_ids() {
        for (text, kind, stored) in [
            ("0812345678", ProxyKind::Mobile, "+66812345678"),
            ("081-234-5678", ProxyKind::Mobile, "+66812345678"),
            ("+66912345678", ProxyKind::Mobile, "+66912345678"),
            ("1101700207366", ProxyKind::NationalId, "1101700207366"),
            ("3-1012-00012-34-1", ProxyKind::NationalId, "3101200012341"),
            ("0105536049312", ProxyKind::NationalId, "0105536049312"),
        ] {
            let proxy = PromptPayProxy::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!((proxy.kind(), proxy.as_str()), (kind, stored), "{text}");
        }
    }

    #[test]
    fn promptpay_refuses_bad_ids_and_numbers() {
        assert_eq!(PromptPayProxy::parse("1101700207367"), Err(ProxyError::BadChecksum));
        assert_eq!(PromptPayProxy::parse("1234567890123"), Err(ProxyError::BadChecksum));
        for bad in ["0212345678", "812345678", "+6621234567", "+668123456789", "110170020736", ""] {
            assert!(PromptPayProxy::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(ProxyError::BadChecksum.to_string(), "has an invalid check digit");
    }
}
