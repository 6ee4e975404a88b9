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
