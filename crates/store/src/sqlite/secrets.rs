//! SQLite: re-encrypting every stored secret with the active key (key rotation).

use rusqlite::{Connection, params};

use crate::StoreResult;
use crate::crypto::KeyRing;

/// (table, id column, JSON columns holding account or identity numbers)
const SEALED: &[(&str, &[&str])] = &[
    ("beneficiaries", &["bank_details", "additional_info"]),
    ("payouts", &["beneficiary", "payer"]),
    ("accounts", &["bank_account"]),
];

pub fn reseal(conn: &Connection, keys: &KeyRing) -> StoreResult<u64> {
    let mut changed = 0;
    for (table, columns) in SEALED {
        for column in *columns {
            let rows: Vec<(String, String)> = {
                let mut stmt = conn.prepare(&format!("SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL"))?;
                let mapped = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                mapped.collect::<Result<_, _>>()?
            };
            for (id, text) in rows {
                let value: serde_json::Value = serde_json::from_str(&text).map_err(crate::StoreError::corrupt)?;
                let sealed = keys.seal_json(&value)?;
                if sealed != value {
                    let sealed = sealed.to_string();
                    conn.execute(&format!("UPDATE {table} SET {column} = ?2 WHERE id = ?1"), params![id, sealed])?;
                    changed += 1;
                }
            }
        }
    }
    Ok(changed)
}
