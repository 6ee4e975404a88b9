//! The fee schedule: per payment method, fee bearer and currency, a fixed part plus basis points,
//! charged in the payout's source currency on top of the amount.

use crate::payout::FeePaidBy;
use crate::{Amount, Currency};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeeRule {
    /// `LOCAL` or `SWIFT`; `None` matches both.
    pub payment_method: Option<String>,
    pub fee_paid_by: Option<FeePaidBy>,
    pub currency: Option<Currency>,
    /// Minor units of the payout currency (only meaningful with `currency` set).
    pub fixed_minor: i64,
    /// Basis points of the amount, rounded up to the minor unit.
    pub bps: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeeSchedule {
    /// First match wins.
    pub rules: Vec<FeeRule>,
}

fn rule(method: &str, by: Option<FeePaidBy>, currency: Option<&str>, fixed_minor: i64, bps: u32) -> FeeRule {
    FeeRule {
        payment_method: Some(method.to_owned()),
        fee_paid_by: by,
        currency: currency.and_then(|c| Currency::parse(c).ok()),
        fixed_minor,
        bps,
    }
}

impl Default for FeeSchedule {
    /// Local transfers are free; SWIFT costs 15 (SHARED) or 25 (OURS) in USD, EUR, GBP and SGD,
    /// and 0.10% / 0.25% in other currencies (after Airwallex's public US schedule).
    fn default() -> Self {
        let mut rules = vec![rule("LOCAL", None, None, 0, 0)];
        for c in ["USD", "EUR", "GBP", "SGD"] {
            rules.push(rule("SWIFT", Some(FeePaidBy::Shared), Some(c), 1_500, 0));
            rules.push(rule("SWIFT", Some(FeePaidBy::Ours), Some(c), 2_500, 0));
        }
        rules.push(rule("SWIFT", Some(FeePaidBy::Ours), None, 0, 25));
        rules.push(rule("SWIFT", None, None, 0, 10));
        Self { rules }
    }
}

impl FeeSchedule {
    /// The fee for a payout, or `None` if it would overflow.
    pub fn fee(
        &self,
        payment_method: &str,
        fee_paid_by: Option<FeePaidBy>,
        currency: Currency,
        amount: Amount,
    ) -> Option<Amount> {
        let Some(rule) = self.rules.iter().find(|r| {
            r.payment_method.as_deref().is_none_or(|m| m == payment_method)
                && r.fee_paid_by.is_none_or(|b| Some(b) == fee_paid_by)
                && r.currency.is_none_or(|c| c == currency)
        }) else {
            return Some(Amount::ZERO);
        };
        let variable = (i128::from(amount.minor()) * i128::from(rule.bps) + 9_999) / 10_000;
        let total = i128::from(rule.fixed_minor) + variable;
        Amount::from_minor(i64::try_from(total).ok()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(code: &str, minor: i64) -> (Currency, Amount) {
        (Currency::parse(code).expect("currency"), Amount::from_minor(minor).expect("amount"))
    }

    #[test]
    fn default_schedule() {
        let s = FeeSchedule::default();
        let (usd, a) = money("USD", 100_000);
        assert_eq!(s.fee("LOCAL", None, usd, a), Some(Amount::ZERO));
        assert_eq!(s.fee("SWIFT", Some(FeePaidBy::Shared), usd, a).map(Amount::minor), Some(1_500));
        assert_eq!(s.fee("SWIFT", Some(FeePaidBy::Ours), usd, a).map(Amount::minor), Some(2_500));
        let (jpy, a) = money("JPY", 1_000_001);
        // 0.25% of 1,000,001 is 2,500.0025: rounded up to 2,501.
        assert_eq!(s.fee("SWIFT", Some(FeePaidBy::Ours), jpy, a).map(Amount::minor), Some(2_501));
        assert_eq!(s.fee("SWIFT", Some(FeePaidBy::Shared), jpy, a).map(Amount::minor), Some(1_001));
    }
}
