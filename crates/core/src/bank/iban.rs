//! IBAN (ISO 13616): two-letter country, two check digits, then the national BBAN. Validated by
//! the country's registered length and the ISO 7064 mod-97-10 check; the BBAN's inner structure
//! is left to the receiving bank.

use super::{RuleError, compact, string_newtype};

/// Total IBAN length per country, from the SWIFT IBAN Registry (release 98, 2025). French
/// overseas territories and the Crown dependencies use the FR and GB prefixes, so they need no
/// entry of their own.
const LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BI", 27),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DJ", 27),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FK", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HN", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("LY", 25),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MN", 20),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NI", 28),
    ("NL", 18),
    ("NO", 15),
    ("OM", 23),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("RU", 33),
    ("SA", 24),
    ("SC", 31),
    ("SD", 18),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("SO", 23),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
    ("YE", 30),
];

/// The registered IBAN length for `country` (upper-case alpha-2), if it uses IBANs.
pub fn iban_length(country: &str) -> Option<usize> {
    LENGTHS.iter().find(|(c, _)| *c == country).map(|&(_, len)| len)
}

/// An IBAN in electronic format: upper case, no spaces (`GB82WEST12345698765432`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Iban(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IbanError {
    #[error("is empty")]
    Empty,
    #[error("must contain only letters, digits and spaces")]
    BadCharacters,
    #[error("must start with a two-letter country code and two check digits")]
    Malformed,
    #[error("has country code {country}, which does not use IBANs")]
    UnknownCountry { country: String },
    #[error("must be {expected} characters long for {country}, not {actual}")]
    WrongLength { country: String, expected: usize, actual: usize },
    #[error("has invalid check digits")]
    BadCheckDigits,
}

impl RuleError for IbanError {
    fn code(&self) -> &'static str {
        match self {
            IbanError::Empty => "required",
            IbanError::BadCharacters => "invalid_characters",
            IbanError::Malformed => "invalid_format",
            IbanError::UnknownCountry { .. } => "unknown_country",
            IbanError::WrongLength { .. } => "invalid_length",
            IbanError::BadCheckDigits => "invalid_checksum",
        }
    }
}

impl Iban {
    /// Accepts the print format (`GB82 WEST 1234 ...`) and lower case.
    pub fn parse(text: &str) -> Result<Self, IbanError> {
        let iban = compact(text, &[]);
        if iban.is_empty() {
            return Err(IbanError::Empty);
        }
        if !iban.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(IbanError::BadCharacters);
        }
        let bytes = iban.as_bytes();
        if bytes.len() < 4
            || !bytes[..2].iter().all(u8::is_ascii_uppercase)
            || !bytes[2..4].iter().all(u8::is_ascii_digit)
        {
            return Err(IbanError::Malformed);
        }
        let country = &iban[..2];
        let expected = iban_length(country).ok_or_else(|| IbanError::UnknownCountry { country: country.to_owned() })?;
        if iban.len() != expected {
            return Err(IbanError::WrongLength { country: country.to_owned(), expected, actual: iban.len() });
        }
        // 00, 01 and 99 can satisfy mod-97 but are never issued (ISO 13616 check digits run 02..=98).
        if matches!(&iban[2..4], "00" | "01" | "99") || mod97(&iban) != 1 {
            return Err(IbanError::BadCheckDigits);
        }
        Ok(Self(iban))
    }

    pub fn country(&self) -> &str {
        &self.0[..2]
    }

    pub fn check_digits(&self) -> &str {
        &self.0[2..4]
    }

    /// The national account number after the check digits.
    pub fn bban(&self) -> &str {
        &self.0[4..]
    }

    /// Groups of four separated by spaces, as printed on statements.
    pub fn to_print_format(&self) -> String {
        let mut out = String::with_capacity(self.0.len() + self.0.len() / 4);
        for (i, c) in self.0.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push(' ');
            }
            out.push(c);
        }
        out
    }

    /// Check digits for `country` and `bban`, for building test data and round-trips.
    pub fn check_digits_for(country: &str, bban: &str) -> Option<String> {
        let probe = format!("{country}00{bban}");
        if !probe.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()) {
            return None;
        }
        Some(format!("{:02}", 98 - mod97(&probe)))
    }
}

string_newtype!(Iban, IbanError, "IBAN");

/// ISO 7064 mod-97-10 over the IBAN with its first four characters moved to the end and letters
/// expanded to 10..=35, computed piecewise so no big integer is needed. `text` must be ASCII
/// upper-case alphanumeric.
fn mod97(text: &str) -> u32 {
    let (head, tail) = text.split_at(4);
    tail.bytes().chain(head.bytes()).fold(0, |acc, b| {
        if b.is_ascii_digit() {
            (acc * 10 + u32::from(b - b'0')) % 97
        } else {
            (acc * 100 + u32::from(b - b'A') + 10) % 97
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Examples from the SWIFT IBAN Registry and banks' own documentation.
    const VALID: &[&str] = &[
        "GB82 WEST 1234 5698 7654 32",
        "GB29NWBK60161331926819",
        "DE89370400440532013000",
        "FR1420041010050500013M02606",
        "NL91ABNA0417164300",
        "BE68539007547034",
        "AT611904300234573201",
        "BG80BNBG96611020345678",
        "CY17002001280000001200527600",
        "EE382200221020145685",
        "ES9121000418450200051332",
        "FI2112345600000785",
        "GR1601101250000000012300695",
        "HR1210010051863000160",
        "IE29AIBK93115212345678",
        "IT60X0542811101000000123456",
        "LT121000011101001000",
        "LU280019400644750000",
        "LV80BANK0000435195001",
        "MT84MALT011000012345MTLCAST001S",
        "PT50000201231234567890154",
        "SI56263300012039086",
        "SK3112000000198742637541",
        "AD1200012030200359100100",
        "MC5811222000010123456789030",
        "SM86U0322509800000000270100",
        "VA59001123000012345678",
        "CH9300762011623852957",
        "LI21088100002324013AA",
        "NO9386011117947",
        "SE4550000000058398257466",
        "DK5000400440116243",
        "PL61109010140000071219812874",
        "CZ6508000000192000145399",
        "HU42117730161111101800000000",
        "RO49AAAA1B31007593840000",
        "IS140159260076545510730339",
        "TR330006100519786457841326",
        "AE070331234567890123456",
        "SA0380000000608010167519",
        "QA58DOHB00001234567890ABCDEFG",
        "KW81CBKU0000000000001234560101",
        "BH67BMAG00001299123456",
        "IL620108000000099999999",
        "JO94CBJO0010000000000131000302",
        "PK36SCBL0000001123456702",
        "EG380019000500000000263180002",
        "UA213223130000026007233566001",
        "BR1800360305000010009795493C1",
        "MU17BOMM0101101030300200000MUR",
        "SC18SSCB11010000000000001497USD",
        "LC55HEMM000100010012001200023015",
        "BY13NBRB3600900000002Z00AB00",
        "XK051212012345678906",
    ];

    #[test]
    fn accepts_registry_examples() {
        for text in VALID {
            let iban = Iban::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(iban.as_str(), text.replace(' ', ""));
            assert_eq!(Some(iban.as_str().len()), iban_length(iban.country()), "{text}");
        }
    }

    #[test]
    fn normalises_print_format_and_case() {
        let iban = Iban::parse(" gb82 west 1234 5698 7654 32 ").expect("valid");
        assert_eq!(iban.as_str(), "GB82WEST12345698765432");
        assert_eq!(iban.country(), "GB");
        assert_eq!(iban.check_digits(), "82");
        assert_eq!(iban.bban(), "WEST12345698765432");
        assert_eq!(iban.to_print_format(), "GB82 WEST 1234 5698 7654 32");
        assert_eq!(iban.to_string(), "GB82WEST12345698765432");
    }

    #[test]
    fn each_failure_has_its_own_error() {
        assert_eq!(Iban::parse("  "), Err(IbanError::Empty));
        assert_eq!(Iban::parse("GB82-WEST-1234-5698-7654-32"), Err(IbanError::BadCharacters));
        assert_eq!(Iban::parse("DE89 3704 0044 0532 0130 0é"), Err(IbanError::BadCharacters));
        assert_eq!(Iban::parse("GBXX WEST 1234"), Err(IbanError::Malformed));
        assert_eq!(Iban::parse("1282WEST12345698765432"), Err(IbanError::Malformed));
        assert_eq!(Iban::parse("GB8"), Err(IbanError::Malformed));
        // The US has no IBAN.
        assert_eq!(Iban::parse("US64SVBKUS6S3300958879"), Err(IbanError::UnknownCountry { country: "US".into() }));
        assert_eq!(
            Iban::parse("GB82WEST1234569876543"),
            Err(IbanError::WrongLength { country: "GB".into(), expected: 22, actual: 21 })
        );
        assert_eq!(
            Iban::parse("DE8937040044053201300000"),
            Err(IbanError::WrongLength { country: "DE".into(), expected: 22, actual: 24 })
        );
        assert_eq!(Iban::parse("GB82WEST12345698765433"), Err(IbanError::BadCheckDigits));
        assert_eq!(Iban::parse("DE88370400440532013000"), Err(IbanError::BadCheckDigits));
        // Transposed digits, the most common typing mistake.
        assert_eq!(Iban::parse("DE89370400440532031000"), Err(IbanError::BadCheckDigits));
    }

    #[test]
    fn errors_read_as_rules() {
        let e = Iban::parse("GB82WEST1234569876543").expect_err("short");
        assert_eq!(e.to_string(), "must be 22 characters long for GB, not 21");
        assert_eq!(e.code(), "invalid_length");
        assert_eq!(IbanError::BadCheckDigits.code(), "invalid_checksum");
    }

    #[test]
    fn refuses_check_digits_that_are_never_issued() {
        // 98 ≡ 01 (mod 97), so a BBAN whose real check digits are 98 also passes mod-97 with 01;
        // ISO 13616 never issues 01, so that spelling must fail.
        let bban = (0..10_000u32)
            .map(|n| format!("{n:018}"))
            .find(|b| Iban::check_digits_for("GB", b).as_deref() == Some("98"))
            .expect("some BBAN has check digits 98");
        assert!(Iban::parse(&format!("GB98{bban}")).is_ok());
        assert_eq!(Iban::parse(&format!("GB01{bban}")), Err(IbanError::BadCheckDigits));
    }

    #[test]
    fn check_digits_for_builds_valid_ibans() {
        assert_eq!(Iban::check_digits_for("DE", "370400440532013000").as_deref(), Some("89"));
        assert_eq!(Iban::check_digits_for("de", "370400440532013000"), None);
    }

    proptest! {
        #[test]
        fn changing_any_single_digit_breaks_the_check(
            index in 0usize..VALID.len(),
            pos in 2usize..34,
            delta in 1u8..10,
        ) {
            let iban = Iban::parse(VALID[index]).expect("valid");
            let mut bytes = iban.as_str().as_bytes().to_vec();
            let pos = pos % bytes.len();
            prop_assume!(bytes[pos].is_ascii_digit());
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(bytes).expect("ascii");
            prop_assert!(Iban::parse(&changed).is_err(), "{changed} passed");
        }

        #[test]
        fn swapping_adjacent_different_digits_breaks_the_check(index in 0usize..VALID.len(), pos in 4usize..34) {
            let iban = Iban::parse(VALID[index]).expect("valid");
            let mut bytes = iban.as_str().as_bytes().to_vec();
            prop_assume!(pos + 1 < bytes.len());
            prop_assume!(bytes[pos].is_ascii_digit() && bytes[pos + 1].is_ascii_digit() && bytes[pos] != bytes[pos + 1]);
            bytes.swap(pos, pos + 1);
            let changed = String::from_utf8(bytes).expect("ascii");
            prop_assert_eq!(Iban::parse(&changed), Err(IbanError::BadCheckDigits));
        }

        #[test]
        fn any_numeric_bban_with_computed_check_digits_is_valid(
            country in prop::sample::select(LENGTHS.iter().map(|(c, _)| *c).collect::<Vec<_>>()),
            seed in prop::collection::vec(0u8..10, 40),
        ) {
            let len = iban_length(country).expect("listed") - 4;
            let bban: String = seed[..len].iter().map(|d| char::from(b'0' + d)).collect();
            let check = Iban::check_digits_for(country, &bban).expect("ascii");
            prop_assume!(!matches!(check.as_str(), "00" | "01" | "99"));
            let text = format!("{country}{check}{bban}");
            let iban = Iban::parse(&text).expect("constructed IBAN is valid");
            prop_assert_eq!(Iban::parse(&iban.to_print_format()), Ok(iban));
        }
    }
}
