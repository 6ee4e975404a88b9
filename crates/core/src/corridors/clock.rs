//! Daylight-saving rules for the corridors whose clearing clocks shift, so a cut-off of "15:00
//! London" means 15:00 BST in summer. Only the three rules the corridor table needs; a full tz
//! database would be a dependency for nothing.

use serde::Deserialize;
use time::macros::time;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, Weekday};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DstRule {
    /// EU and UK: last Sunday of March to last Sunday of October, switching at 01:00 UTC.
    Eu,
    /// US: second Sunday of March at 02:00 local to first Sunday of November at 02:00 local.
    Us,
    /// South-eastern Australia: first Sunday of October at 02:00 standard time to first Sunday
    /// of April at 03:00 daylight time.
    Au,
}

impl DstRule {
    /// Whether daylight time is in force at the instant `at` in a zone whose standard offset is
    /// `standard`.
    pub fn in_effect(self, standard: UtcOffset, at: OffsetDateTime) -> bool {
        self.window(standard, at).unwrap_or(false)
    }

    /// `None` only for years at the edge of `time`'s range, where no rule is worth applying.
    fn window(self, standard: UtcOffset, at: OffsetDateTime) -> Option<bool> {
        let year = at.to_offset(standard).year();
        // A wall-clock time on `date` at `offset`, as an instant.
        let instant =
            |date: Date, time: Time, offset: UtcOffset| PrimitiveDateTime::new(date, time).assume_offset(offset);
        Some(match self {
            DstRule::Eu => {
                let start = instant(last_sunday(year, Month::March)?, time!(01:00), UtcOffset::UTC);
                let end = instant(last_sunday(year, Month::October)?, time!(01:00), UtcOffset::UTC);
                start <= at && at < end
            }
            DstRule::Us => {
                let start = instant(nth_sunday(year, Month::March, 2)?, time!(02:00), standard);
                // 02:00 daylight time is 01:00 standard time.
                let end = instant(nth_sunday(year, Month::November, 1)?, time!(01:00), standard);
                start <= at && at < end
            }
            DstRule::Au => {
                let start = instant(nth_sunday(year, Month::October, 1)?, time!(02:00), standard);
                // 03:00 daylight time is 02:00 standard time.
                let end = instant(nth_sunday(year, Month::April, 1)?, time!(02:00), standard);
                at < end || start <= at
            }
        })
    }
}

fn nth_sunday(year: i32, month: Month, n: u8) -> Option<Date> {
    let first = Date::from_calendar_date(year, month, 1).ok()?;
    let first_sunday = if first.weekday() == Weekday::Sunday { first } else { first.next_occurrence(Weekday::Sunday) };
    first_sunday.checked_add(time::Duration::weeks(i64::from(n) - 1))
}

fn last_sunday(year: i32, month: Month) -> Option<Date> {
    let last = Date::from_calendar_date(year, month, month.length(year)).ok()?;
    Some(if last.weekday() == Weekday::Sunday { last } else { last.prev_occurrence(Weekday::Sunday) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{datetime, offset};

    #[test]
    fn eu_switches_on_the_last_sundays_at_one_utc() {
        let cet = offset!(+1);
        assert!(!DstRule::Eu.in_effect(cet, datetime!(2026-03-29 00:59 UTC)));
        assert!(DstRule::Eu.in_effect(cet, datetime!(2026-03-29 01:00 UTC)));
        assert!(DstRule::Eu.in_effect(cet, datetime!(2026-10-25 00:59 UTC)));
        assert!(!DstRule::Eu.in_effect(cet, datetime!(2026-10-25 01:00 UTC)));
        assert!(DstRule::Eu.in_effect(offset!(UTC), datetime!(2027-07-01 12:00 UTC)));
        assert!(!DstRule::Eu.in_effect(offset!(UTC), datetime!(2027-01-15 12:00 UTC)));
    }

    #[test]
    fn us_switches_at_two_local() {
        let est = offset!(-5);
        // 8 March 2026, 02:00 EST = 07:00 UTC; 1 November 2026, 02:00 EDT = 06:00 UTC.
        assert!(!DstRule::Us.in_effect(est, datetime!(2026-03-08 06:59 UTC)));
        assert!(DstRule::Us.in_effect(est, datetime!(2026-03-08 07:00 UTC)));
        assert!(DstRule::Us.in_effect(est, datetime!(2026-11-01 05:59 UTC)));
        assert!(!DstRule::Us.in_effect(est, datetime!(2026-11-01 06:00 UTC)));
        assert!(DstRule::Us.in_effect(est, datetime!(2027-03-14 07:00 UTC)));
    }

    #[test]
    fn australia_is_on_daylight_time_across_new_year() {
        let aest = offset!(+10);
        // 5 April 2026, 03:00 AEDT = 4 April 16:00 UTC; 4 October 2026, 02:00 AEST = 3 October 16:00 UTC.
        assert!(DstRule::Au.in_effect(aest, datetime!(2026-04-04 15:59 UTC)));
        assert!(!DstRule::Au.in_effect(aest, datetime!(2026-04-04 16:00 UTC)));
        assert!(!DstRule::Au.in_effect(aest, datetime!(2026-10-03 15:59 UTC)));
        assert!(DstRule::Au.in_effect(aest, datetime!(2026-10-03 16:00 UTC)));
        assert!(DstRule::Au.in_effect(aest, datetime!(2027-01-01 00:00 UTC)));
        assert!(!DstRule::Au.in_effect(aest, datetime!(2027-07-01 00:00 UTC)));
    }
}
