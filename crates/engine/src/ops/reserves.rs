//! The operator sets a reserve: funds move available ↔ reserve, refused when available is short.

use outlay_core::ledger::{Kind, LedgerKey, Reference, rules};
use outlay_core::{AccountId, Amount, Currency};
use outlay_store::WriteTx;
use uuid::Uuid;

use super::{Ctx, posting};
use crate::{CommandError, Outcome};

pub async fn set(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: AccountId,
    currency: Currency,
    target: Amount,
) -> Result<Outcome, CommandError> {
    if tx.account(account).await?.is_none() {
        return Err(CommandError::NotFound { what: "account" });
    }
    let reserve_key = LedgerKey::client(account, currency, Kind::Reserve);
    let current = tx.ledger_balance(&reserve_key).await?;
    let delta = target.minor() - current;
    let change_id = Uuid::now_v7();
    if let Some(entry) = rules::adjust_reserve(account, currency, delta, Reference { kind: "reserve", id: change_id }) {
        tx.post_entry(&entry, Uuid::now_v7(), ctx.now).await.map_err(|e| posting(e, currency.code()))?;
    }
    let available = tx.ledger_balance(&LedgerKey::client(account, currency, Kind::Available)).await?;
    Ok(Outcome::ReserveSet {
        currency,
        reserve: target,
        available: Amount::from_minor(available).map_err(|e| CommandError::Internal(e.to_string()))?,
    })
}
