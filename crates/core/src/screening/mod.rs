//! Sanctions screening: the pure part of issue 7. Lists are parsed from their published formats
//! ([`ofac`] for the US OFAC SDN CSV files, [`un`] for the UN Security Council consolidated XML),
//! merged into one [`Screener`], and every beneficiary or payout party is screened as a
//! [`Subject`]. The caller reads the files and stores the hits; nothing here does I/O.
//!
//! Scores are integers in per-mille (0..=1000), never floats, so the same inputs give the same
//! hits on every machine and a stored score can be compared exactly. `docs/screening.md` gives
//! the formulas and the measured precision and recall.

mod country;
mod matcher;
pub mod normalize;
pub mod ofac;
pub mod un;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use country::{Country, CountryError};
pub use matcher::{
    COUNTRY_AGREES_BONUS, COUNTRY_DIFFERS_PENALTY, DEFAULT_THRESHOLD, DOB_AGREES_BONUS, DOB_DIFFERS_PENALTY,
    INITIAL_SIMILARITY, KIND_DIFFERS_PENALTY, LOW_QUALITY_ALIAS_PENALTY, PHONETIC_EQUAL_SIMILARITY, SINGLE_TOKEN_CAP,
    Screener, TOKEN_FLOOR,
};
pub use normalize::NormalizedName;

/// The published list an entry comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListSource {
    /// US Treasury OFAC Specially Designated Nationals list; ids are the SDN `ent_num` (uid).
    OfacSdn,
    /// UN Security Council consolidated list; ids are the reference numbers (`QDi.299`).
    UnConsolidated,
}

impl ListSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ListSource::OfacSdn => "OFAC SDN",
            ListSource::UnConsolidated => "UN consolidated",
        }
    }
}

impl fmt::Display for ListSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a list entry designates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Individual,
    Organisation,
    Vessel,
    Aircraft,
}

/// What the screened party is, as far as the caller knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    Individual,
    Organisation,
    Unknown,
}

/// A date that may lack its day or its month: lists often know only the year of birth, and so do
/// some beneficiaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartialDate {
    year: u16,
    month: Option<u8>,
    day: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("must be YYYY, YYYY-MM or YYYY-MM-DD")]
    Malformed,
    #[error("is not a real calendar date")]
    Invalid,
}

impl PartialDate {
    /// Years outside 1800..=2200 are refused: they are typing errors, not dates of birth.
    pub fn new(year: u16, month: Option<u8>, day: Option<u8>) -> Result<Self, DateError> {
        if !(1800..=2200).contains(&year) || (day.is_some() && month.is_none()) {
            return Err(DateError::Invalid);
        }
        if let Some(m) = month {
            let month = time::Month::try_from(m).map_err(|_| DateError::Invalid)?;
            if let Some(d) = day {
                time::Date::from_calendar_date(i32::from(year), month, d).map_err(|_| DateError::Invalid)?;
            }
        }
        Ok(Self { year, month, day })
    }

    pub fn year_only(year: u16) -> Result<Self, DateError> {
        Self::new(year, None, None)
    }

    /// `1952`, `1952-10` or `1952-10-07`.
    pub fn parse(text: &str) -> Result<Self, DateError> {
        let parts: Vec<&str> = text.trim().split('-').collect();
        let number = |part: &str, len: usize| -> Result<u16, DateError> {
            if part.len() != len || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(DateError::Malformed);
            }
            part.parse().map_err(|_| DateError::Malformed)
        };
        let (year, month, day) = match parts.as_slice() {
            [y] => (number(y, 4)?, None, None),
            [y, m] => (number(y, 4)?, Some(number(m, 2)?), None),
            [y, m, d] => (number(y, 4)?, Some(number(m, 2)?), Some(number(d, 2)?)),
            _ => return Err(DateError::Malformed),
        };
        // Two-digit parts always fit a u8.
        let small = |v: Option<u16>| v.map(|v| u8::try_from(v).unwrap_or(u8::MAX));
        Self::new(year, small(month), small(day))
    }

    pub fn year(self) -> u16 {
        self.year
    }

    pub fn month(self) -> Option<u8> {
        self.month
    }

    pub fn day(self) -> Option<u8> {
        self.day
    }
}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.year)?;
        if let Some(m) = self.month {
            write!(f, "-{m:02}")?;
        }
        if let Some(d) = self.day {
            write!(f, "-{d:02}")?;
        }
        Ok(())
    }
}

/// A date of birth as a list gives it: a (possibly partial) date, a year "circa", or a range of
/// years.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BirthDate {
    On(PartialDate),
    Circa(u16),
    Between(u16, u16),
}

impl fmt::Display for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BirthDate::On(date) => date.fmt(f),
            BirthDate::Circa(year) => write!(f, "circa {year}"),
            BirthDate::Between(from, to) => write!(f, "{from} to {to}"),
        }
    }
}

/// How much a list trusts an alias. OFAC's weak a.k.a.s and the UN's "Low" quality aliases are
/// screened, at a small penalty, because a real match on them is still a match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AliasQuality {
    Good,
    Low,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alias {
    pub name: String,
    pub quality: AliasQuality,
}

impl Alias {
    pub fn good(name: impl Into<String>) -> Self {
        Self { name: name.into(), quality: AliasQuality::Good }
    }

    pub fn low(name: impl Into<String>) -> Self {
        Self { name: name.into(), quality: AliasQuality::Low }
    }
}

/// One designated person, organisation, vessel or aircraft, as parsed from a list. Names are
/// kept as published; the [`Screener`] normalises them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListEntry {
    pub source: ListSource,
    /// The list's own identifier: the SDN uid (`ent_num`) or the UN reference number.
    pub id: String,
    pub kind: EntryKind,
    pub name: String,
    pub aliases: Vec<Alias>,
    pub dates_of_birth: Vec<BirthDate>,
    /// Nationalities, citizenships, address and birth countries: any of them agreeing with the
    /// subject's country counts.
    pub countries: Vec<Country>,
    /// Sanctions programmes (OFAC) or the UN list type, for the reviewer.
    pub programs: Vec<String>,
}

impl ListEntry {
    pub fn new(source: ListSource, id: impl Into<String>, kind: EntryKind, name: impl Into<String>) -> Self {
        Self {
            source,
            id: id.into(),
            kind,
            name: name.into(),
            aliases: Vec::new(),
            dates_of_birth: Vec::new(),
            countries: Vec::new(),
            programs: Vec::new(),
        }
    }
}

/// Longest name accepted for screening, in characters: far above any real name, low enough that
/// the quadratic similarity functions stay cheap.
pub const MAX_SUBJECT_NAME_CHARS: usize = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    #[error("has no letters or digits to screen")]
    NoName,
    #[error("has only initials; at least one part of the name must be spelled out")]
    OnlyInitials,
    #[error("must be at most {MAX_SUBJECT_NAME_CHARS} characters long")]
    TooLong,
}

/// The party being screened: a beneficiary or a payout's parties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    name: String,
    normalized: NormalizedName,
    kind: SubjectKind,
    date_of_birth: Option<PartialDate>,
    country: Option<Country>,
}

impl Subject {
    /// Refuses a name that normalises to nothing (only punctuation), which could never match.
    pub fn new(name: &str, kind: SubjectKind) -> Result<Self, SubjectError> {
        if name.chars().count() > MAX_SUBJECT_NAME_CHARS {
            return Err(SubjectError::TooLong);
        }
        let normalized = NormalizedName::new(name);
        if normalized.is_empty() {
            return Err(SubjectError::NoName);
        }
        // Initials alone would match half the list at a weak similarity, and the index does not
        // look names up by initials.
        if normalized.tokens().iter().all(|t| normalize::is_initial(t)) {
            return Err(SubjectError::OnlyInitials);
        }
        Ok(Self { name: name.to_owned(), normalized, kind, date_of_birth: None, country: None })
    }

    pub fn with_date_of_birth(mut self, date: PartialDate) -> Self {
        self.date_of_birth = Some(date);
        self
    }

    pub fn with_country(mut self, country: Country) -> Self {
        self.country = Some(country);
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn normalized(&self) -> &NormalizedName {
        &self.normalized
    }

    pub fn kind(&self) -> SubjectKind {
        self.kind
    }

    pub fn date_of_birth(&self) -> Option<PartialDate> {
        self.date_of_birth
    }

    pub fn country(&self) -> Option<Country> {
        self.country
    }
}

/// A similarity or confidence in per-mille: 0 is nothing in common, 1000 is identical.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct Score(u16);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a per-mille score between 0 and 1000")]
pub struct ScoreError;

impl Score {
    pub const MAX: Score = Score(1000);
    pub const ZERO: Score = Score(0);

    pub fn new(per_mille: u16) -> Result<Self, ScoreError> {
        if per_mille > 1000 { Err(ScoreError) } else { Ok(Self(per_mille)) }
    }

    /// For constants known to be in range; clamps rather than fails.
    pub const fn saturating(per_mille: u16) -> Self {
        Self(if per_mille > 1000 { 1000 } else { per_mille })
    }

    pub fn per_mille(self) -> u16 {
        self.0
    }
}

impl TryFrom<u16> for Score {
    type Error = ScoreError;
    fn try_from(value: u16) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Score> for u16 {
    fn from(score: Score) -> u16 {
        score.0
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A list entry that matched a subject at or above the threshold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    pub source: ListSource,
    pub entry_id: String,
    /// The entry's primary name as published.
    pub entry_name: String,
    /// The name that matched best: the primary name or one of the aliases.
    pub matched_name: String,
    pub matched_alias: bool,
    /// The name similarity before the date of birth, country, kind and alias adjustments.
    pub name_score: Score,
    /// The final score compared with the threshold.
    pub score: Score,
    /// Why it matched, for the reviewer: the token pairs and every adjustment.
    pub why: String,
}

/// Line numbers from byte offsets, for parse errors. Offsets usually grow (records are read in
/// order), so it counts forward from the previous answer and a large file is scanned once.
/// Blank lines at the offset are skipped: the csv crate reports a record as starting where the
/// blank lines before it start.
pub(crate) struct LineIndex<'a> {
    data: &'a [u8],
    byte: usize,
    line: u64,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data, byte: 0, line: 1 }
    }

    pub(crate) fn at(&mut self, byte: u64) -> u64 {
        let mut start = usize::try_from(byte).unwrap_or(usize::MAX).min(self.data.len());
        while start < self.data.len() && matches!(self.data[start], b'\r' | b'\n') {
            start += 1;
        }
        if start < self.byte {
            (self.byte, self.line) = (0, 1);
        }
        self.line += self.data[self.byte..start].iter().filter(|&&b| b == b'\n').count() as u64;
        self.byte = start;
        self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_dates_parse_year_month_and_day_and_refuse_impossible_ones() {
        assert_eq!(PartialDate::parse("1952").expect("year").to_string(), "1952");
        assert_eq!(PartialDate::parse("1952-10").expect("month").to_string(), "1952-10");
        let full = PartialDate::parse("1952-10-07").expect("full");
        assert_eq!((full.year(), full.month(), full.day()), (1952, Some(10), Some(7)));
        assert_eq!(PartialDate::parse("2023-02-29"), Err(DateError::Invalid));
        assert_eq!(PartialDate::parse("1952-13"), Err(DateError::Invalid));
        assert_eq!(PartialDate::parse("1700"), Err(DateError::Invalid));
        for bad in ["", "52", "1952/10/07", "1952-1-7", "19520", "abcd", "1952-10-07-01"] {
            assert_eq!(PartialDate::parse(bad), Err(DateError::Malformed), "{bad}");
        }
        assert_eq!(PartialDate::new(1952, None, Some(7)), Err(DateError::Invalid));
    }

    #[test]
    fn subjects_need_something_to_screen() {
        assert_eq!(Subject::new(" .-, ", SubjectKind::Unknown), Err(SubjectError::NoName));
        assert_eq!(Subject::new(&"a".repeat(301), SubjectKind::Unknown), Err(SubjectError::TooLong));
        assert_eq!(Subject::new("J. R. R.", SubjectKind::Unknown), Err(SubjectError::OnlyInitials));
        assert!(Subject::new("J. R. R. Tolkien", SubjectKind::Unknown).is_ok());
        let subject = Subject::new("Vladimir Putin", SubjectKind::Individual).expect("subject");
        assert_eq!(subject.normalized().tokens(), ["putin", "vladimir"]);
        // Only noise words: kept rather than dropped, so the name can still be screened.
        assert_eq!(Subject::new("Ltd.", SubjectKind::Organisation).expect("noise").normalized().tokens(), ["ltd"]);
    }

    #[test]
    fn line_index_counts_forward_and_back() {
        let mut lines = LineIndex::new(b"a\nb\n\n\nc\r\nd");
        assert_eq!(lines.at(0), 1);
        assert_eq!(lines.at(2), 2);
        assert_eq!(lines.at(4), 5, "blank lines before a record are skipped");
        assert_eq!(lines.at(100), 6, "past the end is the last line");
        assert_eq!(lines.at(2), 2, "going back recounts");
    }

    #[test]
    fn scores_are_per_mille_and_validated_from_json() {
        assert_eq!(Score::new(1001), Err(ScoreError));
        assert_eq!(Score::saturating(5000), Score::MAX);
        assert_eq!(serde_json::to_string(&Score::saturating(875)).expect("json"), "875");
        assert!(serde_json::from_str::<Score>("1001").is_err());
        assert_eq!(serde_json::from_str::<Score>("1000").expect("max"), Score::MAX);
    }
}
