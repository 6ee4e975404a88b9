//! The audit trail's pure parts: the per-account hash chain over audit records, the chain check
//! `outlay audit verify` runs, and masking of account and identity numbers.
//!
//! Every field of a record is covered by its hash, length-prefixed, together with the previous
//! record's hash: an edited, inserted or removed row breaks the chain at that row.

use sha2::{Digest, Sha256};

pub use crate::ledger::GENESIS_HASH;

/// The fields of one audit record, as stored (times in Unix milliseconds, JSON as stored text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditFields<'a> {
    pub account_id: &'a str,
    pub seq: i64,
    pub id: &'a str,
    pub at_ms: i64,
    pub credential_id: &'a str,
    pub role: &'a str,
    pub action: &'a str,
    pub object_type: Option<&'a str>,
    pub object_id: Option<&'a str>,
    pub source_ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
    pub status: i64,
    pub error_code: Option<&'a str>,
}

/// The hash of a record chained to `prev_hash`.
pub fn record_hash(prev_hash: &str, f: &AuditFields<'_>) -> String {
    let mut h = Sha256::new();
    let mut put = |s: Option<&str>| match s {
        // A missing value and an empty one hash differently.
        None => h.update(u64::MAX.to_be_bytes()),
        Some(s) => {
            h.update((s.len() as u64).to_be_bytes());
            h.update(s.as_bytes());
        }
    };
    put(Some("outlay-audit-v1"));
    put(Some(prev_hash));
    put(Some(f.account_id));
    put(Some(&f.seq.to_string()));
    put(Some(f.id));
    put(Some(&f.at_ms.to_string()));
    put(Some(f.credential_id));
    put(Some(f.role));
    put(Some(f.action));
    put(f.object_type);
    put(f.object_id);
    put(f.source_ip);
    put(f.user_agent);
    put(f.request_id);
    put(f.before);
    put(f.after);
    put(Some(&f.status.to_string()));
    put(f.error_code);
    hex::encode(h.finalize())
}

/// What is wrong with one record of a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainBreak {
    pub account_id: String,
    pub seq: i64,
    pub id: String,
    pub problem: String,
}

/// Walks one account's chain in `seq` order, record by record.
#[derive(Debug)]
pub struct ChainChecker {
    account_id: String,
    expected_seq: i64,
    prev_hash: String,
    pub checked: u64,
    pub breaks: Vec<ChainBreak>,
}

impl ChainChecker {
    pub fn new(account_id: &str) -> Self {
        Self {
            account_id: account_id.to_owned(),
            expected_seq: 1,
            prev_hash: GENESIS_HASH.to_owned(),
            checked: 0,
            breaks: Vec::new(),
        }
    }

    /// Check the next record; `prev_hash` and `hash` are as stored.
    pub fn check(&mut self, f: &AuditFields<'_>, prev_hash: &str, hash: &str) {
        self.checked += 1;
        let mut fail = |problem: String| {
            self.breaks.push(ChainBreak {
                account_id: self.account_id.clone(),
                seq: f.seq,
                id: f.id.to_owned(),
                problem,
            });
        };
        if f.account_id != self.account_id {
            fail(format!("belongs to account {}", f.account_id));
        }
        if f.seq != self.expected_seq {
            fail(format!(
                "sequence {} where {} was expected (a record was removed or inserted)",
                f.seq, self.expected_seq
            ));
        }
        if prev_hash != self.prev_hash {
            fail("its previous hash does not match the record before it".to_owned());
        }
        let computed = record_hash(prev_hash, f);
        if computed != hash {
            fail("its content does not match its hash (the row was edited)".to_owned());
        }
        self.expected_seq = f.seq + 1;
        self.prev_hash = hash.to_owned();
    }

    /// Compare the end of the walk with the chain head kept beside it (a removed tail shows here).
    pub fn finish(mut self, head_seq: i64, head_hash: &str) -> Vec<ChainBreak> {
        let found = self.expected_seq - 1;
        let problem = if head_seq > found {
            format!("the chain head says {head_seq} records but {found} were found (records were removed)")
        } else if head_seq < found {
            format!(
                "the chain head says {head_seq} records but {found} were found (records were added past the head, \
                 or the head was set back)"
            )
        } else if head_hash != self.prev_hash {
            "the chain head's hash is not the last record's (the head or the last record was edited)".to_owned()
        } else {
            return self.breaks;
        };
        self.breaks.push(ChainBreak { account_id: self.account_id.clone(), seq: head_seq, id: String::new(), problem });
        self.breaks
    }
}

/// Field names whose values are account or identity numbers: masked to their last four
/// characters wherever they are shown.
pub const SENSITIVE_FIELDS: &[&str] = &[
    "account_number",
    "iban",
    "id_number",
    "identity_number",
    "id_no",
    "passport_number",
    "national_id",
    "tax_id",
    "sender_account_number",
    "receiver_account_number",
    "card_number",
];

pub fn is_sensitive_field(name: &str) -> bool {
    SENSITIVE_FIELDS.contains(&name)
}

/// `****1234`: the last four characters (fewer for very short values) behind four stars.
pub fn mask_tail(value: &str) -> String {
    let chars: Vec<char> = value.chars().filter(|c| !c.is_whitespace()).collect();
    let keep = if chars.len() > 8 { 4 } else { chars.len() / 2 };
    let tail: String = chars[chars.len() - keep..].iter().collect();
    format!("****{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(seq: i64, action: &'a str) -> AuditFields<'a> {
        AuditFields {
            account_id: "acc",
            seq,
            id: "id",
            at_ms: 1,
            credential_id: "cred",
            role: "admin",
            action,
            object_type: Some("payout"),
            object_id: None,
            source_ip: Some("127.0.0.1"),
            user_agent: None,
            request_id: None,
            before: None,
            after: Some("{}"),
            status: 200,
            error_code: None,
        }
    }

    #[test]
    fn chain_detects_edits_and_removals() {
        let a = fields(1, "payout.create");
        let ha = record_hash(GENESIS_HASH, &a);
        let b = fields(2, "payout.cancel");
        let hb = record_hash(&ha, &b);
        let mut ok = ChainChecker::new("acc");
        ok.check(&a, GENESIS_HASH, &ha);
        ok.check(&b, &ha, &hb);
        assert!(ok.finish(2, &hb).is_empty());

        let mut edited = ChainChecker::new("acc");
        edited.check(&fields(1, "payout.delete"), GENESIS_HASH, &ha);
        edited.check(&b, &ha, &hb);
        let breaks = edited.finish(2, &hb);
        assert_eq!(breaks.len(), 1);
        assert_eq!(breaks[0].seq, 1);

        let mut tail_removed = ChainChecker::new("acc");
        tail_removed.check(&a, GENESIS_HASH, &ha);
        let breaks = tail_removed.finish(2, &hb);
        assert_eq!(breaks.len(), 1);
        assert!(breaks[0].problem.contains("records were removed"), "{}", breaks[0].problem);

        let mut past_head = ChainChecker::new("acc");
        past_head.check(&a, GENESIS_HASH, &ha);
        past_head.check(&b, &ha, &hb);
        let breaks = past_head.finish(1, &ha);
        assert_eq!(breaks.len(), 1);
        assert!(breaks[0].problem.contains("added past the head"), "{}", breaks[0].problem);

        let mut head_edited = ChainChecker::new("acc");
        head_edited.check(&a, GENESIS_HASH, &ha);
        let breaks = head_edited.finish(1, &hb);
        assert_eq!(breaks.len(), 1);
        assert!(breaks[0].problem.contains("hash is not the last record's"), "{}", breaks[0].problem);
    }

    #[test]
    fn none_and_empty_hash_differently() {
        let a = fields(1, "x");
        let b = AuditFields { object_id: Some(""), ..a.clone() };
        assert_ne!(record_hash(GENESIS_HASH, &a), record_hash(GENESIS_HASH, &b));
    }

    #[test]
    fn masks_keep_the_last_four() {
        assert_eq!(mask_tail("GB82WEST12345698765432"), "****5432");
        assert_eq!(mask_tail("123456"), "****456");
        assert_eq!(mask_tail(""), "****");
    }
}
