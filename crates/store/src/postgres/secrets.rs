//! PostgreSQL: re-encrypting every stored secret with the active key (key rotation). The SQL
//! is listed here; postgres.rs runs it in the writer's transaction.

/// (select, update) per sealed JSON column.
pub const SEALED: &[(&str, &str)] = &[
    (
        "SELECT id, bank_details FROM beneficiaries FOR UPDATE",
        "UPDATE beneficiaries SET bank_details = $2 WHERE id = $1",
    ),
    (
        "SELECT id, additional_info FROM beneficiaries WHERE additional_info IS NOT NULL FOR UPDATE",
        "UPDATE beneficiaries SET additional_info = $2 WHERE id = $1",
    ),
    ("SELECT id, beneficiary FROM payouts FOR UPDATE", "UPDATE payouts SET beneficiary = $2 WHERE id = $1"),
    ("SELECT id, payer FROM payouts WHERE payer IS NOT NULL FOR UPDATE", "UPDATE payouts SET payer = $2 WHERE id = $1"),
    (
        "SELECT id, bank_account::text FROM accounts WHERE bank_account IS NOT NULL FOR UPDATE",
        "UPDATE accounts SET bank_account = $2::text::jsonb WHERE id = $1",
    ),
];

/// (select, update) per plain-text column encrypted whole, keyed by `id` (clear values stored
/// before they were sealed are encrypted too).
pub const SEALED_TEXT: &[(&str, &str)] = &[
    (
        "SELECT id, sender_account_number FROM deposits WHERE sender_account_number IS NOT NULL FOR UPDATE",
        "UPDATE deposits SET sender_account_number = $2 WHERE id = $1",
    ),
    (
        "SELECT id, receiver_account_number FROM deposits WHERE receiver_account_number IS NOT NULL FOR UPDATE",
        "UPDATE deposits SET receiver_account_number = $2 WHERE id = $1",
    ),
];

/// Batch rows' payloads (keyed by batch and row number), encrypted whole.
pub const SQL_BATCH_PAYLOADS: &str =
    "SELECT batch_id, row_number, payload FROM payout_batch_items WHERE payload IS NOT NULL FOR UPDATE";
pub const SQL_BATCH_PAYLOAD_UPDATE: &str =
    "UPDATE payout_batch_items SET payload = $3 WHERE batch_id = $1 AND row_number = $2";

/// Uploaded documents (`files.content`), sealed whole as bytes.
pub const SQL_FILE_IDS: &str = "SELECT id FROM files FOR UPDATE";
pub const SQL_FILE_CONTENT: &str = "SELECT content FROM files WHERE id = $1";
pub const SQL_FILE_CONTENT_UPDATE: &str = "UPDATE files SET content = $2 WHERE id = $1";
