//! SQLite: FX rates, quotes and conversions.

use outlay_core::AccountId;
use rusqlite::{Connection, Row, params};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{SqliteStore, SqliteTx, account_id, count, from_ms, get, ms, opt_from_ms, query_all, query_one, uuid};
use crate::{ConversionFilter, ConversionRow, FxRateRow, Page, PageRequest, QuoteRow, StoreError, StoreResult};

const DATE: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

fn date_text(d: Date) -> String {
    d.format(DATE).unwrap_or_default()
}

fn date(text: &str) -> StoreResult<Date> {
    Date::parse(text, DATE).map_err(|e| StoreError::corrupt(format!("date {text}: {e}")))
}

const RATE_COLS: &str = "currency_pair, rate, source, updated_at";

fn rate_row(r: &Row<'_>) -> StoreResult<FxRateRow> {
    Ok(FxRateRow { currency_pair: get(r, 0)?, rate: get(r, 1)?, source: get(r, 2)?, updated_at: from_ms(get(r, 3)?)? })
}

const QUOTE_COLS: &str = "id, account_id, sell_currency, sell_amount, buy_currency, buy_amount, fixed_side, mid_rate, \
    client_rate, markup_bps, transaction_type, conversion_date, valid_from, valid_to, used_at, used_by";

fn quote_row(r: &Row<'_>) -> StoreResult<QuoteRow> {
    Ok(QuoteRow {
        id: uuid(&get::<String>(r, 0)?)?,
        account_id: account_id(&get::<String>(r, 1)?)?,
        sell_currency: get(r, 2)?,
        sell_amount: get(r, 3)?,
        buy_currency: get(r, 4)?,
        buy_amount: get(r, 5)?,
        fixed_side: get(r, 6)?,
        mid_rate: get(r, 7)?,
        client_rate: get(r, 8)?,
        markup_bps: get(r, 9)?,
        transaction_type: get(r, 10)?,
        conversion_date: date(&get::<String>(r, 11)?)?,
        valid_from: from_ms(get(r, 12)?)?,
        valid_to: from_ms(get(r, 13)?)?,
        used_at: opt_from_ms(get(r, 14)?)?,
        used_by: get::<Option<String>>(r, 15)?.as_deref().map(uuid).transpose()?,
    })
}

const CONVERSION_COLS: &str = "id, account_id, short_reference_id, quote_id, sell_currency, sell_amount, buy_currency, \
    buy_amount, client_rate, status, conversion_date, reference, created_at, completed_at";

fn conversion_row(r: &Row<'_>) -> StoreResult<ConversionRow> {
    Ok(ConversionRow {
        id: uuid(&get::<String>(r, 0)?)?,
        account_id: account_id(&get::<String>(r, 1)?)?,
        short_reference_id: get(r, 2)?,
        quote_id: uuid(&get::<String>(r, 3)?)?,
        sell_currency: get(r, 4)?,
        sell_amount: get(r, 5)?,
        buy_currency: get(r, 6)?,
        buy_amount: get(r, 7)?,
        client_rate: get(r, 8)?,
        status: get(r, 9)?,
        conversion_date: date(&get::<String>(r, 10)?)?,
        reference: get(r, 11)?,
        created_at: from_ms(get(r, 12)?)?,
        completed_at: opt_from_ms(get(r, 13)?)?,
    })
}

fn get_quote(conn: &Connection, account: Option<AccountId>, id: Uuid) -> StoreResult<Option<QuoteRow>> {
    query_one(
        conn,
        &format!("SELECT {QUOTE_COLS} FROM quotes WHERE id = ?1 AND (?2 IS NULL OR account_id = ?2)"),
        params![id.to_string(), account.map(|a| a.to_string())],
        quote_row,
    )
}

fn get_conversion(conn: &Connection, account: AccountId, id: Uuid) -> StoreResult<Option<ConversionRow>> {
    query_one(
        conn,
        &format!("SELECT {CONVERSION_COLS} FROM conversions WHERE id = ?1 AND account_id = ?2"),
        params![id.to_string(), account.to_string()],
        conversion_row,
    )
}

const CONVERSION_FILTER: &str = "account_id = ?1 AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR sell_currency = ?3) \
    AND (?4 IS NULL OR buy_currency = ?4) AND (?5 IS NULL OR created_at >= ?5) AND (?6 IS NULL OR created_at <= ?6)";

fn list_conversions(
    conn: &Connection,
    account: AccountId,
    f: &ConversionFilter,
    page: PageRequest,
) -> StoreResult<Page<ConversionRow>> {
    let (a, s, e) = (account.to_string(), f.start_time.map(ms), f.end_time.map(ms));
    let total = count(
        conn,
        &format!("SELECT COUNT(*) FROM conversions WHERE {CONVERSION_FILTER}"),
        params![a, f.status, f.sell_currency, f.buy_currency, s, e],
    )?;
    let items = query_all(
        conn,
        &format!(
            "SELECT {CONVERSION_COLS} FROM conversions WHERE {CONVERSION_FILTER} ORDER BY created_at DESC, id DESC LIMIT ?7 OFFSET ?8"
        ),
        params![a, f.status, f.sell_currency, f.buy_currency, s, e, page.size, page.offset()],
        conversion_row,
    )?;
    Ok(Page { total_items: total, items })
}

impl SqliteStore {
    pub(super) async fn fx_rates_read(&self) -> StoreResult<Vec<FxRateRow>> {
        self.read(|c| query_all(c, &format!("SELECT {RATE_COLS} FROM fx_rates ORDER BY currency_pair"), [], rate_row))
            .await
    }

    pub(super) async fn quote_read(&self, account: AccountId, id: Uuid) -> StoreResult<Option<QuoteRow>> {
        self.read(move |c| get_quote(c, Some(account), id)).await
    }

    pub(super) async fn conversion_read(&self, account: AccountId, id: Uuid) -> StoreResult<Option<ConversionRow>> {
        self.read(move |c| get_conversion(c, account, id)).await
    }

    pub(super) async fn conversions_read(
        &self,
        account: AccountId,
        filter: &ConversionFilter,
        page: PageRequest,
    ) -> StoreResult<Page<ConversionRow>> {
        let filter = filter.clone();
        self.read(move |c| list_conversions(c, account, &filter, page)).await
    }
}

impl SqliteTx<'_> {
    pub(super) fn fx_upsert_rate(&mut self, row: &FxRateRow) -> StoreResult<()> {
        self.w
            .conn
            .prepare_cached(
                "INSERT INTO fx_rates (currency_pair, rate, source, updated_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (currency_pair) DO UPDATE SET rate = excluded.rate, source = excluded.source, updated_at = excluded.updated_at",
            )?
            .execute(params![row.currency_pair, row.rate, row.source, ms(row.updated_at)])?;
        Ok(())
    }

    pub(super) fn fx_rate_get(&mut self, pair: &str) -> StoreResult<Option<FxRateRow>> {
        query_one(&self.w.conn, &format!("SELECT {RATE_COLS} FROM fx_rates WHERE currency_pair = ?1"), [pair], rate_row)
    }

    pub(super) fn fx_insert_quote(&mut self, q: &QuoteRow) -> StoreResult<()> {
        self.w
            .conn
            .prepare_cached(&format!(
                "INSERT INTO quotes ({QUOTE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
            ))?
            .execute(params![
                q.id.to_string(),
                q.account_id.to_string(),
                q.sell_currency,
                q.sell_amount,
                q.buy_currency,
                q.buy_amount,
                q.fixed_side,
                q.mid_rate,
                q.client_rate,
                q.markup_bps,
                q.transaction_type,
                date_text(q.conversion_date),
                ms(q.valid_from),
                ms(q.valid_to),
                q.used_at.map(ms),
                q.used_by.map(|u| u.to_string()),
            ])?;
        Ok(())
    }

    pub(super) fn fx_quote(&mut self, id: Uuid) -> StoreResult<Option<QuoteRow>> {
        get_quote(&self.w.conn, None, id)
    }

    pub(super) fn fx_mark_quote_used(&mut self, id: Uuid, used_by: Uuid, at: OffsetDateTime) -> StoreResult<bool> {
        let changed = self
            .w
            .conn
            .prepare_cached("UPDATE quotes SET used_at = ?2, used_by = ?3 WHERE id = ?1 AND used_at IS NULL")?
            .execute(params![id.to_string(), ms(at), used_by.to_string()])?;
        Ok(changed == 1)
    }

    pub(super) fn fx_insert_conversion(&mut self, c: &ConversionRow) -> StoreResult<()> {
        self.w
            .conn
            .prepare_cached(&format!(
                "INSERT INTO conversions ({CONVERSION_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
            ))?
            .execute(params![
                c.id.to_string(),
                c.account_id.to_string(),
                c.short_reference_id,
                c.quote_id.to_string(),
                c.sell_currency,
                c.sell_amount,
                c.buy_currency,
                c.buy_amount,
                c.client_rate,
                c.status,
                date_text(c.conversion_date),
                c.reference,
                ms(c.created_at),
                c.completed_at.map(ms),
            ])?;
        Ok(())
    }
}
