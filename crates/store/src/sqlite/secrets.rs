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

/// (table, key columns, plain-text columns encrypted whole)
const SEALED_TEXT: &[(&str, &[&str], &[&str])] = &[
    ("deposits", &["id"], &["sender_account_number", "receiver_account_number"]),
    ("payout_batch_items", &["batch_id", "row_number"], &["payload"]),
];

/// Re-encrypt the plain-text columns (clear values stored before they were sealed included).
fn reseal_text(conn: &Connection, keys: &KeyRing) -> StoreResult<u64> {
    use rusqlite::types::Value;
    let mut changed = 0;
    for (table, key, columns) in SEALED_TEXT {
        let key_list = key.join(", ");
        let key_match =
            key.iter().enumerate().map(|(n, k)| format!("{k} = ?{}", n + 2)).collect::<Vec<_>>().join(" AND ");
        for column in *columns {
            let rows: Vec<(Vec<Value>, String)> = {
                let mut stmt =
                    conn.prepare(&format!("SELECT {key_list}, {column} FROM {table} WHERE {column} IS NOT NULL"))?;
                let mapped = stmt.query_map([], |r| {
                    let ids = (0..key.len()).map(|n| r.get::<_, Value>(n)).collect::<Result<Vec<_>, _>>()?;
                    Ok((ids, r.get(key.len())?))
                })?;
                mapped.collect::<Result<_, _>>()?
            };
            for (ids, text) in rows {
                let sealed = keys.encrypt(&text)?;
                if sealed != text {
                    let mut values = vec![Value::Text(sealed)];
                    values.extend(ids);
                    conn.execute(
                        &format!("UPDATE {table} SET {column} = ?1 WHERE {key_match}"),
                        rusqlite::params_from_iter(values),
                    )?;
                    changed += 1;
                }
            }
        }
    }
    Ok(changed)
}

/// Uploaded documents (`files.content`), sealed whole as bytes, one at a time (each up to 20 MiB).
fn reseal_files(conn: &Connection, keys: &KeyRing) -> StoreResult<u64> {
    let ids: Vec<String> = {
        let mut stmt = conn.prepare("SELECT id FROM files")?;
        let mapped = stmt.query_map([], |r| r.get(0))?;
        mapped.collect::<Result<_, _>>()?
    };
    let mut changed = 0;
    for id in ids {
        let content: Vec<u8> = conn.query_row("SELECT content FROM files WHERE id = ?1", [&id], |r| r.get(0))?;
        let sealed = keys.reseal_bytes(&content)?;
        if sealed != content {
            conn.execute("UPDATE files SET content = ?2 WHERE id = ?1", params![id, sealed])?;
            changed += 1;
        }
    }
    Ok(changed)
}

pub fn reseal(conn: &Connection, keys: &KeyRing) -> StoreResult<u64> {
    let mut changed = reseal_text(conn, keys)? + reseal_files(conn, keys)?;
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
