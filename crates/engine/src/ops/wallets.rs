//! The stored-value (wallet) model: the account's payout model, recipients and their
//! credentials, transfer methods, payouts into wallets and withdrawals out of them.
//!
//! A wallet is a ledger account of the client (`Kind::Wallet(recipient)`) on the client's own
//! chain, so the money stays the client's until a withdrawal completes. A withdrawal is a payout
//! row (it follows the payout lifecycle, the settler and the rails) marked by a
//! `wallet_withdrawals` row; its hold comes from the wallet, and a void or a late return goes back
//! to the wallet (see `payouts::transition`).

use outlay_core::AccountId;
use outlay_core::bank::{PaymentMethod, check_payout_reference};
use outlay_core::ledger::{Reference, rules};
use outlay_core::payout::{PayoutState, PurposeCode};
use outlay_store::{
    PayoutRow, PostError, RecipientCredentialRow, RecipientRow, RecipientTokenRow, TransferMethodRow, WalletPayoutRow,
    WalletWithdrawalRow, WriteTx,
};
use serde_json::json;
use uuid::Uuid;

use super::{Ctx, posting};
use crate::events::{event, payout_data};
use crate::{CommandError, NewBeneficiary, NewRecipient, NewWalletPayout, NewWalletWithdrawal, Outcome};

/// The payout models an account can choose.
pub const PAYOUT_MODELS: &[&str] = &["bank", "wallet", "both"];

fn rejected(field: &'static str, code: &'static str, message: impl Into<String>) -> CommandError {
    CommandError::Rejected { field, code, message: message.into() }
}

pub async fn set_payout_model(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: AccountId,
    model: &str,
) -> Result<Outcome, CommandError> {
    if !PAYOUT_MODELS.contains(&model) {
        return Err(rejected("payout_model", "invalid_value", "must be one of bank, wallet, both"));
    }
    tx.set_payout_model(account, model, ctx.now).await?;
    Ok(Outcome::PayoutModelSet { model: model.to_owned() })
}

async fn allows_wallets(tx: &mut dyn WriteTx, account: AccountId) -> Result<bool, CommandError> {
    Ok(matches!(tx.payout_model(account).await?.as_deref(), Some("wallet" | "both")))
}

pub async fn create_recipient(tx: &mut dyn WriteTx, ctx: &Ctx<'_>, r: &NewRecipient) -> Result<Outcome, CommandError> {
    if let Some(reference) = &r.external_reference
        && tx.recipient_by_reference(r.account, reference).await?.is_some()
    {
        return Err(rejected(
            "external_reference",
            "duplicate_recipient",
            "a recipient with this external_reference already exists",
        ));
    }
    let row = RecipientRow {
        id: Uuid::now_v7(),
        account_id: r.account,
        external_reference: r.external_reference.clone(),
        name: r.name.clone(),
        email: r.email.clone(),
        status: "ACTIVE".to_owned(),
        created_at: ctx.now,
    };
    tx.insert_recipient(&row).await?;
    let credential = RecipientCredentialRow {
        id: Uuid::now_v7(),
        recipient_id: row.id,
        account_id: r.account,
        client_id: r.client_id.clone(),
        secret_hash: r.api_key_hash.clone(),
        created_at: ctx.now,
        revoked_at: None,
    };
    tx.insert_recipient_credential(&credential).await?;
    Ok(Outcome::Recipient(Box::new(row)))
}

pub async fn issue_token(tx: &mut dyn WriteTx, ctx: &Ctx<'_>, t: &RecipientTokenRow) -> Result<Outcome, CommandError> {
    let row = RecipientTokenRow { created_at: ctx.now, ..t.clone() };
    tx.insert_recipient_token(&row).await?;
    Ok(Outcome::TokenIssued)
}

/// The recipient, if it belongs to `account` and is active.
async fn active_recipient(
    tx: &mut dyn WriteTx,
    account: AccountId,
    recipient: Uuid,
) -> Result<RecipientRow, CommandError> {
    match tx.recipient(recipient).await? {
        Some(r) if r.account_id == account && r.status == "ACTIVE" => Ok(r),
        _ => Err(CommandError::NotFound { what: "recipient" }),
    }
}

/// A transfer method is a beneficiary of the client (validated by the same corridor rules before
/// it gets here) that belongs to one recipient.
pub async fn create_transfer_method(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    recipient: Uuid,
    b: &NewBeneficiary,
) -> Result<Outcome, CommandError> {
    active_recipient(tx, b.account, recipient).await?;
    let beneficiary = super::beneficiaries::insert(tx, ctx, b).await?;
    let method =
        TransferMethodRow { id: beneficiary.id, recipient_id: recipient, account_id: b.account, created_at: ctx.now };
    tx.insert_transfer_method(&method).await?;
    Ok(Outcome::TransferMethod { recipient, beneficiary: Box::new(beneficiary) })
}

pub async fn create_wallet_payout(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    p: &NewWalletPayout,
) -> Result<Outcome, CommandError> {
    if !allows_wallets(tx, p.account).await? {
        return Err(rejected(
            "payout_model",
            "wallet_model_not_enabled",
            "this account pays recipients to bank accounts; set its payout_model to wallet or both first",
        ));
    }
    active_recipient(tx, p.account, p.recipient)
        .await
        .map_err(|_| rejected("recipient_id", "recipient_not_found", "no active recipient with this id"))?;
    let id = Uuid::now_v7();
    let entry =
        rules::wallet_credit(p.account, p.currency, p.recipient, p.amount, Reference { kind: "wallet_payout", id });
    tx.post_entry(&entry, Uuid::now_v7(), ctx.now).await.map_err(|e| posting(e, p.currency.code()))?;
    let row = WalletPayoutRow {
        id,
        account_id: p.account,
        recipient_id: p.recipient,
        short_reference_id: ctx.short_ref("WP"),
        currency: p.currency.code().to_owned(),
        amount: p.amount.minor(),
        reference: p.reference.clone(),
        status: "COMPLETED".to_owned(),
        created_at: ctx.now,
    };
    tx.insert_wallet_payout(&row).await?;
    let data = json!({
        "wallet_payout_id": row.id,
        "short_reference_id": row.short_reference_id,
        "recipient_id": row.recipient_id,
        "currency": row.currency,
        "amount": crate::events::decimal(row.amount, &row.currency),
        "reference": row.reference,
        "wallet_payout_status": row.status,
    });
    tx.insert_event(&event(p.account, "WALLET_PAYOUT", "wallet_payout.completed", id, data, ctx.now)).await?;
    Ok(Outcome::WalletPayout(Box::new(row)))
}

/// A withdrawal: a held payout from the wallet to one of the recipient's transfer methods, ready
/// to send today (or held for compliance review, as any payout). No fee is charged to the wallet
/// (see docs/wallets.md).
pub async fn create_withdrawal(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    w: &NewWalletWithdrawal,
) -> Result<Outcome, CommandError> {
    active_recipient(tx, w.account, w.recipient).await?;
    let method = match tx.transfer_method(w.transfer_method).await? {
        Some(m) if m.recipient_id == w.recipient && m.account_id == w.account => m,
        _ => {
            return Err(rejected("transfer_method_id", "transfer_method_not_found", "no transfer method with this id"));
        }
    };
    let beneficiary = tx.beneficiary(method.id).await?.ok_or_else(|| {
        rejected("transfer_method_id", "transfer_method_not_found", "no transfer method with this id")
    })?;
    if beneficiary.account_currency_code != w.currency.code() {
        return Err(rejected(
            "currency",
            "currency_mismatch",
            format!(
                "the transfer method receives {}, the withdrawal is in {}",
                beneficiary.account_currency_code,
                w.currency.code()
            ),
        ));
    }
    let swift = beneficiary.payment_method == "SWIFT";
    let method_kind = if swift { PaymentMethod::Swift } else { PaymentMethod::Local };
    if let Err(rule) = check_payout_reference(&w.reference, method_kind, &beneficiary.account_currency_code) {
        return Err(rejected("reference", "invalid_reference", format!("reference {rule}")));
    }
    // Today in the corridor's local time; the rail releases it at the corridor's next cut-off.
    let corridor = outlay_core::corridors::lookup(&beneficiary.bank_country_code, &beneficiary.account_currency_code);
    let today = corridor.map_or(ctx.now.date(), |c| ctx.now.to_offset(c.offset_at(ctx.now)).date());
    // Sanctions screening and the account's rules, exactly as for any payout.
    let check = super::compliance::check_payout(tx, ctx, w.account, w.currency, w.amount, &beneficiary).await?;
    let id = Uuid::now_v7();
    let hold = rules::wallet_hold(w.account, w.currency, w.recipient, w.amount, Reference { kind: "payout", id });
    tx.post_entry(&hold, Uuid::now_v7(), ctx.now).await.map_err(|e| match e {
        PostError::Insufficient { .. } => rejected(
            "amount",
            "insufficient_wallet_balance",
            format!("the wallet holds less than the amount in {}", w.currency.code()),
        ),
        other => posting(other, w.currency.code()),
    })?;
    let row = PayoutRow {
        id,
        account_id: w.account,
        short_reference_id: ctx.short_ref("P"),
        unique_request_id: None,
        currency: w.currency.code().to_owned(),
        amount: w.amount.minor(),
        fee_amount: 0,
        fee_paid_by: swift.then(|| "OURS".to_owned()),
        payout_currency: w.currency.code().to_owned(),
        payout_amount: w.amount.minor(),
        quote_id: None,
        client_rate: None,
        purpose_code: PurposeCode::TransferToOwnAccount.code().to_owned(),
        payout_reference: w.reference.clone(),
        payout_date: today,
        payment_method: beneficiary.payment_method.clone(),
        clearing_system: beneficiary.clearing_system.clone(),
        beneficiary_id: beneficiary.id,
        beneficiary: super::payouts::beneficiary_snapshot(&beneficiary),
        payer: None,
        documentation: json!([]),
        state: if check.held() { PayoutState::InReview } else { PayoutState::ReadyToSend }.code().to_owned(),
        failure_reason: None,
        failure_returned_amount: 0,
        created_at: ctx.now,
        updated_at: ctx.now,
        completed_at: None,
        // A recipient withdrawing its own wallet: no maker-checker.
        created_by: None,
        approved_by: None,
        approved_at: None,
    };
    tx.insert_payout(&row).await?;
    tx.insert_wallet_withdrawal(&WalletWithdrawalRow {
        payout_id: id,
        recipient_id: w.recipient,
        account_id: w.account,
        transfer_method_id: method.id,
        created_at: ctx.now,
    })
    .await?;
    if check.held() {
        // `payout.ready.send` waits for the reviewer's clearance.
        super::compliance::hold_payout(tx, ctx, &row, check).await?;
    } else {
        let mut data = payout_data(&row);
        data["wallet_recipient_id"] = json!(w.recipient);
        tx.insert_event(&event(w.account, "PAYOUT", "payout.ready.send", id, data, ctx.now)).await?;
    }
    Ok(Outcome::Payout(Box::new(row)))
}
