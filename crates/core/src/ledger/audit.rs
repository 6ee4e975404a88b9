//! Verification of stored ledger rows, independent of any database: feed it every entry in chain
//! order, then the stored balances, and it reports every broken invariant.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use super::chain::{ChainFields, GENESIS_HASH, entry_hash};
use super::{LedgerKey, Owner};
use crate::AccountId;

/// An entry as read back from storage.
#[derive(Clone, Debug)]
pub struct StoredEntry {
    pub id: String,
    pub owner: AccountId,
    pub seq: i64,
    pub kind: String,
    pub reference_type: String,
    pub reference_id: String,
    pub created_at_ms: i64,
    pub prev_hash: String,
    pub hash: String,
    pub lines: Vec<StoredLine>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredLine {
    pub key: LedgerKey,
    pub amount: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    Unbalanced { entry: String, currency: String, sum: i64 },
    EmptyEntry { entry: String },
    SequenceGap { owner: AccountId, expected: i64, found: i64 },
    BrokenLink { entry: String },
    HashMismatch { entry: String },
    ForeignLine { entry: String, key: String },
    NegativeBalance { entry: String, key: String, balance: i64 },
    BalanceMismatch { key: String, stored: i64, from_entries: i64 },
    ChainHeadMismatch { owner: AccountId, detail: String },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Unbalanced { entry, currency, sum } => {
                write!(f, "entry {entry} does not balance in {currency}: lines sum to {sum}")
            }
            Violation::EmptyEntry { entry } => write!(f, "entry {entry} has no lines"),
            Violation::SequenceGap { owner, expected, found } => {
                write!(f, "chain of account {owner}: expected entry #{expected}, found #{found}")
            }
            Violation::BrokenLink { entry } => {
                write!(f, "entry {entry}: prev_hash does not match the previous entry's hash")
            }
            Violation::HashMismatch { entry } => {
                write!(f, "entry {entry}: stored hash does not match its contents (row edited?)")
            }
            Violation::ForeignLine { entry, key } => {
                write!(f, "entry {entry} touches {key}, a client account outside its chain")
            }
            Violation::NegativeBalance { entry, key, balance } => {
                write!(f, "after entry {entry}, client balance {key} is negative ({balance})")
            }
            Violation::BalanceMismatch { key, stored, from_entries } => {
                write!(f, "balance {key}: stored {stored}, entries sum to {from_entries}")
            }
            Violation::ChainHeadMismatch { owner, detail } => {
                write!(f, "chain head of account {owner}: {detail}")
            }
        }
    }
}

#[derive(Default)]
struct ChainState {
    seq: i64,
    hash: String,
}

/// Streams entries; keeps only running balances and chain heads in memory.
#[derive(Default)]
pub struct Auditor {
    chains: HashMap<AccountId, ChainState>,
    balances: BTreeMap<LedgerKey, i64>,
    violations: Vec<Violation>,
    entries: u64,
    lines: u64,
}

#[derive(Debug)]
pub struct AuditReport {
    pub entries: u64,
    pub lines: u64,
    pub chains: u64,
    pub balances_checked: u64,
    pub violations: Vec<Violation>,
    /// Computed balance of every ledger account (credit − debit).
    pub balances: BTreeMap<LedgerKey, i64>,
}

impl Auditor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Entries of one owner must arrive in `seq` order; owners may interleave.
    pub fn feed(&mut self, entry: &StoredEntry) {
        self.entries += 1;
        self.lines += entry.lines.len() as u64;
        if entry.lines.is_empty() {
            self.violations.push(Violation::EmptyEntry { entry: entry.id.clone() });
        }
        let mut sums: BTreeMap<String, i64> = BTreeMap::new();
        for line in &entry.lines {
            *sums.entry(line.key.currency.code().to_owned()).or_default() += line.amount;
            if let Owner::Client(owner) = line.key.owner
                && owner != entry.owner
            {
                self.violations.push(Violation::ForeignLine { entry: entry.id.clone(), key: line.key.to_string() });
            }
        }
        for (currency, sum) in sums {
            if sum != 0 {
                self.violations.push(Violation::Unbalanced { entry: entry.id.clone(), currency, sum });
            }
        }

        let chain =
            self.chains.entry(entry.owner).or_insert_with(|| ChainState { seq: 0, hash: GENESIS_HASH.to_owned() });
        if entry.seq != chain.seq + 1 {
            self.violations.push(Violation::SequenceGap {
                owner: entry.owner,
                expected: chain.seq + 1,
                found: entry.seq,
            });
        }
        if entry.prev_hash != chain.hash {
            self.violations.push(Violation::BrokenLink { entry: entry.id.clone() });
        }
        let owner = entry.owner.to_string();
        let fields = ChainFields {
            entry_id: &entry.id,
            owner: &owner,
            seq: entry.seq,
            kind: &entry.kind,
            reference_type: &entry.reference_type,
            reference_id: &entry.reference_id,
            created_at_ms: entry.created_at_ms,
        };
        if entry_hash(&entry.prev_hash, &fields, &entry.lines) != entry.hash {
            self.violations.push(Violation::HashMismatch { entry: entry.id.clone() });
        }
        chain.seq = entry.seq;
        chain.hash.clone_from(&entry.hash);

        for line in &entry.lines {
            let balance = self.balances.entry(line.key.clone()).or_default();
            *balance += line.amount;
        }
        // Checked after the whole entry: within one entry a balance may dip and recover.
        for line in &entry.lines {
            let balance = self.balances.get(&line.key).copied().unwrap_or_default();
            if line.key.must_stay_non_negative() && balance < 0 {
                self.violations.push(Violation::NegativeBalance {
                    entry: entry.id.clone(),
                    key: line.key.to_string(),
                    balance,
                });
            }
        }
    }

    /// Compare with the stored chain head of an owner (seq and hash of its last entry).
    pub fn check_chain_head(&mut self, owner: AccountId, seq: i64, hash: &str) {
        let (expected_seq, expected_hash) = match self.chains.get(&owner) {
            Some(c) => (c.seq, c.hash.as_str()),
            None => (0, GENESIS_HASH),
        };
        if expected_seq != seq || expected_hash != hash {
            self.violations.push(Violation::ChainHeadMismatch {
                owner,
                detail: format!("stored #{seq} {hash}, entries end at #{expected_seq} {expected_hash}"),
            });
        }
    }

    /// Finish with the stored balance of every client-owned ledger account.
    pub fn finish(mut self, stored_balances: impl IntoIterator<Item = (LedgerKey, i64)>) -> AuditReport {
        let mut checked = 0;
        let mut seen = std::collections::BTreeSet::new();
        for (key, stored) in stored_balances {
            checked += 1;
            let computed = self.balances.get(&key).copied().unwrap_or_default();
            if computed != stored {
                self.violations.push(Violation::BalanceMismatch {
                    key: key.to_string(),
                    stored,
                    from_entries: computed,
                });
            }
            seen.insert(key);
        }
        for (key, computed) in &self.balances {
            if key.must_stay_non_negative() && !seen.contains(key) && *computed != 0 {
                self.violations.push(Violation::BalanceMismatch {
                    key: key.to_string(),
                    stored: 0,
                    from_entries: *computed,
                });
            }
        }
        AuditReport {
            entries: self.entries,
            lines: self.lines,
            chains: self.chains.len() as u64,
            balances_checked: checked,
            violations: self.violations,
            balances: self.balances,
        }
    }
}
