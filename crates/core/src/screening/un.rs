//! The UN Security Council consolidated list in its published XML:
//!
//! ```text
//! <CONSOLIDATED_LIST>
//!   <INDIVIDUALS><INDIVIDUAL>
//!     <DATAID/> <FIRST_NAME/> <SECOND_NAME/> <THIRD_NAME/> <FOURTH_NAME/> <UN_LIST_TYPE/>
//!     <REFERENCE_NUMBER/> <NAME_ORIGINAL_SCRIPT/>
//!     <NATIONALITY><VALUE/></NATIONALITY>
//!     <INDIVIDUAL_ALIAS><QUALITY/><ALIAS_NAME/></INDIVIDUAL_ALIAS>
//!     <INDIVIDUAL_ADDRESS><COUNTRY/></INDIVIDUAL_ADDRESS>
//!     <INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE/><DATE/>|<YEAR/>|<FROM_YEAR/><TO_YEAR/></INDIVIDUAL_DATE_OF_BIRTH>
//!     <INDIVIDUAL_PLACE_OF_BIRTH><COUNTRY/></INDIVIDUAL_PLACE_OF_BIRTH>
//!   </INDIVIDUAL></INDIVIDUALS>
//!   <ENTITIES><ENTITY>
//!     <FIRST_NAME/> (the entity's name) <REFERENCE_NUMBER/> <UN_LIST_TYPE/>
//!     <ENTITY_ALIAS><QUALITY/><ALIAS_NAME/></ENTITY_ALIAS> <ENTITY_ADDRESS><COUNTRY/></ENTITY_ADDRESS>
//!   </ENTITY></ENTITIES>
//! </CONSOLIDATED_LIST>
//! ```
//!
//! Read as a stream of events: elements not listed here are skipped. The name in original
//! script, when present, is screened as an alias. An alias of quality "Low" is a low-quality
//! alias; "Good" and anything else are good.

use quick_xml::events::Event;
use quick_xml::reader::Reader;

use super::{Alias, AliasQuality, BirthDate, Country, EntryKind, LineIndex, ListEntry, ListSource, PartialDate};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("consolidated list line {line}: {problem}")]
pub struct UnError {
    pub line: u64,
    pub problem: String,
}

/// Parses the whole XML document.
pub fn parse(xml: &str) -> Result<Vec<ListEntry>, UnError> {
    let mut reader = Reader::from_str(xml);
    let mut lines = LineIndex::new(xml.as_bytes());
    let mut line_at = |position: u64| lines.at(position);
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut record: Option<Record> = None;
    let mut entries = Vec::new();
    let mut saw_root = false;
    loop {
        let position = reader.buffer_position();
        let event = reader.read_event().map_err(|e| UnError {
            line: line_at(reader.error_position()),
            problem: format!("not well-formed XML: {e}"),
        })?;
        match event {
            Event::Start(start) => {
                let name = start.local_name().as_ref().to_owned();
                if path.is_empty() {
                    if name != "CONSOLIDATED_LIST" {
                        return Err(UnError {
                            line: line_at(position),
                            problem: format!("the root element is <{name}>, not <CONSOLIDATED_LIST>"),
                        });
                    }
                    saw_root = true;
                }
                text.clear();
                match name.as_str() {
                    "INDIVIDUAL" | "ENTITY" => {
                        let kind = if name == "INDIVIDUAL" { EntryKind::Individual } else { EntryKind::Organisation };
                        record = Some(Record::new(kind, line_at(position)));
                    }
                    "INDIVIDUAL_ALIAS" | "ENTITY_ALIAS" => {
                        if let Some(r) = record.as_mut() {
                            r.alias = Some((String::new(), AliasQuality::Good));
                        }
                    }
                    "INDIVIDUAL_DATE_OF_BIRTH" => {
                        if let Some(r) = record.as_mut() {
                            r.dob = Some(DobParts::default());
                        }
                    }
                    _ => {}
                }
                path.push(name);
            }
            Event::Empty(start) => {
                if path.is_empty() {
                    let name = start.local_name().as_ref().to_owned();
                    if name != "CONSOLIDATED_LIST" {
                        return Err(UnError {
                            line: line_at(position),
                            problem: format!("the root element is <{name}>, not <CONSOLIDATED_LIST>"),
                        });
                    }
                    saw_root = true;
                }
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    _ => quick_xml::escape::resolve_predefined_entity(&r.xml10_content()).map(str::to_owned),
                };
                match resolved {
                    Some(value) => text.push_str(&value),
                    None => {
                        return Err(UnError {
                            line: line_at(position),
                            problem: format!("unknown entity &{};", r.xml10_content()),
                        });
                    }
                }
            }
            Event::End(_) => {
                let Some(name) = path.pop() else { break };
                let value = text.trim().to_owned();
                text.clear();
                let parent = path.last().map(String::as_str).unwrap_or_default();
                if let Some(r) = record.as_mut() {
                    r.element(&name, parent, value).map_err(|problem| UnError { line: line_at(position), problem })?;
                }
                if matches!(name.as_str(), "INDIVIDUAL" | "ENTITY")
                    && let Some(r) = record.take()
                {
                    entries.push(r.finish()?);
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !saw_root {
        return Err(UnError { line: line_at(xml.len() as u64), problem: "no <CONSOLIDATED_LIST> element".to_owned() });
    }
    if let Some(open) = path.last() {
        return Err(UnError { line: line_at(xml.len() as u64), problem: format!("<{open}> is never closed") });
    }
    Ok(entries)
}

/// An INDIVIDUAL or ENTITY being read.
struct Record {
    kind: EntryKind,
    line: u64,
    reference: Option<String>,
    names: [Option<String>; 4],
    original_script: Option<String>,
    list_type: Option<String>,
    aliases: Vec<Alias>,
    alias: Option<(String, AliasQuality)>,
    dates: Vec<BirthDate>,
    dob: Option<DobParts>,
    countries: Vec<Country>,
}

#[derive(Default)]
struct DobParts {
    type_of_date: Option<String>,
    date: Option<String>,
    year: Option<String>,
    from_year: Option<String>,
    to_year: Option<String>,
}

impl Record {
    fn new(kind: EntryKind, line: u64) -> Self {
        Self {
            kind,
            line,
            reference: None,
            names: [None, None, None, None],
            original_script: None,
            list_type: None,
            aliases: Vec::new(),
            alias: None,
            dates: Vec::new(),
            dob: None,
            countries: Vec::new(),
        }
    }

    /// One element closed inside the record: `name` inside `parent`.
    fn element(&mut self, name: &str, parent: &str, value: String) -> Result<(), String> {
        let value = (!value.is_empty()).then_some(value);
        let top = matches!(parent, "INDIVIDUAL" | "ENTITY");
        match (parent, name) {
            (_, "REFERENCE_NUMBER") if top => self.reference = value,
            (_, "FIRST_NAME") if top => self.names[0] = value,
            (_, "SECOND_NAME") if top => self.names[1] = value,
            (_, "THIRD_NAME") if top => self.names[2] = value,
            (_, "FOURTH_NAME") if top => self.names[3] = value,
            (_, "NAME_ORIGINAL_SCRIPT") if top => self.original_script = value,
            (_, "UN_LIST_TYPE") if top => self.list_type = value,
            ("INDIVIDUAL_ALIAS" | "ENTITY_ALIAS", "QUALITY") => {
                if let Some(alias) = self.alias.as_mut()
                    && value.as_deref().is_some_and(|q| q.eq_ignore_ascii_case("low"))
                {
                    alias.1 = AliasQuality::Low;
                }
            }
            ("INDIVIDUAL_ALIAS" | "ENTITY_ALIAS", "ALIAS_NAME") => {
                if let (Some(alias), Some(value)) = (self.alias.as_mut(), value) {
                    alias.0 = value;
                }
            }
            (_, "INDIVIDUAL_ALIAS" | "ENTITY_ALIAS") => {
                // An alias with no name (the list has some) adds nothing.
                if let Some((name, quality)) = self.alias.take()
                    && !name.is_empty()
                {
                    self.aliases.push(Alias { name, quality });
                }
            }
            ("INDIVIDUAL_DATE_OF_BIRTH", _) => {
                if let Some(dob) = self.dob.as_mut() {
                    match name {
                        "TYPE_OF_DATE" => dob.type_of_date = value,
                        "DATE" => dob.date = value,
                        "YEAR" => dob.year = value,
                        "FROM_YEAR" => dob.from_year = value,
                        "TO_YEAR" => dob.to_year = value,
                        _ => {}
                    }
                }
            }
            (_, "INDIVIDUAL_DATE_OF_BIRTH") => {
                if let Some(parts) = self.dob.take()
                    && let Some(date) = parts.finish()?
                    && !self.dates.contains(&date)
                {
                    self.dates.push(date);
                }
            }
            ("NATIONALITY", "VALUE")
            | ("INDIVIDUAL_ADDRESS" | "ENTITY_ADDRESS" | "INDIVIDUAL_PLACE_OF_BIRTH", "COUNTRY") => {
                // Free text such as "Syrian Arab Republic (as at 2014)": unrecognised is skipped.
                if let Some(country) = value.and_then(|v| Country::parse(&v).ok())
                    && !self.countries.contains(&country)
                {
                    self.countries.push(country);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(self) -> Result<ListEntry, UnError> {
        let fail = |problem: &str| UnError { line: self.line, problem: problem.to_owned() };
        let reference = self.reference.clone().ok_or_else(|| fail("an entry has no REFERENCE_NUMBER"))?;
        let name = self.names.iter().flatten().map(String::as_str).collect::<Vec<_>>().join(" ");
        if name.is_empty() {
            return Err(fail(&format!("{reference} has no FIRST_NAME")));
        }
        let mut entry = ListEntry::new(ListSource::UnConsolidated, reference, self.kind, name);
        entry.aliases = self.aliases;
        if let Some(original) = self.original_script {
            entry.aliases.push(Alias::good(original));
        }
        entry.dates_of_birth = self.dates;
        entry.countries = self.countries;
        entry.programs = self.list_type.into_iter().collect();
        Ok(entry)
    }
}

impl DobParts {
    fn finish(self) -> Result<Option<BirthDate>, String> {
        let year = |text: &str| -> Result<u16, String> {
            PartialDate::parse(text).map(PartialDate::year).map_err(|e| format!("YEAR '{text}' {e}"))
        };
        let kind = self.type_of_date.unwrap_or_default().to_ascii_uppercase();
        if let (Some(from), Some(to)) = (&self.from_year, &self.to_year) {
            return Ok(Some(BirthDate::Between(year(from)?, year(to)?)));
        }
        let on = if let Some(date) = &self.date {
            // Some publications append a time: "1971-01-01T00:00:00".
            let day = date.split('T').next().unwrap_or(date);
            PartialDate::parse(day).map_err(|e| format!("DATE '{date}' {e}"))?
        } else if let Some(y) = &self.year {
            PartialDate::year_only(year(y)?).map_err(|e| format!("YEAR '{y}' {e}"))?
        } else {
            return Ok(None);
        };
        Ok(Some(if kind == "APPROXIMATELY" { BirthDate::Circa(on.year()) } else { BirthDate::On(on) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<CONSOLIDATED_LIST xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" dateGenerated="2024-01-01T00:00:00">
  <INDIVIDUALS>
    <INDIVIDUAL>
      <DATAID>1</DATAID>
      <VERSIONNUM>1</VERSIONNUM>
      <FIRST_NAME>JOHN</FIRST_NAME>
      <SECOND_NAME>QUINCY</SECOND_NAME>
      <THIRD_NAME>DOE</THIRD_NAME>
      <UN_LIST_TYPE>Al-Qaida</UN_LIST_TYPE>
      <REFERENCE_NUMBER>QDi.900</REFERENCE_NUMBER>
      <NAME_ORIGINAL_SCRIPT>Джон Доу</NAME_ORIGINAL_SCRIPT>
      <NATIONALITY><VALUE>Iraq</VALUE><VALUE>Atlantis</VALUE></NATIONALITY>
      <INDIVIDUAL_ALIAS><QUALITY>Good</QUALITY><ALIAS_NAME>Abu Doe</ALIAS_NAME></INDIVIDUAL_ALIAS>
      <INDIVIDUAL_ALIAS><QUALITY>Low</QUALITY><ALIAS_NAME>J. D. &amp; Sons &#233;</ALIAS_NAME></INDIVIDUAL_ALIAS>
      <INDIVIDUAL_ALIAS><QUALITY>Good</QUALITY><ALIAS_NAME/></INDIVIDUAL_ALIAS>
      <INDIVIDUAL_ADDRESS><COUNTRY>Syrian Arab Republic</COUNTRY></INDIVIDUAL_ADDRESS>
      <INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE>EXACT</TYPE_OF_DATE><DATE>1971-01-01</DATE></INDIVIDUAL_DATE_OF_BIRTH>
      <INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE>APPROXIMATELY</TYPE_OF_DATE><YEAR>1972</YEAR></INDIVIDUAL_DATE_OF_BIRTH>
      <INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE>BETWEEN</TYPE_OF_DATE><FROM_YEAR>1960</FROM_YEAR><TO_YEAR>1962</TO_YEAR></INDIVIDUAL_DATE_OF_BIRTH>
      <INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE>EXACT</TYPE_OF_DATE><YEAR>1973</YEAR></INDIVIDUAL_DATE_OF_BIRTH>
      <INDIVIDUAL_PLACE_OF_BIRTH><CITY>Samarra</CITY><COUNTRY>Iraq</COUNTRY></INDIVIDUAL_PLACE_OF_BIRTH>
      <INDIVIDUAL_DOCUMENT><TYPE_OF_DOCUMENT>Passport</TYPE_OF_DOCUMENT><COUNTRY_OF_ISSUE>Yemen</COUNTRY_OF_ISSUE></INDIVIDUAL_DOCUMENT>
      <SORT_KEY/>
    </INDIVIDUAL>
  </INDIVIDUALS>
  <ENTITIES>
    <ENTITY>
      <DATAID>2</DATAID>
      <FIRST_NAME><![CDATA[EXAMPLE FRONT]]></FIRST_NAME>
      <UN_LIST_TYPE>Al-Qaida</UN_LIST_TYPE>
      <REFERENCE_NUMBER>QDe.900</REFERENCE_NUMBER>
      <ENTITY_ALIAS><QUALITY>a.k.a.</QUALITY><ALIAS_NAME>The Front</ALIAS_NAME></ENTITY_ALIAS>
      <ENTITY_ADDRESS><STREET>Main</STREET><COUNTRY>Pakistan</COUNTRY></ENTITY_ADDRESS>
    </ENTITY>
  </ENTITIES>
</CONSOLIDATED_LIST>
"#;

    #[test]
    fn individuals_and_entities_become_entries() {
        let entries = parse(XML).expect("parses");
        assert_eq!(entries.len(), 2);
        let person = &entries[0];
        assert_eq!((person.id.as_str(), person.name.as_str()), ("QDi.900", "JOHN QUINCY DOE"));
        assert_eq!(person.kind, EntryKind::Individual);
        assert_eq!(person.programs, ["Al-Qaida"]);
        assert_eq!(person.aliases, [Alias::good("Abu Doe"), Alias::low("J. D. & Sons é"), Alias::good("Джон Доу")]);
        let dates: Vec<String> = person.dates_of_birth.iter().map(ToString::to_string).collect();
        assert_eq!(dates, ["1971-01-01", "circa 1972", "1960 to 1962", "1973"]);
        let countries: Vec<&str> = person.countries.iter().map(|c| c.code()).collect();
        assert_eq!(countries, ["IQ", "SY"], "document countries are not the person's, Atlantis is unknown");
        let entity = &entries[1];
        assert_eq!((entity.id.as_str(), entity.name.as_str()), ("QDe.900", "EXAMPLE FRONT"));
        assert_eq!(entity.kind, EntryKind::Organisation);
        assert_eq!(entity.aliases, [Alias::good("The Front")]);
        assert_eq!(entity.countries.iter().map(|c| c.code()).collect::<Vec<_>>(), ["PK"]);
    }

    fn error(xml: &str) -> String {
        parse(xml).expect_err("malformed").to_string()
    }

    #[test]
    fn malformed_input_names_the_line() {
        let broken = "<CONSOLIDATED_LIST>\n<INDIVIDUALS>\n<INDIVIDUAL>\n<FIRST_NAME>A</SECOND_NAME>\n";
        let message = error(broken);
        assert!(message.starts_with("consolidated list line 4: not well-formed XML"), "{message}");
        assert_eq!(
            error(
                "<CONSOLIDATED_LIST>\n<ENTITIES>\n<ENTITY>\n<FIRST_NAME>A</FIRST_NAME>\n</ENTITY>\n</ENTITIES>\n</CONSOLIDATED_LIST>"
            ),
            "consolidated list line 3: an entry has no REFERENCE_NUMBER"
        );
        assert_eq!(
            error(
                "<CONSOLIDATED_LIST><ENTITIES><ENTITY><REFERENCE_NUMBER>QDe.1</REFERENCE_NUMBER></ENTITY></ENTITIES></CONSOLIDATED_LIST>"
            ),
            "consolidated list line 1: QDe.1 has no FIRST_NAME"
        );
        assert_eq!(
            error("<?xml version=\"1.0\"?>\n<sdnList></sdnList>"),
            "consolidated list line 2: the root element is <sdnList>, not <CONSOLIDATED_LIST>"
        );
        assert_eq!(error("just text"), "consolidated list line 1: no <CONSOLIDATED_LIST> element");
        assert_eq!(
            error("<CONSOLIDATED_LIST>\n<INDIVIDUALS>\n"),
            "consolidated list line 3: <INDIVIDUALS> is never closed"
        );
        let bad_date = "<CONSOLIDATED_LIST>\n<INDIVIDUALS><INDIVIDUAL><FIRST_NAME>A</FIRST_NAME>\
            <REFERENCE_NUMBER>QDi.1</REFERENCE_NUMBER>\n<INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE>EXACT</TYPE_OF_DATE>\
            <DATE>1971-13-01</DATE></INDIVIDUAL_DATE_OF_BIRTH>\n</INDIVIDUAL></INDIVIDUALS></CONSOLIDATED_LIST>";
        assert_eq!(error(bad_date), "consolidated list line 3: DATE '1971-13-01' is not a real calendar date");
        let entity = "<CONSOLIDATED_LIST><ENTITIES><ENTITY><FIRST_NAME>&bogus;</FIRST_NAME></ENTITY></ENTITIES></CONSOLIDATED_LIST>";
        assert!(error(entity).starts_with("consolidated list line 1: "), "{}", error(entity));
    }

    #[test]
    fn an_empty_list_is_valid() {
        assert_eq!(parse("<CONSOLIDATED_LIST><INDIVIDUALS/><ENTITIES/></CONSOLIDATED_LIST>"), Ok(vec![]));
    }
}
