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

pub const SQLITE: &[Migration] =
    &[Migration { version: 1, name: "foundation", sql: include_str!("../migrations/sqlite/0001_foundation.sql") }];

pub const POSTGRES: &[Migration] =
    &[Migration { version: 1, name: "foundation", sql: include_str!("../migrations/postgres/0001_foundation.sql") }];
