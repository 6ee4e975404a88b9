//! Countries for screening: ISO 3166-1 alpha-2 codes, recognised from the code or from the
//! English names the lists use ("Korea, North", "Iran (Islamic Republic of)", "Russian
//! Federation", "Burma"). Names are compared on a key that ignores case, accents, punctuation,
//! word order and "the/of/and", so "Congo, Democratic Republic of the" is "Democratic Republic
//! of the Congo".

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use super::normalize::fold;

/// A country, by its ISO 3166-1 alpha-2 code (plus XK for Kosovo, which both lists use).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country(&'static str);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CountryError {
    #[error("is not an ISO 3166-1 alpha-2 code or a recognised country name")]
    Unknown,
}

impl Country {
    /// An alpha-2 code (any case) or a country name. Ambiguous names ("Korea", "Congo" alone is
    /// the Republic of the Congo as in ISO) follow ISO's short names.
    pub fn parse(text: &str) -> Result<Self, CountryError> {
        let text = text.trim();
        if text.len() == 2 && text.bytes().all(|b| b.is_ascii_alphabetic()) {
            let upper = text.to_ascii_uppercase();
            if let Some((code, _, _)) = COUNTRIES.iter().find(|(code, _, _)| *code == upper) {
                return Ok(Country(code));
            }
        }
        let key = name_key(text);
        if let Some(code) = BY_NAME.get(&key) {
            return Ok(Country(code));
        }
        // "Bolivia (Plurinational State of)" and the like: the part before the brackets.
        if let Some((head, _)) = text.split_once('(')
            && let Some(code) = BY_NAME.get(&name_key(head))
        {
            return Ok(Country(code));
        }
        Err(CountryError::Unknown)
    }

    pub fn code(self) -> &'static str {
        self.0
    }

    /// The English short name.
    pub fn name(self) -> &'static str {
        COUNTRIES.iter().find(|(code, _, _)| *code == self.0).map_or(self.0, |(_, name, _)| name)
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

fn name_key(text: &str) -> String {
    let folded = fold(text).replace('.', "");
    let mut words: Vec<&str> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !matches!(*w, "the" | "of" | "and"))
        .map(|w| if w == "saint" { "st" } else { w })
        .collect();
    words.sort_unstable();
    words.join(" ")
}

static BY_NAME: LazyLock<HashMap<String, &'static str>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    for (code, name, others) in COUNTRIES {
        map.insert(name_key(name), *code);
        for other in *others {
            map.insert(name_key(other), *code);
        }
    }
    map
});

/// Code, English short name, other names the lists and people use.
const COUNTRIES: &[(&str, &str, &[&str])] = &[
    ("AD", "Andorra", &[]),
    ("AE", "United Arab Emirates", &["UAE", "Emirates"]),
    ("AF", "Afghanistan", &[]),
    ("AG", "Antigua and Barbuda", &[]),
    ("AI", "Anguilla", &[]),
    ("AL", "Albania", &[]),
    ("AM", "Armenia", &[]),
    ("AO", "Angola", &[]),
    ("AQ", "Antarctica", &[]),
    ("AR", "Argentina", &[]),
    ("AS", "American Samoa", &[]),
    ("AT", "Austria", &[]),
    ("AU", "Australia", &[]),
    ("AW", "Aruba", &[]),
    ("AX", "Åland Islands", &[]),
    ("AZ", "Azerbaijan", &[]),
    ("BA", "Bosnia and Herzegovina", &["Bosnia-Herzegovina"]),
    ("BB", "Barbados", &[]),
    ("BD", "Bangladesh", &[]),
    ("BE", "Belgium", &[]),
    ("BF", "Burkina Faso", &[]),
    ("BG", "Bulgaria", &[]),
    ("BH", "Bahrain", &[]),
    ("BI", "Burundi", &[]),
    ("BJ", "Benin", &[]),
    ("BL", "Saint Barthélemy", &[]),
    ("BM", "Bermuda", &[]),
    ("BN", "Brunei Darussalam", &["Brunei"]),
    ("BO", "Bolivia", &["Plurinational State of Bolivia"]),
    ("BQ", "Bonaire, Sint Eustatius and Saba", &[]),
    ("BR", "Brazil", &[]),
    ("BS", "Bahamas", &[]),
    ("BT", "Bhutan", &[]),
    ("BV", "Bouvet Island", &[]),
    ("BW", "Botswana", &[]),
    ("BY", "Belarus", &[]),
    ("BZ", "Belize", &[]),
    ("CA", "Canada", &[]),
    ("CC", "Cocos (Keeling) Islands", &["Cocos Islands"]),
    ("CD", "Democratic Republic of the Congo", &["Congo, Democratic Republic of the", "DR Congo", "DRC", "Zaire"]),
    ("CF", "Central African Republic", &[]),
    ("CG", "Congo", &["Republic of the Congo", "Congo, Republic of the", "Congo-Brazzaville"]),
    ("CH", "Switzerland", &[]),
    ("CI", "Côte d'Ivoire", &["Ivory Coast"]),
    ("CK", "Cook Islands", &[]),
    ("CL", "Chile", &[]),
    ("CM", "Cameroon", &[]),
    ("CN", "China", &["People's Republic of China", "PRC"]),
    ("CO", "Colombia", &[]),
    ("CR", "Costa Rica", &[]),
    ("CU", "Cuba", &[]),
    ("CV", "Cabo Verde", &["Cape Verde"]),
    ("CW", "Curaçao", &[]),
    ("CX", "Christmas Island", &[]),
    ("CY", "Cyprus", &[]),
    ("CZ", "Czechia", &["Czech Republic"]),
    ("DE", "Germany", &[]),
    ("DJ", "Djibouti", &[]),
    ("DK", "Denmark", &[]),
    ("DM", "Dominica", &[]),
    ("DO", "Dominican Republic", &[]),
    ("DZ", "Algeria", &[]),
    ("EC", "Ecuador", &[]),
    ("EE", "Estonia", &[]),
    ("EG", "Egypt", &[]),
    ("EH", "Western Sahara", &[]),
    ("ER", "Eritrea", &[]),
    ("ES", "Spain", &[]),
    ("ET", "Ethiopia", &[]),
    ("FI", "Finland", &[]),
    ("FJ", "Fiji", &[]),
    ("FK", "Falkland Islands", &["Falkland Islands (Malvinas)"]),
    ("FM", "Micronesia", &["Micronesia, Federated States of"]),
    ("FO", "Faroe Islands", &[]),
    ("FR", "France", &[]),
    ("GA", "Gabon", &[]),
    (
        "GB",
        "United Kingdom",
        &["United Kingdom of Great Britain and Northern Ireland", "UK", "Great Britain", "Britain"],
    ),
    ("GD", "Grenada", &[]),
    ("GE", "Georgia", &[]),
    ("GF", "French Guiana", &[]),
    ("GG", "Guernsey", &[]),
    ("GH", "Ghana", &[]),
    ("GI", "Gibraltar", &[]),
    ("GL", "Greenland", &[]),
    ("GM", "Gambia", &[]),
    ("GN", "Guinea", &[]),
    ("GP", "Guadeloupe", &[]),
    ("GQ", "Equatorial Guinea", &[]),
    ("GR", "Greece", &[]),
    ("GS", "South Georgia and the South Sandwich Islands", &[]),
    ("GT", "Guatemala", &[]),
    ("GU", "Guam", &[]),
    ("GW", "Guinea-Bissau", &[]),
    ("GY", "Guyana", &[]),
    ("HK", "Hong Kong", &["Hong Kong SAR", "Hong Kong, China"]),
    ("HM", "Heard Island and McDonald Islands", &[]),
    ("HN", "Honduras", &[]),
    ("HR", "Croatia", &[]),
    ("HT", "Haiti", &[]),
    ("HU", "Hungary", &[]),
    ("ID", "Indonesia", &[]),
    ("IE", "Ireland", &[]),
    ("IL", "Israel", &[]),
    ("IM", "Isle of Man", &[]),
    ("IN", "India", &[]),
    ("IO", "British Indian Ocean Territory", &[]),
    ("IQ", "Iraq", &[]),
    ("IR", "Iran", &["Islamic Republic of Iran"]),
    ("IS", "Iceland", &[]),
    ("IT", "Italy", &[]),
    ("JE", "Jersey", &[]),
    ("JM", "Jamaica", &[]),
    ("JO", "Jordan", &[]),
    ("JP", "Japan", &[]),
    ("KE", "Kenya", &[]),
    ("KG", "Kyrgyzstan", &["Kyrgyz Republic"]),
    ("KH", "Cambodia", &[]),
    ("KI", "Kiribati", &[]),
    ("KM", "Comoros", &[]),
    ("KN", "Saint Kitts and Nevis", &[]),
    ("KP", "North Korea", &["Democratic People's Republic of Korea", "DPRK"]),
    ("KR", "South Korea", &["Republic of Korea"]),
    ("KW", "Kuwait", &[]),
    ("KY", "Cayman Islands", &[]),
    ("KZ", "Kazakhstan", &[]),
    ("LA", "Laos", &["Lao People's Democratic Republic", "Lao PDR"]),
    ("LB", "Lebanon", &[]),
    ("LC", "Saint Lucia", &[]),
    ("LI", "Liechtenstein", &[]),
    ("LK", "Sri Lanka", &[]),
    ("LR", "Liberia", &[]),
    ("LS", "Lesotho", &[]),
    ("LT", "Lithuania", &[]),
    ("LU", "Luxembourg", &[]),
    ("LV", "Latvia", &[]),
    ("LY", "Libya", &["Libyan Arab Jamahiriya"]),
    ("MA", "Morocco", &[]),
    ("MC", "Monaco", &[]),
    ("MD", "Moldova", &["Republic of Moldova"]),
    ("ME", "Montenegro", &[]),
    ("MF", "Saint Martin (French part)", &["Saint Martin"]),
    ("MG", "Madagascar", &[]),
    ("MH", "Marshall Islands", &[]),
    ("MK", "North Macedonia", &["Macedonia", "The former Yugoslav Republic of Macedonia"]),
    ("ML", "Mali", &[]),
    ("MM", "Myanmar", &["Burma"]),
    ("MN", "Mongolia", &[]),
    ("MO", "Macao", &["Macau"]),
    ("MP", "Northern Mariana Islands", &[]),
    ("MQ", "Martinique", &[]),
    ("MR", "Mauritania", &[]),
    ("MS", "Montserrat", &[]),
    ("MT", "Malta", &[]),
    ("MU", "Mauritius", &[]),
    ("MV", "Maldives", &[]),
    ("MW", "Malawi", &[]),
    ("MX", "Mexico", &[]),
    ("MY", "Malaysia", &[]),
    ("MZ", "Mozambique", &[]),
    ("NA", "Namibia", &[]),
    ("NC", "New Caledonia", &[]),
    ("NE", "Niger", &[]),
    ("NF", "Norfolk Island", &[]),
    ("NG", "Nigeria", &[]),
    ("NI", "Nicaragua", &[]),
    ("NL", "Netherlands", &["Holland"]),
    ("NO", "Norway", &[]),
    ("NP", "Nepal", &[]),
    ("NR", "Nauru", &[]),
    ("NU", "Niue", &[]),
    ("NZ", "New Zealand", &[]),
    ("OM", "Oman", &[]),
    ("PA", "Panama", &[]),
    ("PE", "Peru", &[]),
    ("PF", "French Polynesia", &[]),
    ("PG", "Papua New Guinea", &[]),
    ("PH", "Philippines", &[]),
    ("PK", "Pakistan", &[]),
    ("PL", "Poland", &[]),
    ("PM", "Saint Pierre and Miquelon", &[]),
    ("PN", "Pitcairn", &["Pitcairn Islands"]),
    ("PR", "Puerto Rico", &[]),
    ("PS", "Palestine", &["State of Palestine", "Palestinian Territories", "West Bank", "Gaza"]),
    ("PT", "Portugal", &[]),
    ("PW", "Palau", &[]),
    ("PY", "Paraguay", &[]),
    ("QA", "Qatar", &[]),
    ("RE", "Réunion", &[]),
    ("RO", "Romania", &[]),
    ("RS", "Serbia", &[]),
    ("RU", "Russia", &["Russian Federation"]),
    ("RW", "Rwanda", &[]),
    ("SA", "Saudi Arabia", &[]),
    ("SB", "Solomon Islands", &[]),
    ("SC", "Seychelles", &[]),
    ("SD", "Sudan", &[]),
    ("SE", "Sweden", &[]),
    ("SG", "Singapore", &[]),
    ("SH", "Saint Helena", &["Saint Helena, Ascension and Tristan da Cunha"]),
    ("SI", "Slovenia", &[]),
    ("SJ", "Svalbard and Jan Mayen", &[]),
    ("SK", "Slovakia", &[]),
    ("SL", "Sierra Leone", &[]),
    ("SM", "San Marino", &[]),
    ("SN", "Senegal", &[]),
    ("SO", "Somalia", &[]),
    ("SR", "Suriname", &[]),
    ("SS", "South Sudan", &[]),
    ("ST", "Sao Tome and Principe", &[]),
    ("SV", "El Salvador", &[]),
    ("SX", "Sint Maarten", &[]),
    ("SY", "Syria", &["Syrian Arab Republic"]),
    ("SZ", "Eswatini", &["Swaziland"]),
    ("TC", "Turks and Caicos Islands", &[]),
    ("TD", "Chad", &[]),
    ("TF", "French Southern Territories", &[]),
    ("TG", "Togo", &[]),
    ("TH", "Thailand", &[]),
    ("TJ", "Tajikistan", &[]),
    ("TK", "Tokelau", &[]),
    ("TL", "Timor-Leste", &["East Timor"]),
    ("TM", "Turkmenistan", &[]),
    ("TN", "Tunisia", &[]),
    ("TO", "Tonga", &[]),
    ("TR", "Türkiye", &["Turkey"]),
    ("TT", "Trinidad and Tobago", &[]),
    ("TV", "Tuvalu", &[]),
    ("TW", "Taiwan", &["Taiwan, Province of China", "Chinese Taipei"]),
    ("TZ", "Tanzania", &["United Republic of Tanzania"]),
    ("UA", "Ukraine", &[]),
    ("UG", "Uganda", &[]),
    ("UM", "United States Minor Outlying Islands", &[]),
    ("US", "United States", &["United States of America", "USA", "U.S.A.", "U.S."]),
    ("UY", "Uruguay", &[]),
    ("UZ", "Uzbekistan", &[]),
    ("VA", "Holy See", &["Vatican", "Vatican City"]),
    ("VC", "Saint Vincent and the Grenadines", &[]),
    ("VE", "Venezuela", &["Bolivarian Republic of Venezuela"]),
    ("VG", "British Virgin Islands", &["Virgin Islands (British)", "Virgin Islands, British"]),
    ("VI", "United States Virgin Islands", &["Virgin Islands (U.S.)", "Virgin Islands, U.S.", "US Virgin Islands"]),
    ("VN", "Viet Nam", &["Vietnam"]),
    ("VU", "Vanuatu", &[]),
    ("WF", "Wallis and Futuna", &[]),
    ("WS", "Samoa", &[]),
    ("XK", "Kosovo", &[]),
    ("YE", "Yemen", &[]),
    ("YT", "Mayotte", &[]),
    ("ZA", "South Africa", &[]),
    ("ZM", "Zambia", &[]),
    ("ZW", "Zimbabwe", &[]),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> &'static str {
        Country::parse(text).map(Country::code).unwrap_or("??")
    }

    #[test]
    fn codes_parse_in_any_case() {
        assert_eq!(code("RU"), "RU");
        assert_eq!(code("ru"), "RU");
        assert_eq!(code(" kp "), "KP");
        assert_eq!(Country::parse("ZZ"), Err(CountryError::Unknown));
    }

    #[test]
    fn list_spellings_of_names_resolve() {
        assert_eq!(code("Russia"), "RU");
        assert_eq!(code("Russian Federation"), "RU");
        assert_eq!(code("Korea, North"), "KP");
        assert_eq!(code("Democratic People's Republic of Korea"), "KP");
        assert_eq!(code("Korea, South"), "KR");
        assert_eq!(code("Iran (Islamic Republic of)"), "IR");
        assert_eq!(code("Bolivia (Plurinational State of)"), "BO");
        assert_eq!(code("Venezuela (Bolivarian Republic of)"), "VE");
        assert_eq!(code("Congo, Democratic Republic of the"), "CD");
        assert_eq!(code("Syrian Arab Republic"), "SY");
        assert_eq!(code("Burma"), "MM");
        assert_eq!(code("Cote d'Ivoire"), "CI");
        assert_eq!(code("Côte d’Ivoire"), "CI");
        assert_eq!(code("St. Kitts and Nevis"), "KN");
        assert_eq!(code("U.S.A."), "US");
        assert_eq!(code("the gambia"), "GM");
        assert_eq!(code("TURKEY"), "TR");
        assert_eq!(code("Kosovo"), "XK");
        // Ambiguous on purpose: which Korea is not guessed.
        assert_eq!(Country::parse("Korea"), Err(CountryError::Unknown));
        assert_eq!(Country::parse("Atlantis"), Err(CountryError::Unknown));
    }

    #[test]
    fn no_name_means_two_countries() {
        let mut seen: HashMap<String, &str> = HashMap::new();
        for (code, name, others) in COUNTRIES {
            for text in std::iter::once(name).chain(others.iter()) {
                if let Some(previous) = seen.insert(name_key(text), code) {
                    assert_eq!(previous, *code, "{text}");
                }
            }
        }
        assert_eq!(code("UK"), "GB");
    }

    #[test]
    fn every_code_is_unique_and_named() {
        let mut codes: Vec<&str> = COUNTRIES.iter().map(|(c, _, _)| *c).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), COUNTRIES.len());
        assert_eq!(COUNTRIES.len(), 250, "249 ISO 3166-1 codes plus XK");
        for (c, name, _) in COUNTRIES {
            assert_eq!(code(c), *c);
            assert_eq!(code(name), *c, "{name}");
        }
        assert_eq!(Country::parse("SY").map(Country::name), Ok("Syria"));
    }
}
