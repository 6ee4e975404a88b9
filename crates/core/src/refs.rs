//! Human-readable short references: a prefix, the date as `yymmdd`, a dash and eight letters,
//! as UQPAY shows them (`P220406-LLCVLRM`, `BF250917-WQEQ2D7Q`).

use time::Date;

pub const SHORT_REF_LETTERS: usize = 8;

/// `letters` are raw random bytes; each is mapped onto `A`..=`Z`.
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
}
