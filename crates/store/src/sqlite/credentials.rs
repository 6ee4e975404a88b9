//! SQLite: credentials and the grants of their tokens.

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{account_id, from_ms, ms, opt_from_ms, uuid};
use crate::{CredentialView, StoreResult, TokenGrant};
use outlay_core::AccountId;

pub fn token_grant(conn: &Connection, token_hash: &str) -> StoreResult<Option<TokenGrant>> {
    let raw: Option<(String, String, String, i64)> = conn
        .prepare_cached(
            "SELECT t.credential_id, t.account_id, c.role, t.expires_at FROM auth_tokens t \
             JOIN credentials c ON c.id = t.credential_id WHERE t.token_hash = ?1 AND c.revoked_at IS NULL",
        )?
        .query_row([token_hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    raw.map(|(credential, account, role, expires)| {
        Ok(TokenGrant {
            credential_id: uuid(&credential)?,
            account_id: account_id(&account)?,
            role,
            expires_at: from_ms(expires)?,
        })
    })
    .transpose()
}

pub fn credentials(conn: &Connection, account: AccountId) -> StoreResult<Vec<CredentialView>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, account_id, client_id, role, created_at, revoked_at FROM credentials \
         WHERE account_id = ?1 ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map([account.to_string()], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, Option<i64>>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, account, client_id, role, created, revoked) = row?;
        out.push(CredentialView {
            id: uuid(&id)?,
            account_id: account_id(&account)?,
            client_id,
            role,
            created_at: from_ms(created)?,
            revoked_at: opt_from_ms(revoked)?,
        });
    }
    Ok(out)
}

pub fn revoke(conn: &Connection, account: AccountId, id: Uuid, at: OffsetDateTime) -> StoreResult<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE credentials SET revoked_at = ?3 WHERE id = ?1 AND account_id = ?2 AND revoked_at IS NULL",
        )?
        .execute(params![id.to_string(), account.to_string(), ms(at)])?;
    if changed > 0 {
        conn.prepare_cached("DELETE FROM auth_tokens WHERE credential_id = ?1")?.execute([id.to_string()])?;
    }
    Ok(changed > 0)
}
