//! Human-readable short references: a prefix, the date as `yymmdd`, a dash and eight letters,
//! as UQPAY shows them (`P220406-LLCVLRM`, `BF250917-WQEQ2D7Q`).

use time::{Date, OffsetDateTime};

pub const SHORT_REF_LETTERS: usize = 8;

/// How many values four letters hold (26^4).
const FOUR_LETTERS: u32 = 26 * 26 * 26 * 26;

/// Letters that sort in the order they were made: four for the time of day (in steps of
/// 86,400 s / 26^4, about 189 ms) then four for `sequence` (a counter). A reference's unique
/// index then grows at its end, one page for many inserts, where random letters wrote a
/// random leaf page per insert (a fifth of the writer's WAL pages for payouts). Within one
/// process the counter keeps them distinct; two processes collide only if their counters
/// meet within the same step, which the writer retries like any reference collision.
pub fn ordered_letters(now: OffsetDateTime, sequence: u32) -> [u8; SHORT_REF_LETTERS] {
    let (h, m, s, nanos) = now.time().as_hms_nano();
    let day_nanos = (u128::from(h) * 3_600 + u128::from(m) * 60 + u128::from(s)) * 1_000_000_000 + u128::from(nanos);
    let step = day_nanos * u128::from(FOUR_LETTERS) / 86_400_000_000_000;
    let mut letters = [0u8; SHORT_REF_LETTERS];
    base26(u32::try_from(step).unwrap_or(FOUR_LETTERS - 1), &mut letters[..4]);
    base26(sequence % FOUR_LETTERS, &mut letters[4..]);
    letters
}

/// `value` as base-26 digits, most significant first.
fn base26(mut value: u32, out: &mut [u8]) {
    for digit in out.iter_mut().rev() {
        *digit = u8::try_from(value % 26).unwrap_or(0);
        value /= 26;
    }
}

/// Each of `letters` is mapped onto `A`..=`Z` (modulo 26).
pub fn short_reference(prefix: &str, date: Date, letters: [u8; SHORT_REF_LETTERS]) -> String {
    let mut out = String::with_capacity(prefix.len() + 7 + SHORT_REF_LETTERS);
    out.push_str(prefix);
    out.push_str(&format!("{:02}{:02}{:02}-", date.year().rem_euclid(100), u8::from(date.month()), date.day()));
    out.extend(letters.iter().map(|b| char::from(b'A' + b % 26)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn format_matches_uqpay() {
        let r = short_reference("P", date!(2022 - 04 - 06), [0, 1, 2, 25, 26, 27, 100, 255]);
        assert_eq!(r, "P220406-ABCZABWV");
    }

    #[test]
    fn ordered_letters_sort_by_time_then_sequence() {
        use time::macros::datetime;
        let day = date!(2026 - 11 - 21);
        let r = |at: OffsetDateTime, seq: u32| short_reference("P", day, ordered_letters(at, seq));
        assert_eq!(r(datetime!(2026-11-21 00:00 UTC), 0), "P261121-AAAAAAAA");
        assert_eq!(r(datetime!(2026-11-21 23:59:59.999999999 UTC), FOUR_LETTERS - 1), "P261121-ZZZZZZZZ");
        // The counter wraps within its four letters.
        assert_eq!(r(datetime!(2026-11-21 00:00 UTC), FOUR_LETTERS + 1), "P261121-AAAAAAAB");
        let morning = r(datetime!(2026-11-21 09:00 UTC), 7);
        assert!(morning < r(datetime!(2026-11-21 09:00 UTC), 8));
        assert!(r(datetime!(2026-11-21 09:00 UTC), 9_999) < r(datetime!(2026-11-21 09:00:00.2 UTC), 0));
        assert!(morning < r(datetime!(2026-11-21 15:00 UTC), 3));
        assert_eq!(morning.len(), "P261121-".len() + SHORT_REF_LETTERS);
    }
}
