//! A small migrator shared by both backends: numbered SQL files embedded in the binary, applied in
//! order inside one transaction each, recorded with a checksum so an edited migration is caught.

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    /// FNV-1a, 64 bit: enough to notice an edited migration file.
    pub fn checksum(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in self.sql.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{hash:016x}")
    }
}

pub const SQLITE: &[Migration] = &[
    Migration { version: 1, name: "foundation", sql: include_str!("../migrations/sqlite/0001_foundation.sql") },
    Migration {
        version: 2,
        name: "beneficiaries_files",
        sql: include_str!("../migrations/sqlite/0002_beneficiaries_files.sql"),
    },
    Migration { version: 3, name: "fx", sql: include_str!("../migrations/sqlite/0003_fx.sql") },
    Migration { version: 4, name: "payouts", sql: include_str!("../migrations/sqlite/0004_payouts.sql") },
    Migration { version: 5, name: "webhooks", sql: include_str!("../migrations/sqlite/0005_webhooks.sql") },
    Migration { version: 6, name: "transfers", sql: include_str!("../migrations/sqlite/0006_transfers.sql") },
    Migration { version: 7, name: "wallets", sql: include_str!("../migrations/sqlite/0007_wallets.sql") },
    Migration { version: 8, name: "compliance", sql: include_str!("../migrations/sqlite/0008_compliance.sql") },
    Migration { version: 9, name: "audit", sql: include_str!("../migrations/sqlite/0009_audit.sql") },
    Migration { version: 10, name: "batches", sql: include_str!("../migrations/sqlite/0010_batches.sql") },
    Migration { version: 11, name: "sftp", sql: include_str!("../migrations/sqlite/0011_sftp.sql") },
    Migration { version: 12, name: "reports", sql: include_str!("../migrations/sqlite/0012_reports.sql") },
    Migration { version: 13, name: "jobs", sql: include_str!("../migrations/sqlite/0013_jobs.sql") },
    Migration {
        version: 14,
        name: "payout_approval",
        sql: include_str!("../migrations/sqlite/0014_payout_approval.sql"),
    },
    Migration { version: 15, name: "batch_quote", sql: include_str!("../migrations/sqlite/0015_batch_quote.sql") },
    Migration { version: 16, name: "batch_hold", sql: include_str!("../migrations/sqlite/0016_batch_hold.sql") },
    Migration {
        version: 17,
        name: "drop_redundant_index",
        sql: include_str!("../migrations/sqlite/0017_drop_redundant_index.sql"),
    },
    Migration {
        version: 18,
        name: "idempotency_body_in_audit",
        sql: include_str!("../migrations/sqlite/0018_idempotency_body_in_audit.sql"),
    },
    Migration {
        version: 19,
        name: "hot_path_without_foreign_keys",
        sql: include_str!("../migrations/sqlite/0019_hot_path_without_foreign_keys.sql"),
    },
];

pub const POSTGRES: &[Migration] = &[
    Migration { version: 1, name: "foundation", sql: include_str!("../migrations/postgres/0001_foundation.sql") },
    Migration {
        version: 2,
        name: "beneficiaries_files",
        sql: include_str!("../migrations/postgres/0002_beneficiaries_files.sql"),
    },
    Migration { version: 3, name: "fx", sql: include_str!("../migrations/postgres/0003_fx.sql") },
    Migration { version: 4, name: "payouts", sql: include_str!("../migrations/postgres/0004_payouts.sql") },
    Migration { version: 5, name: "webhooks", sql: include_str!("../migrations/postgres/0005_webhooks.sql") },
    Migration { version: 6, name: "transfers", sql: include_str!("../migrations/postgres/0006_transfers.sql") },
    Migration { version: 7, name: "wallets", sql: include_str!("../migrations/postgres/0007_wallets.sql") },
    Migration { version: 8, name: "compliance", sql: include_str!("../migrations/postgres/0008_compliance.sql") },
    Migration { version: 9, name: "audit", sql: include_str!("../migrations/postgres/0009_audit.sql") },
    Migration { version: 10, name: "batches", sql: include_str!("../migrations/postgres/0010_batches.sql") },
    Migration { version: 11, name: "sftp", sql: include_str!("../migrations/postgres/0011_sftp.sql") },
    Migration { version: 12, name: "reports", sql: include_str!("../migrations/postgres/0012_reports.sql") },
    Migration { version: 13, name: "jobs", sql: include_str!("../migrations/postgres/0013_jobs.sql") },
    Migration {
        version: 14,
        name: "payout_approval",
        sql: include_str!("../migrations/postgres/0014_payout_approval.sql"),
    },
    Migration { version: 15, name: "batch_quote", sql: include_str!("../migrations/postgres/0015_batch_quote.sql") },
    Migration { version: 16, name: "batch_hold", sql: include_str!("../migrations/postgres/0016_batch_hold.sql") },
    Migration {
        version: 17,
        name: "drop_redundant_index",
        sql: include_str!("../migrations/postgres/0017_drop_redundant_index.sql"),
    },
    Migration {
        version: 18,
        name: "idempotency_body_in_audit",
        sql: include_str!("../migrations/postgres/0018_idempotency_body_in_audit.sql"),
    },
    Migration {
        version: 19,
        name: "hot_path_without_foreign_keys",
        sql: include_str!("../migrations/postgres/0019_hot_path_without_foreign_keys.sql"),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Numbers may have gaps (migrations are written in parallel) but must increase, and each
    /// backend must have the same versions.
    #[test]
    fn versions_increase_and_match_across_backends() {
        for list in [SQLITE, POSTGRES] {
            assert!(list.windows(2).all(|w| w[0].version < w[1].version), "versions must increase");
        }
        let versions = |list: &[Migration]| list.iter().map(|m| (m.version, m.name)).collect::<Vec<_>>();
        assert_eq!(versions(SQLITE), versions(POSTGRES));
    }
}
