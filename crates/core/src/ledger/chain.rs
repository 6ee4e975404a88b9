//! The per-client hash chain: each entry's hash covers the previous hash and every field of the
//! entry and its lines, so an edited, inserted or removed row breaks the chain.

use sha2::{Digest, Sha256};

use super::StoredLine;

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Fields of an entry that the hash covers.
pub struct ChainFields<'a> {
    pub entry_id: &'a str,
    pub owner: &'a str,
    pub seq: i64,
    pub kind: &'a str,
    pub reference_type: &'a str,
    pub reference_id: &'a str,
    pub created_at_ms: i64,
}

pub fn entry_hash(prev_hash: &str, fields: &ChainFields<'_>, lines: &[StoredLine]) -> String {
    let mut h = Sha256::new();
    // Length-prefix every field so no two different entries serialise alike.
    let mut put = |s: &str| {
        h.update((s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    };
    put("outlay-ledger-v1");
    put(prev_hash);
    put(fields.entry_id);
    put(fields.owner);
    put(&fields.seq.to_string());
    put(fields.kind);
    put(fields.reference_type);
    put(fields.reference_id);
    put(&fields.created_at_ms.to_string());
    for line in lines {
        put(&line.key.to_string());
        put(&line.amount.to_string());
    }
    hex::encode(h.finalize())
}
