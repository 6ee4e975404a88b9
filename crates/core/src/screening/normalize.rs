//! Name normalisation: the same person written "PUTIN, Vladimir", "Vladímir Pútin" or
//! "putin vladimir" must give the same tokens before any similarity is measured.
//!
//! Steps, in order:
//! 1. [`fold`]: lower-case (Unicode), transliterate Cyrillic (a simplified BGN/PCGN table),
//!    spell out letters that do not decompose (ß→ss, æ→ae, ø→o, ł→l, đ→d, þ→th ...), then NFKD
//!    and drop the combining marks (é→e, ñ→n, ş→s). Apostrophes are deleted, not spaced, so
//!    "O'Brien" is one token and the transliterated ayn in "Du'a" disappears.
//! 2. Tokenise: dotted abbreviations are one chunk ("S.A." is the legal form `sa`, "V.V." two
//!    initials `v v`); any other character that is not a letter or a digit (hyphens included)
//!    separates tokens. A single-letter token is an initial.
//! 3. Drop noise: the multi-word legal forms in [`NOISE_PHRASES`], then the single words in
//!    [`HONORIFICS`] and [`LEGAL_FORMS`] and the connectors in [`CONNECTORS`]. When only noise is
//!    left, nothing is dropped ("Company Limited" is still screened).
//! 4. Sort the tokens, so word order does not matter; keep the original-order concatenation as
//!    well, which catches "Jong-un" against "Jongun".
//!
//! Words such as "trading", "group" or "bank" are deliberately not noise: they are part of what
//! tells one company from another, and each counts only for its length in the score.

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// Titles that say nothing about who someone is.
pub const HONORIFICS: &[&str] =
    &["mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "sheikh", "shaykh", "haji", "hajji", "mullah"];

/// Legal forms and their abbreviations (after dotted abbreviations are joined: "S.A." is `sa`).
pub const LEGAL_FORMS: &[&str] = &[
    "ltd",
    "llc",
    "llp",
    "inc",
    "incorporated",
    "co",
    "corp",
    "corporation",
    "company",
    "limited",
    "plc",
    "sa",
    "sas",
    "sarl",
    "srl",
    "spa",
    "gmbh",
    "ag",
    "bv",
    "nv",
    "pte",
    "pty",
    "bhd",
    "sdn",
    "jsc",
    "pjsc",
    "ojsc",
    "cjsc",
    "ooo",
    "oao",
    "zao",
    "pao",
    "fze",
    "fzco",
];

/// Connecting words of organisation names ("Sberbank of Russia").
pub const CONNECTORS: &[&str] = &["the", "of", "and"];

/// Multi-word legal forms, dropped where the words appear together in this order ("company" is
/// a single noise word already).
pub const NOISE_PHRASES: &[&[&str]] = &[
    &["public", "joint", "stock"],
    &["open", "joint", "stock"],
    &["closed", "joint", "stock"],
    &["joint", "stock"],
    &["limited", "liability"],
];

/// A name reduced to comparable tokens.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NormalizedName {
    /// Sorted, so "Putin Vladimir" and "Vladimir Putin" are equal.
    tokens: Vec<String>,
    /// The tokens in their original order with no separator.
    compact: String,
}

impl NormalizedName {
    pub fn new(name: &str) -> Self {
        let raw = tokenize(&fold(name));
        let kept = drop_noise(&raw);
        let compact = kept.concat();
        let mut tokens = kept;
        tokens.sort();
        Self { tokens, compact }
    }

    /// Sorted tokens; initials are single-letter tokens.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The sorted tokens joined by single spaces.
    pub fn joined(&self) -> String {
        self.tokens.join(" ")
    }

    /// The tokens in their original order, concatenated.
    pub fn compact(&self) -> &str {
        &self.compact
    }
}

/// A single-letter token: "V." in "V. Putin".
pub fn is_initial(token: &str) -> bool {
    let mut chars = token.chars();
    chars.next().is_some() && chars.next().is_none()
}

/// Lower-case, transliterate and strip diacritics; every other character is kept.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for upper in text.chars() {
        for c in upper.to_lowercase() {
            if is_apostrophe(c) {
                continue;
            }
            if let Some(spelled) = spell_out(c) {
                out.push_str(spelled);
            } else {
                decompose_compatible(c, |d| {
                    if !is_combining_mark(d) {
                        out.push(d);
                    }
                });
            }
        }
    }
    out
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{2018}' | '`' | '\u{02BC}' | '\u{02BB}' | '\u{02BF}' | '\u{02BE}' | '\u{00B4}')
}

/// Letters that NFKD leaves alone, and Cyrillic (Russian, Ukrainian and Belarusian letters) in a
/// simplified BGN/PCGN romanisation, which is how the lists spell those names.
fn spell_out(c: char) -> Option<&'static str> {
    Some(match c {
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        'ø' => "o",
        'ł' => "l",
        'đ' | 'ð' => "d",
        'þ' => "th",
        'ı' => "i",
        'ħ' => "h",
        'ŧ' => "t",
        'ŋ' => "n",
        'ſ' => "s",
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'г' | 'ґ' => "g",
        'д' => "d",
        'е' | 'ё' | 'э' => "e",
        'є' => "ye",
        'ж' => "zh",
        'з' => "z",
        'и' | 'і' => "i",
        'ї' => "yi",
        'й' | 'ы' => "y",
        'к' => "k",
        'л' => "l",
        'м' => "m",
        'н' => "n",
        'о' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'у' | 'ў' => "u",
        'ф' => "f",
        'х' => "kh",
        'ц' => "ts",
        'ч' => "ch",
        'ш' => "sh",
        'щ' => "shch",
        'ъ' | 'ь' => "",
        'ю' => "yu",
        'я' => "ya",
        _ => return None,
    })
}

/// Splits folded text into tokens, keeping dotted abbreviations together.
fn tokenize(folded: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    for chunk in folded.split_whitespace() {
        if let Some(letters) = dotted_abbreviation(chunk) {
            let joined: String = letters.iter().collect();
            if LEGAL_FORMS.contains(&joined.as_str()) {
                tokens.push(joined);
            } else {
                tokens.extend(letters.iter().map(char::to_string));
            }
            continue;
        }
        tokens.extend(chunk.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).map(str::to_owned));
    }
    tokens
}

/// "s.a." or "v.v" (trailing commas and the like ignored): two or more single letters, each
/// followed by a dot except perhaps the last.
fn dotted_abbreviation(chunk: &str) -> Option<Vec<char>> {
    let trimmed = chunk.trim_end_matches(|c: char| !c.is_alphanumeric() && c != '.');
    if !trimmed.contains('.') {
        return None;
    }
    let mut parts: Vec<&str> = trimmed.split('.').collect();
    if parts.last() == Some(&"") {
        parts.pop();
    }
    if parts.len() < 2 {
        return None;
    }
    parts
        .iter()
        .map(|part| {
            let mut chars = part.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_alphanumeric() => Some(c),
                _ => None,
            }
        })
        .collect()
}

fn drop_noise(tokens: &[String]) -> Vec<String> {
    let mut kept: Vec<&String> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    'outer: while i < tokens.len() {
        for phrase in NOISE_PHRASES {
            let end = i + phrase.len();
            if end <= tokens.len() && tokens[i..end].iter().zip(phrase.iter()).all(|(t, p)| t == p) {
                i = end;
                continue 'outer;
            }
        }
        kept.push(&tokens[i]);
        i += 1;
    }
    let kept: Vec<String> = kept
        .into_iter()
        .filter(|t| {
            let t = t.as_str();
            !HONORIFICS.contains(&t) && !LEGAL_FORMS.contains(&t) && !CONNECTORS.contains(&t)
        })
        .cloned()
        .collect();
    if kept.is_empty() { tokens.to_vec() } else { kept }
}

/// A transliteration-tolerant key for one token: spellings that romanise the same sound
/// differently ("Mohammed"/"Muhamad", "Qaida"/"Qaeda", "Yousef"/"Yusuf", "Wladimir"/"Vladimir")
/// collapse to the same or nearer strings. Rules, applied left to right: sch→sh, tch→ch, ph→f,
/// dh→d, th→t, ck→k, ou and oo→u, ee→i, q→k, c→s before e/i/y and k elsewhere (ch kept),
/// x→ks, w→v, y→i, e→i, o→u; then doubled letters are collapsed. Tokens outside ASCII are left
/// as they are.
pub fn phonetic(token: &str) -> String {
    if !token.is_ascii() {
        return token.to_owned();
    }
    let b = token.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len() + 2);
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        let (emit, used): (&[u8], usize) = if rest.starts_with(b"sch") {
            (b"sh", 3)
        } else if rest.starts_with(b"tch") {
            (b"ch", 3)
        } else if rest.starts_with(b"ph") {
            (b"f", 2)
        } else if rest.starts_with(b"dh") {
            (b"d", 2)
        } else if rest.starts_with(b"th") {
            (b"t", 2)
        } else if rest.starts_with(b"ck") {
            (b"k", 2)
        } else if rest.starts_with(b"ch") {
            (b"ch", 2)
        } else if rest.starts_with(b"ou") || rest.starts_with(b"oo") {
            (b"u", 2)
        } else if rest.starts_with(b"ee") {
            (b"i", 2)
        } else {
            let single: &[u8] = match rest[0] {
                b'q' => b"k",
                b'c' if matches!(rest.get(1), Some(b'e' | b'i' | b'y')) => b"s",
                b'c' => b"k",
                b'x' => b"ks",
                b'w' => b"v",
                b'y' | b'e' => b"i",
                b'o' => b"u",
                _ => &rest[..1],
            };
            (single, 1)
        };
        for &byte in emit {
            if out.last() != Some(&byte) {
                out.push(byte);
            }
        }
        i += used;
    }
    // Only ASCII went in and only ASCII came out.
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(name: &str) -> Vec<String> {
        NormalizedName::new(name).tokens().to_vec()
    }

    #[test]
    fn case_and_word_order_do_not_matter() {
        assert_eq!(tokens("PUTIN, Vladimir Vladimirovich"), ["putin", "vladimir", "vladimirovich"]);
        assert_eq!(tokens("vladimir vladimirovich putin"), tokens("PUTIN, Vladimir Vladimirovich"));
    }

    #[test]
    fn diacritics_are_stripped_and_special_letters_spelled_out() {
        assert_eq!(tokens("Vladímir Pútin"), ["putin", "vladimir"]);
        assert_eq!(tokens("Çağrı Öztürk"), ["cagri", "ozturk"]);
        assert_eq!(tokens("Straße Großmann"), ["grossmann", "strasse"]);
        assert_eq!(tokens("Søren Kierkegård"), ["kierkegard", "soren"]);
        assert_eq!(tokens("Łukasz Wałęsa"), ["lukasz", "walesa"]);
        assert_eq!(tokens("Đorđe Æsir Œuvre Þór"), ["aesir", "dorde", "oeuvre", "thor"]);
        assert_eq!(tokens("İstanbul ıslak"), ["islak", "istanbul"]);
        assert_eq!(tokens("Ｆｕｌｌｗｉｄｔｈ"), ["fullwidth"]);
    }

    #[test]
    fn cyrillic_is_transliterated() {
        assert_eq!(tokens("Путин Владимир Владимирович"), ["putin", "vladimir", "vladimirovich"]);
        assert_eq!(tokens("Лукашенко Александр Григорьевич"), ["aleksandr", "grigorevich", "lukashenko"]);
        assert_eq!(tokens("Сергей Шойгу"), ["sergey", "shoygu"]);
    }

    #[test]
    fn punctuation_and_hyphens_separate_tokens_and_apostrophes_vanish() {
        assert_eq!(tokens("Kim Jong-un"), ["jong", "kim", "un"]);
        assert_eq!(tokens("AL-QA'IDA"), ["al", "qaida"]);
        assert_eq!(tokens("O\u{2019}Brien,  Mary-Ann (Jr)"), ["ann", "jr", "mary", "obrien"]);
        assert_eq!(tokens("  multiple\t\nspaces  "), ["multiple", "spaces"]);
    }

    #[test]
    fn initials_are_single_letter_tokens() {
        assert_eq!(tokens("V. Putin"), ["putin", "v"]);
        assert_eq!(tokens("V.V. Putin"), ["putin", "v", "v"]);
        assert_eq!(tokens("V.V Putin"), ["putin", "v", "v"]);
        assert!(is_initial("v"));
        assert!(!is_initial("vv"));
        assert!(!is_initial(""));
    }

    #[test]
    fn honorifics_legal_forms_and_connectors_are_dropped() {
        assert_eq!(tokens("Mr. John Smith"), ["john", "smith"]);
        assert_eq!(tokens("Dr John Smith"), ["john", "smith"]);
        assert_eq!(tokens("Acme Trading Co., Ltd."), ["acme", "trading"]);
        assert_eq!(tokens("Banco Nacional de Cuba S.A."), ["banco", "cuba", "de", "nacional"]);
        assert_eq!(tokens("Globex GmbH"), ["globex"]);
        assert_eq!(tokens("Sberbank of Russia"), ["russia", "sberbank"]);
        assert_eq!(tokens("Public Joint Stock Company Sberbank of Russia"), ["russia", "sberbank"]);
        assert_eq!(tokens("Limited Liability Company Example"), ["example"]);
        assert_eq!(tokens("Joint Stock Example"), ["example"]);
        assert_eq!(tokens("Example S.A.R.L."), ["example"]);
        // "Stock" alone is not noise; only the phrase is.
        assert_eq!(tokens("Stock Example"), ["example", "stock"]);
    }

    #[test]
    fn a_name_made_only_of_noise_is_kept_whole() {
        assert_eq!(tokens("The Company Limited"), ["company", "limited", "the"]);
        assert!(NormalizedName::new("-- . ,").is_empty());
    }

    #[test]
    fn the_compact_form_keeps_the_original_order() {
        assert_eq!(NormalizedName::new("Kim Jong-un").compact(), "kimjongun");
        assert_eq!(NormalizedName::new("Kim Jong-un").joined(), "jong kim un");
    }

    #[test]
    fn phonetic_keys_fold_transliteration_variants() {
        assert_eq!(phonetic("mohammed"), phonetic("mohamed"));
        assert_eq!(phonetic("qaida"), phonetic("qaeda"));
        assert_eq!(phonetic("osama"), phonetic("usama"));
        assert_eq!(phonetic("laden"), phonetic("ladin"));
        assert_eq!(phonetic("wladimir"), phonetic("vladimir"));
        assert_eq!(phonetic("yousef"), "iusif");
        assert_eq!(phonetic("youssef"), phonetic("yousef"));
        assert_eq!(phonetic("gaddafi"), "gadafi");
        assert_eq!(phonetic("qadhafi"), "kadafi");
        assert_eq!(phonetic("nicolas"), "nikulas");
        assert_eq!(phonetic("cesar"), "sisar");
        assert_eq!(phonetic("schmidt"), "shmidt");
        assert_eq!(phonetic("philip"), "filip");
        assert_eq!(phonetic("путин"), "путин");
        assert_ne!(phonetic("putin"), phonetic("petrov"));
    }
}
