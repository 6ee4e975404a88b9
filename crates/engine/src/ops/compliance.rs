//! Issue 7 in the writer: sanctions screening of beneficiaries and payouts, the account rules
//! checked at payout creation, the review queue's decisions, list loads and rule changes. Every
//! check runs in the transaction that writes the payout, after the account's ledger chain is
//! locked, so two payouts (on any node) cannot both pass a daily limit only one of them fits.

use std::sync::Arc;

use outlay_core::AccountId;
use outlay_core::compliance::{self, ComplianceRules, PayoutFacts, RuleAction};
use outlay_core::payout::PayoutState;
use outlay_core::screening::{Country, Hit, Screener, Subject, SubjectKind};
use outlay_store::{
    BeneficiaryRow, ComplianceReviewRow, ComplianceRulesRow, PayoutRow, ReviewDecisionRow, ScreeningFiles,
    ScreeningHitRow, ScreeningListRow, WriteTx,
};
use serde_json::{Value, json};
use time::{Date, OffsetDateTime, Time};
use uuid::Uuid;

use super::Ctx;
use crate::events::{event, payout_data};
use crate::screening::{ReviewDecision, parse_files, source_code};
use crate::{CommandError, Outcome};

fn internal(what: &str, e: impl std::fmt::Display) -> CommandError {
    CommandError::Internal(format!("{what}: {e}"))
}

/// The active screener, rebuilt from the stored files when a newer list version was loaded (by
/// the CLI or another node) since this process last looked. `None` when no list was ever loaded.
async fn active_screener(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    version: Option<i64>,
) -> Result<Option<(i64, Arc<Screener>)>, CommandError> {
    let Some(version) = version else { return Ok(None) };
    let state = &ctx.config.screening;
    if let Some((v, screener)) = state.current()
        && v == version
    {
        return Ok(Some((v, screener)));
    }
    let files = tx.screening_list_files(version).await?.ok_or_else(|| internal("screening list", "vanished"))?;
    let parsed = parse_files(&files).map_err(|e| internal("stored screening list", e))?;
    let screener = Arc::new(Screener::new(parsed.entries));
    state.install(version, screener.clone());
    Ok(Some((version, screener)))
}

/// The party a beneficiary names, as the screener sees it: the person's full name or the
/// company's name, with the nationality when given. The address or bank country is not used: a
/// listed person living abroad must not score lower for it.
pub fn beneficiary_subject(b: &BeneficiaryRow) -> Option<Subject> {
    let (name, kind) = if b.entity_type == "COMPANY" {
        (b.company_name.clone().unwrap_or_default(), SubjectKind::Organisation)
    } else {
        let parts: Vec<&str> = [b.first_name.as_deref(), b.last_name.as_deref()].into_iter().flatten().collect();
        (parts.join(" "), SubjectKind::Individual)
    };
    let subject = Subject::new(&name, kind).ok()?;
    let country = b
        .address
        .as_ref()
        .and_then(|a| a.get("nationality").and_then(Value::as_str).and_then(|c| Country::parse(c).ok()));
    Some(match country {
        Some(c) => subject.with_country(c),
        None => subject,
    })
}

/// Hits on a beneficiary at the configured threshold, without the entries a reviewer already
/// cleared for it.
async fn screen(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    b: &BeneficiaryRow,
    list_version: Option<i64>,
) -> Result<Option<(i64, Vec<Hit>)>, CommandError> {
    let Some((version, screener)) = active_screener(tx, ctx, list_version).await? else { return Ok(None) };
    let Some(subject) = beneficiary_subject(b) else { return Ok(None) };
    let mut hits = screener.screen(&subject, ctx.config.screening.threshold());
    if !hits.is_empty() {
        let cleared = tx.cleared_screening_entries(b.id).await?;
        hits.retain(|h| !cleared.iter().any(|(s, e)| s == source_code(h.source) && *e == h.entry_id));
    }
    Ok(Some((version, hits)))
}

fn hit_reason(h: &Hit) -> Value {
    json!({
        "kind": "screening_hit",
        "source": source_code(h.source),
        "entry_id": h.entry_id,
        "entry_name": h.entry_name,
        "matched_name": h.matched_name,
        "matched_alias": h.matched_alias,
        "name_score": h.name_score.per_mille(),
        "score": h.score.per_mille(),
        "why": h.why,
    })
}

struct NewReview<'a> {
    account: AccountId,
    subject_type: &'static str,
    subject_id: Uuid,
    beneficiary_id: Uuid,
    reasons: Vec<Value>,
    hits: &'a [Hit],
    list_version: Option<i64>,
}

async fn open_review(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    r: NewReview<'_>,
) -> Result<ComplianceReviewRow, CommandError> {
    let row = ComplianceReviewRow {
        id: Uuid::now_v7(),
        account_id: r.account,
        subject_type: r.subject_type.to_owned(),
        subject_id: r.subject_id,
        beneficiary_id: r.beneficiary_id,
        reasons: Value::Array(r.reasons),
        list_version: r.list_version,
        status: "open".to_owned(),
        reviewed_by: None,
        reviewed_at: None,
        note: None,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    tx.insert_compliance_review(&row).await?;
    for h in r.hits {
        let hit = ScreeningHitRow {
            id: Uuid::now_v7(),
            review_id: row.id,
            account_id: r.account,
            subject_type: r.subject_type.to_owned(),
            subject_id: r.subject_id,
            beneficiary_id: r.beneficiary_id,
            list_version: r.list_version.unwrap_or_default(),
            source: source_code(h.source).to_owned(),
            entry_id: h.entry_id.clone(),
            entry_name: h.entry_name.clone(),
            matched_name: h.matched_name.clone(),
            matched_alias: h.matched_alias,
            name_score: i64::from(h.name_score.per_mille()),
            score: i64::from(h.score.per_mille()),
            why: h.why.clone(),
            created_at: ctx.now,
        };
        tx.insert_screening_hit(&hit).await?;
    }
    Ok(row)
}

/// Screen a beneficiary just created or changed; a hit opens a review of it (its screening
/// status becomes `REVIEW`, and payouts to it are held).
pub(super) async fn screen_beneficiary(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    b: &BeneficiaryRow,
) -> Result<(), CommandError> {
    let list_version = tx.screening_list_version().await?;
    let Some((version, hits)) = screen(tx, ctx, b, list_version).await? else { return Ok(()) };
    if hits.is_empty() {
        return Ok(());
    }
    let review = NewReview {
        account: b.account_id,
        subject_type: "beneficiary",
        subject_id: b.id,
        beneficiary_id: b.id,
        reasons: hits.iter().map(hit_reason).collect(),
        hits: &hits,
        list_version: Some(version),
    };
    open_review(tx, ctx, review).await?;
    Ok(())
}

/// What the checks decided for a payout that may go ahead.
pub(super) struct PayoutCheck {
    reasons: Vec<Value>,
    hits: Vec<Hit>,
    list_version: Option<i64>,
}

impl PayoutCheck {
    pub(super) fn held(&self) -> bool {
        !self.reasons.is_empty()
    }
}

fn start_of_day(now: OffsetDateTime) -> OffsetDateTime {
    now.replace_time(Time::MIDNIGHT)
}

fn start_of_month(now: OffsetDateTime) -> OffsetDateTime {
    let first = Date::from_calendar_date(now.year(), now.month(), 1).unwrap_or(now.date());
    now.replace_date(first).replace_time(Time::MIDNIGHT)
}

/// Beneficiary screening status, a fresh screening, and the account's rules. A rule set to
/// refuse answers with its error; anything else to look at holds the payout for review.
pub(super) async fn check_payout(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: AccountId,
    currency: outlay_core::Currency,
    amount: outlay_core::Amount,
    b: &BeneficiaryRow,
) -> Result<PayoutCheck, CommandError> {
    let mut reasons = Vec::new();
    // One round trip for the three things every payout needs.
    let context = tx.compliance_context(account, b.id).await?;
    match context.beneficiary_review.as_deref() {
        Some("rejected") => {
            return Err(CommandError::Rejected {
                field: "beneficiary_id",
                code: "beneficiary_rejected",
                message: "compliance rejected this beneficiary; it cannot be paid".into(),
            });
        }
        Some("open") => reasons.push(json!({
            "kind": "beneficiary_under_review",
            "message": "the beneficiary's own screening review is still open",
        })),
        _ => {}
    }
    if let Some(stored) = &context.rules {
        let rules =
            ComplianceRules::from_json(stored).map_err(|e| internal("stored compliance rules", format!("{e:?}")))?;
        let day = tx.payout_totals(account, Some(currency.code()), None, start_of_day(ctx.now)).await?;
        let month = tx.payout_totals(account, Some(currency.code()), Some(b.id), start_of_month(ctx.now)).await?;
        let all = tx.payout_totals(account, None, Some(b.id), b.created_at).await?;
        let facts = PayoutFacts {
            currency,
            amount,
            bank_country: &b.bank_country_code,
            day_total: day.amount,
            beneficiary_month_total: month.amount,
            beneficiary_created_at: b.created_at,
            beneficiary_payouts: all.count,
            now: ctx.now,
        };
        let breaches = compliance::evaluate(&rules, &facts);
        if let Some(refusal) = breaches.iter().find(|b| b.action == RuleAction::Refuse) {
            return Err(CommandError::Rejected {
                field: refusal.rule.field(),
                code: refusal.rule.refusal_code(),
                message: refusal.message.clone(),
            });
        }
        reasons.extend(breaches.iter().map(
            |b| json!({"kind": "rule", "rule": b.rule.name(), "code": b.rule.refusal_code(), "message": b.message}),
        ));
    }
    let (list_version, hits) = match screen(tx, ctx, b, context.list_version).await? {
        Some((version, hits)) => (Some(version), hits),
        None => (None, Vec::new()),
    };
    reasons.extend(hits.iter().map(hit_reason));
    Ok(PayoutCheck { reasons, hits, list_version })
}

/// Open the review of a payout created `IN_REVIEW`.
pub(super) async fn hold_payout(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    p: &PayoutRow,
    check: PayoutCheck,
) -> Result<(), CommandError> {
    let review = NewReview {
        account: p.account_id,
        subject_type: "payout",
        subject_id: p.id,
        beneficiary_id: p.beneficiary_id,
        reasons: check.reasons,
        hits: &check.hits,
        list_version: check.list_version,
    };
    open_review(tx, ctx, review).await?;
    Ok(())
}

/// Clear or reject an open review. A cleared payout goes on (READY_TO_SEND, or SCHEDULED when
/// its date is ahead) with `payout.ready.send`; a rejected one becomes REJECTED, its hold voided,
/// with `payout.compliance.rejected`. `account` is the caller's (None: the operator's CLI).
pub async fn decide(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: Option<AccountId>,
    id: Uuid,
    decision: ReviewDecision,
    reviewer: Option<Uuid>,
    note: Option<&str>,
) -> Result<Outcome, CommandError> {
    let review = match tx.compliance_review(id).await? {
        Some(r) if account.is_none_or(|a| a == r.account_id) => r,
        _ => return Err(CommandError::NotFound { what: "review" }),
    };
    if review.status != "open" {
        return Err(CommandError::InvalidState(format!("review is {} already", review.status)));
    }
    let change = ReviewDecisionRow {
        id,
        status: decision.status().to_owned(),
        reviewed_by: reviewer,
        reviewed_at: ctx.now,
        note: note.map(str::to_owned),
    };
    if !tx.decide_compliance_review(&change).await? {
        return Err(CommandError::InvalidState("review was decided by someone else".into()));
    }
    if review.subject_type == "payout" {
        let payout = tx.payout(review.subject_id).await?.ok_or(CommandError::NotFound { what: "payout" })?;
        let state: PayoutState = payout.state.parse().map_err(CommandError::Internal)?;
        // --- payout approval --- A payout still AWAITING_APPROVAL: a clearance leaves it waiting
        // for its approver (who then sends it on); a rejection ends it at once.
        let awaiting_approval = state == PayoutState::AwaitingApproval;
        if state != PayoutState::InReview && !awaiting_approval {
            return Err(CommandError::InvalidState(format!("payout is {state}, not IN_REVIEW")));
        }
        match decision {
            ReviewDecision::Clear if awaiting_approval => {}
            ReviewDecision::Clear => {
                let to =
                    if payout.payout_date > ctx.now.date() { PayoutState::Scheduled } else { PayoutState::ReadyToSend };
                let reason =
                    format!("cleared by compliance review{}", note.map(|n| format!(": {n}")).unwrap_or_default());
                let outcome =
                    super::payouts::transition(tx, ctx, review.account_id, payout.id, to, Some(&reason)).await?;
                if let Outcome::Payout(p) = &outcome {
                    tx.insert_event(&event(p.account_id, "PAYOUT", "payout.ready.send", p.id, payout_data(p), ctx.now))
                        .await?;
                }
            }
            ReviewDecision::Reject => {
                let reason =
                    format!("rejected by compliance review{}", note.map(|n| format!(": {n}")).unwrap_or_default());
                super::payouts::transition(tx, ctx, review.account_id, payout.id, PayoutState::Rejected, Some(&reason))
                    .await?;
            }
        }
    }
    let decided = ComplianceReviewRow {
        status: change.status,
        reviewed_by: reviewer,
        reviewed_at: Some(ctx.now),
        note: change.note,
        updated_at: ctx.now,
        ..review
    };
    Ok(Outcome::Review(Box::new(decided)))
}

/// Replace an account's rules (already validated; stored in canonical form).
pub async fn set_rules(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: AccountId,
    rules: &ComplianceRules,
    updated_by: Option<Uuid>,
) -> Result<Outcome, CommandError> {
    let row = ComplianceRulesRow { account_id: account, rules: rules.to_json(), updated_by, updated_at: ctx.now };
    tx.upsert_compliance_rules(&row).await?;
    Ok(Outcome::ComplianceRules(Box::new(row)))
}

/// Store a new list version (parsed once more here: a list that does not parse is never active).
pub async fn load_list(tx: &mut dyn WriteTx, ctx: &Ctx<'_>, files: &ScreeningFiles) -> Result<Outcome, CommandError> {
    let parsed = parse_files(files).map_err(|message| CommandError::Rejected {
        field: "files",
        code: "invalid_list",
        message,
    })?;
    let version = tx.screening_list_version().await?.unwrap_or(0) + 1;
    let row = ScreeningListRow {
        version,
        loaded_at: ctx.now,
        entry_count: i64::try_from(parsed.entries.len()).unwrap_or(i64::MAX),
        sha256: parsed.sha256,
        sources: parsed.sources,
    };
    // Not installed here: the transaction may still roll back. The next screening (on this node
    // or any other) sees the new version and builds the screener from the stored files.
    tx.insert_screening_list(&row, files).await?;
    Ok(Outcome::ScreeningListLoaded(Box::new(row)))
}
