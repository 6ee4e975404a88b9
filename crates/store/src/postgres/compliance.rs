//! PostgreSQL: sanctions lists, the review queue, screening hits and account rules (issue 7).

use outlay_core::AccountId;
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{PgStore, PgTx, col, collect, count_of, db_time, page_params};
use crate::{
    ComplianceContext, ComplianceReviewRow, ComplianceRulesRow, Page, PageRequest, PayoutTotals, ReviewDecisionRow,
    ReviewFilter, ScreeningFiles, ScreeningHitRow, ScreeningListRow, StoreError, StoreResult,
};

fn json(r: &Row, i: usize) -> StoreResult<serde_json::Value> {
    let text: String = col(r, i)?;
    serde_json::from_str(&text).map_err(|e| StoreError::corrupt(format!("json: {e}")))
}

macro_rules! list_cols {
    () => {
        "version, loaded_at, entry_count, sha256, sources::text"
    };
}

const SQL_LIST_INSERT: &str = "INSERT INTO screening_lists (version, loaded_at, entry_count, sha256, sources, \
    ofac_sdn, ofac_alt, ofac_add, un_xml) VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7, $8, $9)";
const SQL_LIST_VERSION: &str = "SELECT MAX(version) FROM screening_lists";
const SQL_LIST_FILES: &str = "SELECT ofac_sdn, ofac_alt, ofac_add, un_xml FROM screening_lists WHERE version = $1";
const SQL_LIST: &str = concat!("SELECT ", list_cols!(), " FROM screening_lists WHERE version = $1");
const SQL_LISTS: &str = concat!("SELECT ", list_cols!(), " FROM screening_lists ORDER BY version DESC LIMIT $1");

fn list_row(r: &Row) -> StoreResult<ScreeningListRow> {
    Ok(ScreeningListRow {
        version: col(r, 0)?,
        loaded_at: col(r, 1)?,
        entry_count: col(r, 2)?,
        sha256: col(r, 3)?,
        sources: json(r, 4)?,
    })
}

fn files_row(r: &Row) -> StoreResult<ScreeningFiles> {
    Ok(ScreeningFiles { ofac_sdn: col(r, 0)?, ofac_alt: col(r, 1)?, ofac_add: col(r, 2)?, un_xml: col(r, 3)? })
}

macro_rules! review_cols {
    () => {
        "id, account_id, subject_type, subject_id, beneficiary_id, reasons::text, list_version, status, reviewed_by, \
         reviewed_at, note, created_at, updated_at"
    };
}

const SQL_REVIEW_INSERT: &str = "INSERT INTO compliance_reviews (id, account_id, subject_type, subject_id, \
    beneficiary_id, reasons, list_version, status, reviewed_by, reviewed_at, note, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7, $8, $9, $10, $11, $12, $13)";
const SQL_REVIEW: &str = concat!(
    "SELECT ",
    review_cols!(),
    " FROM compliance_reviews WHERE id = $1 AND ($2::uuid IS NULL OR account_id = $2)"
);
const SQL_REVIEWS_COUNT: &str = concat!(
    "SELECT COUNT(*) FROM compliance_reviews WHERE ($1::uuid IS NULL OR account_id = $1) ",
    "AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR subject_type = $3)"
);
const SQL_REVIEWS: &str = concat!(
    "SELECT ",
    review_cols!(),
    " FROM compliance_reviews WHERE ($1::uuid IS NULL OR account_id = $1) ",
    "AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR subject_type = $3) ",
    "ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5"
);
const SQL_REVIEW_DECIDE: &str = "UPDATE compliance_reviews SET status = $2, reviewed_by = $3, reviewed_at = $4, \
    note = $5, updated_at = $4 WHERE id = $1 AND status = 'open'";
const SQL_LATEST_REVIEW_STATUS: &str =
    "SELECT status FROM compliance_reviews WHERE subject_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1";

fn review_row(r: &Row) -> StoreResult<ComplianceReviewRow> {
    Ok(ComplianceReviewRow {
        id: col(r, 0)?,
        account_id: AccountId(col(r, 1)?),
        subject_type: col(r, 2)?,
        subject_id: col(r, 3)?,
        beneficiary_id: col(r, 4)?,
        reasons: json(r, 5)?,
        list_version: col(r, 6)?,
        status: col(r, 7)?,
        reviewed_by: col(r, 8)?,
        reviewed_at: col(r, 9)?,
        note: col(r, 10)?,
        created_at: col(r, 11)?,
        updated_at: col(r, 12)?,
    })
}

macro_rules! hit_cols {
    () => {
        "id, review_id, account_id, subject_type, subject_id, beneficiary_id, list_version, source, entry_id, \
         entry_name, matched_name, matched_alias, name_score, score, why, created_at"
    };
}

const SQL_HIT_INSERT: &str = concat!(
    "INSERT INTO screening_hits (",
    hit_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
);
const SQL_HITS: &str =
    concat!("SELECT ", hit_cols!(), " FROM screening_hits WHERE review_id = $1 ORDER BY score DESC, source, entry_id");
const SQL_CLEARED_ENTRIES: &str = "SELECT DISTINCT h.source, h.entry_id FROM screening_hits h \
    JOIN compliance_reviews v ON v.id = h.review_id WHERE h.beneficiary_id = $1 AND v.status = 'cleared'";

fn hit_row(r: &Row) -> StoreResult<ScreeningHitRow> {
    Ok(ScreeningHitRow {
        id: col(r, 0)?,
        review_id: col(r, 1)?,
        account_id: AccountId(col(r, 2)?),
        subject_type: col(r, 3)?,
        subject_id: col(r, 4)?,
        beneficiary_id: col(r, 5)?,
        list_version: col(r, 6)?,
        source: col(r, 7)?,
        entry_id: col(r, 8)?,
        entry_name: col(r, 9)?,
        matched_name: col(r, 10)?,
        matched_alias: col(r, 11)?,
        name_score: col(r, 12)?,
        score: col(r, 13)?,
        why: col(r, 14)?,
        created_at: col(r, 15)?,
    })
}

const SQL_RULES: &str =
    "SELECT account_id, rules::text, updated_by, updated_at FROM compliance_rules WHERE account_id = $1";
const SQL_RULES_UPSERT: &str = "INSERT INTO compliance_rules (account_id, rules, updated_by, updated_at) \
    VALUES ($1, $2::text::jsonb, $3, $4) ON CONFLICT (account_id) DO UPDATE SET rules = EXCLUDED.rules, \
    updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at";

fn rules_row(r: &Row) -> StoreResult<ComplianceRulesRow> {
    Ok(ComplianceRulesRow {
        account_id: AccountId(col(r, 0)?),
        rules: json(r, 1)?,
        updated_by: col(r, 2)?,
        updated_at: col(r, 3)?,
    })
}

/// Payouts that still count against a limit: every state but the ones whose hold was voided.
const SQL_PAYOUT_TOTALS: &str = "SELECT COUNT(*), COALESCE(SUM(amount), 0)::bigint FROM payouts \
    WHERE account_id = $1 AND ($2::text IS NULL OR currency = $2) AND ($3::uuid IS NULL OR beneficiary_id = $3) \
    AND created_at >= $4 AND state NOT IN ('REJECTED', 'CANCELLED', 'FAILED')";

const SQL_CONTEXT: &str = "SELECT (SELECT MAX(version) FROM screening_lists), \
    (SELECT rules::text FROM compliance_rules WHERE account_id = $1), \
    (SELECT status FROM compliance_reviews WHERE subject_id = $2 ORDER BY created_at DESC, id DESC LIMIT 1)";

/// [`SQL_CONTEXT`] for many (account, beneficiary) pairs at once (a batch's prefetch).
const SQL_CONTEXTS: &str = "SELECT t.account_id, t.beneficiary_id, (SELECT MAX(version) FROM screening_lists), \
    (SELECT rules::text FROM compliance_rules WHERE account_id = t.account_id), \
    (SELECT status FROM compliance_reviews WHERE subject_id = t.beneficiary_id ORDER BY created_at DESC, id DESC LIMIT 1) \
    FROM unnest($1::uuid[], $2::uuid[]) AS t(account_id, beneficiary_id)";

/// A compliance context from its three columns, starting at `at`.
fn context_from_row(row: &Row, at: usize) -> StoreResult<ComplianceContext> {
    let rules: Option<String> = col(row, at + 1)?;
    let rules =
        rules.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::corrupt(format!("json: {e}")))).transpose()?;
    Ok(ComplianceContext { list_version: col(row, at)?, rules, beneficiary_review: col(row, at + 2)? })
}

impl PgStore {
    pub(super) async fn compliance_latest_list(&self) -> StoreResult<Option<(ScreeningListRow, ScreeningFiles)>> {
        let version: Option<i64> = col(&self.row(SQL_LIST_VERSION, &[]).await?, 0)?;
        let Some(version) = version else { return Ok(None) };
        let Some(list) = self.row_opt(SQL_LIST, &[&version]).await? else { return Ok(None) };
        let Some(files) = self.row_opt(SQL_LIST_FILES, &[&version]).await? else { return Ok(None) };
        Ok(Some((list_row(&list)?, files_row(&files)?)))
    }

    pub(super) async fn compliance_lists(&self, limit: u32) -> StoreResult<Vec<ScreeningListRow>> {
        let rows = self.rows(SQL_LISTS, &[&i64::from(limit)]).await?;
        collect(&rows, list_row)
    }

    pub(super) async fn compliance_review_read(
        &self,
        account: Option<AccountId>,
        id: Uuid,
    ) -> StoreResult<Option<ComplianceReviewRow>> {
        let account = account.map(|a| a.0);
        self.row_opt(SQL_REVIEW, &[&id, &account]).await?.as_ref().map(review_row).transpose()
    }

    pub(super) async fn compliance_reviews_read(
        &self,
        account: Option<AccountId>,
        f: &ReviewFilter,
        page: PageRequest,
    ) -> StoreResult<Page<ComplianceReviewRow>> {
        let account = account.map(|a| a.0);
        let (limit, offset) = page_params(page);
        let total = count_of(&self.row(SQL_REVIEWS_COUNT, &[&account, &f.status, &f.subject_type]).await?)?;
        let rows = self.rows(SQL_REVIEWS, &[&account, &f.status, &f.subject_type, &limit, &offset]).await?;
        Ok(Page { total_items: total, items: collect(&rows, review_row)? })
    }

    pub(super) async fn compliance_hits_read(&self, review: Uuid) -> StoreResult<Vec<ScreeningHitRow>> {
        collect(&self.rows(SQL_HITS, &[&review]).await?, hit_row)
    }

    pub(super) async fn compliance_rules_read(&self, account: AccountId) -> StoreResult<Option<ComplianceRulesRow>> {
        self.row_opt(SQL_RULES, &[&account.0]).await?.as_ref().map(rules_row).transpose()
    }

    pub(super) async fn compliance_latest_status_read(&self, subject: Uuid) -> StoreResult<Option<String>> {
        self.row_opt(SQL_LATEST_REVIEW_STATUS, &[&subject]).await?.as_ref().map(|r| col(r, 0)).transpose()
    }
}

impl PgTx<'_> {
    pub(super) async fn compliance_insert_list(&mut self, l: &ScreeningListRow, f: &ScreeningFiles) -> StoreResult<()> {
        let sources = l.sources.to_string();
        self.exec(
            SQL_LIST_INSERT,
            &[
                &l.version,
                &db_time(l.loaded_at),
                &l.entry_count,
                &l.sha256,
                &sources,
                &f.ofac_sdn,
                &f.ofac_alt,
                &f.ofac_add,
                &f.un_xml,
            ],
        )
        .await?;
        Ok(())
    }

    pub(super) async fn compliance_list_version(&mut self) -> StoreResult<Option<i64>> {
        col(&self.one(SQL_LIST_VERSION, &[]).await?, 0)
    }

    pub(super) async fn compliance_list_files(&mut self, version: i64) -> StoreResult<Option<ScreeningFiles>> {
        self.opt(SQL_LIST_FILES, &[&version]).await?.as_ref().map(files_row).transpose()
    }

    pub(super) async fn compliance_insert_review(&mut self, v: &ComplianceReviewRow) -> StoreResult<()> {
        let reasons = v.reasons.to_string();
        self.exec(
            SQL_REVIEW_INSERT,
            &[
                &v.id,
                &v.account_id.0,
                &v.subject_type,
                &v.subject_id,
                &v.beneficiary_id,
                &reasons,
                &v.list_version,
                &v.status,
                &v.reviewed_by,
                &v.reviewed_at.map(db_time),
                &v.note,
                &db_time(v.created_at),
                &db_time(v.updated_at),
            ],
        )
        .await?;
        Ok(())
    }

    pub(super) async fn compliance_review_tx(&mut self, id: Uuid) -> StoreResult<Option<ComplianceReviewRow>> {
        let none: Option<Uuid> = None;
        self.opt(SQL_REVIEW, &[&id, &none]).await?.as_ref().map(review_row).transpose()
    }

    pub(super) async fn compliance_decide(&mut self, d: &ReviewDecisionRow) -> StoreResult<bool> {
        let n =
            self.exec(SQL_REVIEW_DECIDE, &[&d.id, &d.status, &d.reviewed_by, &db_time(d.reviewed_at), &d.note]).await?;
        Ok(n == 1)
    }

    pub(super) async fn compliance_latest_status(&mut self, subject: Uuid) -> StoreResult<Option<String>> {
        self.opt(SQL_LATEST_REVIEW_STATUS, &[&subject]).await?.as_ref().map(|r| col(r, 0)).transpose()
    }

    pub(super) async fn compliance_insert_hit(&mut self, h: &ScreeningHitRow) -> StoreResult<()> {
        self.exec(
            SQL_HIT_INSERT,
            &[
                &h.id,
                &h.review_id,
                &h.account_id.0,
                &h.subject_type,
                &h.subject_id,
                &h.beneficiary_id,
                &h.list_version,
                &h.source,
                &h.entry_id,
                &h.entry_name,
                &h.matched_name,
                &h.matched_alias,
                &h.name_score,
                &h.score,
                &h.why,
                &db_time(h.created_at),
            ],
        )
        .await?;
        Ok(())
    }

    pub(super) async fn compliance_cleared_entries(&mut self, beneficiary: Uuid) -> StoreResult<Vec<(String, String)>> {
        let rows = self.all(SQL_CLEARED_ENTRIES, &[&beneficiary]).await?;
        rows.iter().map(|r| Ok((col(r, 0)?, col(r, 1)?))).collect()
    }

    pub(super) async fn compliance_rules_tx(&mut self, account: AccountId) -> StoreResult<Option<ComplianceRulesRow>> {
        self.opt(SQL_RULES, &[&account.0]).await?.as_ref().map(rules_row).transpose()
    }

    pub(super) async fn compliance_upsert_rules(&mut self, row: &ComplianceRulesRow) -> StoreResult<()> {
        let rules = row.rules.to_string();
        self.exec(SQL_RULES_UPSERT, &[&row.account_id.0, &rules, &row.updated_by, &db_time(row.updated_at)]).await?;
        Ok(())
    }

    pub(super) async fn compliance_context_tx(
        &mut self,
        account: AccountId,
        beneficiary: Uuid,
    ) -> StoreResult<ComplianceContext> {
        let row = self.one(SQL_CONTEXT, &[&account.0, &beneficiary]).await?;
        context_from_row(&row, 0)
    }

    /// The compliance contexts of many (account id, beneficiary id) pairs, in one statement.
    pub(super) async fn compliance_contexts_tx(
        &mut self,
        pairs: &[(Uuid, Uuid)],
    ) -> StoreResult<Vec<((Uuid, Uuid), ComplianceContext)>> {
        let (accounts, beneficiaries): (Vec<Uuid>, Vec<Uuid>) = pairs.iter().copied().unzip();
        let rows = self.all(SQL_CONTEXTS, &[&accounts, &beneficiaries]).await?;
        rows.iter().map(|r| Ok(((col(r, 0)?, col(r, 1)?), context_from_row(r, 2)?))).collect()
    }

    pub(super) async fn compliance_payout_totals(
        &mut self,
        account: AccountId,
        currency: Option<&str>,
        beneficiary: Option<Uuid>,
        since: OffsetDateTime,
    ) -> StoreResult<PayoutTotals> {
        let row = self.one(SQL_PAYOUT_TOTALS, &[&account.0, &currency, &beneficiary, &db_time(since)]).await?;
        let count: i64 = col(&row, 0)?;
        Ok(PayoutTotals { count: u64::try_from(count).unwrap_or_default(), amount: col(&row, 1)? })
    }
}
