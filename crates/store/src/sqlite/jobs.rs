//! SQLite: the jobs table. The single writer claims with one `UPDATE ... RETURNING`, so no two
//! claims can interleave on one node; across processes SQLite's write lock serialises them.

use rusqlite::{Connection, Row, params, params_from_iter};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{from_ms, ms, opt_from_ms, uuid};
use crate::{JobEnd, JobRow, NewJob, StoreError, StoreResult};

const COLS: &str = "id, kind, dedupe_key, payload, status, run_at, attempts, max_attempts, lease_until, claim_token, \
    last_error, created_at, updated_at, finished_at";

fn row(r: &Row<'_>) -> StoreResult<JobRow> {
    let payload: String = r.get(3)?;
    let token: Option<String> = r.get(9)?;
    Ok(JobRow {
        id: uuid(&r.get::<_, String>(0)?)?,
        kind: r.get(1)?,
        dedupe_key: r.get(2)?,
        payload: serde_json::from_str(&payload).map_err(|e| StoreError::Corrupt(format!("job payload: {e}")))?,
        status: r.get(4)?,
        run_at: from_ms(r.get(5)?)?,
        attempts: r.get(6)?,
        max_attempts: r.get(7)?,
        lease_until: opt_from_ms(r.get(8)?)?,
        claim_token: token.as_deref().map(uuid).transpose()?,
        last_error: r.get(10)?,
        created_at: from_ms(r.get(11)?)?,
        updated_at: from_ms(r.get(12)?)?,
        finished_at: opt_from_ms(r.get(13)?)?,
    })
}

fn collect(mut rows: rusqlite::Rows<'_>) -> StoreResult<Vec<JobRow>> {
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(row(r)?);
    }
    Ok(out)
}

fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ")
}

pub fn job(conn: &Connection, id: Uuid) -> StoreResult<Option<JobRow>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLS} FROM jobs WHERE id = ?1"))?;
    let mut rows = stmt.query([id.to_string()])?;
    rows.next()?.map(row).transpose()
}

pub fn jobs(conn: &Connection, kind: Option<&str>, status: Option<&str>, limit: u32) -> StoreResult<Vec<JobRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM jobs WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR status = ?2) \
         ORDER BY created_at, id LIMIT ?3"
    ))?;
    collect(stmt.query(params![kind, status, limit])?)
}

pub fn jobs_due(conn: &Connection, kinds: &[&str], now: OffsetDateTime) -> StoreResult<bool> {
    if kinds.is_empty() {
        return Ok(false);
    }
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE kind IN ({}) AND \
         ((status = 'queued' AND run_at <= ?1) OR (status = 'running' AND lease_until <= ?1)))",
        placeholders(2, kinds.len())
    );
    let mut values: Vec<rusqlite::types::Value> = vec![ms(now).into()];
    values.extend(kinds.iter().map(|k| rusqlite::types::Value::from((*k).to_owned())));
    Ok(conn.prepare_cached(&sql)?.query_row(params_from_iter(values), |r| r.get::<_, bool>(0))?)
}

pub fn enqueue(conn: &Connection, job: &NewJob) -> StoreResult<bool> {
    let changed = conn
        .prepare_cached(
            "INSERT INTO jobs (id, kind, dedupe_key, payload, status, run_at, attempts, max_attempts, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, 'queued', ?5, 0, ?6, ?7, ?7) ON CONFLICT (kind, dedupe_key) DO NOTHING",
        )?
        .execute(params![
            job.id.to_string(),
            job.kind,
            job.dedupe_key,
            job.payload.to_string(),
            ms(job.run_at),
            job.max_attempts,
            ms(job.created_at)
        ])?;
    Ok(changed == 1)
}

pub fn claim(
    conn: &Connection,
    kinds: &[&str],
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
    limit: u32,
) -> StoreResult<Vec<JobRow>> {
    if kinds.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    // The token is derived per row from a fresh random prefix and the row id, so each claim of
    // each row gets its own.
    let sql = format!(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = ?2, updated_at = ?1, \
         claim_token = ?3 || substr(id, 9) \
         WHERE id IN (SELECT id FROM jobs WHERE kind IN ({}) AND \
           ((status = 'queued' AND run_at <= ?1) OR (status = 'running' AND lease_until <= ?1)) \
           ORDER BY run_at, id LIMIT ?4) \
         RETURNING {COLS}",
        placeholders(5, kinds.len())
    );
    let prefix = Uuid::new_v4().to_string()[..8].to_owned();
    let mut values: Vec<rusqlite::types::Value> =
        vec![ms(now).into(), ms(lease_until).into(), prefix.into(), i64::from(limit).into()];
    values.extend(kinds.iter().map(|k| rusqlite::types::Value::from((*k).to_owned())));
    let mut stmt = conn.prepare(&sql)?;
    let mut jobs = collect(stmt.query(params_from_iter(values))?)?;
    jobs.sort_by_key(|j| (j.run_at, j.id));
    Ok(jobs)
}

pub fn finish(conn: &Connection, id: Uuid, token: Uuid, end: &JobEnd, at: OffsetDateTime) -> StoreResult<bool> {
    let changed = match end {
        JobEnd::Done => conn
            .prepare_cached(
                "UPDATE jobs SET status = 'done', lease_until = NULL, last_error = NULL, updated_at = ?3, finished_at = ?3 \
                 WHERE id = ?1 AND claim_token = ?2 AND status = 'running'",
            )?
            .execute(params![id.to_string(), token.to_string(), ms(at)])?,
        JobEnd::Failed { error, retry_at } => conn
            .prepare_cached(
                "UPDATE jobs SET \
                   status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END, \
                   finished_at = CASE WHEN attempts >= max_attempts THEN ?3 ELSE NULL END, \
                   run_at = ?4, lease_until = NULL, last_error = ?5, updated_at = ?3 \
                 WHERE id = ?1 AND claim_token = ?2 AND status = 'running'",
            )?
            .execute(params![id.to_string(), token.to_string(), ms(at), ms(*retry_at), error])?,
    };
    Ok(changed == 1)
}
