//! An in-memory ledger that applies entries exactly as the stores must: all or nothing, refusing
//! any entry that would take a client balance below zero, chaining hashes per client. It is the
//! reference model the property tests check, and what the stores' conditional updates implement.

use std::collections::{BTreeMap, HashMap};

use super::chain::{ChainFields, GENESIS_HASH, entry_hash};
use super::{DraftError, EntryDraft, LedgerKey, StoredEntry, StoredLine};
use crate::AccountId;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Overdraft {
    #[error("insufficient funds in {key}: balance {balance}, needs {needed}")]
    Insufficient { key: String, balance: i64, needed: i64 },
    #[error(transparent)]
    Invalid(#[from] DraftError),
}

#[derive(Default)]
pub struct Book {
    balances: BTreeMap<LedgerKey, i64>,
    heads: HashMap<AccountId, (i64, String)>,
    entries: Vec<StoredEntry>,
}

impl Book {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn balance(&self, key: &LedgerKey) -> i64 {
        self.balances.get(key).copied().unwrap_or_default()
    }

    pub fn balances(&self) -> impl Iterator<Item = (&LedgerKey, &i64)> {
        self.balances.iter()
    }

    pub fn entries(&self) -> &[StoredEntry] {
        &self.entries
    }

    pub fn post(&mut self, draft: &EntryDraft, entry_id: String, created_at_ms: i64) -> Result<(), Overdraft> {
        draft.validate()?;
        let changes = draft.net_changes();
        for (key, delta) in &changes {
            let balance = self.balance(key);
            if key.must_stay_non_negative() && balance + delta < 0 {
                return Err(Overdraft::Insufficient { key: key.to_string(), balance, needed: -delta });
            }
        }
        for (key, delta) in changes {
            *self.balances.entry(key).or_default() += delta;
        }
        let (seq, prev) = self.heads.get(&draft.chain_owner).cloned().unwrap_or((0, GENESIS_HASH.to_owned()));
        let lines: Vec<StoredLine> =
            draft.lines().into_iter().map(|l| StoredLine { key: l.key, amount: l.amount }).collect();
        let owner = draft.chain_owner.to_string();
        let reference_id = draft.reference.id.to_string();
        let fields = ChainFields {
            entry_id: &entry_id,
            owner: &owner,
            seq: seq + 1,
            kind: draft.kind.as_str(),
            reference_type: draft.reference.kind,
            reference_id: &reference_id,
            created_at_ms,
        };
        let hash = entry_hash(&prev, &fields, &lines);
        self.heads.insert(draft.chain_owner, (seq + 1, hash.clone()));
        self.entries.push(StoredEntry {
            id: entry_id,
            owner: draft.chain_owner,
            seq: seq + 1,
            kind: draft.kind.as_str().to_owned(),
            reference_type: draft.reference.kind.to_owned(),
            reference_id,
            created_at_ms,
            prev_hash: prev,
            hash,
            lines,
        });
        Ok(())
    }

    pub fn head(&self, owner: AccountId) -> Option<&(i64, String)> {
        self.heads.get(&owner)
    }
}
