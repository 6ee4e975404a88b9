//! PostgreSQL: credentials and the grants of their tokens (SQL and row mapping).

use tokio_postgres::Row;

use super::col;
use crate::{CredentialView, StoreResult, TokenGrant};
use outlay_core::AccountId;

pub const SQL_TOKEN_GRANT: &str = "SELECT t.credential_id, t.account_id, c.role, t.expires_at FROM auth_tokens t \
     JOIN credentials c ON c.id = t.credential_id WHERE t.token_hash = $1 AND c.revoked_at IS NULL";
pub const SQL_CREDENTIALS: &str = "SELECT id, account_id, client_id, role, created_at, revoked_at FROM credentials \
     WHERE account_id = $1 ORDER BY created_at, id";
pub const SQL_REVOKE: &str =
    "UPDATE credentials SET revoked_at = $3 WHERE id = $1 AND account_id = $2 AND revoked_at IS NULL";
pub const SQL_DROP_TOKENS: &str = "DELETE FROM auth_tokens WHERE credential_id = $1";

pub fn grant_from_row(r: &Row) -> StoreResult<TokenGrant> {
    Ok(TokenGrant {
        credential_id: col(r, 0)?,
        account_id: AccountId(col(r, 1)?),
        role: col(r, 2)?,
        expires_at: col(r, 3)?,
    })
}

pub fn view_from_row(r: &Row) -> StoreResult<CredentialView> {
    Ok(CredentialView {
        id: col(r, 0)?,
        account_id: AccountId(col(r, 1)?),
        client_id: col(r, 2)?,
        role: col(r, 3)?,
        created_at: col(r, 4)?,
        revoked_at: col(r, 5)?,
    })
}
