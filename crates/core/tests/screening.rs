//! Screening against small real-format lists (`tests/data/screening`, see its README.md): the
//! named cases from issue 7, and the labelled evaluation set whose confusion matrix
//! `docs/screening.md` reports.

use std::collections::BTreeMap;
use std::time::Instant;

use outlay_core::screening::{
    Country, DEFAULT_THRESHOLD, EntryKind, Hit, ListEntry, ListSource, PartialDate, Score, Screener, Subject,
    SubjectKind, ofac, un,
};

const SDN: &[u8] = include_bytes!("data/screening/sdn.csv");
const ALT: &[u8] = include_bytes!("data/screening/alt.csv");
const ADD: &[u8] = include_bytes!("data/screening/add.csv");
const UN_XML: &str = include_str!("data/screening/consolidated.xml");
const LABELLED: &str = include_str!("data/screening/labelled.csv");

fn lists() -> Vec<ListEntry> {
    let mut entries = ofac::parse(SDN, Some(ALT), Some(ADD)).expect("sdn.csv, alt.csv and add.csv parse");
    entries.extend(un::parse(UN_XML).expect("consolidated.xml parses"));
    entries
}

fn screener() -> Screener {
    Screener::new(lists())
}

fn subject(name: &str, kind: SubjectKind) -> Subject {
    Subject::new(name, kind).expect("a screenable name")
}

fn person(name: &str) -> Subject {
    subject(name, SubjectKind::Individual)
}

fn ids(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.entry_id.as_str()).collect()
}

#[test]
fn the_lists_load_with_their_aliases_dates_and_countries() {
    let entries = lists();
    let ofac_count = entries.iter().filter(|e| e.source == ListSource::OfacSdn).count();
    let un_count = entries.iter().filter(|e| e.source == ListSource::UnConsolidated).count();
    assert_eq!((ofac_count, un_count), (18, 9));
    let putin = entries.iter().find(|e| e.id == "35096").expect("Putin");
    assert_eq!(putin.kind, EntryKind::Individual);
    assert_eq!(putin.dates_of_birth.iter().map(ToString::to_string).collect::<Vec<_>>(), ["1952-10-07"]);
    assert_eq!(putin.countries, [Country::parse("RU").expect("RU")]);
    let kim = entries.iter().find(|e| e.id == "20154").expect("Kim");
    assert_eq!(kim.dates_of_birth.len(), 3);
    assert_eq!(kim.countries, [Country::parse("KP").expect("KP")]);
    let sberbank = entries.iter().find(|e| e.id == "32920").expect("Sberbank");
    assert_eq!(sberbank.kind, EntryKind::Organisation);
    assert_eq!(sberbank.aliases.len(), 3);
    let vessel = entries.iter().find(|e| e.id == "990004").expect("vessel");
    assert_eq!(vessel.kind, EntryKind::Vessel);
    let baghdadi = entries.iter().find(|e| e.id == "QDi.299").expect("QDi.299");
    assert_eq!(baghdadi.name, "IBRAHIM AWWAD IBRAHIM ALI AL-BADRI AL-SAMARRAI");
    assert_eq!(baghdadi.aliases.len(), 5, "four aliases and the name in Arabic script");
    let komid = entries.iter().find(|e| e.id == "KPe.001").expect("KPe.001");
    assert_eq!(komid.countries, [Country::parse("KP").expect("KP")]);
    let veltrane = entries.iter().find(|e| e.id == "ZZe.002").expect("ZZe.002");
    assert_eq!(veltrane.name, "VELTRANE MARITIME & ENERGY SERVICES FZE");
}

#[test]
fn exact_reordered_accented_and_misspelled_names_are_caught_at_the_default_threshold() {
    let screener = screener();
    for name in [
        "PUTIN, Vladimir Vladimirovich",
        "Vladimir Vladimirovich Putin",
        "Putin Vladimir",
        "Vladímir Pútin",
        "Vladimr Puttin",
        "V. Putin",
        "Владимир Путин",
    ] {
        let hits = screener.screen(&person(name), DEFAULT_THRESHOLD);
        assert_eq!(ids(&hits), ["35096"], "{name}: {hits:#?}");
    }
    for (name, id) in [
        ("Kim Jong-un", "20154"),
        ("Nicolás Maduro Moros", "22150"),
        ("Aiman al Zawahri", "QDi.006"),
        ("Alexander Lukashenko", "9300"),
        ("Ibrahim Awad Ibrahim al-Badri", "QDi.299"),
    ] {
        let hits = screener.screen(&person(name), DEFAULT_THRESHOLD);
        assert_eq!(ids(&hits), [id], "{name}: {hits:#?}");
    }
    let org = |name| subject(name, SubjectKind::Organisation);
    // Al-Qaida in Iraq (QDe.115) shares the name, lower down.
    assert_eq!(ids(&screener.screen(&org("Al Qaeda"), DEFAULT_THRESHOLD)), ["QDe.004", "QDe.115"]);
    assert_eq!(ids(&screener.screen(&org("Sberbnak"), DEFAULT_THRESHOLD)), ["32920"]);
    // On both lists: one hit from each.
    assert_eq!(ids(&screener.screen(&org("KOMID"), DEFAULT_THRESHOLD)), ["11130", "KPe.001"]);
}

#[test]
fn clearly_different_names_are_not_hits() {
    let screener = screener();
    for name in ["Vladimir Petrov", "Kim Lee", "John Smith", "Sergei Ivanov", "Nicolas Sarkozy", "Maria Guzman"] {
        assert_eq!(screener.screen(&person(name), DEFAULT_THRESHOLD), [], "{name}");
    }
    for name in ["National Bank of Canada", "Islamic Relief Worldwide", "Acme Widgets Ltd"] {
        assert_eq!(screener.screen(&subject(name, SubjectKind::Organisation), DEFAULT_THRESHOLD), [], "{name}");
    }
}

#[test]
fn a_hit_says_which_entry_name_and_why() {
    let screener = screener();
    let putin = person("Vladimir Putin")
        .with_date_of_birth(PartialDate::parse("1952-10-07").expect("date"))
        .with_country(Country::parse("RU").expect("RU"));
    let hits = screener.screen(&putin, DEFAULT_THRESHOLD);
    assert_eq!(hits.len(), 1);
    let hit = &hits[0];
    assert_eq!(hit.source, ListSource::OfacSdn);
    assert_eq!(hit.entry_name, "PUTIN, Vladimir Vladimirovich");
    assert_eq!(hit.matched_name, "PUTIN, Vladimir Vladimirovich");
    assert!(!hit.matched_alias);
    // Both names wholly matched, the patronymic omitted: (3·1000 + 2·13/(2·13 + 13)·1000) / 4.
    assert_eq!(hit.name_score, Score::new(916).expect("score"));
    assert_eq!(hit.score, Score::new(916 + 50 + 30).expect("score"));
    assert_eq!(
        hit.why,
        "OFAC SDN 35096 'PUTIN, Vladimir Vladimirovich': matched tokens putin=putin, vladimir=vladimir; \
         list tokens not given: vladimirovich; name score 916; date of birth 1952-10-07 agrees with 1952-10-07 +50; \
         country RU agrees +30; score 996"
    );
    let alias = screener.screen(&person("Alexander Lukashenko"), DEFAULT_THRESHOLD);
    assert_eq!(alias[0].matched_name, "LUKASHENKO, Alexander Grigoryevich");
    assert!(alias[0].matched_alias);
    assert!(alias[0].why.contains("alias 'LUKASHENKO, Alexander Grigoryevich'"), "{}", alias[0].why);
    let fuzzy = screener.screen(&person("Vladimr Puttin"), DEFAULT_THRESHOLD);
    assert!(fuzzy[0].why.contains("puttin~putin (950), vladimr~vladimir (925)"), "{}", fuzzy[0].why);
    let initial = screener.screen(&person("V. Putin"), DEFAULT_THRESHOLD);
    // The initial takes the heavier of the two tokens it could stand for: the best assignment.
    assert!(initial[0].why.contains("v=vladimirovich (initial, 800)"), "{}", initial[0].why);
    let low = screener.screen(&person("Abu Bakr al-Baghdadi"), DEFAULT_THRESHOLD);
    assert_eq!(low[0].matched_name, "Abu Bakr al-Baghdadi");
    assert!(low[0].why.contains("low-quality alias 'Abu Bakr al-Baghdadi'"), "{}", low[0].why);
    assert!(low[0].why.contains("; low-quality alias -50; score 950"), "{}", low[0].why);
    let jongun = screener.screen(&person("Kim Jongun"), DEFAULT_THRESHOLD);
    assert_eq!((jongun[0].entry_id.as_str(), jongun[0].name_score), ("20154", Score::MAX));
    // Merged tokens: the concatenations are equal.
    let merged = screener.screen(&subject("Alqaida", SubjectKind::Organisation), DEFAULT_THRESHOLD);
    assert_eq!(
        merged[0].why,
        "UN consolidated QDe.004 'AL-QAIDA': whole name 'alqaida' ~ 'al qaida'; name score 1000; score 1000"
    );
}

#[test]
fn date_of_birth_and_country_move_the_score_both_ways() {
    let screener = screener();
    let score = |subject: &Subject| {
        screener.screen(subject, Score::ZERO).iter().find(|h| h.entry_id == "20154").map(|h| h.score.per_mille())
    };
    let plain = score(&person("Kim Jong Un")).expect("scored");
    let dob = |text| PartialDate::parse(text).expect("date");
    let country = |code| Country::parse(code).expect("country");
    assert_eq!(score(&person("Kim Jong Un").with_date_of_birth(dob("1983"))), Some((plain + 50).min(1000)));
    assert_eq!(score(&person("Kim Jong Un").with_date_of_birth(dob("1990-05-05"))), Some(plain - 150));
    assert_eq!(score(&person("Kim Jong Un").with_date_of_birth(dob("1985-02-02"))), Some(plain), "a year off");
    assert_eq!(score(&person("Kim Jong Un").with_country(country("US"))), Some(plain - 50));
    assert_eq!(score(&subject("Kim Jong Un", SubjectKind::Organisation)), Some(plain - 100));
    // The exact name with another birth date is still a hit for a reviewer to clear...
    let hits = screener.screen(&person("Kim Jong Un").with_date_of_birth(dob("1990-05-05")), DEFAULT_THRESHOLD);
    assert_eq!(ids(&hits), ["20154"]);
    assert!(hits[0].why.contains("date of birth 1990-05-05 differs from the listed ones -150"), "{}", hits[0].why);
    // ... and with another country as well it is not.
    let other = person("Kim Jong Un").with_date_of_birth(dob("1990-05-05")).with_country(country("KR"));
    assert_eq!(screener.screen(&other, DEFAULT_THRESHOLD), []);
}

/// One labelled row: the subject and the entry ids that count as the right hit.
struct Labelled {
    subject: Subject,
    expected: Vec<String>,
    category: String,
}

fn labelled() -> Vec<Labelled> {
    let mut reader = csv::Reader::from_reader(LABELLED.as_bytes());
    reader
        .records()
        .map(|record| {
            let record = record.expect("labelled.csv row");
            let field = |i: usize| record.get(i).unwrap_or_default().trim();
            let kind = match field(1) {
                "individual" => SubjectKind::Individual,
                "organisation" => SubjectKind::Organisation,
                _ => SubjectKind::Unknown,
            };
            let mut subject = Subject::new(field(0), kind).expect("labelled name");
            if !field(2).is_empty() {
                subject = subject.with_date_of_birth(PartialDate::parse(field(2)).expect("labelled dob"));
            }
            if !field(3).is_empty() {
                subject = subject.with_country(Country::parse(field(3)).expect("labelled country"));
            }
            let expected = field(4).split('|').filter(|s| !s.is_empty()).map(str::to_owned).collect();
            Labelled { subject, expected, category: field(5).to_owned() }
        })
        .collect()
}

#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
struct Confusion {
    true_positives: usize,
    false_negatives: usize,
    true_negatives: usize,
    false_positives: usize,
    /// Hits on an entry other than the expected one, for a name that has an expected one.
    wrong_entry_hits: usize,
}

fn evaluate(screener: &Screener, rows: &[Labelled], threshold: Score) -> Confusion {
    let mut c = Confusion::default();
    for row in rows {
        let hits = screener.screen(&row.subject, threshold);
        if row.expected.is_empty() {
            if hits.is_empty() {
                c.true_negatives += 1;
            } else {
                c.false_positives += 1;
            }
        } else {
            if hits.iter().any(|h| row.expected.contains(&h.entry_id)) {
                c.true_positives += 1;
            } else {
                c.false_negatives += 1;
            }
            c.wrong_entry_hits += hits.iter().filter(|h| !row.expected.contains(&h.entry_id)).count();
        }
    }
    c
}

/// Per-mille with one decimal, from integer counts.
fn ratio(numerator: usize, denominator: usize) -> String {
    if denominator == 0 {
        return "n/a".to_owned();
    }
    let tenths = numerator * 10_000 / denominator;
    format!("{}.{:03}", tenths / 10_000, tenths % 10_000 / 10)
}

#[test]
fn labelled_set_confusion_matrix() {
    let screener = screener();
    let rows = labelled();
    let positives = rows.iter().filter(|r| !r.expected.is_empty()).count();
    let negatives = rows.len() - positives;
    assert!(rows.len() >= 200 && negatives >= 100, "{} rows, {negatives} negatives", rows.len());

    println!("labelled set: {} names, {positives} listed, {negatives} not listed", rows.len());
    println!("| threshold | TP | FN | TN | FP | wrong-entry hits | precision | recall |");
    println!("|---|---|---|---|---|---|---|---|");
    for threshold in [800, 850, 900] {
        let c = evaluate(&screener, &rows, Score::new(threshold).expect("threshold"));
        println!(
            "| {threshold} | {} | {} | {} | {} | {} | {} | {} |",
            c.true_positives,
            c.false_negatives,
            c.true_negatives,
            c.false_positives,
            c.wrong_entry_hits,
            ratio(c.true_positives, c.true_positives + c.false_positives),
            ratio(c.true_positives, positives),
        );
    }

    // The misses and false hits at the default threshold, and recall per kind of variation.
    let mut by_category: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for row in &rows {
        let hits = screener.screen(&row.subject, DEFAULT_THRESHOLD);
        let caught = hits.iter().any(|h| row.expected.contains(&h.entry_id));
        let tally = by_category.entry(&row.category).or_default();
        tally.1 += 1;
        if row.expected.is_empty() {
            tally.0 += usize::from(hits.is_empty());
            if let Some(hit) = hits.first() {
                println!("false positive: '{}' -> {}", row.subject.name(), hit.why);
            }
        } else {
            tally.0 += usize::from(caught);
            for other in hits.iter().filter(|h| !row.expected.contains(&h.entry_id)) {
                println!("wrong-entry hit: '{}' -> {}", row.subject.name(), other.why);
            }
            if !caught {
                let best = screener.screen(&row.subject, Score::ZERO);
                let best = best.iter().find(|h| row.expected.contains(&h.entry_id));
                println!(
                    "missed: '{}' best {}",
                    row.subject.name(),
                    best.map_or("no candidate".to_owned(), |h| h.why.clone())
                );
            }
        }
    }
    let mut scored: Vec<(u16, bool, &str)> = rows
        .iter()
        .map(|row| {
            let hits = screener.screen(&row.subject, Score::ZERO);
            let best = if row.expected.is_empty() {
                hits.first().map_or(0, |h| h.score.per_mille())
            } else {
                hits.iter().find(|h| row.expected.contains(&h.entry_id)).map_or(0, |h| h.score.per_mille())
            };
            (best, row.expected.is_empty(), row.subject.name())
        })
        .collect();
    scored.sort();
    let lowest_listed: Vec<String> =
        scored.iter().filter(|s| !s.1).take(8).map(|s| format!("{} {}", s.2, s.0)).collect();
    let highest_unlisted: Vec<String> =
        scored.iter().rev().filter(|s| s.1).take(8).map(|s| format!("{} {}", s.2, s.0)).collect();
    println!("lowest-scoring listed names: {}", lowest_listed.join("; "));
    println!("highest-scoring unlisted names: {}", highest_unlisted.join("; "));
    println!("| category | right | of |");
    println!("|---|---|---|");
    for (category, (right, of)) in &by_category {
        println!("| {category} | {right} | {of} |");
    }

    // Floors at what was measured (docs/screening.md): a change that loses a caught name or
    // adds a false hit fails here and has to be argued for.
    let c = evaluate(&screener, &rows, DEFAULT_THRESHOLD);
    assert_eq!(c.true_positives + c.false_negatives, positives);
    assert!(c.false_negatives <= 1, "recall fell below 146 of 147: {c:?}");
    assert!(c.false_positives <= 4, "more than 4 false positives among the 134 unlisted names: {c:?}");
}

#[test]
fn the_index_finds_what_scoring_every_name_finds() {
    let screener = screener();
    for row in labelled() {
        for threshold in [700, 800, DEFAULT_THRESHOLD.per_mille(), 900].map(Score::saturating) {
            assert_eq!(
                screener.screen(&row.subject, threshold),
                screener.screen_exhaustively(&row.subject, threshold),
                "{}",
                row.subject.name()
            );
        }
    }
}

/// Deterministic pseudo-random numbers (a 64-bit LCG), so the synthetic list is the same on
/// every run without a dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % below as u64) as usize
    }
}

const ONSETS: &[&str] =
    &["b", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "sh", "kh", "ch", ""];
const VOWELS: &[&str] = &["a", "e", "i", "o", "u", "a", "i"];
const CODAS: &[&str] = &["", "", "", "n", "r", "l", "s", "m", "v", "d"];

/// A made-up name token of two or three syllables, each an optional consonant, a vowel and
/// sometimes a closing consonant: about 10^7 possible tokens, so a 20,000-entry list has
/// realistic variety rather than near-duplicates.
fn synthetic_token(rng: &mut Lcg) -> String {
    let syllables = 2 + rng.next(2);
    (0..syllables)
        .map(|_| {
            [ONSETS[rng.next(ONSETS.len())], VOWELS[rng.next(VOWELS.len())], CODAS[rng.next(CODAS.len())]].concat()
        })
        .collect()
}

/// `count` entries of two to four tokens each with up to three aliases, roughly the shape of the
/// SDN list (about 18,000 entries, most with one to five aliases).
pub fn synthetic_list(count: usize) -> Vec<ListEntry> {
    let mut rng = Lcg(7);
    (0..count)
        .map(|i| {
            let tokens = 2 + rng.next(3);
            let name: Vec<String> = (0..tokens).map(|_| synthetic_token(&mut rng)).collect();
            let kind = if rng.next(3) == 0 { EntryKind::Organisation } else { EntryKind::Individual };
            let mut entry = ListEntry::new(ListSource::OfacSdn, format!("S{i}"), kind, name.join(" "));
            for _ in 0..rng.next(4) {
                let mut alias = name.clone();
                let replace = rng.next(alias.len());
                alias[replace] = synthetic_token(&mut rng);
                entry.aliases.push(outlay_core::screening::Alias::good(alias.join(" ")));
            }
            entry
        })
        .collect()
}

/// A listed name as a payee might type it: `kind` 0 inserts a letter, 1 drops one, 2 changes
/// one, 3 swaps two neighbours, 4 reverses the word order, 5 makes two typos in two words.
fn vary(name: &str, kind: usize, rng: &mut Lcg) -> String {
    let mut words: Vec<Vec<char>> = name.split(' ').map(|w| w.chars().collect()).collect();
    let typo = |word: &mut Vec<char>, kind: usize, rng: &mut Lcg| {
        let at = 1 + rng.next(word.len() - 1);
        match kind {
            0 => word.insert(at, 'e'),
            1 => {
                word.remove(at);
            }
            2 => word[at] = if word[at] == 'a' { 'o' } else { 'a' },
            _ => word.swap(at - 1, at),
        }
    };
    let first = rng.next(words.len());
    match kind {
        0..=3 => typo(&mut words[first], kind, rng),
        4 => words.reverse(),
        _ => {
            typo(&mut words[first], rng.next(4), rng);
            let second = (first + 1) % words.len();
            typo(&mut words[second], rng.next(4), rng);
        }
    }
    words.iter().map(|w| w.iter().collect::<String>()).collect::<Vec<_>>().join(" ")
}

/// Screens 1,000 names against a synthetic 20,000-entry list and prints the rate; timings are
/// reported in docs/screening.md, never asserted. Run with
/// `cargo test --release -p outlay-core --test screening -- --ignored --nocapture`.
#[test]
#[ignore = "a timing run for docs/screening.md"]
fn timing_against_a_synthetic_20000_entry_list() {
    let list = synthetic_list(20_000);
    let started = Instant::now();
    let screener = Screener::new(list);
    let built = started.elapsed();
    let mut rng = Lcg(11);
    let subjects: Vec<Subject> = (0..1_000)
        .map(|i| {
            // Half taken from the list with a variation, half made up.
            let name = if i % 2 == 0 {
                let entry = &screener.entries()[rng.next(screener.len())];
                vary(&entry.name, i / 2 % 6, &mut rng)
            } else {
                format!("{} {}", synthetic_token(&mut rng), synthetic_token(&mut rng))
            };
            Subject::new(&name, SubjectKind::Unknown).expect("synthetic name")
        })
        .collect();
    let started = Instant::now();
    let mut hits = 0;
    for subject in &subjects {
        hits += screener.screen(subject, DEFAULT_THRESHOLD).len();
    }
    let elapsed = started.elapsed();
    // How often the index misses what scoring every name finds, on the first 200 subjects.
    let sample = &subjects[..200];
    let started = Instant::now();
    let agreeing = sample
        .iter()
        .filter(|s| screener.screen(s, DEFAULT_THRESHOLD) == screener.screen_exhaustively(s, DEFAULT_THRESHOLD))
        .count();
    let exhaustive_ms = started.elapsed().as_millis();
    println!(
        "index agrees with exhaustive scoring on {agreeing} of {} subjects (exhaustive: {exhaustive_ms} ms for {})",
        sample.len(),
        sample.len()
    );
    let listed = subjects.iter().step_by(2).filter(|s| !screener.screen(s, DEFAULT_THRESHOLD).is_empty()).count();
    println!("{listed} of {} varied listed names were hits", subjects.len() / 2);
    println!(
        "indexed {} entries ({} names) in {} ms; screened {} names in {} ms ({} names/s), {hits} hits",
        screener.len(),
        screener.name_count(),
        built.as_millis(),
        subjects.len(),
        elapsed.as_millis(),
        (subjects.len() as u128 * 1_000_000) / elapsed.as_micros().max(1),
    );
}
