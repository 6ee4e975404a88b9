//! PostgreSQL: the jobs table (SQL and row mapping; postgres.rs delegates here). Claims use
//! `FOR UPDATE SKIP LOCKED`, so two nodes claiming at once take different jobs.

use tokio_postgres::Row;

use super::col;
use crate::{JobRow, StoreResult};

macro_rules! cols {
    () => {
        "id, kind, dedupe_key, payload::text, status, run_at, attempts, max_attempts, lease_until, claim_token, \
         last_error, created_at, updated_at, finished_at"
    };
}

pub const SQL_JOB: &str = concat!("SELECT ", cols!(), " FROM jobs WHERE id = $1");
pub const SQL_JOBS: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM jobs WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR status = $2) ORDER BY created_at, id LIMIT $3"
);
pub const SQL_JOBS_DUE: &str = "SELECT EXISTS (SELECT 1 FROM jobs WHERE kind = ANY($1) AND \
    ((status = 'queued' AND run_at <= $2) OR (status = 'running' AND lease_until <= $2)))";
pub const SQL_ENQUEUE: &str = "INSERT INTO jobs (id, kind, dedupe_key, payload, status, run_at, attempts, max_attempts, \
    created_at, updated_at) VALUES ($1, $2, $3, $4::text::jsonb, 'queued', $5, 0, $6, $7, $7) ON CONFLICT ON CONSTRAINT jobs_dedupe_key DO NOTHING";
pub const SQL_CLAIM: &str = concat!(
    "UPDATE jobs j SET status = 'running', attempts = j.attempts + 1, lease_until = $3, updated_at = $2, \
     claim_token = gen_random_uuid() \
     FROM (SELECT id FROM jobs WHERE kind = ANY($1) AND \
       ((status = 'queued' AND run_at <= $2) OR (status = 'running' AND lease_until <= $2)) \
       ORDER BY run_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) due \
     WHERE j.id = due.id RETURNING ",
    "j.id, j.kind, j.dedupe_key, j.payload::text, j.status, j.run_at, j.attempts, j.max_attempts, j.lease_until, \
     j.claim_token, j.last_error, j.created_at, j.updated_at, j.finished_at"
);
pub const SQL_FINISH_DONE: &str = "UPDATE jobs SET status = 'done', lease_until = NULL, last_error = NULL, \
    updated_at = $3, finished_at = $3 WHERE id = $1 AND claim_token = $2 AND status = 'running'";
pub const SQL_FINISH_FAILED: &str = "UPDATE jobs SET \
    status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END, \
    finished_at = CASE WHEN attempts >= max_attempts THEN $3::timestamptz ELSE NULL END, \
    run_at = $4, lease_until = NULL, last_error = $5, updated_at = $3 \
    WHERE id = $1 AND claim_token = $2 AND status = 'running'";

pub fn from_row(r: &Row) -> StoreResult<JobRow> {
    Ok(JobRow {
        id: col(r, 0)?,
        kind: col(r, 1)?,
        dedupe_key: col(r, 2)?,
        payload: serde_json::from_str(&col::<String>(r, 3)?)
            .map_err(|e| crate::StoreError::corrupt(format!("job payload: {e}")))?,
        status: col(r, 4)?,
        run_at: col(r, 5)?,
        attempts: col(r, 6)?,
        max_attempts: col(r, 7)?,
        lease_until: col(r, 8)?,
        claim_token: col(r, 9)?,
        last_error: col(r, 10)?,
        created_at: col(r, 11)?,
        updated_at: col(r, 12)?,
        finished_at: col(r, 13)?,
    })
}
