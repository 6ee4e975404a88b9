//! Bank-detail validators: IBAN, BIC, national routing codes, instant-payment proxies, account
//! numbers and the SWIFT character rules for names and references.
//!
//! Each identifier is a newtype whose `parse` normalises the way people type it (spaces, dashes,
//! lower case) and refuses anything malformed, so a value of the type is always well-formed. The
//! errors display as a rule ("must be 9 digits") so the API can print `<field> <rule>`, and
//! [`RuleError::code`] gives the stable machine code that goes next to it.

mod account;
mod bic;
mod iban;
mod names;
mod proxy;
mod routing;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use account::{AccountNumber, AccountNumberError, AccountNumberRule, MAX_ACCOUNT_NUMBER_LEN};
pub use bic::{Bic, BicError};
pub use iban::{Iban, IbanError, iban_length};
pub use names::{
    MAX_PAYOUT_REFERENCE_LEN, NameError, NameField, ReferenceError, check_name, check_payout_reference,
    check_swift_text,
};
pub use proxy::{DuitNowProxy, PayNowProxy, PromptPayProxy, ProxyError, ProxyKind};
pub use routing::{
    AbaRouting, AbaRoutingError, Bsb, CnapsCode, CodeShapeError, Ifsc, RoutingCodeError, RoutingCodeType, SortCode,
};

/// UQPAY's `payment_method`: a domestic clearing system, or an international SWIFT wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PaymentMethod {
    Local,
    Swift,
}

impl PaymentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Local => "LOCAL",
            PaymentMethod::Swift => "SWIFT",
        }
    }

    /// Case-insensitive, as clients send `local` as often as `LOCAL`.
    pub fn parse(text: &str) -> Option<Self> {
        if text.eq_ignore_ascii_case("LOCAL") {
            Some(PaymentMethod::Local)
        } else if text.eq_ignore_ascii_case("SWIFT") {
            Some(PaymentMethod::Swift)
        } else {
            None
        }
    }
}

impl fmt::Display for PaymentMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validation failure that knows its stable machine code (`"invalid_checksum"`, ...); its
/// `Display` is the human rule.
pub trait RuleError: fmt::Display {
    fn code(&self) -> &'static str;
}

/// Upper-cases `text` and drops whitespace and the given separators: how people type codes
/// (`gb82 west 1234...`, `12-34-56`) versus how they are stored.
fn compact(text: &str, separators: &[char]) -> String {
    text.chars().filter(|c| !c.is_whitespace() && !separators.contains(c)).map(|c| c.to_ascii_uppercase()).collect()
}

fn all_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// `Display`, `AsRef<str>`, `FromStr` and serde (as a string, validated on the way in) for a
/// validated string type. The plain form also adds `as_str` for a tuple newtype over `String`;
/// the `impls` form expects the type to have its own `as_str`.
macro_rules! string_newtype {
    ($ty:ident, $err:ty, $label:literal) => {
        impl $ty {
            /// The normalised form, as stored and sent on.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        $crate::bank::string_newtype!(impls $ty, $err, $label);
    };
    (impls $ty:ident, $err:ty, $label:literal) => {
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $err;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::parse(text)
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Self::parse(&text).map_err(|e| ::serde::de::Error::custom(format!(concat!($label, " {}"), e)))
            }
        }
    };
}
pub(crate) use string_newtype;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_method_parses_case_insensitively_and_serialises_upper_case() {
        assert_eq!(PaymentMethod::parse("local"), Some(PaymentMethod::Local));
        assert_eq!(PaymentMethod::parse("SWIFT"), Some(PaymentMethod::Swift));
        assert_eq!(PaymentMethod::parse("wire"), None);
        assert_eq!(serde_json::to_string(&PaymentMethod::Local).expect("json"), "\"LOCAL\"");
    }

    #[test]
    fn newtypes_round_trip_through_serde_and_refuse_bad_input() {
        let iban: Iban = serde_json::from_str("\"gb82 west 1234 5698 7654 32\"").expect("valid IBAN");
        assert_eq!(serde_json::to_string(&iban).expect("json"), "\"GB82WEST12345698765432\"");
        let err = serde_json::from_str::<Iban>("\"GB82WEST12345698765433\"").expect_err("bad checksum");
        assert!(err.to_string().starts_with("IBAN has invalid check digits"), "{err}");
    }
}
