//! SFTP: registered public keys, and the record of every file received (so a restart finishes
//! what was received and the same content is never processed twice).

use outlay_core::AccountId;
use outlay_store::{SftpFileRow, SftpKeyRow, WriteTx};
use uuid::Uuid;

use super::Ctx;
use crate::{CommandError, Outcome};

pub async fn add_key(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: AccountId,
    public_key: &str,
    fingerprint: &str,
) -> Result<Outcome, CommandError> {
    if tx.account(account).await?.is_none() {
        return Err(CommandError::NotFound { what: "account" });
    }
    if tx.sftp_key_by_fingerprint(fingerprint).await?.is_some() {
        return Err(CommandError::Rejected {
            field: "public_key",
            code: "duplicate_key",
            message: format!("public_key {fingerprint} is already registered"),
        });
    }
    let row = SftpKeyRow {
        id: Uuid::now_v7(),
        account_id: account,
        public_key: public_key.to_owned(),
        fingerprint: fingerprint.to_owned(),
        created_at: ctx.now,
        revoked_at: None,
    };
    tx.insert_sftp_key(&row).await?;
    Ok(Outcome::SftpKey(Box::new(row)))
}

pub async fn revoke_key(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: AccountId,
    id: Uuid,
) -> Result<Outcome, CommandError> {
    if tx.revoke_sftp_key(account, id, ctx.now).await? {
        Ok(Outcome::SftpKeyRevoked)
    } else {
        Err(CommandError::NotFound { what: "sftp key" })
    }
}

/// Record a received file. The same content already received (and not refused) for the same
/// account and kind makes this one `refused` as a duplicate.
pub async fn record_file(tx: &mut dyn WriteTx, ctx: &Ctx<'_>, file: &SftpFileRow) -> Result<Outcome, CommandError> {
    let mut row = file.clone();
    row.created_at = ctx.now;
    row.updated_at = ctx.now;
    if let Some(first) = tx.sftp_file_by_content(file.account_id, &file.kind, &file.sha256).await? {
        row.status = "refused".to_owned();
        row.detail = Some(format!("duplicate_file: the same content was received as {} ({})", first.name, first.id));
    }
    tx.insert_sftp_file(&row).await?;
    Ok(Outcome::SftpFile(Box::new(row)))
}

pub async fn update_file(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    id: Uuid,
    status: &str,
    batch_id: Option<Uuid>,
    detail: Option<&str>,
) -> Result<Outcome, CommandError> {
    if tx.sftp_file(id).await?.is_none() {
        return Err(CommandError::NotFound { what: "sftp file" });
    }
    tx.update_sftp_file(id, status, batch_id, detail, ctx.now).await?;
    match tx.sftp_file(id).await? {
        Some(row) => Ok(Outcome::SftpFile(Box::new(row))),
        None => Err(CommandError::NotFound { what: "sftp file" }),
    }
}
