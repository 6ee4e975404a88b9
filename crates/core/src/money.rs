//! Amounts are integers in the currency's minor unit (ISO 4217 exponent). Decimal strings are
//! parsed exactly: `"10.001"` in USD is an error, never a rounding, and no float is ever involved.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Largest amount accepted from outside, in minor units (15 digits). Sums of many such amounts
/// still fit comfortably in an `i64`.
pub const MAX_MINOR: i64 = 999_999_999_999_999;

/// An ISO 4217 currency that has a minor-unit exponent (so not XAU, XDR and the like).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(iso_currency::Currency);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CurrencyError {
    #[error("must be a three-letter upper-case ISO 4217 code")]
    Malformed,
    #[error("is not an ISO 4217 currency")]
    Unknown,
    #[error("has no minor unit and cannot be paid out")]
    NoMinorUnit,
}

impl Currency {
    pub fn parse(code: &str) -> Result<Self, CurrencyError> {
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(CurrencyError::Malformed);
        }
        let currency = iso_currency::Currency::from_code(code).ok_or(CurrencyError::Unknown)?;
        if currency.exponent().is_none() {
            return Err(CurrencyError::NoMinorUnit);
        }
        Ok(Self(currency))
    }

    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Number of decimal places of the minor unit: JPY 0, USD 2, BHD 3.
    pub fn exponent(self) -> u32 {
        u32::from(self.0.exponent().unwrap_or(0))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Currency::parse(&code).map_err(|e| serde::de::Error::custom(format!("currency {e}")))
    }
}

/// A non-negative amount in minor units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Amount(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("is empty")]
    Empty,
    #[error("must not be negative")]
    Negative,
    #[error("must be a plain decimal number such as \"1000.00\" (no sign, exponent or spaces)")]
    NotDecimal,
    #[error("has more than {max} decimal places for {currency}")]
    TooManyDecimals { max: u32, currency: Currency },
    #[error("is larger than the maximum of {max}")]
    TooLarge { max: String },
    #[error("must be greater than zero")]
    Zero,
}

impl Amount {
    pub const ZERO: Amount = Amount(0);

    /// Build from minor units; refuses negatives and values above [`MAX_MINOR`].
    pub fn from_minor(minor: i64) -> Result<Self, AmountError> {
        if minor < 0 {
            Err(AmountError::Negative)
        } else if minor > MAX_MINOR {
            Err(AmountError::TooLarge { max: MAX_MINOR.to_string() })
        } else {
            Ok(Self(minor))
        }
    }

    pub fn minor(self) -> i64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).filter(|v| *v >= 0).map(Amount)
    }

    /// Parse a decimal string exactly in `currency`'s minor unit.
    pub fn parse(text: &str, currency: Currency) -> Result<Self, AmountError> {
        if text.is_empty() {
            return Err(AmountError::Empty);
        }
        if text.starts_with('-') {
            return Err(AmountError::Negative);
        }
        let (whole, fraction) = match text.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (text, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || fraction.is_some_and(|f| !all_digits(f)) {
            return Err(AmountError::NotDecimal);
        }
        let exponent = currency.exponent();
        let fraction = fraction.unwrap_or("");
        // Trailing zeros beyond the exponent carry no value ("1.500" USD is 1.50), anything else
        // would be a rounding.
        let significant = fraction.trim_end_matches('0');
        let max = exponent as usize;
        if significant.len() > max {
            return Err(AmountError::TooManyDecimals { max: exponent, currency });
        }
        let too_large = || AmountError::TooLarge { max: format_minor(MAX_MINOR, exponent) };
        let whole = whole.trim_start_matches('0');
        if whole.len() > 18 {
            return Err(too_large());
        }
        let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| too_large())? };
        let mut frac_value: i64 = 0;
        for i in 0..max {
            let digit = significant.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
            frac_value = frac_value * 10 + digit;
        }
        let minor = 10i64
            .checked_pow(exponent)
            .and_then(|scale| whole.checked_mul(scale))
            .and_then(|w| w.checked_add(frac_value))
            .ok_or_else(too_large)?;
        if minor > MAX_MINOR {
            return Err(too_large());
        }
        Ok(Self(minor))
    }

    /// Like [`Amount::parse`], refusing zero.
    pub fn parse_positive(text: &str, currency: Currency) -> Result<Self, AmountError> {
        let amount = Self::parse(text, currency)?;
        if amount.is_zero() { Err(AmountError::Zero) } else { Ok(amount) }
    }

    /// The decimal string with exactly the currency's number of decimals: `"1000.00"`.
    pub fn to_decimal_string(self, currency: Currency) -> String {
        format_minor(self.0, currency.exponent())
    }
}

/// Format signed minor units with `exponent` decimals.
pub fn format_minor(minor: i64, exponent: u32) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    if exponent == 0 {
        return format!("{sign}{abs}");
    }
    let scale = 10u64.pow(exponent);
    format!("{sign}{}.{:0width$}", abs / scale, abs % scale, width = exponent as usize)
}

/// An amount together with its currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Money {
    pub amount: Amount,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: Amount, currency: Currency) -> Self {
        Self { amount, currency }
    }

    pub fn to_decimal_string(self) -> String {
        self.amount.to_decimal_string(self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usd() -> Currency {
        Currency::parse("USD").expect("USD")
    }

    #[test]
    fn exponents_follow_iso_4217() {
        assert_eq!(Currency::parse("JPY").map(Currency::exponent), Ok(0));
        assert_eq!(Currency::parse("USD").map(Currency::exponent), Ok(2));
        assert_eq!(Currency::parse("BHD").map(Currency::exponent), Ok(3));
    }

    #[test]
    fn currency_codes_are_strict() {
        assert_eq!(Currency::parse("usd"), Err(CurrencyError::Malformed));
        assert_eq!(Currency::parse("US"), Err(CurrencyError::Malformed));
        assert_eq!(Currency::parse("ZZZ"), Err(CurrencyError::Unknown));
        assert_eq!(Currency::parse("XAU"), Err(CurrencyError::NoMinorUnit));
    }

    #[test]
    fn parses_exact_decimals() {
        let usd = usd();
        assert_eq!(Amount::parse("1000.00", usd).map(Amount::minor), Ok(100_000));
        assert_eq!(Amount::parse("10", usd).map(Amount::minor), Ok(1000));
        assert_eq!(Amount::parse("10.5", usd).map(Amount::minor), Ok(1050));
        assert_eq!(Amount::parse("0.01", usd).map(Amount::minor), Ok(1));
        assert_eq!(Amount::parse("1.500", usd).map(Amount::minor), Ok(150));
        let jpy = Currency::parse("JPY").expect("JPY");
        assert_eq!(Amount::parse("1500", jpy).map(Amount::minor), Ok(1500));
        let bhd = Currency::parse("BHD").expect("BHD");
        assert_eq!(Amount::parse("1.234", bhd).map(Amount::minor), Ok(1234));
    }

    #[test]
    fn refuses_what_would_round_or_is_not_a_plain_decimal() {
        let usd = usd();
        assert_eq!(Amount::parse("10.001", usd), Err(AmountError::TooManyDecimals { max: 2, currency: usd }));
        let jpy = Currency::parse("JPY").expect("JPY");
        assert!(matches!(Amount::parse("1.5", jpy), Err(AmountError::TooManyDecimals { .. })));
        assert_eq!(Amount::parse("-1.00", usd), Err(AmountError::Negative));
        for bad in ["1e3", "+1", " 1", "1 ", "1,00", ".5", "5.", "0x10", "NaN", "inf", "1.2.3"] {
            assert_eq!(Amount::parse(bad, usd), Err(AmountError::NotDecimal), "{bad}");
        }
        assert_eq!(Amount::parse("", usd), Err(AmountError::Empty));
        assert!(matches!(Amount::parse("99999999999999999999", usd), Err(AmountError::TooLarge { .. })));
        assert!(matches!(Amount::parse("10000000000000.00", usd), Err(AmountError::TooLarge { .. })));
        assert_eq!(Amount::parse_positive("0.00", usd), Err(AmountError::Zero));
    }

    #[test]
    fn formats_with_the_currency_exponent() {
        assert_eq!(format_minor(100_000, 2), "1000.00");
        assert_eq!(format_minor(5, 2), "0.05");
        assert_eq!(format_minor(-5, 2), "-0.05");
        assert_eq!(format_minor(1500, 0), "1500");
        assert_eq!(format_minor(1, 3), "0.001");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(minor in 0..=MAX_MINOR, code in prop::sample::select(vec!["USD", "JPY", "BHD", "EUR", "KWD"])) {
            let currency = Currency::parse(code).expect("known");
            let amount = Amount::from_minor(minor).expect("in range");
            let text = amount.to_decimal_string(currency);
            prop_assert_eq!(Amount::parse(&text, currency), Ok(amount));
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,24}") {
            let _ = Amount::parse(&text, usd());
        }
    }
}
