//! SQLite: sanctions lists, the review queue, screening hits and account rules (issue 7).

use outlay_core::AccountId;
use rusqlite::{Connection, OptionalExtension, Row, params};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{account_id, from_ms, ms, opt_from_ms, uuid};
use crate::{
    ComplianceContext, ComplianceReviewRow, ComplianceRulesRow, Page, PageRequest, PayoutTotals, ReviewDecisionRow,
    ReviewFilter, ScreeningFiles, ScreeningHitRow, ScreeningListRow, StoreError, StoreResult,
};

fn json(text: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt(format!("json: {e}")))
}

const LIST_COLS: &str = "version, loaded_at, entry_count, sha256, sources";

fn list_row(r: &Row<'_>) -> StoreResult<ScreeningListRow> {
    Ok(ScreeningListRow {
        version: r.get(0)?,
        loaded_at: from_ms(r.get(1)?)?,
        entry_count: r.get(2)?,
        sha256: r.get(3)?,
        sources: json(&r.get::<_, String>(4)?)?,
    })
}

pub fn insert_list(conn: &Connection, l: &ScreeningListRow, f: &ScreeningFiles) -> StoreResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO screening_lists ({LIST_COLS}, ofac_sdn, ofac_alt, ofac_add, un_xml) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))?
    .execute(params![
        l.version,
        ms(l.loaded_at),
        l.entry_count,
        l.sha256,
        l.sources.to_string(),
        f.ofac_sdn,
        f.ofac_alt,
        f.ofac_add,
        f.un_xml
    ])?;
    Ok(())
}

pub fn list_version(conn: &Connection) -> StoreResult<Option<i64>> {
    Ok(conn.prepare_cached("SELECT MAX(version) FROM screening_lists")?.query_row([], |r| r.get(0))?)
}

pub fn list_files(conn: &Connection, version: i64) -> StoreResult<Option<ScreeningFiles>> {
    Ok(conn
        .prepare_cached("SELECT ofac_sdn, ofac_alt, ofac_add, un_xml FROM screening_lists WHERE version = ?1")?
        .query_row([version], |r| {
            Ok(ScreeningFiles { ofac_sdn: r.get(0)?, ofac_alt: r.get(1)?, ofac_add: r.get(2)?, un_xml: r.get(3)? })
        })
        .optional()?)
}

pub fn latest_list(conn: &Connection) -> StoreResult<Option<(ScreeningListRow, ScreeningFiles)>> {
    let Some(version) = list_version(conn)? else { return Ok(None) };
    let mut stmt = conn.prepare_cached(&format!("SELECT {LIST_COLS} FROM screening_lists WHERE version = ?1"))?;
    let mut rows = stmt.query([version])?;
    let Some(row) = rows.next()?.map(list_row).transpose()? else { return Ok(None) };
    Ok(list_files(conn, version)?.map(|files| (row, files)))
}

pub fn lists(conn: &Connection, limit: u32) -> StoreResult<Vec<ScreeningListRow>> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {LIST_COLS} FROM screening_lists ORDER BY version DESC LIMIT ?1"))?;
    let mut rows = stmt.query([limit])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(list_row(r)?);
    }
    Ok(out)
}

const REVIEW_COLS: &str = "id, account_id, subject_type, subject_id, beneficiary_id, reasons, list_version, status, \
    reviewed_by, reviewed_at, note, created_at, updated_at";

fn review_row(r: &Row<'_>) -> StoreResult<ComplianceReviewRow> {
    let get = |i: usize| -> StoreResult<String> { r.get(i).map_err(StoreError::from) };
    Ok(ComplianceReviewRow {
        id: uuid(&get(0)?)?,
        account_id: account_id(&get(1)?)?,
        subject_type: get(2)?,
        subject_id: uuid(&get(3)?)?,
        beneficiary_id: uuid(&get(4)?)?,
        reasons: json(&get(5)?)?,
        list_version: r.get(6)?,
        status: get(7)?,
        reviewed_by: r.get::<_, Option<String>>(8)?.as_deref().map(uuid).transpose()?,
        reviewed_at: opt_from_ms(r.get(9)?)?,
        note: r.get(10)?,
        created_at: from_ms(r.get(11)?)?,
        updated_at: from_ms(r.get(12)?)?,
    })
}

pub fn insert_review(conn: &Connection, v: &ComplianceReviewRow) -> StoreResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO compliance_reviews ({REVIEW_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
    ))?
    .execute(params![
        v.id.to_string(),
        v.account_id.to_string(),
        v.subject_type,
        v.subject_id.to_string(),
        v.beneficiary_id.to_string(),
        v.reasons.to_string(),
        v.list_version,
        v.status,
        v.reviewed_by.map(|u| u.to_string()),
        v.reviewed_at.map(ms),
        v.note,
        ms(v.created_at),
        ms(v.updated_at)
    ])?;
    Ok(())
}

pub fn review(conn: &Connection, account: Option<AccountId>, id: Uuid) -> StoreResult<Option<ComplianceReviewRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {REVIEW_COLS} FROM compliance_reviews WHERE id = ?1 AND (?2 IS NULL OR account_id = ?2)"
    ))?;
    let mut rows = stmt.query(params![id.to_string(), account.map(|a| a.to_string())])?;
    rows.next()?.map(review_row).transpose()
}

pub fn reviews(
    conn: &Connection,
    account: Option<AccountId>,
    filter: &ReviewFilter,
    page: PageRequest,
) -> StoreResult<Page<ComplianceReviewRow>> {
    let cond = "(?1 IS NULL OR account_id = ?1) AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR subject_type = ?3)";
    let a = account.map(|a| a.to_string());
    let total: i64 = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM compliance_reviews WHERE {cond}"))?
        .query_row(params![a, filter.status, filter.subject_type], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {REVIEW_COLS} FROM compliance_reviews WHERE {cond} ORDER BY created_at DESC, id DESC LIMIT ?4 OFFSET ?5"
    ))?;
    let mut rows = stmt.query(params![a, filter.status, filter.subject_type, page.size, page.offset()])?;
    let mut items = Vec::new();
    while let Some(r) = rows.next()? {
        items.push(review_row(r)?);
    }
    Ok(Page { total_items: u64::try_from(total).unwrap_or_default(), items })
}

pub fn decide_review(conn: &Connection, d: &ReviewDecisionRow) -> StoreResult<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE compliance_reviews SET status = ?2, reviewed_by = ?3, reviewed_at = ?4, note = ?5, updated_at = ?4 \
             WHERE id = ?1 AND status = 'open'",
        )?
        .execute(params![
            d.id.to_string(),
            d.status,
            d.reviewed_by.map(|u| u.to_string()),
            ms(d.reviewed_at),
            d.note
        ])?;
    Ok(changed == 1)
}

pub fn latest_review_status(conn: &Connection, subject_id: Uuid) -> StoreResult<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT status FROM compliance_reviews WHERE subject_id = ?1 ORDER BY created_at DESC, id DESC LIMIT 1",
        )?
        .query_row([subject_id.to_string()], |r| r.get(0))
        .optional()?)
}

const HIT_COLS: &str = "id, review_id, account_id, subject_type, subject_id, beneficiary_id, list_version, source, \
    entry_id, entry_name, matched_name, matched_alias, name_score, score, why, created_at";

fn hit_row(r: &Row<'_>) -> StoreResult<ScreeningHitRow> {
    let get = |i: usize| -> StoreResult<String> { r.get(i).map_err(StoreError::from) };
    Ok(ScreeningHitRow {
        id: uuid(&get(0)?)?,
        review_id: uuid(&get(1)?)?,
        account_id: account_id(&get(2)?)?,
        subject_type: get(3)?,
        subject_id: uuid(&get(4)?)?,
        beneficiary_id: uuid(&get(5)?)?,
        list_version: r.get(6)?,
        source: get(7)?,
        entry_id: get(8)?,
        entry_name: get(9)?,
        matched_name: get(10)?,
        matched_alias: r.get(11)?,
        name_score: r.get(12)?,
        score: r.get(13)?,
        why: get(14)?,
        created_at: from_ms(r.get(15)?)?,
    })
}

pub fn insert_hit(conn: &Connection, h: &ScreeningHitRow) -> StoreResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO screening_hits ({HIT_COLS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
    ))?
    .execute(params![
        h.id.to_string(),
        h.review_id.to_string(),
        h.account_id.to_string(),
        h.subject_type,
        h.subject_id.to_string(),
        h.beneficiary_id.to_string(),
        h.list_version,
        h.source,
        h.entry_id,
        h.entry_name,
        h.matched_name,
        h.matched_alias,
        h.name_score,
        h.score,
        h.why,
        ms(h.created_at)
    ])?;
    Ok(())
}

pub fn hits(conn: &Connection, review: Uuid) -> StoreResult<Vec<ScreeningHitRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {HIT_COLS} FROM screening_hits WHERE review_id = ?1 ORDER BY score DESC, source, entry_id"
    ))?;
    let mut rows = stmt.query([review.to_string()])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(hit_row(r)?);
    }
    Ok(out)
}

pub fn cleared_entries(conn: &Connection, beneficiary: Uuid) -> StoreResult<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT h.source, h.entry_id FROM screening_hits h JOIN compliance_reviews v ON v.id = h.review_id \
         WHERE h.beneficiary_id = ?1 AND v.status = 'cleared'",
    )?;
    let mut rows = stmt.query([beneficiary.to_string()])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push((r.get(0)?, r.get(1)?));
    }
    Ok(out)
}

pub fn rules(conn: &Connection, account: AccountId) -> StoreResult<Option<ComplianceRulesRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT account_id, rules, updated_by, updated_at FROM compliance_rules WHERE account_id = ?1",
    )?;
    let mut rows = stmt.query([account.to_string()])?;
    let Some(r) = rows.next()? else { return Ok(None) };
    Ok(Some(ComplianceRulesRow {
        account_id: account_id(&r.get::<_, String>(0)?)?,
        rules: json(&r.get::<_, String>(1)?)?,
        updated_by: r.get::<_, Option<String>>(2)?.as_deref().map(uuid).transpose()?,
        updated_at: from_ms(r.get(3)?)?,
    }))
}

pub fn upsert_rules(conn: &Connection, row: &ComplianceRulesRow) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO compliance_rules (account_id, rules, updated_by, updated_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (account_id) DO UPDATE SET rules = excluded.rules, updated_by = excluded.updated_by, \
         updated_at = excluded.updated_at",
    )?
    .execute(params![
        row.account_id.to_string(),
        row.rules.to_string(),
        row.updated_by.map(|u| u.to_string()),
        ms(row.updated_at)
    ])?;
    Ok(())
}

/// Payouts that still count against a limit: every state but the ones whose hold was voided.
const COUNTED: &str = "state NOT IN ('REJECTED', 'CANCELLED', 'FAILED')";

pub fn payout_totals(
    conn: &Connection,
    account: AccountId,
    currency: Option<&str>,
    beneficiary: Option<Uuid>,
    since: OffsetDateTime,
) -> StoreResult<PayoutTotals> {
    let (count, amount): (i64, i64) = conn
        .prepare_cached(&format!(
            "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM payouts WHERE account_id = ?1 \
             AND (?2 IS NULL OR currency = ?2) AND (?3 IS NULL OR beneficiary_id = ?3) AND created_at >= ?4 AND {COUNTED}"
        ))?
        .query_row(params![account.to_string(), currency, beneficiary.map(|b| b.to_string()), ms(since)], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    Ok(PayoutTotals { count: u64::try_from(count).unwrap_or_default(), amount })
}

const CONTEXT_SQL: &str = "SELECT (SELECT MAX(version) FROM screening_lists), \
     (SELECT rules FROM compliance_rules WHERE account_id = ?1), \
     (SELECT status FROM compliance_reviews WHERE subject_id = CAST(?2 AS TEXT) ORDER BY created_at DESC, id DESC LIMIT 1)";

pub fn context(conn: &Connection, account: AccountId, beneficiary: Uuid) -> StoreResult<ComplianceContext> {
    // `CAST(?2 AS TEXT)`, not `?2`: on a query with ORDER BY (MAX() is one too), SQLite's planner
    // marks a parameter compared with `=` as "re-plan when rebound", and rusqlite clears the
    // bindings when it returns a statement to its cache, so every use of the cached statement was
    // compiled again (~8 % of the writer's CPU per payout). An expression instead of a bare
    // parameter keeps the same plan (the index on `subject_id`) without that mark.
    let (list_version, rules, beneficiary_review): (Option<i64>, Option<String>, Option<String>) = conn
        .prepare_cached(CONTEXT_SQL)?
        .query_row(params![account.to_string(), beneficiary.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(ComplianceContext { list_version, rules: rules.as_deref().map(json).transpose()?, beneficiary_review })
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    use super::*;

    /// Times the cached statement `sql` was compiled again over three uses with new bindings.
    fn reprepares(conn: &Connection, sql: &str, run: impl Fn(&Connection, &str) -> StoreResult<()>) -> i32 {
        for _ in 0..3 {
            run(conn, &Uuid::new_v4().to_string()).expect("query");
        }
        conn.prepare_cached(sql).expect("cached").get_status(StatementStatus::RePrepare)
    }

    #[test]
    fn hot_statements_are_not_compiled_again_on_every_use() {
        let path = std::env::temp_dir().join(format!("outlay-reprepare-{}.db", Uuid::new_v4()));
        let mut conn = super::super::connect(&path).expect("open");
        super::super::migrate(&mut conn, crate::migrate::SQLITE).expect("migrate");
        let account = AccountId(Uuid::new_v4());
        let context_sql =
            reprepares(&conn, CONTEXT_SQL, |c, id| context(c, account, Uuid::parse_str(id).expect("uuid")).map(|_| ()));
        let next_seq = reprepares(&conn, super::super::NEXT_EVENT_SEQ_SQL, |c, id| {
            c.prepare_cached(super::super::NEXT_EVENT_SEQ_SQL)?.query_row([id], |r| r.get::<_, i64>(0))?;
            Ok(())
        });
        // The same query with a bare parameter is what SQLite marks for a new plan per binding:
        // the check above can fail.
        let bare = CONTEXT_SQL.replace("CAST(?2 AS TEXT)", "?2");
        let bare_sql = reprepares(&conn, &bare, |c, id| {
            c.prepare_cached(&bare)?.query_row(params![account.to_string(), id], |_| Ok(()))?;
            Ok(())
        });
        drop(conn);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        assert_eq!(context_sql, 0, "the compliance context query was compiled again");
        assert_eq!(next_seq, 0, "the event sequence query was compiled again");
        assert!(bare_sql > 0, "with a bare parameter SQLite compiles the statement again ({bare_sql})");
    }
}
