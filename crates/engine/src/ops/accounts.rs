use outlay_core::AccountId;
use outlay_store::{AccountRow, BankAccount, CredentialRow, TokenRow, WriteTx};
use time::OffsetDateTime;
use uuid::Uuid;

use super::Ctx;
use crate::{CommandError, Outcome};

pub async fn create(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    name: &str,
    parent: Option<AccountId>,
    client_id: &str,
    api_key_hash: &str,
) -> Result<Outcome, CommandError> {
    if let Some(parent) = parent {
        match tx.account(parent).await? {
            Some(p) if p.parent_id.is_none() => {}
            Some(_) => {
                return Err(CommandError::Rejected {
                    field: "parent",
                    code: "invalid_parent",
                    message: "a connected account cannot have connected accounts of its own".into(),
                });
            }
            None => return Err(CommandError::NotFound { what: "parent account" }),
        }
    }
    let account = AccountRow {
        id: AccountId::new_v7(),
        name: name.to_owned(),
        parent_id: parent,
        kind: if parent.is_some() { "connected" } else { "platform" }.to_owned(),
        status: "ACTIVE".to_owned(),
        bank_account: None,
        created_at: ctx.now,
    };
    tx.insert_account(&account).await?;
    let credential = CredentialRow {
        id: Uuid::now_v7(),
        account_id: account.id,
        client_id: client_id.to_owned(),
        secret_hash: api_key_hash.to_owned(),
        role: "admin".to_owned(),
        created_at: ctx.now,
    };
    tx.insert_credential(&credential).await?;
    Ok(Outcome::AccountCreated { account, credential_id: credential.id })
}

pub async fn create_credential(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: AccountId,
    role: outlay_core::roles::Role,
    client_id: &str,
    api_key_hash: &str,
) -> Result<Outcome, CommandError> {
    if tx.account(account).await?.is_none() {
        return Err(CommandError::NotFound { what: "account" });
    }
    let credential = CredentialRow {
        id: Uuid::now_v7(),
        account_id: account,
        client_id: client_id.to_owned(),
        secret_hash: api_key_hash.to_owned(),
        role: role.as_str().to_owned(),
        created_at: ctx.now,
    };
    tx.insert_credential(&credential).await?;
    Ok(Outcome::CredentialCreated(credential))
}

pub async fn revoke_credential(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: AccountId,
    credential: Uuid,
) -> Result<Outcome, CommandError> {
    if tx.revoke_credential(account, credential, ctx.now).await? {
        Ok(Outcome::CredentialRevoked)
    } else {
        Err(CommandError::NotFound { what: "credential" })
    }
}

pub async fn set_bank(
    tx: &mut dyn WriteTx,
    account: AccountId,
    bank: Option<&BankAccount>,
) -> Result<Outcome, CommandError> {
    if tx.set_bank_account(account, bank).await? {
        Ok(Outcome::BankAccountSet)
    } else {
        Err(CommandError::NotFound { what: "account" })
    }
}

pub async fn issue_token(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: AccountId,
    credential: Uuid,
    token_hash: &str,
    expires_at: OffsetDateTime,
) -> Result<Outcome, CommandError> {
    let row = TokenRow {
        token_hash: token_hash.to_owned(),
        credential_id: credential,
        account_id: account,
        expires_at,
        created_at: ctx.now,
    };
    tx.insert_token(&row).await?;
    Ok(Outcome::TokenIssued)
}
