//! Payouts: every rule that needs stored data (beneficiary, quote, files, balance) is checked
//! here, in the writer's transaction, so the check and the hold cannot be separated.

use outlay_core::bank::{PaymentMethod, check_payout_reference};
use outlay_core::ledger::{Reference, rules};
use outlay_core::payout::{FeePaidBy, PayoutState};
use outlay_core::{AccountId, Amount, Currency};
use outlay_store::{BeneficiaryRow, PayoutApprovalRecord, PayoutRow, PayoutStateChange, WriteTx};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Ctx, posting};
use crate::events::{event, payout_data};
use crate::{BeneficiarySource, CommandError, Document, NewPayout, Outcome};

fn reference(id: Uuid) -> Reference {
    Reference { kind: "payout", id }
}

fn rejected(field: &'static str, code: &'static str, message: impl Into<String>) -> CommandError {
    CommandError::Rejected { field, code, message: message.into() }
}

/// The snapshot of the beneficiary kept on the payout (UQPAY's nested `beneficiary` object).
pub fn beneficiary_snapshot(b: &BeneficiaryRow) -> Value {
    json!({
        "beneficiary_id": b.id,
        "short_reference_id": b.short_reference_id,
        "entity_type": b.entity_type,
        "payment_method": b.payment_method,
        "first_name": b.first_name,
        "last_name": b.last_name,
        "company_name": b.company_name,
        "nickname": b.nickname,
        "email": b.email,
        "beneficiary_status": "ACTIVE",
        "bank_details": b.bank_details,
        "address": b.address,
        "additional_info": b.additional_info,
    })
}

async fn resolve_beneficiary(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    p: &NewPayout,
) -> Result<BeneficiaryRow, CommandError> {
    match &p.beneficiary {
        BeneficiarySource::Stored(id) => match tx.beneficiary(*id).await? {
            Some(b) if b.account_id == p.account => Ok(b),
            _ => Err(rejected("beneficiary_id", "beneficiary_not_found", "no active beneficiary with this id")),
        },
        BeneficiarySource::Inline(b) => super::beneficiaries::insert(tx, ctx, b).await,
    }
}

/// The rules of the seed page that depend on the beneficiary.
pub(crate) fn check_against_beneficiary(
    p: &NewPayout,
    b: &BeneficiaryRow,
    payout_currency: Currency,
) -> Result<(), CommandError> {
    if b.account_currency_code != payout_currency.code() {
        return Err(rejected(
            "payout_currency",
            "currency_mismatch",
            format!(
                "the beneficiary's account is in {}, the payout pays {}",
                b.account_currency_code,
                payout_currency.code()
            ),
        ));
    }
    let swift = b.payment_method == "SWIFT";
    if swift && p.fee_paid_by.is_none() {
        return Err(rejected(
            "fee_paid_by",
            "required_for_swift",
            "fee_paid_by is required for SWIFT payouts (SHARED or OURS)",
        ));
    }
    let method = if swift { PaymentMethod::Swift } else { PaymentMethod::Local };
    if let Err(rule) = check_payout_reference(&p.payout_reference, method, &b.account_currency_code) {
        return Err(rejected("payout_reference", "invalid_reference", format!("payout_reference {rule}")));
    }
    // UQPAY: INR over IFSC needs an invoice; the corridor table marks every route that does.
    let ifsc = b.account_currency_code == "INR"
        && b.clearing_system.as_deref().is_some_and(|c| c.eq_ignore_ascii_case("IFSC"));
    let route_needs_it = outlay_core::corridors::lookup(&b.bank_country_code, &b.account_currency_code)
        .and_then(|c| c.route(method, b.clearing_system.as_deref()).ok())
        .is_some_and(|r| r.documentation_required);
    if (ifsc || route_needs_it) && p.documentation.is_empty() {
        return Err(rejected(
            "documentation",
            "documentation_required",
            format!(
                "documentation must include an invoice for {} payouts to {}",
                b.account_currency_code, b.bank_country_code
            ),
        ));
    }
    Ok(())
}

/// `payout_date` must be a business day of the beneficiary's corridor, today or later in the
/// corridor's local time, and within a year. Returns whether it lies in the future.
pub(crate) fn check_payout_date(p: &NewPayout, b: &BeneficiaryRow, ctx: &Ctx<'_>) -> Result<bool, CommandError> {
    let country = b.bank_country_code.as_str();
    let corridor = outlay_core::corridors::lookup(country, &b.account_currency_code);
    let today = corridor.map_or(ctx.now.date(), |c| ctx.now.to_offset(c.offset_at(ctx.now)).date());
    if p.payout_date < today {
        return Err(rejected("payout_date", "date_in_past", format!("payout_date must not be before {today}")));
    }
    if p.payout_date > today + time::Duration::days(365) {
        return Err(rejected("payout_date", "date_too_far", "payout_date must be within a year"));
    }
    let business = match outlay_core::calendar::is_business_day(country, p.payout_date) {
        Ok(business) => business,
        // A SWIFT payout to a country without a corridor calendar: only weekends are known.
        Err(outlay_core::calendar::CalendarError::UnknownCountry { .. }) => {
            !matches!(p.payout_date.weekday(), time::Weekday::Saturday | time::Weekday::Sunday)
        }
        Err(e) => return Err(rejected("payout_date", "date_out_of_range", format!("payout_date {e}"))),
    };
    if !business {
        let next = outlay_core::calendar::next_business_day(country, p.payout_date)
            .map(|d| format!("; the next one is {d}"))
            .unwrap_or_default();
        return Err(rejected(
            "payout_date",
            "not_a_business_day",
            format!("payout_date {} is not a business day in {country}{next}", p.payout_date),
        ));
    }
    Ok(p.payout_date > today)
}

/// A payout without a quote pays what it debits, in the same currency.
pub(crate) fn without_quote(p: &NewPayout) -> Result<(Currency, Amount, Option<String>), CommandError> {
    let payout_currency = p.payout_currency.unwrap_or(p.currency);
    if payout_currency != p.currency {
        return Err(rejected(
            "quote_id",
            "quote_required",
            "a cross-currency payout needs a quote_id from POST /api/v1/conversion/quote with transaction_type payout",
        ));
    }
    if p.payout_amount.is_some_and(|a| a != p.amount) {
        return Err(rejected("payout_amount", "amount_mismatch", "without a quote, payout_amount must equal amount"));
    }
    Ok((p.currency, p.amount, None))
}

/// Resolve the amount the beneficiary receives, consuming the quote if there is one.
async fn resolve_fx(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    p: &NewPayout,
    payout_id: Uuid,
) -> Result<(Currency, Amount, Option<String>), CommandError> {
    let Some(quote_id) = p.quote_id else { return without_quote(p) };
    // The quote records which payout used it.
    let quote = super::fx::consume_quote_for(tx, p.account, quote_id, "payout", payout_id, ctx.now).await?;
    let mismatch = |field: &'static str, what: &str| {
        rejected(field, "quote_mismatch", format!("{field} must match the quote's {what}"))
    };
    if quote.sell_currency != p.currency.code() {
        return Err(mismatch("currency", "sell_currency"));
    }
    if quote.sell_amount != p.amount.minor() {
        return Err(mismatch("amount", "sell_amount"));
    }
    let payout_currency = p.payout_currency.ok_or_else(|| {
        rejected("payout_currency", "required_with_quote", "payout_currency is required with quote_id")
    })?;
    let payout_amount = p
        .payout_amount
        .ok_or_else(|| rejected("payout_amount", "required_with_quote", "payout_amount is required with quote_id"))?;
    if quote.buy_currency != payout_currency.code() {
        return Err(mismatch("payout_currency", "buy_currency"));
    }
    if quote.buy_amount != payout_amount.minor() {
        return Err(mismatch("payout_amount", "buy_amount"));
    }
    Ok((payout_currency, payout_amount, Some(quote.client_rate)))
}

async fn documents(tx: &mut dyn WriteTx, ctx: &Ctx<'_>, p: &NewPayout) -> Result<Value, CommandError> {
    let mut out = Vec::with_capacity(p.documentation.len());
    for doc in &p.documentation {
        let file = match doc {
            Document::FileId(id) => match tx.file(*id).await? {
                Some(f) if f.account_id == p.account => f,
                _ => return Err(rejected("documentation", "file_not_found", format!("no uploaded file {id}"))),
            },
            Document::Inline(upload) => super::files::insert(tx, ctx, p.account, upload).await?,
        };
        out.push(json!({"file_id": file.id, "file_name": file.file_name, "file_type": file.file_type}));
    }
    Ok(Value::Array(out))
}

/// Who pays the fee, the fee, and what the payout holds (amount plus fee).
pub(crate) fn fee_and_total(
    ctx: &Ctx<'_>,
    p: &NewPayout,
    beneficiary: &BeneficiaryRow,
) -> Result<(Option<FeePaidBy>, Amount, Amount), CommandError> {
    fee_for_method(ctx, p, &beneficiary.payment_method)
}

/// [`fee_and_total`] for a beneficiary's payment method.
pub(crate) fn fee_for_method(
    ctx: &Ctx<'_>,
    p: &NewPayout,
    payment_method: &str,
) -> Result<(Option<FeePaidBy>, Amount, Amount), CommandError> {
    // fee_paid_by is only effective for SWIFT (UQPAY): a LOCAL payout records none.
    let fee_paid_by = if payment_method == "SWIFT" { p.fee_paid_by } else { None };
    let too_large = || rejected("amount", "amount_too_large", "amount plus fee is too large");
    let fee = ctx.config.fees.fee(payment_method, fee_paid_by, p.currency, p.amount).ok_or_else(too_large)?;
    let total = p.amount.checked_add(fee).ok_or_else(too_large)?;
    Ok((fee_paid_by, fee, total))
}

/// What a payout's creation worked out before its row is written.
pub(crate) struct Resolved {
    pub payout_currency: Currency,
    pub payout_amount: Amount,
    pub client_rate: Option<String>,
    pub quote_id: Option<Uuid>,
    pub fee_paid_by: Option<FeePaidBy>,
    pub fee: Amount,
}

/// A new payout's row (the single-payout path and the batch bulk path write the same row).
pub(crate) fn new_row(
    ctx: &Ctx<'_>,
    p: &NewPayout,
    id: Uuid,
    beneficiary: &BeneficiaryRow,
    resolved: Resolved,
    documentation: Value,
    state: PayoutState,
) -> PayoutRow {
    let Resolved { payout_currency, payout_amount, client_rate, quote_id, fee_paid_by, fee } = resolved;
    PayoutRow {
        id,
        account_id: p.account,
        short_reference_id: ctx.short_ref("P"),
        unique_request_id: p.unique_request_id.clone(),
        currency: p.currency.code().to_owned(),
        amount: p.amount.minor(),
        fee_amount: fee.minor(),
        fee_paid_by: fee_paid_by.map(|f| f.code().to_owned()),
        payout_currency: payout_currency.code().to_owned(),
        payout_amount: payout_amount.minor(),
        quote_id,
        client_rate,
        purpose_code: p.purpose.code().to_owned(),
        payout_reference: p.payout_reference.clone(),
        payout_date: p.payout_date,
        payment_method: beneficiary.payment_method.clone(),
        clearing_system: beneficiary.clearing_system.clone(),
        beneficiary_id: beneficiary.id,
        beneficiary: beneficiary_snapshot(beneficiary),
        payer: p.payer.clone(),
        documentation,
        state: state.code().to_owned(),
        failure_reason: None,
        failure_returned_amount: 0,
        created_at: ctx.now,
        updated_at: ctx.now,
        completed_at: None,
        created_by: p.created_by,
        approved_by: None,
        approved_at: None,
    }
}

pub async fn create(tx: &mut dyn WriteTx, ctx: &Ctx<'_>, p: &NewPayout) -> Result<Outcome, CommandError> {
    create_locked(tx, ctx, p, None).await
}

/// Create a payout; a payout of a batch with a quote uses the batch's locked rate (`locked`)
/// instead of a quote of its own.
pub async fn create_locked(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    p: &NewPayout,
    locked: Option<&super::batches::LockedRate>,
) -> Result<Outcome, CommandError> {
    let id = Uuid::now_v7();
    let beneficiary = resolve_beneficiary(tx, ctx, p).await?;
    let (payout_currency, payout_amount, client_rate) = match locked {
        Some(l) if p.quote_id.is_none() => l.resolve(p)?,
        _ => resolve_fx(tx, ctx, p, id).await?,
    };
    check_against_beneficiary(p, &beneficiary, payout_currency)?;
    let future = check_payout_date(p, &beneficiary, ctx)?;
    let documentation = documents(tx, ctx, p).await?;
    let (fee_paid_by, fee, total) = fee_and_total(ctx, p, &beneficiary)?;
    // Sanctions screening and the account's rules: a refusal ends here, a review holds it.
    let check = super::compliance::check_payout(tx, ctx, p.account, p.currency, p.amount, &beneficiary).await?;
    let hold = rules::hold(p.account, p.currency, total, reference(id));
    tx.post_entry(&hold, Uuid::now_v7(), ctx.now).await.map_err(|e| posting(e, p.currency.code()))?;
    // Maker-checker: above the account's threshold it waits for another credential's approval
    // (approval comes first; an open compliance review then still holds it, see `approve`).
    let threshold = approval_threshold(tx, p).await?;
    let awaiting_approval = threshold.is_some();

    let state = if awaiting_approval {
        PayoutState::AwaitingApproval
    } else if check.held() {
        PayoutState::InReview
    } else if future {
        PayoutState::Scheduled
    } else {
        PayoutState::ReadyToSend
    };
    let quote_id = p.quote_id.or(locked.filter(|_| client_rate.is_some()).map(|l| l.quote_id));
    let resolved = Resolved { payout_currency, payout_amount, client_rate, quote_id, fee_paid_by, fee };
    let row = new_row(ctx, p, id, &beneficiary, resolved, documentation, state);
    tx.insert_payout(&row).await?;
    let held = check.held();
    if held {
        // `payout.ready.send` waits for the reviewer's clearance (and the approval, if needed).
        super::compliance::hold_payout(tx, ctx, &row, check).await?;
    }
    if let Some(limit) = threshold {
        // `payout.ready.send` waits for the approval.
        let limit = crate::events::decimal(limit, p.currency.code());
        let reason = format!("waiting for approval: above the account's threshold of {limit} {}", p.currency.code());
        tx.set_payout_created_reason(id, &reason).await?;
    } else if !held {
        tx.insert_event(&event(p.account, "PAYOUT", "payout.ready.send", id, payout_data(&row), ctx.now)).await?;
    }
    Ok(Outcome::Payout(Box::new(row)))
}

fn stored_money(currency: &str, minor: i64) -> Result<(Currency, Amount), CommandError> {
    let c = Currency::parse(currency).map_err(|e| CommandError::Internal(format!("stored currency: {e}")))?;
    let a = Amount::from_minor(minor).map_err(|e| CommandError::Internal(format!("stored amount: {e}")))?;
    Ok((c, a))
}

/// Move a payout along its lifecycle, with the ledger movement and the event of that step.
/// READY_TO_SEND → SENT for each payout a rail took; payouts in any other state are skipped
/// (the state check comes before any write, so a skipped one leaves nothing behind).
pub async fn send_many(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    payouts: &[(AccountId, Uuid)],
    reason: &str,
    rail: Option<&str>,
) -> Result<Outcome, CommandError> {
    let mut sent = Vec::with_capacity(payouts.len());
    let mut submitted = Vec::with_capacity(payouts.len());
    for (account, id) in payouts {
        match transition(tx, ctx, *account, *id, PayoutState::Sent, Some(reason)).await {
            Ok(_) => {
                sent.push(*id);
                submitted.push((*account, *id));
            }
            Err(CommandError::InvalidState(_) | CommandError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    if let (Some(rail), false) = (rail, submitted.is_empty()) {
        super::jobs::enqueue_rail_submit(tx, ctx, rail, &submitted).await?;
    }
    Ok(Outcome::PayoutsSent(sent))
}

pub async fn transition(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: AccountId,
    id: Uuid,
    to: PayoutState,
    reason: Option<&str>,
) -> Result<Outcome, CommandError> {
    let mut p = match tx.payout(id).await? {
        Some(p) if p.account_id == account => p,
        _ => return Err(CommandError::NotFound { what: "payout" }),
    };
    let from: PayoutState = p.state.parse().map_err(CommandError::Internal)?;
    if !from.can_become(to) {
        return Err(CommandError::InvalidState(format!(
            "payout is {from} ({}); it cannot become {to}",
            from.wire_status()
        )));
    }
    let (currency, amount) = stored_money(&p.currency, p.amount)?;
    let (_, fee) = stored_money(&p.currency, p.fee_amount)?;
    let (destination, destination_amount) = stored_money(&p.payout_currency, p.payout_amount)?;
    let cross = currency != destination;
    let total = amount.checked_add(fee).ok_or_else(|| CommandError::Internal("amount overflow".into()))?;
    let (entry, returned, event_type) = match to {
        PayoutState::Cancelled => {
            (Some(rules::void_hold(account, currency, total, reference(id))), total, Some("payout.cancelled"))
        }
        PayoutState::Failed => {
            (Some(rules::void_hold(account, currency, total, reference(id))), total, Some("payout.failed"))
        }
        PayoutState::Rejected => {
            (Some(rules::void_hold(account, currency, total, reference(id))), total, Some("payout.compliance.rejected"))
        }
        PayoutState::Completed if cross => (
            Some(rules::post_hold_via_fx(
                account,
                currency,
                amount,
                fee,
                destination,
                destination_amount,
                reference(id),
            )),
            Amount::ZERO,
            Some("payout.completed"),
        ),
        PayoutState::Completed => (
            Some(rules::post_hold(account, currency, amount, fee, reference(id))),
            Amount::ZERO,
            Some("payout.completed"),
        ),
        PayoutState::Returned if cross => (
            Some(rules::late_return_via_fx(account, currency, amount, destination, destination_amount, reference(id))),
            amount,
            Some("payout.returned"),
        ),
        PayoutState::Returned => {
            (Some(rules::late_return(account, currency, amount, reference(id))), amount, Some("payout.returned"))
        }
        PayoutState::ReadyToSend
        | PayoutState::Sent
        | PayoutState::Scheduled
        | PayoutState::InReview
        | PayoutState::AwaitingApproval => (None, Amount::ZERO, None),
    };
    // --- wallets --- a withdrawal from a recipient's wallet: voids and late returns go back to it.
    let entry = match tx.wallet_withdrawal(id).await? {
        Some(w) => match to {
            PayoutState::Cancelled | PayoutState::Failed | PayoutState::Rejected => {
                Some(rules::void_wallet_hold(account, currency, w.recipient_id, total, reference(id)))
            }
            PayoutState::Returned => {
                Some(rules::late_return_to_wallet(account, currency, w.recipient_id, amount, reference(id)))
            }
            _ => entry,
        },
        None => entry,
    };
    if let Some(entry) = entry {
        tx.post_entry(&entry, Uuid::now_v7(), ctx.now).await.map_err(|e| posting(e, currency.code()))?;
    }
    let failure_reason = match to {
        PayoutState::Cancelled => Some(reason.unwrap_or("cancelled by the client").to_owned()),
        PayoutState::Failed | PayoutState::Rejected | PayoutState::Returned => reason.map(str::to_owned),
        _ => None,
    };
    let completed_at = (to == PayoutState::Completed).then_some(ctx.now);
    let change = PayoutStateChange {
        id,
        from_state: Some(p.state.clone()),
        to_state: to.code().to_owned(),
        reason: reason.map(str::to_owned),
        failure_reason: failure_reason.clone(),
        failure_returned_amount: returned.minor(),
        completed_at,
        at: ctx.now,
    };
    tx.set_payout_state(&change).await?;
    if super::batches::ends_hold(from, to) {
        super::batches::payout_finished(tx, ctx, id).await?;
    }
    p.state = to.code().to_owned();
    p.updated_at = ctx.now;
    p.failure_returned_amount = returned.minor();
    if failure_reason.is_some() {
        p.failure_reason = failure_reason;
    }
    if completed_at.is_some() {
        p.completed_at = completed_at;
    }
    if let Some(event_type) = event_type {
        tx.insert_event(&event(account, "PAYOUT", event_type, id, payout_data(&p), ctx.now)).await?;
    }
    Ok(Outcome::Payout(Box::new(p)))
}

// --- payout approval (maker-checker) ---

/// The account's threshold for this payout's currency when the payout is above it and so must
/// wait for approval. Only payouts created over the API (`created_by` set) are checked: a batch's
/// rows are covered by the batch's own approval.
async fn approval_threshold(tx: &mut dyn WriteTx, p: &NewPayout) -> Result<Option<i64>, CommandError> {
    if p.created_by.is_none() {
        return Ok(None);
    }
    let Some(policy) = tx.approval_policy(p.account).await? else { return Ok(None) };
    Ok(policy.payout_approval_thresholds.get(p.currency.code()).copied().filter(|limit| p.amount.minor() > *limit))
}

async fn awaiting_approval(tx: &mut dyn WriteTx, account: AccountId, id: Uuid) -> Result<PayoutRow, CommandError> {
    let p = match tx.payout(id).await? {
        Some(p) if p.account_id == account => p,
        _ => return Err(CommandError::NotFound { what: "payout" }),
    };
    let state: PayoutState = p.state.parse().map_err(CommandError::Internal)?;
    if state != PayoutState::AwaitingApproval {
        return Err(CommandError::InvalidState(format!(
            "payout is {state} ({}); only a payout AWAITING_APPROVAL can be approved or declined",
            state.wire_status()
        )));
    }
    Ok(p)
}

/// Approve a payout AWAITING_APPROVAL. The approver must be another credential than the one
/// that created it. It goes on to IN_REVIEW when its compliance review is still open, else to
/// READY_TO_SEND (SCHEDULED when its date is ahead) with `payout.ready.send`.
pub async fn approve(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: AccountId,
    id: Uuid,
    approver: Uuid,
) -> Result<Outcome, CommandError> {
    let p = awaiting_approval(tx, account, id).await?;
    if p.created_by == Some(approver) {
        return Err(rejected(
            "x-auth-token",
            "approver_is_creator",
            "the payout must be approved by a different credential than the one that created it",
        ));
    }
    tx.set_payout_approval(&PayoutApprovalRecord { id, approved_by: approver, at: ctx.now }).await?;
    let review_open = tx.latest_review_status(id).await?.as_deref() == Some("open");
    let to = if review_open {
        PayoutState::InReview
    } else if p.payout_date > ctx.now.date() {
        PayoutState::Scheduled
    } else {
        PayoutState::ReadyToSend
    };
    let reason = if review_open {
        format!("approved by credential {approver}; waiting for its compliance review")
    } else {
        format!("approved by credential {approver}")
    };
    let outcome = transition(tx, ctx, account, id, to, Some(&reason)).await?;
    if let (Outcome::Payout(row), false) = (&outcome, review_open) {
        tx.insert_event(&event(account, "PAYOUT", "payout.ready.send", id, payout_data(row), ctx.now)).await?;
    }
    Ok(outcome)
}

/// Decline a payout AWAITING_APPROVAL: CANCELLED, its hold voided (`payout.cancelled`).
pub async fn decline_approval(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: AccountId,
    id: Uuid,
    approver: Uuid,
) -> Result<Outcome, CommandError> {
    awaiting_approval(tx, account, id).await?;
    let reason = format!("approval declined by credential {approver}");
    transition(tx, ctx, account, id, PayoutState::Cancelled, Some(&reason)).await
}
