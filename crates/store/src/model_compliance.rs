//! Row models of issue 7: sanctions lists, screening hits, the review queue and account rules.

use outlay_core::AccountId;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

/// One load of the sanctions lists (the active one is the highest version). The published
/// files are kept as loaded, so every node builds the same screener from them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScreeningListRow {
    pub version: i64,
    pub loaded_at: OffsetDateTime,
    pub entry_count: i64,
    /// SHA-256 of the files, in the order sdn, alt, add, un (hex).
    pub sha256: String,
    /// Per source: file names, sizes and entry counts (for `outlay screening list`).
    pub sources: Value,
}

/// The published files of one load; any may be absent (but not all).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScreeningFiles {
    pub ofac_sdn: Option<Vec<u8>>,
    pub ofac_alt: Option<Vec<u8>>,
    pub ofac_add: Option<Vec<u8>>,
    pub un_xml: Option<Vec<u8>>,
}

/// A payout or beneficiary held for a compliance decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComplianceReviewRow {
    pub id: Uuid,
    pub account_id: AccountId,
    /// `beneficiary` or `payout`.
    pub subject_type: String,
    pub subject_id: Uuid,
    pub beneficiary_id: Uuid,
    /// Why it is held: `[{"kind": "screening_hit" | "rule" | "beneficiary_under_review", ...}]`.
    pub reasons: Value,
    pub list_version: Option<i64>,
    /// `open`, `cleared` or `rejected`.
    pub status: String,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<OffsetDateTime>,
    pub note: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// One list entry that matched a subject at or above the threshold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScreeningHitRow {
    pub id: Uuid,
    pub review_id: Uuid,
    pub account_id: AccountId,
    pub subject_type: String,
    pub subject_id: Uuid,
    pub beneficiary_id: Uuid,
    pub list_version: i64,
    /// `ofac_sdn` or `un_consolidated`.
    pub source: String,
    pub entry_id: String,
    pub entry_name: String,
    pub matched_name: String,
    pub matched_alias: bool,
    pub name_score: i64,
    pub score: i64,
    pub why: String,
    pub created_at: OffsetDateTime,
}

/// A reviewer's decision on an open review.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewDecisionRow {
    pub id: Uuid,
    /// `cleared` or `rejected`.
    pub status: String,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: OffsetDateTime,
    pub note: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReviewFilter {
    pub status: Option<String>,
    pub subject_type: Option<String>,
}

/// An account's compliance rules, in `outlay_core::compliance::ComplianceRules` canonical JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComplianceRulesRow {
    pub account_id: AccountId,
    pub rules: Value,
    pub updated_by: Option<Uuid>,
    pub updated_at: OffsetDateTime,
}

/// How many payouts, and their total, match a [`WriteTx::payout_totals`](crate::WriteTx) query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PayoutTotals {
    pub count: u64,
    pub amount: i64,
}

/// What a payout's compliance checks need, read in one round trip: the active list version, the
/// account's rules and the status of the beneficiary's newest review.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ComplianceContext {
    pub list_version: Option<i64>,
    pub rules: Option<Value>,
    pub beneficiary_review: Option<String>,
}
