//! A client moves available funds out to its designated bank account: a two-phase hold, posted
//! when the bank confirms, voided (funds returned) when it fails.

use outlay_core::ledger::{Reference, rules};
use outlay_core::{AccountId, Amount, Currency};
use outlay_store::{WithdrawalRow, WriteTx};
use uuid::Uuid;

use super::{Ctx, posting};
use crate::events::{event, withdrawal_data};
use crate::{CommandError, Outcome, Settlement};

fn reference(id: Uuid) -> Reference {
    Reference { kind: "withdrawal", id }
}

async fn emit(tx: &mut dyn WriteTx, ctx: &Ctx<'_>, w: &WithdrawalRow, event_type: &str) -> Result<(), CommandError> {
    tx.insert_event(&event(w.account_id, "WITHDRAWAL", event_type, w.id, withdrawal_data(w), ctx.now)).await?;
    Ok(())
}

fn last4(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

pub async fn create(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: AccountId,
    currency: Currency,
    amount: Amount,
    reference_text: Option<&str>,
) -> Result<Outcome, CommandError> {
    let Some(row) = tx.account(account).await? else {
        return Err(CommandError::NotFound { what: "account" });
    };
    let Some(bank) = row.bank_account else {
        return Err(CommandError::Rejected {
            field: "account",
            code: "no_designated_bank_account",
            message: "this account has no designated bank account; the operator sets one with `outlay accounts set-bank-account`".into(),
        });
    };
    let withdrawal = WithdrawalRow {
        id: Uuid::now_v7(),
        account_id: account,
        short_reference_id: ctx.short_ref("W"),
        currency: currency.code().to_owned(),
        amount: amount.minor(),
        fee: 0,
        status: "PENDING".to_owned(),
        reference: reference_text.map(str::to_owned),
        bank_account_holder: bank.account_holder.clone(),
        bank_account_last4: last4(&bank.account_number),
        bank_country_code: bank.bank_country_code.clone(),
        failure_reason: None,
        created_at: ctx.now,
        updated_at: ctx.now,
        completed_at: None,
    };
    let hold = rules::hold(account, currency, amount, reference(withdrawal.id));
    tx.post_entry(&hold, Uuid::now_v7(), ctx.now).await.map_err(|e| posting(e, currency.code()))?;
    tx.insert_withdrawal(&withdrawal).await?;
    emit(tx, ctx, &withdrawal, "withdrawal.pending").await?;
    Ok(Outcome::Withdrawal(withdrawal))
}

pub async fn settle(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: AccountId,
    id: Uuid,
    settlement: &Settlement,
) -> Result<Outcome, CommandError> {
    let mut w = match tx.withdrawal(id).await? {
        Some(w) if w.account_id == account => w,
        _ => return Err(CommandError::NotFound { what: "withdrawal" }),
    };
    if w.status != "PENDING" {
        return Err(CommandError::InvalidState(format!(
            "withdrawal is {}, only a PENDING withdrawal can be settled",
            w.status
        )));
    }
    let currency = Currency::parse(&w.currency).map_err(|e| CommandError::Internal(format!("stored currency: {e}")))?;
    let amount = Amount::from_minor(w.amount).map_err(|e| CommandError::Internal(format!("stored amount: {e}")))?;
    let fee = Amount::from_minor(w.fee).map_err(|e| CommandError::Internal(format!("stored fee: {e}")))?;
    let (entry, status, reason, event_type) = match settlement {
        Settlement::Complete => {
            (rules::post_hold(account, currency, amount, fee, reference(id)), "COMPLETED", None, "withdrawal.completed")
        }
        Settlement::Fail { reason } => {
            let total = amount.checked_add(fee).ok_or_else(|| CommandError::Internal("amount overflow".into()))?;
            (
                rules::void_hold(account, currency, total, reference(id)),
                "FAILED",
                Some(reason.as_str()),
                "withdrawal.failed",
            )
        }
    };
    tx.post_entry(&entry, Uuid::now_v7(), ctx.now).await.map_err(|e| posting(e, currency.code()))?;
    tx.set_withdrawal_status(id, status, ctx.now, reason).await?;
    w.status = status.to_owned();
    w.updated_at = ctx.now;
    w.failure_reason = reason.map(str::to_owned);
    if status == "COMPLETED" {
        w.completed_at = Some(ctx.now);
    }
    emit(tx, ctx, &w, event_type).await?;
    Ok(Outcome::Withdrawal(w))
}
