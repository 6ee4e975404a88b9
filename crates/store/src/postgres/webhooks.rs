//! PostgreSQL: webhook endpoints, claims and replays. The fan-out of a new event to its
//! deliveries is part of the events' own insert (`EVENTS_MANY` below, queued by postgres.rs).

use outlay_core::AccountId;
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use super::pipeline::{Multi, Ty};
use super::{PgStore, PgTx, col, collect, count_of, db_time, page_params};
use crate::{
    ClaimedDelivery, EventRow, Page, PageRequest, StoreError, StoreResult, WebhookAttemptRecord, WebhookDeliveryFilter,
    WebhookDeliveryRow, WebhookDeliveryView, WebhookEndpointRow, WebhookReplayFilter,
};

/// Events, many per statement (see `pipeline::plan`), each with a pending delivery for every
/// active endpoint of its account or of its parent whose filter takes its type (as the one-row
/// insert did). `object_seq` counts on from the source's newest stored event and, for several
/// events of one source in one statement, in queue order.
pub(super) static EVENTS_MANY: Multi = Multi {
    sql: "WITH t AS (SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::text[], \
          $7::timestamptz[]) WITH ORDINALITY AS t(id, account_id, event_name, event_type, source_id, data, created_at, ord)), \
          ev AS (INSERT INTO events (id, account_id, event_name, event_type, source_id, object_seq, data, created_at) \
          SELECT t.id, t.account_id, t.event_name, t.event_type, t.source_id, \
          COALESCE((SELECT MAX(e.object_seq) FROM events e WHERE e.source_id = t.source_id), 0) \
          + row_number() OVER (PARTITION BY t.source_id ORDER BY t.ord), t.data::jsonb, t.created_at FROM t ORDER BY t.ord) \
          INSERT INTO webhook_deliveries (id, event_id, endpoint_id, account_id, generation, status, attempts, \
          next_attempt_at, created_at) \
          SELECT gen_random_uuid(), t.id, ep.id, ep.account_id, 0, 'pending', 0, t.created_at, t.created_at \
          FROM t JOIN webhook_endpoints ep ON ep.status = 'ACTIVE' \
          AND ep.account_id IN (t.account_id, (SELECT parent_id FROM accounts WHERE id = t.account_id)) \
          AND (ep.event_types = '[]'::jsonb OR ep.event_types @> jsonb_build_array(t.event_type)) ORDER BY t.ord",
    main: &[Ty::Uuid, Ty::Uuid, Ty::Text, Ty::Text, Ty::Uuid, Ty::Text, Ty::Time],
    extra: &[],
    expect_each: false,
};

macro_rules! endpoint_cols {
    () => {
        "id, account_id, url, secret, event_types::text, status, created_at, updated_at"
    };
}

macro_rules! event_cols {
    () => {
        "e.id, e.account_id, e.event_name, e.event_type, e.source_id, e.object_seq, e.data::text, e.created_at"
    };
}

macro_rules! delivery_cols {
    () => {
        "d.id, d.event_id, d.endpoint_id, d.account_id, d.generation, d.status, d.attempts, d.next_attempt_at, \
         d.lease_until, d.first_attempt_at, d.last_attempt_at, d.last_status_code, d.last_error, d.created_at, \
         d.delivered_at"
    };
}

macro_rules! delivery_filter {
    () => {
        "d.account_id = $1 AND ($2::text IS NULL OR d.status = $2) AND ($3::text IS NULL OR e.event_type = $3) \
         AND ($4::uuid IS NULL OR d.endpoint_id = $4) AND ($5::uuid IS NULL OR d.event_id = $5) \
         AND ($6::timestamptz IS NULL OR d.created_at >= $6) AND ($7::timestamptz IS NULL OR d.created_at <= $7)"
    };
}

/// The events a replay selects (`e`): the owner's and its connected accounts'.
macro_rules! replay_events {
    () => {
        "(e.account_id = $1 OR e.account_id IN (SELECT id FROM accounts WHERE parent_id = $1)) \
         AND ($2::uuid IS NULL OR e.id = $2) AND ($3::text IS NULL OR e.event_type = $3) \
         AND ($4::timestamptz IS NULL OR e.created_at >= $4) AND ($5::timestamptz IS NULL OR e.created_at <= $5)"
    };
}

const SQL_ENDPOINT_READ: &str = concat!(
    "SELECT ",
    endpoint_cols!(),
    " FROM webhook_endpoints WHERE id = $1 AND account_id = $2 AND status = 'ACTIVE'"
);
const SQL_ENDPOINT: &str = concat!("SELECT ", endpoint_cols!(), " FROM webhook_endpoints WHERE id = $1");
const SQL_ENDPOINTS_COUNT: &str = "SELECT COUNT(*) FROM webhook_endpoints WHERE account_id = $1 AND status = 'ACTIVE'";
const SQL_ENDPOINTS: &str = concat!(
    "SELECT ",
    endpoint_cols!(),
    " FROM webhook_endpoints WHERE account_id = $1 AND status = 'ACTIVE' ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
);
const SQL_ENDPOINT_INSERT: &str = concat!(
    "INSERT INTO webhook_endpoints (",
    "id, account_id, url, secret, event_types, status, created_at, updated_at",
    ") VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7, $8)"
);
const SQL_ENDPOINT_UPDATE: &str = "UPDATE webhook_endpoints SET secret = $2, event_types = $3::text::jsonb, status = $4, \
     updated_at = $5 WHERE id = $1";
const SQL_DELIVERIES_COUNT: &str =
    concat!("SELECT COUNT(*) FROM webhook_deliveries d JOIN events e ON e.id = d.event_id WHERE ", delivery_filter!());
const SQL_DELIVERIES: &str = concat!(
    "SELECT ",
    delivery_cols!(),
    ", ",
    event_cols!(),
    " FROM webhook_deliveries d JOIN events e ON e.id = d.event_id WHERE ",
    delivery_filter!(),
    " ORDER BY d.created_at DESC, d.id DESC LIMIT $8 OFFSET $9"
);
const SQL_DUE: &str = "SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
     AND (lease_until IS NULL OR lease_until <= $1))";
const SQL_QUEUE_DEPTH: &str = "SELECT COUNT(*) FROM (SELECT 1 FROM webhook_deliveries WHERE status = 'pending' \
     AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1) LIMIT 100000) due";
const SQL_JOBS_QUEUE_DEPTH: &str = "SELECT kind, COUNT(*) FROM jobs WHERE (status = 'queued' AND run_at <= $1) \
     OR (status = 'running' AND lease_until <= $1) GROUP BY kind ORDER BY kind";
const SQL_EVENT: &str = concat!("SELECT ", event_cols!(), " FROM events e WHERE e.id = $1");
const SQL_FAIL_PENDING: &str = "UPDATE webhook_deliveries SET status = 'failed', lease_until = NULL, last_error = $3, \
     next_attempt_at = $2 WHERE endpoint_id = $1 AND status = 'pending'";
/// Lease due rows (skipping rows another node's transaction holds) and return what sending
/// them needs. `= ANY(ARRAY(…))` evaluates the locking subquery once, so LIMIT holds.
const SQL_CLAIM: &str = concat!(
    "WITH claimed AS (UPDATE webhook_deliveries d SET lease_until = $2, attempts = d.attempts + 1, \
       first_attempt_at = COALESCE(d.first_attempt_at, $1), last_attempt_at = $1 \
     WHERE d.id = ANY(ARRAY(SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
       AND (lease_until IS NULL OR lease_until <= $1) ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)) \
     RETURNING d.id, d.attempts, d.first_attempt_at, d.endpoint_id, d.event_id, d.next_attempt_at) \
     SELECT c.id, c.attempts, c.first_attempt_at, ep.id, ep.url, ep.secret, ",
    event_cols!(),
    " FROM claimed c JOIN webhook_endpoints ep ON ep.id = c.endpoint_id JOIN events e ON e.id = c.event_id \
     ORDER BY c.next_attempt_at, e.created_at"
);
const SQL_RECORD: &str = "UPDATE webhook_deliveries SET status = $3, next_attempt_at = $4, lease_until = NULL, \
     last_status_code = $5, last_error = $6, delivered_at = $7 WHERE id = $1 AND attempts = $2 AND status = 'pending'";
/// Many results in one statement; `(id, attempts)` of the rows it recorded.
const SQL_RECORD_MANY: &str = "UPDATE webhook_deliveries d SET status = v.status, next_attempt_at = v.next_at, \
     lease_until = NULL, last_status_code = v.code, last_error = v.error, delivered_at = v.delivered \
     FROM unnest($1::uuid[], $2::int4[], $3::text[], $4::timestamptz[], $5::int4[], $6::text[], $7::timestamptz[]) \
       AS v(id, attempt, status, next_at, code, error, delivered) \
     WHERE d.id = v.id AND d.attempts = v.attempt AND d.status = 'pending' RETURNING d.id, d.attempts";
const SQL_REPLAY_COUNT: &str = concat!("SELECT COUNT(*) FROM events e WHERE ", replay_events!());
const SQL_REPLAY: &str = concat!(
    "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, account_id, generation, status, attempts, next_attempt_at, created_at) \
     SELECT gen_random_uuid(), e.id, ep.id, ep.account_id, \
       COALESCE((SELECT MAX(d.generation) FROM webhook_deliveries d WHERE d.event_id = e.id AND d.endpoint_id = ep.id), -1) + 1, \
       'pending', 0, $7, $7 \
     FROM events e JOIN webhook_endpoints ep ON ep.account_id = $1 AND ep.status = 'ACTIVE' AND ($6::uuid IS NULL OR ep.id = $6) \
       AND (ep.event_types = '[]'::jsonb OR ep.event_types @> jsonb_build_array(e.event_type)) \
     WHERE ",
    replay_events!()
);

fn count_of_at(r: &Row, at: usize) -> StoreResult<u64> {
    Ok(u64::try_from(col::<i64>(r, at)?).unwrap_or_default())
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".to_owned())
}

fn endpoint_from_row(r: &Row) -> StoreResult<WebhookEndpointRow> {
    let types: String = col(r, 4)?;
    Ok(WebhookEndpointRow {
        id: col(r, 0)?,
        account_id: AccountId(col(r, 1)?),
        url: col(r, 2)?,
        secret: col(r, 3)?,
        event_types: serde_json::from_str(&types).map_err(StoreError::corrupt)?,
        status: col(r, 5)?,
        created_at: col(r, 6)?,
        updated_at: col(r, 7)?,
    })
}

/// An event from `event_cols!()` starting at column `at`.
fn event_at(r: &Row, at: usize) -> StoreResult<EventRow> {
    let data: String = col(r, at + 6)?;
    Ok(EventRow {
        id: col(r, at)?,
        account_id: AccountId(col(r, at + 1)?),
        event_name: col(r, at + 2)?,
        event_type: col(r, at + 3)?,
        source_id: col(r, at + 4)?,
        object_seq: col(r, at + 5)?,
        data: serde_json::from_str(&data).map_err(StoreError::corrupt)?,
        created_at: col(r, at + 7)?,
    })
}

fn delivery_from_row(r: &Row) -> StoreResult<WebhookDeliveryRow> {
    Ok(WebhookDeliveryRow {
        id: col(r, 0)?,
        event_id: col(r, 1)?,
        endpoint_id: col(r, 2)?,
        account_id: AccountId(col(r, 3)?),
        generation: col(r, 4)?,
        status: col(r, 5)?,
        attempts: col(r, 6)?,
        next_attempt_at: col(r, 7)?,
        lease_until: col(r, 8)?,
        first_attempt_at: col(r, 9)?,
        last_attempt_at: col(r, 10)?,
        last_status_code: col(r, 11)?,
        last_error: col(r, 12)?,
        created_at: col(r, 13)?,
        delivered_at: col(r, 14)?,
    })
}

fn view_from_row(r: &Row) -> StoreResult<WebhookDeliveryView> {
    Ok(WebhookDeliveryView { delivery: delivery_from_row(r)?, event: event_at(r, 15)? })
}

fn claimed_from_row(r: &Row) -> StoreResult<ClaimedDelivery> {
    Ok(ClaimedDelivery {
        delivery_id: col(r, 0)?,
        attempt: col(r, 1)?,
        first_attempt_at: col(r, 2)?,
        endpoint_id: col(r, 3)?,
        url: col(r, 4)?,
        secret: col(r, 5)?,
        event: event_at(r, 6)?,
    })
}

impl PgStore {
    pub(super) async fn webhook_endpoint_read(
        &self,
        account: AccountId,
        id: Uuid,
    ) -> StoreResult<Option<WebhookEndpointRow>> {
        self.row_opt(SQL_ENDPOINT_READ, &[&id, &account.0]).await?.as_ref().map(endpoint_from_row).transpose()
    }

    pub(super) async fn webhook_endpoints_read(
        &self,
        account: AccountId,
        page: PageRequest,
    ) -> StoreResult<Page<WebhookEndpointRow>> {
        let (limit, offset) = page_params(page);
        let total = count_of(&self.row(SQL_ENDPOINTS_COUNT, &[&account.0]).await?)?;
        let rows = self.rows(SQL_ENDPOINTS, &[&account.0, &limit, &offset]).await?;
        Ok(Page { total_items: total, items: collect(&rows, endpoint_from_row)? })
    }

    pub(super) async fn webhook_deliveries_read(
        &self,
        account: AccountId,
        f: &WebhookDeliveryFilter,
        page: PageRequest,
    ) -> StoreResult<Page<WebhookDeliveryView>> {
        let (limit, offset) = page_params(page);
        let (start, end) = (f.start_time.map(db_time), f.end_time.map(db_time));
        let filter: [&(dyn tokio_postgres::types::ToSql + Sync); 7] =
            [&account.0, &f.status, &f.event_type, &f.endpoint_id, &f.event_id, &start, &end];
        let total = count_of(&self.row(SQL_DELIVERIES_COUNT, &filter).await?)?;
        let mut params = filter.to_vec();
        params.extend([&limit as &(dyn tokio_postgres::types::ToSql + Sync), &offset]);
        let rows = self.rows(SQL_DELIVERIES, &params).await?;
        Ok(Page { total_items: total, items: collect(&rows, view_from_row)? })
    }

    pub(super) async fn webhook_deliveries_due_read(&self, now: OffsetDateTime) -> StoreResult<bool> {
        col(&self.row(SQL_DUE, &[&db_time(now)]).await?, 0)
    }

    pub(super) async fn webhook_queue_depth_read(&self, now: OffsetDateTime) -> StoreResult<u64> {
        count_of(&self.row(SQL_QUEUE_DEPTH, &[&db_time(now)]).await?)
    }

    /// Here rather than in jobs.rs: it feeds the same metrics sampler as the webhook queue.
    pub(super) async fn jobs_queue_depth_read(&self, now: OffsetDateTime) -> StoreResult<Vec<(String, u64)>> {
        let rows = self.rows(SQL_JOBS_QUEUE_DEPTH, &[&db_time(now)]).await?;
        collect(&rows, |r| Ok((col::<String>(r, 0)?, count_of_at(r, 1)?)))
    }
}

impl PgTx<'_> {
    pub(super) async fn webhook_event(&mut self, id: Uuid) -> StoreResult<Option<EventRow>> {
        self.opt(SQL_EVENT, &[&id]).await?.as_ref().map(|r| event_at(r, 0)).transpose()
    }

    pub(super) async fn webhook_insert_endpoint(&mut self, row: &WebhookEndpointRow) -> StoreResult<()> {
        let (types, created, updated) = (json_list(&row.event_types), db_time(row.created_at), db_time(row.updated_at));
        self.exec(
            SQL_ENDPOINT_INSERT,
            &[&row.id, &row.account_id.0, &row.url, &row.secret, &types, &row.status, &created, &updated],
        )
        .await?;
        Ok(())
    }

    pub(super) async fn webhook_endpoint_get(&mut self, id: Uuid) -> StoreResult<Option<WebhookEndpointRow>> {
        self.opt(SQL_ENDPOINT, &[&id]).await?.as_ref().map(endpoint_from_row).transpose()
    }

    pub(super) async fn webhook_update_endpoint(&mut self, row: &WebhookEndpointRow) -> StoreResult<()> {
        let (types, updated) = (json_list(&row.event_types), db_time(row.updated_at));
        self.exec(SQL_ENDPOINT_UPDATE, &[&row.id, &row.secret, &types, &row.status, &updated]).await?;
        Ok(())
    }

    pub(super) async fn webhook_count_active(&mut self, account: AccountId) -> StoreResult<u64> {
        count_of(&self.one(SQL_ENDPOINTS_COUNT, &[&account.0]).await?)
    }

    pub(super) async fn webhook_fail_pending(
        &mut self,
        endpoint: Uuid,
        at: OffsetDateTime,
        reason: &str,
    ) -> StoreResult<u64> {
        self.exec(SQL_FAIL_PENDING, &[&endpoint, &db_time(at), &reason]).await
    }

    pub(super) async fn webhook_claim(
        &mut self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let rows = self.all(SQL_CLAIM, &[&db_time(now), &db_time(lease_until), &i64::from(limit)]).await?;
        collect(&rows, claimed_from_row)
    }

    pub(super) async fn webhook_record(&mut self, a: &WebhookAttemptRecord) -> StoreResult<bool> {
        let (at, next) = (db_time(a.at), db_time(a.next_attempt_at));
        let delivered = (a.status == "succeeded").then_some(at);
        let n = self
            .exec(SQL_RECORD, &[&a.delivery_id, &a.attempt, &a.status, &next, &a.status_code, &a.error, &delivered])
            .await?;
        Ok(n == 1)
    }

    pub(super) async fn webhook_record_many(&mut self, records: &[WebhookAttemptRecord]) -> StoreResult<Vec<bool>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = records.iter().map(|a| a.delivery_id).collect();
        let attempts: Vec<i32> = records.iter().map(|a| a.attempt).collect();
        let statuses: Vec<&str> = records.iter().map(|a| a.status.as_str()).collect();
        let next: Vec<OffsetDateTime> = records.iter().map(|a| db_time(a.next_attempt_at)).collect();
        let codes: Vec<Option<i32>> = records.iter().map(|a| a.status_code).collect();
        let errors: Vec<Option<&str>> = records.iter().map(|a| a.error.as_deref()).collect();
        let delivered: Vec<Option<OffsetDateTime>> =
            records.iter().map(|a| (a.status == "succeeded").then_some(db_time(a.at))).collect();
        let rows = self.all(SQL_RECORD_MANY, &[&ids, &attempts, &statuses, &next, &codes, &errors, &delivered]).await?;
        let done: std::collections::HashSet<(Uuid, i32)> =
            collect(&rows, |r| Ok((col::<Uuid>(r, 0)?, col::<i32>(r, 1)?)))?.into_iter().collect();
        Ok(records.iter().map(|a| done.contains(&(a.delivery_id, a.attempt))).collect())
    }

    pub(super) async fn webhook_count_replay(&mut self, f: &WebhookReplayFilter) -> StoreResult<u64> {
        let (start, end) = (f.start_time.map(db_time), f.end_time.map(db_time));
        count_of(&self.one(SQL_REPLAY_COUNT, &[&f.owner.0, &f.event_id, &f.event_type, &start, &end]).await?)
    }

    pub(super) async fn webhook_replay(&mut self, f: &WebhookReplayFilter, at: OffsetDateTime) -> StoreResult<u64> {
        let (start, end, at) = (f.start_time.map(db_time), f.end_time.map(db_time), db_time(at));
        self.exec(SQL_REPLAY, &[&f.owner.0, &f.event_id, &f.event_type, &start, &end, &f.endpoint_id, &at]).await
    }
}
