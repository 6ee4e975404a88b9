//! SQLite: webhook endpoints, the fan-out of events to deliveries, claims and replays.

use outlay_core::AccountId;
use rusqlite::{Connection, Row, params};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{SqliteStore, SqliteTx, account_id, count, from_ms, get, ms, opt_from_ms, query_all, uuid};
use crate::{
    ClaimedDelivery, EventRow, NewEvent, Page, PageRequest, StoreError, StoreResult, WebhookAttemptRecord,
    WebhookDeliveryFilter, WebhookDeliveryRow, WebhookDeliveryView, WebhookEndpointRow, WebhookReplayFilter,
};

/// A random (version 4) UUID in SQL, one per row: delivery rows are created by `INSERT … SELECT`.
macro_rules! uuid_v4 {
    () => {
        "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' \
         || substr('89AB', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))"
    };
}

/// The endpoint `ep` takes events of type `$type`.
macro_rules! takes_type {
    ($type:literal) => {
        concat!(
            "(ep.event_types = '[]' OR EXISTS (SELECT 1 FROM json_each(ep.event_types) WHERE json_each.value = ",
            $type,
            "))"
        )
    };
}

const SQL_FAN_OUT: &str = concat!(
    "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, account_id, generation, status, attempts, next_attempt_at, created_at) \
     SELECT ",
    uuid_v4!(),
    ", ?1, ep.id, ep.account_id, 0, 'pending', 0, ?3, ?3 FROM webhook_endpoints ep \
     WHERE ep.status = 'ACTIVE' AND ep.account_id IN (?2, (SELECT parent_id FROM accounts WHERE id = ?2)) AND ",
    takes_type!("?4")
);

/// The events a replay selects (`e`): the owner's and its connected accounts'.
macro_rules! replay_events {
    () => {
        "(e.account_id = ?1 OR e.account_id IN (SELECT id FROM accounts WHERE parent_id = ?1)) \
         AND (?2 IS NULL OR e.id = ?2) AND (?3 IS NULL OR e.event_type = ?3) \
         AND (?4 IS NULL OR e.created_at >= ?4) AND (?5 IS NULL OR e.created_at <= ?5)"
    };
}

const SQL_REPLAY: &str = concat!(
    "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, account_id, generation, status, attempts, next_attempt_at, created_at) \
     SELECT ",
    uuid_v4!(),
    ", e.id, ep.id, ep.account_id, \
     COALESCE((SELECT MAX(d.generation) FROM webhook_deliveries d WHERE d.event_id = e.id AND d.endpoint_id = ep.id), -1) + 1, \
     'pending', 0, ?7, ?7 \
     FROM events e JOIN webhook_endpoints ep ON ep.account_id = ?1 AND ep.status = 'ACTIVE' AND (?6 IS NULL OR ep.id = ?6) AND ",
    takes_type!("e.event_type"),
    " WHERE ",
    replay_events!()
);

const ENDPOINT_COLS: &str = "id, account_id, url, secret, event_types, status, created_at, updated_at";

const EVENT_COLS: &str =
    "e.id, e.account_id, e.event_name, e.event_type, e.source_id, e.object_seq, e.data, e.created_at";

const DELIVERY_COLS: &str = "d.id, d.event_id, d.endpoint_id, d.account_id, d.generation, d.status, d.attempts, \
    d.next_attempt_at, d.lease_until, d.first_attempt_at, d.last_attempt_at, d.last_status_code, d.last_error, \
    d.created_at, d.delivered_at";

const DELIVERY_FILTER: &str = "d.account_id = ?1 AND (?2 IS NULL OR d.status = ?2) AND (?3 IS NULL OR e.event_type = ?3) \
    AND (?4 IS NULL OR d.endpoint_id = ?4) AND (?5 IS NULL OR d.event_id = ?5) \
    AND (?6 IS NULL OR d.created_at >= ?6) AND (?7 IS NULL OR d.created_at <= ?7)";

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".to_owned())
}

fn endpoint_row(r: &Row<'_>) -> StoreResult<WebhookEndpointRow> {
    let types: String = get(r, 4)?;
    Ok(WebhookEndpointRow {
        id: uuid(&get::<String>(r, 0)?)?,
        account_id: account_id(&get::<String>(r, 1)?)?,
        url: get(r, 2)?,
        secret: get(r, 3)?,
        event_types: serde_json::from_str(&types).map_err(StoreError::corrupt)?,
        status: get(r, 5)?,
        created_at: from_ms(get(r, 6)?)?,
        updated_at: from_ms(get(r, 7)?)?,
    })
}

/// An event from `EVENT_COLS` starting at column `at`.
fn event_at(r: &Row<'_>, at: usize) -> StoreResult<EventRow> {
    let data: String = get(r, at + 6)?;
    Ok(EventRow {
        id: uuid(&get::<String>(r, at)?)?,
        account_id: account_id(&get::<String>(r, at + 1)?)?,
        event_name: get(r, at + 2)?,
        event_type: get(r, at + 3)?,
        source_id: uuid(&get::<String>(r, at + 4)?)?,
        object_seq: get(r, at + 5)?,
        data: serde_json::from_str(&data).map_err(StoreError::corrupt)?,
        created_at: from_ms(get(r, at + 7)?)?,
    })
}

fn delivery_row(r: &Row<'_>) -> StoreResult<WebhookDeliveryRow> {
    Ok(WebhookDeliveryRow {
        id: uuid(&get::<String>(r, 0)?)?,
        event_id: uuid(&get::<String>(r, 1)?)?,
        endpoint_id: uuid(&get::<String>(r, 2)?)?,
        account_id: account_id(&get::<String>(r, 3)?)?,
        generation: get(r, 4)?,
        status: get(r, 5)?,
        attempts: get(r, 6)?,
        next_attempt_at: from_ms(get(r, 7)?)?,
        lease_until: opt_from_ms(get(r, 8)?)?,
        first_attempt_at: opt_from_ms(get(r, 9)?)?,
        last_attempt_at: opt_from_ms(get(r, 10)?)?,
        last_status_code: get(r, 11)?,
        last_error: get(r, 12)?,
        created_at: from_ms(get(r, 13)?)?,
        delivered_at: opt_from_ms(get(r, 14)?)?,
    })
}

fn delivery_view(r: &Row<'_>) -> StoreResult<WebhookDeliveryView> {
    Ok(WebhookDeliveryView { delivery: delivery_row(r)?, event: event_at(r, 15)? })
}

fn claimed_row(r: &Row<'_>) -> StoreResult<ClaimedDelivery> {
    Ok(ClaimedDelivery {
        delivery_id: uuid(&get::<String>(r, 0)?)?,
        attempt: get(r, 1)?,
        first_attempt_at: from_ms(get(r, 2)?)?,
        endpoint_id: uuid(&get::<String>(r, 3)?)?,
        url: get(r, 4)?,
        secret: get(r, 5)?,
        event: event_at(r, 6)?,
    })
}

fn get_endpoint(conn: &Connection, account: Option<AccountId>, id: Uuid) -> StoreResult<Option<WebhookEndpointRow>> {
    // With an account: only its active endpoints. Without (the writer): any endpoint.
    let sql = format!(
        "SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE id = ?1 AND (?2 IS NULL OR (account_id = ?2 AND status = 'ACTIVE'))"
    );
    Ok(query_all(conn, &sql, params![id.to_string(), account.map(|a| a.to_string())], endpoint_row)?.pop())
}

fn list_endpoints(conn: &Connection, account: AccountId, page: PageRequest) -> StoreResult<Page<WebhookEndpointRow>> {
    let a = account.to_string();
    let total =
        count(conn, "SELECT COUNT(*) FROM webhook_endpoints WHERE account_id = ?1 AND status = 'ACTIVE'", [&a])?;
    let items = query_all(
        conn,
        &format!(
            "SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE account_id = ?1 AND status = 'ACTIVE' \
             ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3"
        ),
        params![a, page.size, page.offset()],
        endpoint_row,
    )?;
    Ok(Page { total_items: total, items })
}

fn list_deliveries(
    conn: &Connection,
    account: AccountId,
    f: &WebhookDeliveryFilter,
    page: PageRequest,
) -> StoreResult<Page<WebhookDeliveryView>> {
    let a = account.to_string();
    let (endpoint, event) = (f.endpoint_id.map(|u| u.to_string()), f.event_id.map(|u| u.to_string()));
    let (start, end) = (f.start_time.map(ms), f.end_time.map(ms));
    let total = count(
        conn,
        &format!(
            "SELECT COUNT(*) FROM webhook_deliveries d JOIN events e ON e.id = d.event_id WHERE {DELIVERY_FILTER}"
        ),
        params![a, f.status, f.event_type, endpoint, event, start, end],
    )?;
    let items = query_all(
        conn,
        &format!(
            "SELECT {DELIVERY_COLS}, {EVENT_COLS} FROM webhook_deliveries d JOIN events e ON e.id = d.event_id \
             WHERE {DELIVERY_FILTER} ORDER BY d.created_at DESC, d.id DESC LIMIT ?8 OFFSET ?9"
        ),
        params![a, f.status, f.event_type, endpoint, event, start, end, page.size, page.offset()],
        delivery_view,
    )?;
    Ok(Page { total_items: total, items })
}

impl SqliteStore {
    pub(super) async fn webhook_endpoint_read(
        &self,
        account: AccountId,
        id: Uuid,
    ) -> StoreResult<Option<WebhookEndpointRow>> {
        self.read(move |c| get_endpoint(c, Some(account), id)).await
    }

    pub(super) async fn webhook_endpoints_read(
        &self,
        account: AccountId,
        page: PageRequest,
    ) -> StoreResult<Page<WebhookEndpointRow>> {
        self.read(move |c| list_endpoints(c, account, page)).await
    }

    pub(super) async fn webhook_deliveries_read(
        &self,
        account: AccountId,
        filter: &WebhookDeliveryFilter,
        page: PageRequest,
    ) -> StoreResult<Page<WebhookDeliveryView>> {
        let filter = filter.clone();
        self.read(move |c| list_deliveries(c, account, &filter, page)).await
    }

    pub(super) async fn webhook_deliveries_due_read(&self, now: OffsetDateTime) -> StoreResult<bool> {
        self.read(move |c| {
            Ok(count(
                c,
                "SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ?1 \
                 AND (lease_until IS NULL OR lease_until <= ?1))",
                [ms(now)],
            )? > 0)
        })
        .await
    }

    pub(super) async fn webhook_queue_depth_read(&self, now: OffsetDateTime) -> StoreResult<u64> {
        self.read(move |c| {
            count(
                c,
                "SELECT COUNT(*) FROM (SELECT 1 FROM webhook_deliveries WHERE status = 'pending' \
                 AND next_attempt_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1) LIMIT 100000)",
                [ms(now)],
            )
        })
        .await
    }

    /// Here rather than in jobs.rs: it feeds the same metrics sampler as the webhook queue.
    pub(super) async fn jobs_queue_depth_read(&self, now: OffsetDateTime) -> StoreResult<Vec<(String, u64)>> {
        self.read(move |c| {
            query_all(
                c,
                "SELECT kind, COUNT(*) FROM jobs WHERE (status = 'queued' AND run_at <= ?1) \
                 OR (status = 'running' AND lease_until <= ?1) GROUP BY kind ORDER BY kind",
                [ms(now)],
                |r| Ok((get::<String>(r, 0)?, u64::try_from(get::<i64>(r, 1)?).unwrap_or_default())),
            )
        })
        .await
    }
}

impl SqliteTx<'_> {
    /// The deliveries of a new event, in its transaction.
    pub(super) fn webhook_fan_out(&mut self, e: &NewEvent) -> StoreResult<()> {
        self.w.conn.prepare_cached(SQL_FAN_OUT)?.execute(params![
            e.id.to_string(),
            e.account_id.to_string(),
            ms(e.created_at),
            e.event_type
        ])?;
        Ok(())
    }

    pub(super) fn webhook_event(&mut self, id: Uuid) -> StoreResult<Option<EventRow>> {
        Ok(query_all(
            &self.w.conn,
            &format!("SELECT {EVENT_COLS} FROM events e WHERE e.id = ?1"),
            [id.to_string()],
            |r| event_at(r, 0),
        )?
        .pop())
    }

    pub(super) fn webhook_insert_endpoint(&mut self, row: &WebhookEndpointRow) -> StoreResult<()> {
        self.w
            .conn
            .prepare_cached(&format!(
                "INSERT INTO webhook_endpoints ({ENDPOINT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ))?
            .execute(params![
                row.id.to_string(),
                row.account_id.to_string(),
                row.url,
                row.secret,
                json_list(&row.event_types),
                row.status,
                ms(row.created_at),
                ms(row.updated_at)
            ])?;
        Ok(())
    }

    pub(super) fn webhook_endpoint_get(&mut self, id: Uuid) -> StoreResult<Option<WebhookEndpointRow>> {
        get_endpoint(&self.w.conn, None, id)
    }

    pub(super) fn webhook_update_endpoint(&mut self, row: &WebhookEndpointRow) -> StoreResult<()> {
        self.w
            .conn
            .prepare_cached(
                "UPDATE webhook_endpoints SET secret = ?2, event_types = ?3, status = ?4, updated_at = ?5 WHERE id = ?1",
            )?
            .execute(params![
                row.id.to_string(),
                row.secret,
                json_list(&row.event_types),
                row.status,
                ms(row.updated_at)
            ])?;
        Ok(())
    }

    pub(super) fn webhook_count_active(&mut self, account: AccountId) -> StoreResult<u64> {
        count(
            &self.w.conn,
            "SELECT COUNT(*) FROM webhook_endpoints WHERE account_id = ?1 AND status = 'ACTIVE'",
            [account.to_string()],
        )
    }

    pub(super) fn webhook_fail_pending(
        &mut self,
        endpoint: Uuid,
        at: OffsetDateTime,
        reason: &str,
    ) -> StoreResult<u64> {
        let n = self
            .w
            .conn
            .prepare_cached(
                "UPDATE webhook_deliveries SET status = 'failed', lease_until = NULL, last_error = ?3, next_attempt_at = ?2 \
                 WHERE endpoint_id = ?1 AND status = 'pending'",
            )?
            .execute(params![endpoint.to_string(), ms(at), reason])?;
        Ok(n as u64)
    }

    pub(super) fn webhook_claim(
        &mut self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let ids = query_all(
            &self.w.conn,
            "UPDATE webhook_deliveries SET lease_until = ?2, attempts = attempts + 1, \
             first_attempt_at = COALESCE(first_attempt_at, ?1), last_attempt_at = ?1 \
             WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ?1 \
               AND (lease_until IS NULL OR lease_until <= ?1) ORDER BY next_attempt_at LIMIT ?3) \
             RETURNING id",
            params![ms(now), ms(lease_until), limit],
            |r| get::<String>(r, 0),
        )?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = serde_json::to_string(&ids).map_err(StoreError::corrupt)?;
        query_all(
            &self.w.conn,
            &format!(
                "SELECT d.id, d.attempts, d.first_attempt_at, ep.id, ep.url, ep.secret, {EVENT_COLS} \
                 FROM webhook_deliveries d JOIN webhook_endpoints ep ON ep.id = d.endpoint_id JOIN events e ON e.id = d.event_id \
                 WHERE d.id IN (SELECT value FROM json_each(?1)) ORDER BY d.next_attempt_at, e.created_at"
            ),
            [ids],
            claimed_row,
        )
    }

    pub(super) fn webhook_record(&mut self, a: &WebhookAttemptRecord) -> StoreResult<bool> {
        let delivered = (a.status == "succeeded").then_some(ms(a.at));
        let n = self
            .w
            .conn
            .prepare_cached(
                "UPDATE webhook_deliveries SET status = ?3, next_attempt_at = ?4, lease_until = NULL, last_status_code = ?5, \
                 last_error = ?6, delivered_at = ?7 WHERE id = ?1 AND attempts = ?2 AND status = 'pending'",
            )?
            .execute(params![
                a.delivery_id.to_string(),
                a.attempt,
                a.status,
                ms(a.next_attempt_at),
                a.status_code,
                a.error,
                delivered
            ])?;
        Ok(n == 1)
    }

    fn replay_params(f: &WebhookReplayFilter) -> [Option<String>; 3] {
        [f.event_id.map(|u| u.to_string()), f.event_type.clone(), f.endpoint_id.map(|u| u.to_string())]
    }

    pub(super) fn webhook_count_replay(&mut self, f: &WebhookReplayFilter) -> StoreResult<u64> {
        let [event, event_type, _] = Self::replay_params(f);
        count(
            &self.w.conn,
            concat!("SELECT COUNT(*) FROM events e WHERE ", replay_events!()),
            params![f.owner.to_string(), event, event_type, f.start_time.map(ms), f.end_time.map(ms)],
        )
    }

    pub(super) fn webhook_replay(&mut self, f: &WebhookReplayFilter, at: OffsetDateTime) -> StoreResult<u64> {
        let [event, event_type, endpoint] = Self::replay_params(f);
        let n = self.w.conn.prepare_cached(SQL_REPLAY)?.execute(params![
            f.owner.to_string(),
            event,
            event_type,
            f.start_time.map(ms),
            f.end_time.map(ms),
            endpoint,
            ms(at)
        ])?;
        Ok(n as u64)
    }
}
