//! Good Funds: money arrives at the FBO bank, lands in pending, then clears to available (or is
//! rejected and returned to the sender, leaving client balances as they were).

use outlay_core::AccountId;
use outlay_core::ledger::{Reference, rules};
use outlay_core::{Amount, Currency};
use outlay_store::{DepositRow, WriteTx};
use uuid::Uuid;

use super::{Ctx, posting};
use crate::events::{deposit_data, event};
use crate::{CommandError, DepositOutcome, NewDeposit, Outcome, Settlement};

fn reference(id: Uuid) -> Reference {
    Reference { kind: "deposit", id }
}

fn parts(d: &DepositRow) -> Result<(Currency, Amount), CommandError> {
    let currency = Currency::parse(&d.currency).map_err(|e| CommandError::Internal(format!("stored currency: {e}")))?;
    let amount = Amount::from_minor(d.amount).map_err(|e| CommandError::Internal(format!("stored amount: {e}")))?;
    Ok((currency, amount))
}

async fn emit(tx: &mut dyn WriteTx, ctx: &Ctx<'_>, d: &DepositRow, event_type: &str) -> Result<(), CommandError> {
    tx.insert_event(&event(d.account_id, "DEPOSIT", event_type, d.id, deposit_data(d), ctx.now)).await?;
    Ok(())
}

pub async fn create(tx: &mut dyn WriteTx, ctx: &Ctx<'_>, d: &NewDeposit) -> Result<Outcome, CommandError> {
    if tx.account(d.account).await?.is_none() {
        return Err(CommandError::NotFound { what: "account" });
    }
    let mut row = DepositRow {
        id: Uuid::now_v7(),
        account_id: d.account,
        short_reference_id: ctx.short_ref("D"),
        currency: d.currency.code().to_owned(),
        amount: d.amount.minor(),
        fee: 0,
        status: "PENDING".to_owned(),
        receiver_account_number: d.receiver_account_number.clone(),
        deposit_reference: d.deposit_reference.clone(),
        sender_name: d.sender_name.clone(),
        sender_country: d.sender_country.clone(),
        sender_account_number: d.sender_account_number.clone(),
        sender_swift_code: d.sender_swift_code.clone(),
        source: d.source.to_owned(),
        created_at: ctx.now,
        completed_at: None,
    };
    if d.outcome == DepositOutcome::Rejected {
        row.status = "FAILED".to_owned();
        tx.insert_deposit(&row).await?;
        emit(tx, ctx, &row, "deposit.compliance.rejected").await?;
        return Ok(Outcome::Deposit(row));
    }
    tx.insert_deposit(&row).await?;
    let received = rules::deposit_received(d.account, d.currency, d.amount, reference(row.id));
    tx.post_entry(&received, Uuid::now_v7(), ctx.now).await.map_err(|e| posting(e, d.currency.code()))?;
    emit(tx, ctx, &row, "deposit.pending").await?;
    if d.outcome == DepositOutcome::Cleared {
        return clear(tx, ctx, row).await;
    }
    Ok(Outcome::Deposit(row))
}

async fn clear(tx: &mut dyn WriteTx, ctx: &Ctx<'_>, mut row: DepositRow) -> Result<Outcome, CommandError> {
    let (currency, amount) = parts(&row)?;
    let cleared = rules::deposit_cleared(row.account_id, currency, amount, reference(row.id));
    tx.post_entry(&cleared, Uuid::now_v7(), ctx.now).await.map_err(|e| posting(e, currency.code()))?;
    tx.set_deposit_status(row.id, "COMPLETED", Some(ctx.now)).await?;
    row.status = "COMPLETED".to_owned();
    row.completed_at = Some(ctx.now);
    emit(tx, ctx, &row, "deposit.completed").await?;
    Ok(Outcome::Deposit(row))
}

pub async fn settle(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: AccountId,
    id: Uuid,
    settlement: &Settlement,
) -> Result<Outcome, CommandError> {
    let row = match tx.deposit(id).await? {
        Some(row) if row.account_id == account => row,
        _ => return Err(CommandError::NotFound { what: "deposit" }),
    };
    if row.status != "PENDING" {
        return Err(CommandError::InvalidState(format!(
            "deposit is {}, only a PENDING deposit can be settled",
            row.status
        )));
    }
    match settlement {
        Settlement::Complete => clear(tx, ctx, row).await,
        Settlement::Fail { .. } => {
            let (currency, amount) = parts(&row)?;
            let returned = rules::deposit_returned(row.account_id, currency, amount, reference(row.id));
            tx.post_entry(&returned, Uuid::now_v7(), ctx.now).await.map_err(|e| posting(e, currency.code()))?;
            tx.set_deposit_status(row.id, "FAILED", Some(ctx.now)).await?;
            let mut row = row;
            row.status = "FAILED".to_owned();
            row.completed_at = Some(ctx.now);
            emit(tx, ctx, &row, "deposit.compliance.rejected").await?;
            Ok(Outcome::Deposit(row))
        }
    }
}
