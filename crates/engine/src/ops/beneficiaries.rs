//! Stored beneficiaries: created on their own or inline with a payout; the entity type of a
//! beneficiary never changes.

use outlay_core::AccountId;
use outlay_store::{BeneficiaryRow, WriteTx};
use uuid::Uuid;

use super::Ctx;
use crate::events::event;
use crate::{CommandError, NewBeneficiary, Outcome};

fn data(b: &BeneficiaryRow) -> serde_json::Value {
    serde_json::json!({
        "beneficiary_id": b.id,
        "short_reference_id": b.short_reference_id,
        "entity_type": b.entity_type,
        "payment_method": b.payment_method,
        "beneficiary_status": if b.status == "ACTIVE" { "ACTIVE" } else { "INACTIVE" },
        "currency": b.account_currency_code,
        "country": b.bank_country_code,
    })
}

pub(super) async fn insert(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    b: &NewBeneficiary,
) -> Result<BeneficiaryRow, CommandError> {
    let row = BeneficiaryRow {
        id: Uuid::now_v7(),
        account_id: b.account,
        short_reference_id: ctx.short_ref("BF"),
        entity_type: b.entity_type.clone(),
        payment_method: b.payment_method.clone(),
        first_name: b.first_name.clone(),
        last_name: b.last_name.clone(),
        company_name: b.company_name.clone(),
        nickname: b.nickname.clone(),
        email: b.email.clone(),
        bank_country_code: b.bank_country_code.clone(),
        account_currency_code: b.account_currency_code.clone(),
        clearing_system: b.clearing_system.clone(),
        bank_details: b.bank_details.clone(),
        address: b.address.clone(),
        additional_info: b.additional_info.clone(),
        status: "ACTIVE".to_owned(),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    tx.insert_beneficiary(&row).await?;
    tx.insert_event(&event(b.account, "BENEFICIARY", "beneficiary.successful", row.id, data(&row), ctx.now)).await?;
    super::compliance::screen_beneficiary(tx, ctx, &row).await?;
    Ok(row)
}

pub async fn create(tx: &mut dyn WriteTx, ctx: &Ctx<'_>, b: &NewBeneficiary) -> Result<Outcome, CommandError> {
    Ok(Outcome::Beneficiary(insert(tx, ctx, b).await?))
}

async fn owned(tx: &mut dyn WriteTx, account: AccountId, id: Uuid) -> Result<BeneficiaryRow, CommandError> {
    match tx.beneficiary(id).await? {
        Some(b) if b.account_id == account => Ok(b),
        _ => Err(CommandError::NotFound { what: "beneficiary" }),
    }
}

pub async fn update(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    id: Uuid,
    b: &NewBeneficiary,
) -> Result<Outcome, CommandError> {
    let current = owned(tx, b.account, id).await?;
    if current.entity_type != b.entity_type {
        return Err(CommandError::Rejected {
            field: "entity_type",
            code: "entity_type_immutable",
            message: "entity_type of a beneficiary cannot be modified".into(),
        });
    }
    let row = BeneficiaryRow {
        payment_method: b.payment_method.clone(),
        first_name: b.first_name.clone(),
        last_name: b.last_name.clone(),
        company_name: b.company_name.clone(),
        nickname: b.nickname.clone(),
        email: b.email.clone(),
        bank_country_code: b.bank_country_code.clone(),
        account_currency_code: b.account_currency_code.clone(),
        clearing_system: b.clearing_system.clone(),
        bank_details: b.bank_details.clone(),
        address: b.address.clone(),
        additional_info: b.additional_info.clone(),
        updated_at: ctx.now,
        ..current
    };
    tx.update_beneficiary(&row).await?;
    tx.insert_event(&event(row.account_id, "BENEFICIARY", "beneficiary.successful", row.id, data(&row), ctx.now))
        .await?;
    super::compliance::screen_beneficiary(tx, ctx, &row).await?;
    Ok(Outcome::Beneficiary(row))
}

pub async fn delete(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: AccountId,
    id: Uuid,
) -> Result<Outcome, CommandError> {
    let current = owned(tx, account, id).await?;
    // Payouts keep their own snapshot of the beneficiary, so deleting is a soft delete.
    let row = BeneficiaryRow { status: "DELETED".to_owned(), updated_at: ctx.now, ..current };
    tx.update_beneficiary(&row).await?;
    tx.insert_event(&event(account, "BENEFICIARY", "beneficiary.deleted", row.id, data(&row), ctx.now)).await?;
    Ok(Outcome::BeneficiaryDeleted)
}
