//! Business-day calendars per payout country: the corridor's weekend days plus the holiday list
//! it names in `data/holidays.toml` (embedded, parsed once). Dates outside the years the holiday
//! data covers are refused rather than guessed, so a stale file fails loudly.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use serde::Deserialize;
use time::{Date, OffsetDateTime, Weekday};

use crate::corridors::{self, Corridor};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("has no business-day calendar: {country} is not a payout country")]
    UnknownCountry { country: String },
    #[error("is outside the {country} holiday calendar, which covers {first} to {last}")]
    NotCovered { country: String, first: i32, last: i32 },
}

impl crate::bank::RuleError for CalendarError {
    fn code(&self) -> &'static str {
        match self {
            CalendarError::UnknownCountry { .. } => "unsupported",
            CalendarError::NotCovered { .. } => "out_of_range",
        }
    }
}

/// A day a clearing system is closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holiday {
    pub date: Date,
    pub name: String,
    /// Not yet officially published (lunar or Islamic dates, or a list not yet issued).
    pub estimated: bool,
}

/// A holiday list from `data/holidays.toml`.
#[derive(Debug)]
pub struct HolidayList {
    pub key: String,
    pub source: String,
    pub notes: Option<String>,
    holidays: BTreeMap<Date, Holiday>,
    /// Weekend days worked in exchange for a bridge holiday (China, Vietnam).
    working_days: BTreeMap<Date, String>,
}

impl HolidayList {
    pub fn holidays(&self) -> impl Iterator<Item = &Holiday> {
        self.holidays.values()
    }

    pub fn working_days(&self) -> impl Iterator<Item = (Date, &str)> {
        self.working_days.iter().map(|(d, n)| (*d, n.as_str()))
    }
}

/// A country's business days.
#[derive(Debug)]
pub struct Calendar {
    country: String,
    weekend: Vec<Weekday>,
    list: &'static HolidayList,
    first_year: i32,
    last_year: i32,
}

impl Calendar {
    pub fn country(&self) -> &str {
        &self.country
    }

    pub fn weekend(&self) -> &[Weekday] {
        &self.weekend
    }

    pub fn holiday_list(&self) -> &'static HolidayList {
        self.list
    }

    /// The years whose holidays are known.
    pub fn years(&self) -> (i32, i32) {
        (self.first_year, self.last_year)
    }

    pub fn covers(&self, date: Date) -> bool {
        (self.first_year..=self.last_year).contains(&date.year())
    }

    pub fn holiday(&self, date: Date) -> Option<&'static Holiday> {
        self.list.holidays.get(&date)
    }

    pub fn is_business_day(&self, date: Date) -> Result<bool, CalendarError> {
        if !self.covers(date) {
            return Err(self.not_covered());
        }
        Ok(if self.list.holidays.contains_key(&date) {
            false
        } else if self.list.working_days.contains_key(&date) {
            true
        } else {
            !self.weekend.contains(&date.weekday())
        })
    }

    /// The first business day strictly after `date`.
    pub fn next_business_day(&self, date: Date) -> Result<Date, CalendarError> {
        self.business_day_on_or_after(date.next_day().ok_or_else(|| self.not_covered())?)
    }

    /// `date` itself if it is a business day, else the next one.
    pub fn business_day_on_or_after(&self, date: Date) -> Result<Date, CalendarError> {
        let mut day = date;
        // Terminates: every step moves forward, and leaving the covered years is an error.
        while !self.is_business_day(day)? {
            day = day.next_day().ok_or_else(|| self.not_covered())?;
        }
        Ok(day)
    }

    fn not_covered(&self) -> CalendarError {
        CalendarError::NotCovered { country: self.country.clone(), first: self.first_year, last: self.last_year }
    }
}

/// The calendar of a payout country (ISO 3166 alpha-2, case-insensitive).
pub fn calendar(country: &str) -> Result<&'static Calendar, CalendarError> {
    CALENDARS
        .get(&country.trim().to_ascii_uppercase())
        .ok_or_else(|| CalendarError::UnknownCountry { country: country.to_owned() })
}

pub fn is_business_day(country: &str, date: Date) -> Result<bool, CalendarError> {
    calendar(country)?.is_business_day(date)
}

/// The first business day strictly after `date` in `country`.
pub fn next_business_day(country: &str, date: Date) -> Result<Date, CalendarError> {
    calendar(country)?.next_business_day(date)
}

/// The earliest date a payout created at `now` can be released in `corridor`: today (in the
/// corridor's local time) if it is a business day and the cut-off has not passed, otherwise the
/// next business day.
pub fn earliest_release_date(corridor: &Corridor, now: OffsetDateTime) -> Result<Date, CalendarError> {
    let calendar = calendar(&corridor.country)?;
    let local = now.to_offset(corridor.offset_at(now));
    let today = local.date();
    if local.time() < corridor.cutoff && calendar.is_business_day(today)? {
        Ok(today)
    } else {
        calendar.next_business_day(today)
    }
}

/// Whether a payout dated `payout_date` into `country`/`currency` may go to its rail at `now`:
/// its date has come in the corridor's local time and `now` is before the cut-off of a business
/// day there (after the cut-off, or on a weekend or holiday, it waits for the next business
/// day). `cutoff` overrides the corridor's own cut-off (operator config). A payout outside the
/// corridor table, or beyond the holiday data's years, goes on its date.
pub fn release_due(
    country: Option<&str>,
    currency: &str,
    payout_date: Date,
    now: OffsetDateTime,
    cutoff: Option<time::Time>,
) -> bool {
    let Some(corridor) = country.and_then(|c| crate::corridors::lookup(c, currency)) else {
        return payout_date <= now.date();
    };
    let local_today = now.to_offset(corridor.offset_at(now)).date();
    let earliest = match cutoff {
        Some(cutoff) if cutoff != corridor.cutoff => {
            let mut with_cutoff = corridor.clone();
            with_cutoff.cutoff = cutoff;
            earliest_release_date(&with_cutoff, now)
        }
        _ => earliest_release_date(corridor, now),
    };
    match earliest {
        Ok(earliest) => earliest == local_today && payout_date <= local_today,
        Err(_) => payout_date <= local_today,
    }
}

struct Data {
    first_year: i32,
    last_year: i32,
    lists: HashMap<String, HolidayList>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawData {
    first_year: i32,
    last_year: i32,
    calendar: BTreeMap<String, RawList>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    source: String,
    notes: Option<String>,
    holidays: Vec<RawDay>,
    #[serde(default)]
    working_days: Vec<RawDay>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDay {
    date: String,
    name: String,
    #[serde(default)]
    estimated: bool,
}

static DATA: LazyLock<Data> =
    LazyLock::new(|| parse_data(include_str!("../data/holidays.toml")).expect("data/holidays.toml is valid"));

/// One calendar per corridor country. Several corridors into one country must agree on the
/// weekend and the holiday list, which the embedded data is tested for.
static CALENDARS: LazyLock<HashMap<String, Calendar>> = LazyLock::new(|| {
    let data = &*DATA;
    let mut calendars = HashMap::new();
    for corridor in corridors::all() {
        let list = data.lists.get(&corridor.holidays).expect("every corridor names a list in data/holidays.toml");
        calendars.entry(corridor.country.clone()).or_insert_with(|| Calendar {
            country: corridor.country.clone(),
            weekend: corridor.weekend.clone(),
            list,
            first_year: data.first_year,
            last_year: data.last_year,
        });
    }
    calendars
});

fn parse_data(text: &str) -> Result<Data, String> {
    let raw: RawData = toml::from_str(text).map_err(|e| e.to_string())?;
    if raw.first_year > raw.last_year {
        return Err("first_year is after last_year".into());
    }
    let mut lists = HashMap::new();
    for (key, list) in raw.calendar {
        let mut holidays = BTreeMap::new();
        for day in list.holidays {
            let date = parse_date(&day.date, raw.first_year, raw.last_year).map_err(|e| format!("{key}: {e}"))?;
            let holiday = Holiday { date, name: day.name, estimated: day.estimated };
            if holidays.insert(date, holiday).is_some() {
                return Err(format!("{key}: {date} is listed twice"));
            }
        }
        let mut working_days = BTreeMap::new();
        for day in list.working_days {
            let date = parse_date(&day.date, raw.first_year, raw.last_year).map_err(|e| format!("{key}: {e}"))?;
            if holidays.contains_key(&date) || working_days.insert(date, day.name).is_some() {
                return Err(format!("{key}: working day {date} is also a holiday or listed twice"));
            }
        }
        let list = HolidayList { key: key.clone(), source: list.source, notes: list.notes, holidays, working_days };
        lists.insert(key, list);
    }
    Ok(Data { first_year: raw.first_year, last_year: raw.last_year, lists })
}

fn parse_date(text: &str, first_year: i32, last_year: i32) -> Result<Date, String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = Date::parse(text, &format).map_err(|e| format!("date {text:?}: {e}"))?;
    if (first_year..=last_year).contains(&date.year()) {
        Ok(date)
    } else {
        Err(format!("date {text} is outside {first_year}..={last_year}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bank::RuleError;
    use proptest::prelude::*;
    use time::macros::{date, datetime};

    const COUNTRIES: [&str; 14] = ["SG", "MY", "ID", "TH", "PH", "VN", "HK", "CN", "IN", "GB", "US", "AU", "TR", "DE"];

    #[test]
    fn every_corridor_country_has_a_calendar_with_data_for_each_year() {
        for corridor in corridors::all() {
            let cal = calendar(&corridor.country).expect("calendar");
            let list = cal.holiday_list();
            for year in DATA.first_year..=DATA.last_year {
                assert!(list.holidays().filter(|h| h.date.year() == year).count() >= 6, "{} {year}", list.key);
            }
        }
        let mut keys: Vec<&str> = DATA.lists.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut used: Vec<&str> = corridors::all().iter().map(|c| c.holidays.as_str()).collect();
        used.sort_unstable();
        used.dedup();
        assert_eq!(keys, used, "every list is used and every used list exists");
    }

    #[test]
    fn corridors_into_one_country_agree_on_its_calendar() {
        for corridor in corridors::all() {
            let cal = calendar(&corridor.country).expect("calendar");
            assert_eq!(cal.weekend(), corridor.weekend.as_slice(), "{}", corridor.label());
            assert_eq!(cal.holiday_list().key, corridor.holidays, "{}", corridor.label());
        }
    }

    #[test]
    fn substitute_days_fall_on_weekdays_and_working_days_on_weekends() {
        for corridor in corridors::all() {
            let cal = calendar(&corridor.country).expect("calendar");
            for h in cal.holiday_list().holidays() {
                let moved = ["observed", "in lieu", "Day off"].iter().any(|w| h.name.contains(w));
                if moved {
                    assert!(
                        !corridor.weekend.contains(&h.date.weekday()),
                        "{} {} {}",
                        corridor.country,
                        h.date,
                        h.name
                    );
                }
            }
            for (d, name) in cal.holiday_list().working_days() {
                assert!(corridor.weekend.contains(&d.weekday()), "{} {d} {name}", corridor.country);
            }
        }
    }

    /// Anonymous Gregorian algorithm (Meeus/Jones/Butcher): the date of Easter Sunday.
    fn easter(year: i32) -> Date {
        let a = year % 19;
        let b = year / 100;
        let c = year % 100;
        let d = b / 4;
        let e = b % 4;
        let f = (b + 8) / 25;
        let g = (b - f + 1) / 3;
        let h = (19 * a + b - d - g + 15) % 30;
        let i = c / 4;
        let k = c % 4;
        let l = (32 + 2 * e + 2 * i - h - k) % 7;
        let m = (a + 11 * h + 22 * l) / 451;
        let month = (h + l - 7 * m + 114) / 31;
        let day = (h + l - 7 * m + 114) % 31 + 1;
        Date::from_calendar_date(year, time::Month::try_from(month as u8).expect("month"), day as u8).expect("date")
    }

    #[test]
    fn target_closes_on_its_six_days_and_no_others() {
        for year in [2026, 2027] {
            let e = easter(year);
            let mut expected = vec![
                Date::from_calendar_date(year, time::Month::January, 1).expect("date"),
                e - time::Duration::days(2),
                e + time::Duration::days(1),
                Date::from_calendar_date(year, time::Month::May, 1).expect("date"),
                Date::from_calendar_date(year, time::Month::December, 25).expect("date"),
                Date::from_calendar_date(year, time::Month::December, 26).expect("date"),
            ];
            expected.sort();
            let listed: Vec<Date> = calendar("DE")
                .expect("DE")
                .holiday_list()
                .holidays()
                .map(|h| h.date)
                .filter(|d| d.year() == year)
                .collect();
            assert_eq!(listed, expected, "{year}");
        }
        assert_eq!(easter(2026), date!(2026 - 04 - 05));
        assert_eq!(easter(2027), date!(2027 - 03 - 28));
        // Every euro corridor shares TARGET.
        for c in corridors::all().iter().filter(|c| c.currency.code() == "EUR") {
            assert_eq!(is_business_day(&c.country, date!(2026 - 04 - 03)), Ok(false), "{}", c.country);
        }
    }

    #[test]
    fn known_holidays_are_closed() {
        for (country, day) in [
            ("SG", date!(2026 - 08 - 10)), // National Day observed
            ("MY", date!(2026 - 08 - 31)), // Merdeka
            ("ID", date!(2026 - 08 - 17)), // Independence Day
            ("ID", date!(2026 - 03 - 23)), // cuti bersama after Idul Fitri
            ("TH", date!(2026 - 04 - 13)), // Songkran
            ("PH", date!(2026 - 06 - 12)), // Independence Day
            ("VN", date!(2026 - 09 - 02)), // National Day
            ("HK", date!(2026 - 07 - 01)), // HKSAR Establishment Day
            ("CN", date!(2026 - 10 - 01)), // National Day
            ("IN", date!(2026 - 01 - 26)), // Republic Day
            ("GB", date!(2026 - 08 - 31)), // Summer bank holiday
            ("US", date!(2026 - 11 - 26)), // Thanksgiving
            ("AU", date!(2026 - 01 - 26)), // Australia Day
            ("TR", date!(2026 - 10 - 29)), // Republic Day
            ("DE", date!(2026 - 12 - 25)),
            ("GB", date!(2027 - 12 - 28)), // Boxing Day substitute
            ("US", date!(2027 - 07 - 05)), // Independence Day observed
        ] {
            assert_eq!(is_business_day(country, day), Ok(false), "{country} {day}");
            assert!(calendar(country).expect("cal").holiday(day).is_some(), "{country} {day}");
        }
    }

    #[test]
    fn ordinary_weekdays_are_open_and_weekends_closed() {
        for country in COUNTRIES {
            // Wednesday 14 October 2026 is no holiday anywhere covered.
            assert_eq!(is_business_day(country, date!(2026 - 10 - 14)), Ok(true), "{country}");
            assert_eq!(is_business_day(country, date!(2026 - 10 - 17)), Ok(false), "{country} Saturday");
            assert_eq!(is_business_day(country, date!(2026 - 10 - 18)), Ok(false), "{country} Sunday");
        }
    }

    #[test]
    fn the_fed_stays_open_on_the_friday_before_a_saturday_holiday() {
        assert_eq!(is_business_day("US", date!(2026 - 07 - 03)), Ok(true));
        assert_eq!(is_business_day("US", date!(2027 - 12 - 24)), Ok(true));
        assert_eq!(is_business_day("US", date!(2027 - 12 - 31)), Ok(true));
    }

    #[test]
    fn chinas_swapped_weekends_are_business_days() {
        assert_eq!(is_business_day("CN", date!(2026 - 02 - 14)), Ok(true)); // a Saturday
        assert_eq!(is_business_day("CN", date!(2026 - 02 - 20)), Ok(false)); // the Friday it paid for
        assert_eq!(next_business_day("CN", date!(2026 - 02 - 13)), Ok(date!(2026 - 02 - 14)));
        // Spring Festival 2026: closed from Sunday 15 to Monday 23 February.
        assert_eq!(next_business_day("CN", date!(2026 - 02 - 14)), Ok(date!(2026 - 02 - 24)));
        assert_eq!(is_business_day("VN", date!(2026 - 08 - 22)), Ok(true));
    }

    #[test]
    fn next_business_day_skips_weekends_and_holidays() {
        // Friday before Easter in the UK: Good Friday, weekend, Easter Monday.
        assert_eq!(next_business_day("GB", date!(2026 - 04 - 02)), Ok(date!(2026 - 04 - 07)));
        // Christmas 2027 in the UK: Friday 24, then closed until Wednesday 29.
        assert_eq!(next_business_day("GB", date!(2027 - 12 - 24)), Ok(date!(2027 - 12 - 29)));
        // Songkran.
        assert_eq!(next_business_day("TH", date!(2026 - 04 - 10)), Ok(date!(2026 - 04 - 16)));
        // Strictly after: a business day's next is the following one.
        assert_eq!(next_business_day("SG", date!(2026 - 10 - 14)), Ok(date!(2026 - 10 - 15)));
        assert_eq!(next_business_day("sg", date!(2026 - 10 - 16)), Ok(date!(2026 - 10 - 19)));
    }

    #[test]
    fn dates_outside_the_data_and_unknown_countries_are_refused() {
        let err = is_business_day("SG", date!(2028 - 01 - 03)).expect_err("2028 not covered");
        assert_eq!(err, CalendarError::NotCovered { country: "SG".into(), first: 2026, last: 2027 });
        assert_eq!(err.to_string(), "is outside the SG holiday calendar, which covers 2026 to 2027");
        assert_eq!(err.code(), "out_of_range");
        // The last business day of 2027 has no successor inside the data.
        assert!(next_business_day("SG", date!(2027 - 12 - 31)).is_err());
        assert_eq!(
            is_business_day("ZZ", date!(2026 - 10 - 14)),
            Err(CalendarError::UnknownCountry { country: "ZZ".into() })
        );
    }

    #[test]
    fn release_date_respects_cutoff_weekend_and_holidays() {
        let sg = corridors::lookup("SG", "SGD").expect("SG"); // cut-off 15:00 +08:00
        // Wednesday 14 October 2026, 14:59 in Singapore: today.
        assert_eq!(earliest_release_date(sg, datetime!(2026-10-14 06:59 UTC)), Ok(date!(2026 - 10 - 14)));
        // 15:00 in Singapore: tomorrow.
        assert_eq!(earliest_release_date(sg, datetime!(2026-10-14 07:00 UTC)), Ok(date!(2026 - 10 - 15)));
        // Friday after the cut-off: Monday.
        assert_eq!(earliest_release_date(sg, datetime!(2026-10-16 09:00 UTC)), Ok(date!(2026 - 10 - 19)));
        // Saturday morning: Monday.
        assert_eq!(earliest_release_date(sg, datetime!(2026-10-17 01:00 UTC)), Ok(date!(2026 - 10 - 19)));
        // Local date, not UTC date: 23:30 UTC on Tuesday is Wednesday 07:30 in Singapore.
        assert_eq!(earliest_release_date(sg, datetime!(2026-10-13 23:30 UTC)), Ok(date!(2026 - 10 - 14)));
        // Before the cut-off on a holiday (Deepavali observed, Monday 9 November): the next day.
        assert_eq!(earliest_release_date(sg, datetime!(2026-11-09 01:00 UTC)), Ok(date!(2026 - 11 - 10)));
    }

    #[test]
    fn release_date_uses_daylight_time() {
        let gb = lookup_gb();
        // 14:30 UTC is 14:30 GMT in January (before the 15:00 cut-off) but 15:30 BST in July.
        assert_eq!(earliest_release_date(gb, datetime!(2026-01-14 14:30 UTC)), Ok(date!(2026 - 01 - 14)));
        assert_eq!(earliest_release_date(gb, datetime!(2026-07-15 14:30 UTC)), Ok(date!(2026 - 07 - 16)));
        let us = corridors::lookup("US", "USD").expect("US"); // 15:00 New York
        assert_eq!(earliest_release_date(us, datetime!(2026-07-15 18:59 UTC)), Ok(date!(2026 - 07 - 15)));
        assert_eq!(earliest_release_date(us, datetime!(2026-07-15 19:00 UTC)), Ok(date!(2026 - 07 - 16)));
        // India is +05:30 all year: 08:29 UTC is 13:59 in Mumbai.
        let inr = corridors::lookup("IN", "INR").expect("IN");
        assert_eq!(earliest_release_date(inr, datetime!(2026-07-15 08:29 UTC)), Ok(date!(2026 - 07 - 15)));
        assert_eq!(earliest_release_date(inr, datetime!(2026-07-15 08:30 UTC)), Ok(date!(2026 - 07 - 16)));
    }

    #[test]
    fn release_waits_for_the_date_the_cutoff_and_a_business_day() {
        let sg = |now| release_due(Some("SG"), "SGD", date!(2026 - 11 - 25), now, None);
        // The day before, in Singapore: not yet.
        assert!(!sg(datetime!(2026-11-24 02:00 UTC)));
        // 00:30 Wednesday in Singapore is still Tuesday in UTC: local time decides.
        assert!(sg(datetime!(2026-11-24 16:30 UTC)));
        assert!(sg(datetime!(2026-11-25 06:59 UTC)));
        // 15:00 local: past the cut-off, the next business day.
        assert!(!sg(datetime!(2026-11-25 07:00 UTC)));
        assert!(sg(datetime!(2026-11-26 01:00 UTC)));
        // Overdue payouts wait for a business day too (Saturday 28 November).
        assert!(!sg(datetime!(2026-11-28 03:00 UTC)));
        assert!(sg(datetime!(2026-11-30 01:00 UTC)));
        // An operator's cut-off replaces the table's.
        let early = time::macros::time!(12:00);
        assert!(!release_due(Some("SG"), "SGD", date!(2026 - 11 - 25), datetime!(2026-11-25 04:30 UTC), Some(early)));
        // Outside the corridor table: the date alone.
        assert!(release_due(Some("ZZ"), "SGD", date!(2026 - 11 - 25), datetime!(2026-11-25 00:00 UTC), None));
        assert!(!release_due(None, "SGD", date!(2026 - 11 - 25), datetime!(2026-11-24 23:59 UTC), None));
    }

    fn lookup_gb() -> &'static Corridor {
        corridors::lookup("GB", "GBP").expect("GB")
    }

    #[test]
    fn bad_holiday_data_is_refused() {
        let ok = r#"
            first_year = 2026
            last_year = 2026
            [calendar.X]
            source = "s"
            holidays = [{ date = "2026-01-01", name = "NY" }]
        "#;
        assert!(parse_data(ok).is_ok());
        assert!(parse_data(&ok.replace("2026-01-01", "2027-01-01")).is_err_and(|e| e.contains("outside")));
        assert!(parse_data(&ok.replace("2026-01-01", "2026-13-01")).is_err());
        assert!(parse_data(&ok.replace("name = \"NY\"", "name = \"NY\", extra = 1")).is_err());
    }

    proptest! {
        #[test]
        fn next_business_day_is_the_first_open_day_after(
            country in prop::sample::select(COUNTRIES.to_vec()),
            offset in 0i64..720,
        ) {
            let start = date!(2026 - 01 - 01) + time::Duration::days(offset);
            let next = next_business_day(country, start).expect("within data");
            prop_assert!(next > start);
            prop_assert_eq!(is_business_day(country, next), Ok(true));
            let mut day = start.next_day().expect("day");
            while day < next {
                prop_assert_eq!(is_business_day(country, day), Ok(false));
                day = day.next_day().expect("day");
            }
            // No market closes for more than two weeks in a row (Indonesia's Lebaran holidays
            // with their joint-leave days and the weekends around them come closest).
            prop_assert!((next - start).whole_days() <= 14);
        }

        #[test]
        fn release_date_is_a_business_day_no_earlier_than_the_local_date(
            index in 0usize..38, minutes in 0i64..(700 * 24 * 60)
        ) {
            let corridor = &corridors::all()[index % corridors::all().len()];
            let now = datetime!(2026-01-01 00:00 UTC) + time::Duration::minutes(minutes);
            let date = earliest_release_date(corridor, now).expect("within data");
            let local = now.to_offset(corridor.offset_at(now)).date();
            prop_assert!(date >= local);
            prop_assert_eq!(is_business_day(&corridor.country, date), Ok(true));
        }
    }
}
