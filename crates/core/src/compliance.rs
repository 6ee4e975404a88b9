//! Per-account compliance rules (issue 7, part 3): payout limits per currency (per payout, per
//! day, per beneficiary per month), blocked beneficiary bank countries, and a velocity rule for
//! new beneficiaries. Each rule has an action: refuse the payout, or hold it for review.
//!
//! Pure: the engine gathers the facts (today's total, the month's total to the beneficiary, the
//! beneficiary's age and payouts so far) in the writer's transaction and asks [`evaluate`].

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

use crate::{Amount, Currency};

/// What a breached rule does to the payout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum RuleAction {
    /// The payout is refused (400) and nothing is written.
    #[default]
    Refuse,
    /// The payout is accepted, its funds held, and it waits in the review queue (`IN_REVIEW`).
    Review,
}

impl RuleAction {
    pub fn code(self) -> &'static str {
        match self {
            RuleAction::Refuse => "refuse",
            RuleAction::Review => "review",
        }
    }
}

/// The rules an account can set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    PerPayout,
    PerDay,
    PerBeneficiaryMonth,
    BlockedCountry,
    NewBeneficiaryVelocity,
}

impl Rule {
    pub const ALL: [Rule; 5] =
        [Rule::PerPayout, Rule::PerDay, Rule::PerBeneficiaryMonth, Rule::BlockedCountry, Rule::NewBeneficiaryVelocity];

    /// The rule's name in the rules JSON (`actions` keys).
    pub fn name(self) -> &'static str {
        match self {
            Rule::PerPayout => "per_payout",
            Rule::PerDay => "per_day",
            Rule::PerBeneficiaryMonth => "per_beneficiary_month",
            Rule::BlockedCountry => "blocked_country",
            Rule::NewBeneficiaryVelocity => "new_beneficiary_velocity",
        }
    }

    /// The error code of a refusal.
    pub fn refusal_code(self) -> &'static str {
        match self {
            Rule::PerPayout => "limit_per_payout_exceeded",
            Rule::PerDay => "limit_per_day_exceeded",
            Rule::PerBeneficiaryMonth => "limit_per_beneficiary_month_exceeded",
            Rule::BlockedCountry => "blocked_country",
            Rule::NewBeneficiaryVelocity => "new_beneficiary_velocity_exceeded",
        }
    }

    /// The request field a refusal names.
    pub fn field(self) -> &'static str {
        match self {
            Rule::PerPayout | Rule::PerDay | Rule::PerBeneficiaryMonth => "amount",
            Rule::BlockedCountry => "beneficiary.bank_country_code",
            Rule::NewBeneficiaryVelocity => "beneficiary_id",
        }
    }
}

/// Limits in one (debit) currency; each is optional.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrencyLimits {
    pub currency: Currency,
    pub per_payout: Option<Amount>,
    pub per_day: Option<Amount>,
    pub per_beneficiary_month: Option<Amount>,
}

/// A beneficiary created less than `window_hours` ago may receive at most `max_payouts` payouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Velocity {
    pub window_hours: u32,
    pub max_payouts: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ComplianceRules {
    pub limits: Vec<CurrencyLimits>,
    /// ISO 3166 alpha-2 codes of beneficiary bank countries that may not be paid.
    pub blocked_countries: BTreeSet<String>,
    pub new_beneficiary_velocity: Option<Velocity>,
    /// Per rule, every rule listed once (a rule the document does not name refuses).
    pub actions: Vec<(Rule, RuleAction)>,
}

/// One problem in a rules document: the field (JSON path), a code and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

fn err(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> RuleError {
    RuleError { field: field.into(), code, message: message.into() }
}

const MAX_WINDOW_HOURS: u32 = 24 * 366;

impl ComplianceRules {
    pub fn action(&self, rule: Rule) -> RuleAction {
        self.actions.iter().find(|(r, _)| *r == rule).map_or(RuleAction::Refuse, |(_, a)| *a)
    }

    pub fn limits_for(&self, currency: Currency) -> Option<&CurrencyLimits> {
        self.limits.iter().find(|l| l.currency == currency)
    }

    /// Parse and validate a rules document; every problem is reported, each with its field.
    pub fn from_json(value: &Value) -> Result<Self, Vec<RuleError>> {
        let mut errors = Vec::new();
        let mut rules = ComplianceRules::default();
        let Some(object) = value.as_object() else {
            return Err(vec![err("body", "invalid_type", "must be a JSON object")]);
        };
        for key in object.keys() {
            if !["limits", "blocked_countries", "new_beneficiary_velocity", "actions"].contains(&key.as_str()) {
                errors.push(err(
                    key.clone(),
                    "unknown_field",
                    "is not a rule: use limits, blocked_countries, new_beneficiary_velocity or actions",
                ));
            }
        }
        match object.get("limits") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(limits) = parse_limits(&format!("limits[{i}]"), item, &mut errors) {
                        if rules.limits.iter().any(|l| l.currency == limits.currency) {
                            errors.push(err(
                                format!("limits[{i}].currency"),
                                "duplicate_currency",
                                "each currency may appear once",
                            ));
                        } else {
                            rules.limits.push(limits);
                        }
                    }
                }
            }
            Some(_) => errors.push(err("limits", "invalid_type", "must be an array of per-currency limits")),
        }
        match object.get("blocked_countries") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(c) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()) => {
                            rules.blocked_countries.insert(c.to_owned());
                        }
                        _ => errors.push(err(
                            format!("blocked_countries[{i}]"),
                            "invalid_country",
                            "must be an ISO 3166-1 alpha-2 code in capitals, such as IR",
                        )),
                    }
                }
            }
            Some(_) => errors.push(err("blocked_countries", "invalid_type", "must be an array of country codes")),
        }
        match object.get("new_beneficiary_velocity") {
            None | Some(Value::Null) => {}
            Some(Value::Object(v)) => {
                let number = |key: &str, min: u32, max: u32, errors: &mut Vec<RuleError>| -> Option<u32> {
                    let field = format!("new_beneficiary_velocity.{key}");
                    match v.get(key).and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok()) {
                        Some(n) if (min..=max).contains(&n) => Some(n),
                        _ => {
                            errors.push(err(
                                field,
                                "invalid_value",
                                format!("must be a whole number from {min} to {max}"),
                            ));
                            None
                        }
                    }
                };
                let window = number("window_hours", 1, MAX_WINDOW_HOURS, &mut errors);
                let max = number("max_payouts", 0, 1_000_000, &mut errors);
                if let (Some(window_hours), Some(max_payouts)) = (window, max) {
                    rules.new_beneficiary_velocity = Some(Velocity { window_hours, max_payouts });
                }
            }
            Some(_) => errors.push(err(
                "new_beneficiary_velocity",
                "invalid_type",
                "must be an object with window_hours and max_payouts",
            )),
        }
        match object.get("actions") {
            None | Some(Value::Null) => {}
            Some(Value::Object(actions)) => {
                for (key, value) in actions {
                    let field = format!("actions.{key}");
                    let Some(rule) = Rule::ALL.into_iter().find(|r| r.name() == key) else {
                        errors.push(err(field, "unknown_rule", "must be per_payout, per_day, per_beneficiary_month, blocked_country or new_beneficiary_velocity"));
                        continue;
                    };
                    match value.as_str() {
                        Some("refuse") => rules.actions.push((rule, RuleAction::Refuse)),
                        Some("review") => rules.actions.push((rule, RuleAction::Review)),
                        _ => errors.push(err(field, "invalid_value", "must be refuse or review")),
                    }
                }
                rules.actions.sort();
            }
            Some(_) => {
                errors.push(err("actions", "invalid_type", "must be an object of rule name to refuse or review"));
            }
        }
        for rule in Rule::ALL {
            if !rules.actions.iter().any(|(r, _)| *r == rule) {
                rules.actions.push((rule, RuleAction::Refuse));
            }
        }
        rules.actions.sort();
        if errors.is_empty() { Ok(rules) } else { Err(errors) }
    }

    /// The canonical JSON form (what is stored and shown): amounts as decimal strings, every
    /// rule's action spelled out.
    pub fn to_json(&self) -> Value {
        let limits: Vec<Value> = self
            .limits
            .iter()
            .map(|l| {
                let show = |a: Option<Amount>| a.map(|a| a.to_decimal_string(l.currency));
                json!({
                    "currency": l.currency.code(),
                    "per_payout": show(l.per_payout),
                    "per_day": show(l.per_day),
                    "per_beneficiary_month": show(l.per_beneficiary_month),
                })
            })
            .collect();
        let actions: Map<String, Value> =
            Rule::ALL.iter().map(|r| (r.name().to_owned(), Value::from(self.action(*r).code()))).collect();
        json!({
            "limits": limits,
            "blocked_countries": self.blocked_countries,
            "new_beneficiary_velocity": self.new_beneficiary_velocity.map(|v| json!({
                "window_hours": v.window_hours,
                "max_payouts": v.max_payouts,
            })),
            "actions": actions,
        })
    }
}

fn parse_limits(path: &str, item: &Value, errors: &mut Vec<RuleError>) -> Option<CurrencyLimits> {
    let Some(object) = item.as_object() else {
        errors.push(err(path, "invalid_type", "must be an object with currency and limits"));
        return None;
    };
    let currency = match object.get("currency").and_then(Value::as_str).map(Currency::parse) {
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            errors.push(err(format!("{path}.currency"), "invalid_currency", format!("currency {e}")));
            return None;
        }
        None => {
            errors.push(err(format!("{path}.currency"), "missing_required_field", "is required"));
            return None;
        }
    };
    let mut amount = |key: &str| -> Option<Amount> {
        let field = format!("{path}.{key}");
        match object.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => match Amount::parse_positive(text, currency) {
                Ok(a) => Some(a),
                Err(e) => {
                    errors.push(err(field, "invalid_amount", format!("{key} {e}")));
                    None
                }
            },
            Some(_) => {
                errors.push(err(field, "invalid_type", "must be a decimal string such as \"1000.00\""));
                None
            }
        }
    };
    let limits = CurrencyLimits {
        currency,
        per_payout: amount("per_payout"),
        per_day: amount("per_day"),
        per_beneficiary_month: amount("per_beneficiary_month"),
    };
    Some(limits)
}

/// What the engine knows about a new payout when the rules are checked. Totals are of earlier
/// payouts that still count (not rejected, cancelled or failed), in the payout's debit currency.
#[derive(Clone, Debug)]
pub struct PayoutFacts<'a> {
    pub currency: Currency,
    pub amount: Amount,
    pub bank_country: &'a str,
    /// Today's (UTC) payouts of the account.
    pub day_total: i64,
    /// This calendar month's (UTC) payouts of the account to this beneficiary.
    pub beneficiary_month_total: i64,
    pub beneficiary_created_at: OffsetDateTime,
    /// Payouts to this beneficiary so far.
    pub beneficiary_payouts: u64,
    pub now: OffsetDateTime,
}

/// A rule the payout breaks, with what to do and a message naming the rule and the numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breach {
    pub rule: Rule,
    pub action: RuleAction,
    pub message: String,
}

/// Every rule the payout would break, in rule order.
pub fn evaluate(rules: &ComplianceRules, facts: &PayoutFacts<'_>) -> Vec<Breach> {
    let mut out = Vec::new();
    let mut breach = |rule: Rule, message: String| out.push(Breach { rule, action: rules.action(rule), message });
    let c = facts.currency;
    let show = |minor: i64| crate::money::format_minor(minor, c.exponent());
    if let Some(limits) = rules.limits_for(c) {
        if let Some(max) = limits.per_payout
            && facts.amount > max
        {
            breach(
                Rule::PerPayout,
                format!(
                    "amount {} {} is above the per-payout limit of {}",
                    show(facts.amount.minor()),
                    c.code(),
                    show(max.minor())
                ),
            );
        }
        if let Some(max) = limits.per_day {
            let total = facts.day_total.saturating_add(facts.amount.minor());
            if total > max.minor() {
                breach(
                    Rule::PerDay,
                    format!(
                        "today's payouts would total {} {}, above the daily limit of {} ({} already sent today)",
                        show(total),
                        c.code(),
                        show(max.minor()),
                        show(facts.day_total)
                    ),
                );
            }
        }
        if let Some(max) = limits.per_beneficiary_month {
            let total = facts.beneficiary_month_total.saturating_add(facts.amount.minor());
            if total > max.minor() {
                breach(
                    Rule::PerBeneficiaryMonth,
                    format!(
                        "this month's payouts to the beneficiary would total {} {}, above the limit of {} per beneficiary per month",
                        show(total),
                        c.code(),
                        show(max.minor())
                    ),
                );
            }
        }
    }
    if rules.blocked_countries.contains(facts.bank_country) {
        breach(
            Rule::BlockedCountry,
            format!("payouts to banks in {} are blocked by the account's rules", facts.bank_country),
        );
    }
    if let Some(v) = rules.new_beneficiary_velocity {
        let young = facts.now - facts.beneficiary_created_at < Duration::hours(i64::from(v.window_hours));
        if young && facts.beneficiary_payouts >= u64::from(v.max_payouts) {
            breach(
                Rule::NewBeneficiaryVelocity,
                format!(
                    "a beneficiary created less than {} hours ago may receive at most {} payouts; this one has {} already",
                    v.window_hours, v.max_payouts, facts.beneficiary_payouts
                ),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("USD").expect("usd")
    }

    fn rules() -> ComplianceRules {
        ComplianceRules::from_json(&json!({
            "limits": [{"currency": "USD", "per_payout": "100.00", "per_day": "250.00", "per_beneficiary_month": "150.00"}],
            "blocked_countries": ["IR"],
            "new_beneficiary_velocity": {"window_hours": 24, "max_payouts": 1},
            "actions": {"per_day": "review"}
        }))
        .expect("rules")
    }

    fn facts(amount: i64) -> PayoutFacts<'static> {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        PayoutFacts {
            currency: usd(),
            amount: Amount::from_minor(amount).expect("amount"),
            bank_country: "US",
            day_total: 0,
            beneficiary_month_total: 0,
            beneficiary_created_at: now - Duration::days(10),
            beneficiary_payouts: 0,
            now,
        }
    }

    #[test]
    fn rules_round_trip_through_their_canonical_json() {
        let rules = rules();
        assert_eq!(rules.action(Rule::PerDay), RuleAction::Review);
        assert_eq!(rules.action(Rule::PerPayout), RuleAction::Refuse);
        let again = ComplianceRules::from_json(&rules.to_json()).expect("canonical form parses");
        assert_eq!(again, rules);
        assert_eq!(rules.to_json()["limits"][0]["per_day"], "250.00");
    }

    #[test]
    fn every_problem_in_a_rules_document_is_named() {
        let errors = ComplianceRules::from_json(&json!({
            "limits": [{"currency": "USD", "per_payout": "10.001"}, {"currency": "XXQ"}],
            "blocked_countries": ["iran"],
            "new_beneficiary_velocity": {"window_hours": 0, "max_payouts": 1},
            "actions": {"per_day": "maybe", "speed": "refuse"},
            "colour": 1
        }))
        .expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        for field in [
            "colour",
            "limits[0].per_payout",
            "limits[1].currency",
            "blocked_countries[0]",
            "new_beneficiary_velocity.window_hours",
            "actions.per_day",
            "actions.speed",
        ] {
            assert!(fields.contains(&field), "{field} missing from {fields:?}");
        }
    }

    #[test]
    fn each_rule_is_breached_at_its_boundary() {
        let rules = rules();
        assert!(evaluate(&rules, &facts(10_000)).is_empty(), "exactly the limit is allowed");
        let over = evaluate(&rules, &facts(10_001));
        assert_eq!(over.iter().map(|b| b.rule).collect::<Vec<_>>(), [Rule::PerPayout]);
        assert!(over[0].message.contains("100.01 USD"), "{}", over[0].message);

        let day = evaluate(&rules, &PayoutFacts { day_total: 20_000, ..facts(5_001) });
        assert_eq!(day.iter().map(|b| (b.rule, b.action)).collect::<Vec<_>>(), [(Rule::PerDay, RuleAction::Review)]);

        let month = evaluate(&rules, &PayoutFacts { beneficiary_month_total: 10_000, ..facts(5_001) });
        assert_eq!(month[0].rule, Rule::PerBeneficiaryMonth);

        let blocked = evaluate(&rules, &PayoutFacts { bank_country: "IR", ..facts(100) });
        assert_eq!(blocked[0].rule, Rule::BlockedCountry);

        let young = facts(100);
        let young = PayoutFacts { beneficiary_created_at: young.now - Duration::hours(2), ..young };
        assert!(evaluate(&rules, &young).is_empty(), "the first payout to a new beneficiary is allowed");
        let second = evaluate(&rules, &PayoutFacts { beneficiary_payouts: 1, ..young.clone() });
        assert_eq!(second[0].rule, Rule::NewBeneficiaryVelocity);
        let old = PayoutFacts { beneficiary_payouts: 5, ..facts(100) };
        assert!(evaluate(&rules, &old).is_empty(), "velocity only applies to new beneficiaries");

        let other_currency = PayoutFacts { currency: Currency::parse("EUR").expect("eur"), ..facts(1_000_000) };
        assert!(evaluate(&rules, &other_currency).is_empty(), "limits are per currency");
    }
}
