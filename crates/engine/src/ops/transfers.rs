//! Internal transfers between a platform account and its connected accounts. Each side is an
//! entry on its own client's chain (both chains are locked up front), written in one
//! transaction through a transfer clearing account that nets to zero.

use outlay_core::AccountId;
use outlay_core::ledger::{Reference, rules};
use outlay_store::{TransferRow, WriteTx};
use serde_json::json;
use uuid::Uuid;

use super::{Ctx, posting};
use crate::events::{decimal, event, rfc3339};
use crate::{CommandError, NewTransfer, Outcome};

fn rejected(field: &'static str, code: &'static str, message: impl Into<String>) -> CommandError {
    CommandError::Rejected { field, code, message: message.into() }
}

/// Whether `account` is `principal` or one of its connected accounts.
async fn in_family(tx: &mut dyn WriteTx, principal: AccountId, account: AccountId) -> Result<bool, CommandError> {
    Ok(account == principal
        || tx.account(account).await?.is_some_and(|a| a.parent_id == Some(principal) && a.status == "ACTIVE"))
}

pub async fn create(tx: &mut dyn WriteTx, ctx: &Ctx<'_>, t: &NewTransfer) -> Result<Outcome, CommandError> {
    if t.source == t.target {
        return Err(rejected(
            "target_account_id",
            "same_account",
            "target_account_id must differ from source_account_id",
        ));
    }
    if !in_family(tx, t.principal, t.source).await? {
        return Err(rejected(
            "source_account_id",
            "account_not_found",
            "source_account_id is not your account or one of its connected accounts",
        ));
    }
    if !in_family(tx, t.principal, t.target).await? {
        return Err(rejected(
            "target_account_id",
            "account_not_found",
            "target_account_id is not your account or one of its connected accounts",
        ));
    }
    let id = Uuid::now_v7();
    let reference = Reference { kind: "transfer", id };
    let out = rules::transfer_out(t.source, t.currency, t.amount, reference);
    tx.post_entry(&out, Uuid::now_v7(), ctx.now).await.map_err(|e| posting(e, t.currency.code()))?;
    let into = rules::transfer_in(t.target, t.currency, t.amount, reference);
    tx.post_entry(&into, Uuid::now_v7(), ctx.now).await.map_err(|e| posting(e, t.currency.code()))?;
    let row = TransferRow {
        id,
        account_id: t.principal,
        short_reference_id: ctx.short_ref("T"),
        source_account_id: t.source,
        target_account_id: t.target,
        currency: t.currency.code().to_owned(),
        amount: t.amount.minor(),
        reason: t.reason.clone(),
        status: "COMPLETED".to_owned(),
        created_at: ctx.now,
        completed_at: Some(ctx.now),
    };
    tx.insert_transfer(&row).await?;
    let data = json!({
        "transfer_id": row.id,
        "short_reference_id": row.short_reference_id,
        "source_account_id": row.source_account_id,
        "destination_account_id": row.target_account_id,
        "amount": decimal(row.amount, &row.currency),
        "currency": row.currency,
        "transfer_status": row.status,
        "reason": row.reason,
        "create_time": rfc3339(row.created_at),
        "complete_time": row.completed_at.map(rfc3339),
    });
    tx.insert_event(&event(t.principal, "TRANSFER", "transfer.completed", id, data, ctx.now)).await?;
    Ok(Outcome::Transfer(Box::new(row)))
}
