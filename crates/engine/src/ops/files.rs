//! Uploaded supporting documents, stored in the database so every node can read them.

use outlay_core::AccountId;
use outlay_store::{FileRow, WriteTx};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Ctx;
use crate::{CommandError, FileUpload, Outcome};

pub(super) async fn insert(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: AccountId,
    f: &FileUpload,
) -> Result<FileRow, CommandError> {
    let row = FileRow {
        id: Uuid::now_v7(),
        account_id: account,
        file_name: f.name.clone(),
        file_type: f.file_type.to_owned(),
        size: i64::try_from(f.bytes.len()).map_err(|_| CommandError::Internal("file too large".into()))?,
        sha256: hex::encode(Sha256::digest(&f.bytes)),
        notes: f.notes.clone(),
        created_at: ctx.now,
    };
    tx.insert_file(&row, &f.bytes).await?;
    Ok(row)
}

pub async fn upload(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: AccountId,
    f: &FileUpload,
) -> Result<Outcome, CommandError> {
    Ok(Outcome::File(insert(tx, ctx, account, f).await?))
}
