//! The OFAC SDN list in its published legacy CSV files, as downloaded from the Treasury's
//! Sanctions List Service:
//!
//! - `sdn.csv`: `ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign, Vess_type, Tonnage, GRT,
//!   Vess_flag, Vess_owner, Remarks`, no header row. `-0-` (often `-0- ` with a space) means
//!   empty. Individuals are written "LAST, First"; `SDN_Type` is `individual`, `vessel`,
//!   `aircraft`, or `-0-` for an entity. Remarks carry "DOB 07 Oct 1952; POB ...; nationality
//!   Russia; citizen Russia; ...".
//! - `alt.csv`: `ent_num, alt_num, alt_type, alt_name, alt_remarks`: the a.k.a., f.k.a. and n.k.a.
//!   names. "weak" in `alt_remarks` marks a low-quality alias.
//! - `add.csv`: `ent_num, add_num, address, city/state/postal, country, add_remarks`.
//!
//! A header row (first field `ent_num`) is tolerated, as is the DOS end-of-file byte (0x1A) the
//! files end with. Text that is not UTF-8 is read as Windows-1252's Latin-1 subset, which is how
//! the files have historically been encoded.

use std::collections::HashMap;

use super::{Alias, AliasQuality, BirthDate, Country, EntryKind, LineIndex, ListEntry, ListSource, PartialDate};

/// Which of the three files a problem is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfacFile {
    Sdn,
    Alt,
    Add,
}

impl OfacFile {
    pub fn file_name(self) -> &'static str {
        match self {
            OfacFile::Sdn => "sdn.csv",
            OfacFile::Alt => "alt.csv",
            OfacFile::Add => "add.csv",
        }
    }
}

impl std::fmt::Display for OfacFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.file_name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file} line {line}: {problem}")]
pub struct OfacError {
    pub file: OfacFile,
    pub line: u64,
    pub problem: String,
}

/// Parses `sdn.csv` and, when given, its companion `alt.csv` (aliases) and `add.csv`
/// (countries). An alias or address for an `ent_num` missing from `sdn.csv` is an error: the
/// files are from different publications.
pub fn parse(sdn: &[u8], alt: Option<&[u8]>, add: Option<&[u8]>) -> Result<Vec<ListEntry>, OfacError> {
    let mut entries: Vec<ListEntry> = Vec::new();
    let mut by_number: HashMap<u64, usize> = HashMap::new();
    for row in rows(sdn, OfacFile::Sdn, 12)? {
        let number = row.number(0)?;
        let name = row.required(1, "SDN_Name")?;
        let kind = match row.optional(2).map(|t| t.to_ascii_lowercase()).as_deref() {
            None => EntryKind::Organisation,
            Some("individual") => EntryKind::Individual,
            Some("vessel") => EntryKind::Vessel,
            Some("aircraft") => EntryKind::Aircraft,
            Some(other) => return Err(row.error(format!("SDN_Type '{other}' is not individual, vessel or aircraft"))),
        };
        if by_number.insert(number, entries.len()).is_some() {
            return Err(row.error(format!("ent_num {number} appears twice")));
        }
        let mut entry = ListEntry::new(ListSource::OfacSdn, number.to_string(), kind, name);
        if let Some(programs) = row.optional(3) {
            entry.programs = programs
                .split(']')
                .map(|p| p.trim().trim_start_matches('[').trim())
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(remarks) = row.optional(11) {
            read_remarks(&remarks, &mut entry);
        }
        entries.push(entry);
    }
    if let Some(alt) = alt {
        for row in rows(alt, OfacFile::Alt, 5)? {
            let index = row.entry(&by_number)?;
            let name = row.required(3, "alt_name")?;
            let weak = row.optional(4).is_some_and(|r| r.to_ascii_lowercase().contains("weak"));
            let quality = if weak { AliasQuality::Low } else { AliasQuality::Good };
            entries[index].aliases.push(Alias { name, quality });
        }
    }
    if let Some(add) = add {
        for row in rows(add, OfacFile::Add, 6)? {
            let index = row.entry(&by_number)?;
            // Unrecognised place names ("Region: Crimea") are not countries; skip them.
            if let Some(country) = row.optional(4).and_then(|c| Country::parse(&c).ok()) {
                push_unique(&mut entries[index].countries, country);
            }
        }
    }
    Ok(entries)
}

struct Row {
    file: OfacFile,
    line: u64,
    fields: Vec<String>,
}

impl Row {
    fn error(&self, problem: String) -> OfacError {
        OfacError { file: self.file, line: self.line, problem }
    }

    /// The field with `-0-` and surrounding spaces removed; `None` when empty.
    fn optional(&self, index: usize) -> Option<String> {
        let value = self.fields.get(index)?.trim();
        if value.is_empty() || value == "-0-" { None } else { Some(value.to_owned()) }
    }

    fn required(&self, index: usize, column: &str) -> Result<String, OfacError> {
        self.optional(index).ok_or_else(|| self.error(format!("{column} is empty")))
    }

    fn number(&self, index: usize) -> Result<u64, OfacError> {
        let text = self.required(index, "ent_num")?;
        text.parse().map_err(|_| self.error(format!("ent_num '{text}' is not a number")))
    }

    fn entry(&self, by_number: &HashMap<u64, usize>) -> Result<usize, OfacError> {
        let number = self.number(0)?;
        by_number.get(&number).copied().ok_or_else(|| self.error(format!("ent_num {number} is not in sdn.csv")))
    }
}

/// The data rows of one file, each with exactly `columns` fields.
fn rows(data: &[u8], file: OfacFile, columns: usize) -> Result<Vec<Row>, OfacError> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(data);
    let mut rows = Vec::new();
    let mut lines = LineIndex::new(data);
    for (index, record) in reader.byte_records().enumerate() {
        let record = record.map_err(|e| OfacError {
            file,
            line: e.position().map_or(0, |p| lines.at(p.byte())),
            problem: format!("not valid CSV: {e}"),
        })?;
        let line = record.position().map_or(0, |p| lines.at(p.byte()));
        let fields: Vec<String> = record.iter().map(decode).collect();
        // The DOS end-of-file marker on a line of its own.
        if fields.len() == 1 && fields[0].trim_matches(|c: char| c == '\u{1a}' || c.is_whitespace()).is_empty() {
            continue;
        }
        if index == 0 && fields.first().is_some_and(|f| f.trim().eq_ignore_ascii_case("ent_num")) {
            continue;
        }
        if fields.len() != columns {
            return Err(OfacError {
                file,
                line,
                problem: format!("has {} fields, {file} rows have {columns}", fields.len()),
            });
        }
        rows.push(Row { file, line, fields });
    }
    Ok(rows)
}

fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

fn push_unique<T: PartialEq>(items: &mut Vec<T>, item: T) {
    if !items.contains(&item) {
        items.push(item);
    }
}

/// Dates of birth, nationalities, citizenships and the country of the place of birth, from the
/// `;`-separated remarks. Parts that are not understood are ignored: remarks are free text.
fn read_remarks(remarks: &str, entry: &mut ListEntry) {
    for part in remarks.split(';') {
        let part = part.trim().trim_end_matches('.').trim();
        let part = part.strip_prefix("alt. ").unwrap_or(part).trim();
        if let Some(dob) = part.strip_prefix("DOB ") {
            if let Some(date) = parse_dob(dob) {
                push_unique(&mut entry.dates_of_birth, date);
            }
        } else if let Some(country) = part.strip_prefix("nationality ").or_else(|| part.strip_prefix("citizen ")) {
            if let Ok(country) = Country::parse(country) {
                push_unique(&mut entry.countries, country);
            }
        } else if let Some(place) = part.strip_prefix("POB ") {
            // "Leningrad, Russia": the country is the last comma-separated part.
            let last = place.rsplit(',').next().unwrap_or(place);
            if let Ok(country) = Country::parse(last) {
                push_unique(&mut entry.countries, country);
            }
        }
    }
}

/// "07 Oct 1952", "Oct 1952", "1952", "circa 1960", "1958 to 1960".
fn parse_dob(text: &str) -> Option<BirthDate> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let year = |w: &str| -> Option<u16> {
        if w.len() == 4 && w.bytes().all(|b| b.is_ascii_digit()) { w.parse().ok() } else { None }
    };
    match words.as_slice() {
        ["circa", y] => year(y).map(BirthDate::Circa),
        [from, "to", to] => Some(BirthDate::Between(year(from)?, year(to)?)),
        [y] => PartialDate::year_only(year(y)?).ok().map(BirthDate::On),
        [m, y] => PartialDate::new(year(y)?, Some(month(m)?), None).ok().map(BirthDate::On),
        [d, m, y] => {
            let day: u8 = d.parse().ok()?;
            PartialDate::new(year(y)?, Some(month(m)?), Some(day)).ok().map(BirthDate::On)
        }
        _ => None,
    }
}

fn month(text: &str) -> Option<u8> {
    const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let lower = text.to_ascii_lowercase();
    let short = lower.get(..3)?;
    MONTHS.iter().position(|m| *m == short).and_then(|i| u8::try_from(i + 1).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDN: &str = "\
36,\"AEROCARIBBEAN AIRLINES\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r
9001,\"DOE, John Q.\",\"individual\",\"SDGT] [IRGC\",\"General\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"DOB 07 Oct 1952; alt. DOB 1953; POB Leningrad, Russia; nationality Russia; citizen Belarus; Gender Male.\"\r
9002,\"SEA STAR\",\"vessel\",\"IRAN\",-0- ,\"9HXX\",\"Tanker\",-0- ,-0- ,\"Panama\",-0- ,\"DOB circa 1960; DOB 1958 to 1960; DOB Mar 1970; DOB sometime\"\r
\u{1a}";

    #[test]
    fn sdn_rows_become_entries_with_kind_programs_dates_and_countries() {
        let entries = parse(SDN.as_bytes(), None, None).expect("parses");
        assert_eq!(entries.len(), 3);
        let airline = &entries[0];
        assert_eq!((airline.id.as_str(), airline.name.as_str()), ("36", "AEROCARIBBEAN AIRLINES"));
        assert_eq!(airline.kind, EntryKind::Organisation);
        assert_eq!(airline.programs, ["CUBA"]);
        let person = &entries[1];
        assert_eq!(person.kind, EntryKind::Individual);
        assert_eq!(person.name, "DOE, John Q.");
        assert_eq!(person.programs, ["SDGT", "IRGC"]);
        let dates: Vec<String> = person.dates_of_birth.iter().map(ToString::to_string).collect();
        assert_eq!(dates, ["1952-10-07", "1953"]);
        let countries: Vec<&str> = person.countries.iter().map(|c| c.code()).collect();
        assert_eq!(countries, ["RU", "BY"]);
        let vessel = &entries[2];
        assert_eq!(vessel.kind, EntryKind::Vessel);
        let dates: Vec<String> = vessel.dates_of_birth.iter().map(ToString::to_string).collect();
        assert_eq!(dates, ["circa 1960", "1958 to 1960", "1970-03"], "the unreadable DOB is skipped");
    }

    #[test]
    fn aliases_and_address_countries_join_their_entry() {
        let alt = "36,12,\"aka\",\"AERO-CARIBBEAN\",-0- \n9001,13,\"aka\",\"DOE, Johnny\",\"weak\"\n";
        let add = "ent_num,add_num,address,city,country,remarks\n36,25,-0- ,\"Havana\",\"Cuba\",-0- \n\
                   36,26,-0- ,\"Havana\",\"Cuba\",-0- \n9002,27,-0- ,-0- ,\"Region: Crimea\",-0- \n";
        let entries = parse(SDN.as_bytes(), Some(alt.as_bytes()), Some(add.as_bytes())).expect("parses");
        assert_eq!(entries[0].aliases, [Alias::good("AERO-CARIBBEAN")]);
        assert_eq!(entries[1].aliases, [Alias::low("DOE, Johnny")]);
        assert_eq!(entries[0].countries, [Country::parse("CU").expect("CU")], "once, not twice");
        assert!(entries[2].countries.is_empty(), "not a country");
    }

    #[test]
    fn latin1_text_is_read() {
        let sdn = b"1,\"MU\xd1OZ, Jos\xe9\",\"individual\",\"X\",-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-\n";
        let entries = parse(sdn, None, None).expect("parses");
        assert_eq!(entries[0].name, "MUÑOZ, José");
    }

    fn error(sdn: &str, alt: Option<&str>, add: Option<&str>) -> String {
        parse(sdn.as_bytes(), alt.map(str::as_bytes), add.map(str::as_bytes)).expect_err("malformed").to_string()
    }

    #[test]
    fn malformed_input_names_the_file_and_line() {
        let good = "1,\"A\",-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-\n";
        assert_eq!(
            error(&format!("{good}2,\"B\",-0-\n"), None, None),
            "sdn.csv line 2: has 3 fields, sdn.csv rows have 12"
        );
        assert_eq!(
            error(&format!("{good}x1,\"B\",-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-\n"), None, None),
            "sdn.csv line 2: ent_num 'x1' is not a number"
        );
        assert_eq!(
            error("\n\n1,-0- ,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-\n", None, None),
            "sdn.csv line 3: SDN_Name is empty"
        );
        assert_eq!(
            error("1,\"A\",\"person\",-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-\n", None, None),
            "sdn.csv line 1: SDN_Type 'person' is not individual, vessel or aircraft"
        );
        assert_eq!(error(&format!("{good}{good}"), None, None), "sdn.csv line 2: ent_num 1 appears twice");
        assert_eq!(
            error(good, Some("1,1,\"aka\",\"X\",-0-\n7,2,\"aka\",\"Y\",-0-\n"), None),
            "alt.csv line 2: ent_num 7 is not in sdn.csv"
        );
        assert_eq!(error(good, Some("1,1,\"aka\",-0-,-0-\n"), None), "alt.csv line 1: alt_name is empty");
        assert_eq!(error(good, None, Some("1,1,-0-,-0-\n")), "add.csv line 1: has 4 fields, add.csv rows have 6");
        let unterminated = error("1,\"A,-0-\n", None, None);
        assert!(unterminated.starts_with("sdn.csv line 1: "), "{unterminated}");
    }

    #[test]
    fn dates_of_birth_in_every_published_shape() {
        assert_eq!(parse_dob("07 Oct 1952").map(|d| d.to_string()).as_deref(), Some("1952-10-07"));
        assert_eq!(parse_dob("7 October 1952").map(|d| d.to_string()).as_deref(), Some("1952-10-07"));
        assert_eq!(parse_dob("1952").map(|d| d.to_string()).as_deref(), Some("1952"));
        assert_eq!(parse_dob("circa 1960"), Some(BirthDate::Circa(1960)));
        assert_eq!(parse_dob("1958 to 1960"), Some(BirthDate::Between(1958, 1960)));
        assert_eq!(parse_dob("31 Feb 1960"), None);
        assert_eq!(parse_dob("unknown"), None);
    }
}
