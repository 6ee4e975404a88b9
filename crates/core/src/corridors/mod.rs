//! The corridor table: for each country and currency Outlay pays out in, the payment methods and
//! clearing systems on offer, the bank-detail fields each needs, and the clock (time zone,
//! weekend, cut-off, holiday calendar) its payouts run on.
//!
//! The table is data (`data/corridors.toml`), embedded at build time and parsed once on first
//! use, so adding a corridor is an edit to a TOML file that the tests then check.

mod clock;
mod validate;

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, Time, UtcOffset, Weekday};

use crate::bank::{AccountNumberRule, PaymentMethod, RoutingCodeType};
use crate::money::Currency;

pub use clock::DstRule;
pub use validate::{BankDetailsInput, FieldError, validate_bank_details};

/// A field a route requires: a `bank_details` field, a routing code (sent in
/// `routing_code_type1/2` with its value in `routing_code_value1/2`), or the proxy id from
/// `additional_info`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BankField {
    AccountNumber,
    Iban,
    SwiftCode,
    BankName,
    BankAddress,
    AccountHolder,
    ProxyId,
    Routing(RoutingCodeType),
}

impl BankField {
    /// The name used in `validation_field` and in the data file.
    pub fn name(self) -> &'static str {
        match self {
            BankField::AccountNumber => "account_number",
            BankField::Iban => "iban",
            BankField::SwiftCode => "swift_code",
            BankField::BankName => "bank_name",
            BankField::BankAddress => "bank_address",
            BankField::AccountHolder => "account_holder",
            BankField::ProxyId => "proxy_id",
            BankField::Routing(kind) => kind.name(),
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "account_number" => BankField::AccountNumber,
            "iban" => BankField::Iban,
            "swift_code" => BankField::SwiftCode,
            "bank_name" => BankField::BankName,
            "bank_address" => BankField::BankAddress,
            "account_holder" => BankField::AccountHolder,
            "proxy_id" => BankField::ProxyId,
            other => BankField::Routing(RoutingCodeType::from_name(other).filter(|kind| kind.name() == other)?),
        })
    }
}

impl fmt::Display for BankField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The instant-payment scheme whose proxy a route pays to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyScheme {
    PayNow,
    DuitNow,
    PromptPay,
}

/// One payment method over a group of clearing systems that need the same fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub payment_method: PaymentMethod,
    /// As UQPAY spells them (`FAST`, `Faster Payments`, `BI-FAST`).
    pub clearing_systems: Vec<String>,
    pub required: Vec<BankField>,
    pub proxy: Option<ProxyScheme>,
    pub documentation_required: bool,
}

impl Route {
    /// Whether `name` is one of this route's clearing systems, ignoring case, spaces, dashes and
    /// underscores (UQPAY's sources spell `Faster Payments` and `FASTER_PAYMENTS` alike).
    pub fn has_clearing_system(&self, name: &str) -> bool {
        let wanted = clearing_key(name);
        self.clearing_systems.iter().any(|c| clearing_key(c) == wanted)
    }
}

fn clearing_key(name: &str) -> String {
    name.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect()
}

/// A country and currency Outlay pays out in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corridor {
    /// ISO 3166 alpha-2.
    pub country: String,
    pub currency: Currency,
    /// IANA name of the clearing system's clock; informative, [`Corridor::offset_at`] is what
    /// the code uses.
    pub time_zone: String,
    /// Standard-time offset.
    pub utc_offset: UtcOffset,
    pub dst: Option<DstRule>,
    pub weekend: Vec<Weekday>,
    /// Local time after which a payout is released on the next business day.
    pub cutoff: Time,
    /// Key of this corridor's list in `data/holidays.toml`.
    pub holidays: String,
    pub account_number: Option<AccountNumberRule>,
    pub routes: Vec<Route>,
    requires_iban: bool,
}

/// Why a corridor cannot carry a payout with the given method and clearing system.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("must be one of {offered} for {corridor}")]
    MethodNotOffered { corridor: String, offered: String },
    #[error("must be one of {offered} for {method} payouts to {corridor}")]
    UnknownClearingSystem { corridor: String, method: PaymentMethod, offered: String },
}

impl RouteError {
    pub fn code(&self) -> &'static str {
        "unsupported"
    }
}

impl Corridor {
    /// `SG/SGD`, as messages name a corridor.
    pub fn label(&self) -> String {
        format!("{}/{}", self.country, self.currency)
    }

    /// Payment methods offered, in table order, without repeats.
    pub fn methods(&self) -> Vec<PaymentMethod> {
        let mut methods: Vec<PaymentMethod> = Vec::new();
        for route in &self.routes {
            if !methods.contains(&route.payment_method) {
                methods.push(route.payment_method);
            }
        }
        methods
    }

    /// The route for `method` over `clearing_system`. `None`, or the method's own name (UQPAY
    /// examples send `clearing_system: "LOCAL"`), picks the method's first route: its default.
    pub fn route(&self, method: PaymentMethod, clearing_system: Option<&str>) -> Result<&Route, RouteError> {
        let mut routes = self.routes.iter().filter(|r| r.payment_method == method).peekable();
        let Some(&default) = routes.peek() else {
            let offered = self.methods().into_iter().map(PaymentMethod::as_str).collect::<Vec<_>>().join(", ");
            return Err(RouteError::MethodNotOffered { corridor: self.label(), offered });
        };
        match clearing_system.map(str::trim).filter(|c| !c.is_empty()) {
            None => Ok(default),
            Some(name) if clearing_key(name) == method.as_str() => Ok(default),
            Some(name) => {
                routes.find(|r| r.has_clearing_system(name)).ok_or_else(|| RouteError::UnknownClearingSystem {
                    corridor: self.label(),
                    method,
                    offered: self.clearing_systems(method).join(", "),
                })
            }
        }
    }

    /// All clearing systems offered for `method`, in table order.
    pub fn clearing_systems(&self, method: PaymentMethod) -> Vec<&str> {
        self.routes
            .iter()
            .filter(|r| r.payment_method == method)
            .flat_map(|r| r.clearing_systems.iter().map(String::as_str))
            .collect()
    }

    /// UQPAY's rule: an IBAN is required for EUR and USD payouts to the listed countries.
    pub fn requires_iban(&self) -> bool {
        self.requires_iban
    }

    /// The fields a route needs in this corridor, including an IBAN when the IBAN rule applies:
    /// the `validation_field` list of UQPAY's payment-methods endpoint.
    pub fn validation_fields(&self, route: &Route) -> Vec<BankField> {
        let mut fields = route.required.clone();
        if self.requires_iban && !fields.contains(&BankField::Iban) {
            fields.push(BankField::Iban);
        }
        fields
    }

    /// The local UTC offset at the instant `at`, daylight saving included.
    pub fn offset_at(&self, at: OffsetDateTime) -> UtcOffset {
        match self.dst {
            Some(rule) if rule.in_effect(self.utc_offset, at) => {
                UtcOffset::from_whole_seconds(self.utc_offset.whole_seconds() + 3600).unwrap_or(self.utc_offset)
            }
            _ => self.utc_offset,
        }
    }
}

/// The corridor for `country` (ISO 3166 alpha-2) and `currency` (ISO 4217), case-insensitive.
pub fn lookup(country: &str, currency: &str) -> Option<&'static Corridor> {
    all().iter().find(|c| {
        c.country.eq_ignore_ascii_case(country.trim()) && c.currency.code().eq_ignore_ascii_case(currency.trim())
    })
}

/// Every corridor, ordered by country then currency.
pub fn all() -> &'static [Corridor] {
    &TABLE.corridors
}

/// The corridors into `country`.
pub fn for_country(country: &str) -> impl Iterator<Item = &'static Corridor> {
    let country = country.trim().to_ascii_uppercase();
    all().iter().filter(move |c| c.country == country)
}

/// UQPAY's IBAN rule, for any country and currency, corridor or not.
pub fn iban_required(country: &str, currency: &str) -> bool {
    TABLE.iban_rule.applies(country, currency)
}

/// One item of UQPAY's `GET /v1/beneficiaries/paymentmethods` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PaymentMethodEntry {
    pub currency: Currency,
    pub country: String,
    pub payment_method: PaymentMethod,
    pub clearing_systems: Vec<String>,
    pub validation_field: Vec<String>,
}

/// The payment-methods list, filtered by currency and country when given (case-insensitive).
/// One entry per route, so clearing systems that need different fields (SG's FAST and PayNow)
/// come as separate entries.
pub fn payment_methods(currency: Option<&str>, country: Option<&str>) -> Vec<PaymentMethodEntry> {
    let matches = |filter: Option<&str>, value: &str| filter.is_none_or(|f| f.trim().eq_ignore_ascii_case(value));
    all()
        .iter()
        .filter(|c| matches(currency, c.currency.code()) && matches(country, &c.country))
        .flat_map(|c| {
            c.routes.iter().map(move |route| PaymentMethodEntry {
                currency: c.currency,
                country: c.country.clone(),
                payment_method: route.payment_method,
                clearing_systems: route.clearing_systems.clone(),
                validation_field: c.validation_fields(route).iter().map(|f| f.name().to_owned()).collect(),
            })
        })
        .collect()
}

struct IbanRule {
    countries: Vec<String>,
    currencies: Vec<String>,
}

impl IbanRule {
    fn applies(&self, country: &str, currency: &str) -> bool {
        self.countries.iter().any(|c| c.eq_ignore_ascii_case(country.trim()))
            && self.currencies.iter().any(|c| c.eq_ignore_ascii_case(currency.trim()))
    }
}

struct Table {
    corridors: Vec<Corridor>,
    iban_rule: IbanRule,
}

static TABLE: LazyLock<Table> =
    LazyLock::new(|| Table::parse(include_str!("../../data/corridors.toml")).expect("data/corridors.toml is valid"));

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    iban_required: RawIbanRule,
    corridor: Vec<RawCorridor>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIbanRule {
    countries: Vec<String>,
    currencies: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCorridor {
    country: Option<String>,
    countries: Option<Vec<String>>,
    currency: String,
    time_zone: String,
    utc_offset: String,
    dst: Option<DstRule>,
    weekend: Vec<String>,
    cutoff: String,
    holidays: String,
    account_number: Option<AccountNumberRule>,
    route: Vec<RawRoute>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    payment_method: PaymentMethod,
    clearing_systems: Vec<String>,
    required: Vec<String>,
    proxy: Option<ProxyScheme>,
    #[serde(default)]
    documentation_required: bool,
}

impl Table {
    /// Parses and checks the table; errors name the corridor and the problem.
    fn parse(text: &str) -> Result<Table, String> {
        let raw: RawTable = toml::from_str(text).map_err(|e| e.to_string())?;
        let iban_rule = IbanRule { countries: raw.iban_required.countries, currencies: raw.iban_required.currencies };
        let mut corridors = Vec::new();
        for rc in raw.corridor {
            let countries = match (rc.country.clone(), rc.countries.clone()) {
                (Some(one), None) => vec![one],
                (None, Some(many)) if !many.is_empty() => many,
                _ => return Err(format!("a {} corridor needs exactly one of country or countries", rc.currency)),
            };
            for country in countries {
                let corridor =
                    build_corridor(&country, &rc, &iban_rule).map_err(|e| format!("{country}/{}: {e}", rc.currency))?;
                corridors.push(corridor);
            }
        }
        corridors.sort_by(|a, b| (&a.country, a.currency.code()).cmp(&(&b.country, b.currency.code())));
        let mut seen = HashSet::new();
        for c in &corridors {
            if !seen.insert(c.label()) {
                return Err(format!("{} is listed twice", c.label()));
            }
        }
        Ok(Table { corridors, iban_rule })
    }
}

fn build_corridor(country: &str, rc: &RawCorridor, iban_rule: &IbanRule) -> Result<Corridor, String> {
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err("country must be an upper-case ISO 3166 alpha-2 code".into());
    }
    let currency = Currency::parse(&rc.currency).map_err(|e| format!("currency {e}"))?;
    let weekend = rc
        .weekend
        .iter()
        .map(|day| day.parse::<Weekday>().map_err(|_| format!("weekend day {day:?} is not a weekday name")))
        .collect::<Result<Vec<_>, _>>()?;
    if weekend.len() >= 7 {
        return Err("a corridor needs at least one business day a week".into());
    }
    let mut routes = Vec::new();
    let mut clearing_seen = HashSet::new();
    for rr in &rc.route {
        let required = rr
            .required
            .iter()
            .map(|name| BankField::from_name(name).ok_or_else(|| format!("unknown required field {name:?}")))
            .collect::<Result<Vec<_>, _>>()?;
        if rr.clearing_systems.is_empty() || required.is_empty() {
            return Err("every route needs clearing systems and required fields".into());
        }
        if rr.proxy.is_some() != required.contains(&BankField::ProxyId) {
            return Err("a route needs a proxy scheme exactly when it requires proxy_id".into());
        }
        for name in &rr.clearing_systems {
            if !clearing_seen.insert((rr.payment_method, clearing_key(name))) {
                return Err(format!("clearing system {name} is listed twice"));
            }
        }
        routes.push(Route {
            payment_method: rr.payment_method,
            clearing_systems: rr.clearing_systems.clone(),
            required,
            proxy: rr.proxy,
            documentation_required: rr.documentation_required,
        });
    }
    if routes.is_empty() {
        return Err("a corridor needs at least one route".into());
    }
    if let Some(rule) = rc.account_number
        && (rule.min == 0 || rule.min > rule.max || rule.max > crate::bank::MAX_ACCOUNT_NUMBER_LEN)
    {
        return Err("account_number rule needs 1 <= min <= max <= 60".into());
    }
    Ok(Corridor {
        country: country.to_owned(),
        currency,
        time_zone: rc.time_zone.clone(),
        utc_offset: parse_offset(&rc.utc_offset)
            .ok_or_else(|| format!("utc_offset {:?} is not +HH:MM", rc.utc_offset))?,
        dst: rc.dst,
        weekend,
        cutoff: parse_time(&rc.cutoff).ok_or_else(|| format!("cutoff {:?} is not HH:MM", rc.cutoff))?,
        holidays: rc.holidays.clone(),
        account_number: rc.account_number,
        routes,
        requires_iban: iban_rule.applies(country, currency.code()),
    })
}

/// `+08:00`, `-05:00`, `+05:30`.
fn parse_offset(text: &str) -> Option<UtcOffset> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m): (i8, i8) = (h.parse().ok()?, m.parse().ok()?);
    UtcOffset::from_hms(sign * h, sign * m, 0).ok()
}

/// `15:00`.
fn parse_time(text: &str) -> Option<Time> {
    let (h, m) = text.split_once(':')?;
    Time::from_hms(h.parse().ok()?, m.parse().ok()?, 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{datetime, offset, time};

    #[test]
    fn the_embedded_table_parses_and_covers_the_promised_corridors() {
        for (country, currency) in [
            ("SG", "SGD"),
            ("MY", "MYR"),
            ("ID", "IDR"),
            ("TH", "THB"),
            ("PH", "PHP"),
            ("VN", "VND"),
            ("HK", "HKD"),
            ("CN", "CNY"),
            ("IN", "INR"),
            ("GB", "GBP"),
            ("TR", "TRY"),
            ("US", "USD"),
            ("AU", "AUD"),
            ("DE", "EUR"),
            ("BG", "EUR"),
        ] {
            assert!(lookup(country, currency).is_some(), "{country}/{currency}");
        }
        // Every euro-area member (21 since Bulgaria joined in 2026) plus the four SEPA microstates.
        assert_eq!(all().iter().filter(|c| c.currency.code() == "EUR").count(), 25);
        assert_eq!(all().len(), 25 + 13);
    }

    #[test]
    fn lookup_is_case_insensitive_and_exact_on_the_pair() {
        assert_eq!(lookup("sg", "sgd").map(Corridor::label), Some("SG/SGD".into()));
        assert!(lookup("SG", "USD").is_none());
        assert!(lookup("XX", "EUR").is_none());
        assert_eq!(for_country("de").count(), 1);
    }

    #[test]
    fn corridors_are_sorted_and_unique() {
        let labels: Vec<String> = all().iter().map(Corridor::label).collect();
        let mut sorted = labels.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(labels, sorted);
    }

    #[test]
    fn routes_resolve_by_clearing_system_spelling() {
        let gb = lookup("GB", "GBP").expect("GB");
        for name in ["Faster Payments", "FASTER_PAYMENTS", "faster-payments", "BACS", "chaps"] {
            assert!(gb.route(PaymentMethod::Local, Some(name)).is_ok(), "{name}");
        }
        let id = lookup("ID", "IDR").expect("ID");
        assert!(id.route(PaymentMethod::Local, Some("BI_FAST")).is_ok());
        let sg = lookup("SG", "SGD").expect("SG");
        assert_eq!(sg.route(PaymentMethod::Local, None).map(|r| r.clearing_systems[0].as_str()), Ok("FAST"));
        assert_eq!(sg.route(PaymentMethod::Local, Some("LOCAL")).map(|r| r.proxy), Ok(None));
        assert_eq!(sg.route(PaymentMethod::Local, Some("paynow")).map(|r| r.proxy), Ok(Some(ProxyScheme::PayNow)));
        assert_eq!(
            sg.route(PaymentMethod::Local, Some("CHAPS")).map_err(|e| e.to_string()),
            Err("must be one of FAST, GIRO, MEPS, PayNow for LOCAL payouts to SG/SGD".into())
        );
        let cn = lookup("CN", "CNY").expect("CN");
        assert_eq!(
            cn.route(PaymentMethod::Swift, None).map_err(|e| e.to_string()),
            Err("must be one of LOCAL for CN/CNY".into())
        );
    }

    #[test]
    fn iban_rule_follows_uqpays_list() {
        assert!(iban_required("DE", "EUR"));
        assert!(iban_required("gb", "usd"));
        assert!(iban_required("CH", "EUR"));
        assert!(!iban_required("GB", "GBP"));
        assert!(!iban_required("US", "USD"));
        assert!(!iban_required("TR", "EUR"));
        assert!(lookup("FR", "EUR").expect("FR").requires_iban());
        assert!(!lookup("GB", "GBP").expect("GB").requires_iban());
        // TR needs an IBAN by its own routes, not by UQPAY's list.
        assert!(!lookup("TR", "TRY").expect("TR").requires_iban());
    }

    #[test]
    fn every_corridor_is_coherent() {
        for c in all() {
            assert!(!c.routes.is_empty(), "{}", c.label());
            assert!(c.weekend.len() < 7, "{}", c.label());
            for route in &c.routes {
                let fields = c.validation_fields(route);
                // Each route identifies the account somehow.
                assert!(
                    fields.iter().any(|f| matches!(f, BankField::AccountNumber | BankField::Iban | BankField::ProxyId)),
                    "{} {:?}",
                    c.label(),
                    route.clearing_systems
                );
                if route.payment_method == PaymentMethod::Swift {
                    assert!(fields.contains(&BankField::SwiftCode), "{} SWIFT needs a BIC", c.label());
                }
            }
        }
    }

    #[test]
    fn inr_over_ifsc_needs_documentation() {
        let inr = lookup("IN", "INR").expect("IN");
        let route = inr.route(PaymentMethod::Local, Some("NEFT")).expect("NEFT");
        assert!(route.documentation_required);
        assert!(route.required.contains(&BankField::Routing(RoutingCodeType::Ifsc)));
        assert!(!lookup("SG", "SGD").expect("SG").routes.iter().any(|r| r.documentation_required));
    }

    #[test]
    fn payment_methods_lists_uqpays_shape() {
        let sg = payment_methods(Some("SGD"), Some("SG"));
        assert_eq!(sg.len(), 3);
        assert_eq!(
            serde_json::to_value(&sg[0]).expect("json"),
            serde_json::json!({
                "currency": "SGD",
                "country": "SG",
                "payment_method": "LOCAL",
                "clearing_systems": ["FAST", "GIRO", "MEPS"],
                "validation_field": ["account_number", "swift_code"],
            })
        );
        assert_eq!(sg[1].validation_field, ["proxy_id"]);
        assert_eq!(sg[2].payment_method, PaymentMethod::Swift);

        let gb = payment_methods(None, Some("gb"));
        assert_eq!(gb[0].validation_field, ["account_number", "sort_code"]);
        let us = payment_methods(Some("usd"), None);
        assert!(us.iter().all(|e| e.country == "US"));
        assert_eq!(us[0].validation_field, ["account_number", "aba"]);
        assert_eq!(payment_methods(Some("EUR"), None).len(), 50);
        assert_eq!(payment_methods(None, None).len(), all().iter().map(|c| c.routes.len()).sum::<usize>());
        assert!(payment_methods(Some("XYZ"), None).is_empty());
    }

    #[test]
    fn offsets_follow_daylight_saving() {
        let gb = lookup("GB", "GBP").expect("GB");
        assert_eq!(gb.offset_at(datetime!(2026-01-15 12:00 UTC)), offset!(UTC));
        assert_eq!(gb.offset_at(datetime!(2026-07-15 12:00 UTC)), offset!(+1));
        let us = lookup("US", "USD").expect("US");
        assert_eq!(us.offset_at(datetime!(2026-07-15 12:00 UTC)), offset!(-4));
        let au = lookup("AU", "AUD").expect("AU");
        assert_eq!(au.offset_at(datetime!(2026-12-15 12:00 UTC)), offset!(+11));
        let india = lookup("IN", "INR").expect("IN");
        assert_eq!(india.offset_at(datetime!(2026-07-15 12:00 UTC)), offset!(+05:30));
        assert_eq!(lookup("SG", "SGD").expect("SG").cutoff, time!(15:00));
    }

    #[test]
    fn bad_tables_are_refused_with_a_reason() {
        let base = r#"
            [iban_required]
            countries = []
            currencies = []
            [[corridor]]
            country = "SG"
            currency = "SGD"
            time_zone = "Asia/Singapore"
            utc_offset = "+08:00"
            weekend = ["Saturday", "Sunday"]
            cutoff = "15:00"
            holidays = "SG"
            [[corridor.route]]
            payment_method = "LOCAL"
            clearing_systems = ["FAST"]
            required = ["account_number"]
        "#;
        assert!(Table::parse(base).is_ok());
        for (from, to, why) in [
            ("\"account_number\"]", "\"acct\"]", "unknown required field"),
            ("\"+08:00\"", "\"8h\"", "utc_offset"),
            ("\"15:00\"", "\"3pm\"", "cutoff"),
            ("\"Sunday\"]", "\"Sun\"]", "weekend day"),
            ("\"SGD\"", "\"ZZZ\"", "currency"),
            ("country = \"SG\"", "country = \"sg\"", "ISO 3166"),
            ("[\"FAST\"]", "[\"FAST\", \"fast\"]", "listed twice"),
            ("required = [\"account_number\"]", "required = [\"proxy_id\"]", "proxy scheme"),
        ] {
            let text = base.replace(from, to);
            let err = Table::parse(&text).err().unwrap_or_default();
            assert!(err.contains(why), "{from} -> {to}: {err}");
        }
    }
}
