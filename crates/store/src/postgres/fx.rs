//! PostgreSQL: FX rates, quotes and conversions.

use outlay_core::AccountId;
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{PgStore, PgTx, col, collect, count_of, db_time, page_params};
use crate::{ConversionFilter, ConversionRow, FxRateRow, Page, PageRequest, QuoteRow, StoreResult};

macro_rules! rate_cols {
    () => {
        "currency_pair, rate, source, updated_at"
    };
}

macro_rules! quote_cols {
    () => {
        "id, account_id, sell_currency, sell_amount, buy_currency, buy_amount, fixed_side, mid_rate, client_rate, \
         markup_bps, transaction_type, conversion_date, valid_from, valid_to, used_at, used_by"
    };
}

macro_rules! conversion_cols {
    () => {
        "id, account_id, short_reference_id, quote_id, sell_currency, sell_amount, buy_currency, buy_amount, client_rate, \
         status, conversion_date, reference, created_at, completed_at"
    };
}

macro_rules! conversion_filter {
    () => {
        "account_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR sell_currency = $3) \
         AND ($4::text IS NULL OR buy_currency = $4) AND ($5::timestamptz IS NULL OR created_at >= $5) \
         AND ($6::timestamptz IS NULL OR created_at <= $6)"
    };
}

// COLLATE "C": byte order, as SQLite sorts.
const SQL_RATES: &str = concat!("SELECT ", rate_cols!(), " FROM fx_rates ORDER BY currency_pair COLLATE \"C\"");
const SQL_RATE: &str = concat!("SELECT ", rate_cols!(), " FROM fx_rates WHERE currency_pair = $1");
const SQL_RATE_UPSERT: &str = "INSERT INTO fx_rates (currency_pair, rate, source, updated_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (currency_pair) DO UPDATE SET rate = excluded.rate, source = excluded.source, updated_at = excluded.updated_at";
const SQL_QUOTE: &str =
    concat!("SELECT ", quote_cols!(), " FROM quotes WHERE id = $1 AND ($2::uuid IS NULL OR account_id = $2)");
const SQL_QUOTE_INSERT: &str = concat!(
    "INSERT INTO quotes (",
    quote_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
);
const SQL_QUOTE_USE: &str = "UPDATE quotes SET used_at = $2, used_by = $3 WHERE id = $1 AND used_at IS NULL";
const SQL_CONVERSION: &str =
    concat!("SELECT ", conversion_cols!(), " FROM conversions WHERE id = $1 AND account_id = $2");
const SQL_CONVERSIONS_COUNT: &str = concat!("SELECT COUNT(*) FROM conversions WHERE ", conversion_filter!());
const SQL_CONVERSIONS: &str = concat!(
    "SELECT ",
    conversion_cols!(),
    " FROM conversions WHERE ",
    conversion_filter!(),
    " ORDER BY created_at DESC, id DESC LIMIT $7 OFFSET $8"
);
const SQL_CONVERSION_INSERT: &str = concat!(
    "INSERT INTO conversions (",
    conversion_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
);

fn rate_from_row(r: &Row) -> StoreResult<FxRateRow> {
    Ok(FxRateRow { currency_pair: col(r, 0)?, rate: col(r, 1)?, source: col(r, 2)?, updated_at: col(r, 3)? })
}

fn quote_from_row(r: &Row) -> StoreResult<QuoteRow> {
    Ok(QuoteRow {
        id: col(r, 0)?,
        account_id: AccountId(col(r, 1)?),
        sell_currency: col(r, 2)?,
        sell_amount: col(r, 3)?,
        buy_currency: col(r, 4)?,
        buy_amount: col(r, 5)?,
        fixed_side: col(r, 6)?,
        mid_rate: col(r, 7)?,
        client_rate: col(r, 8)?,
        markup_bps: col(r, 9)?,
        transaction_type: col(r, 10)?,
        conversion_date: col(r, 11)?,
        valid_from: col(r, 12)?,
        valid_to: col(r, 13)?,
        used_at: col(r, 14)?,
        used_by: col(r, 15)?,
    })
}

fn conversion_from_row(r: &Row) -> StoreResult<ConversionRow> {
    Ok(ConversionRow {
        id: col(r, 0)?,
        account_id: AccountId(col(r, 1)?),
        short_reference_id: col(r, 2)?,
        quote_id: col(r, 3)?,
        sell_currency: col(r, 4)?,
        sell_amount: col(r, 5)?,
        buy_currency: col(r, 6)?,
        buy_amount: col(r, 7)?,
        client_rate: col(r, 8)?,
        status: col(r, 9)?,
        conversion_date: col(r, 10)?,
        reference: col(r, 11)?,
        created_at: col(r, 12)?,
        completed_at: col(r, 13)?,
    })
}

impl PgStore {
    pub(super) async fn fx_rates_read(&self) -> StoreResult<Vec<FxRateRow>> {
        collect(&self.rows(SQL_RATES, &[]).await?, rate_from_row)
    }

    pub(super) async fn quote_read(&self, account: AccountId, id: Uuid) -> StoreResult<Option<QuoteRow>> {
        let account = Some(account.0);
        self.row_opt(SQL_QUOTE, &[&id, &account]).await?.as_ref().map(quote_from_row).transpose()
    }

    pub(super) async fn conversion_read(&self, account: AccountId, id: Uuid) -> StoreResult<Option<ConversionRow>> {
        self.row_opt(SQL_CONVERSION, &[&id, &account.0]).await?.as_ref().map(conversion_from_row).transpose()
    }

    pub(super) async fn conversions_read(
        &self,
        account: AccountId,
        f: &ConversionFilter,
        page: PageRequest,
    ) -> StoreResult<Page<ConversionRow>> {
        let (limit, offset) = page_params(page);
        let (start, end) = (f.start_time.map(db_time), f.end_time.map(db_time));
        let total = count_of(
            &self
                .row(SQL_CONVERSIONS_COUNT, &[&account.0, &f.status, &f.sell_currency, &f.buy_currency, &start, &end])
                .await?,
        )?;
        let rows = self
            .rows(
                SQL_CONVERSIONS,
                &[&account.0, &f.status, &f.sell_currency, &f.buy_currency, &start, &end, &limit, &offset],
            )
            .await?;
        Ok(Page { total_items: total, items: collect(&rows, conversion_from_row)? })
    }
}

impl PgTx<'_> {
    pub(super) async fn fx_upsert_rate(&mut self, row: &FxRateRow) -> StoreResult<()> {
        let at = db_time(row.updated_at);
        self.exec(SQL_RATE_UPSERT, &[&row.currency_pair, &row.rate, &row.source, &at]).await?;
        Ok(())
    }

    pub(super) async fn fx_rate_get(&mut self, pair: &str) -> StoreResult<Option<FxRateRow>> {
        self.opt(SQL_RATE, &[&pair]).await?.as_ref().map(rate_from_row).transpose()
    }

    pub(super) async fn fx_insert_quote(&mut self, q: &QuoteRow) -> StoreResult<()> {
        let (from, to, used) = (db_time(q.valid_from), db_time(q.valid_to), q.used_at.map(db_time));
        self.exec(
            SQL_QUOTE_INSERT,
            &[
                &q.id,
                &q.account_id.0,
                &q.sell_currency,
                &q.sell_amount,
                &q.buy_currency,
                &q.buy_amount,
                &q.fixed_side,
                &q.mid_rate,
                &q.client_rate,
                &q.markup_bps,
                &q.transaction_type,
                &q.conversion_date,
                &from,
                &to,
                &used,
                &q.used_by,
            ],
        )
        .await?;
        Ok(())
    }

    pub(super) async fn fx_quote(&mut self, id: Uuid) -> StoreResult<Option<QuoteRow>> {
        let none: Option<Uuid> = None;
        self.opt(SQL_QUOTE, &[&id, &none]).await?.as_ref().map(quote_from_row).transpose()
    }

    pub(super) async fn fx_mark_quote_used(
        &mut self,
        id: Uuid,
        used_by: Uuid,
        at: OffsetDateTime,
    ) -> StoreResult<bool> {
        Ok(self.exec(SQL_QUOTE_USE, &[&id, &db_time(at), &used_by]).await? == 1)
    }

    pub(super) async fn fx_insert_conversion(&mut self, c: &ConversionRow) -> StoreResult<()> {
        let (created, completed) = (db_time(c.created_at), c.completed_at.map(db_time));
        self.exec(
            SQL_CONVERSION_INSERT,
            &[
                &c.id,
                &c.account_id.0,
                &c.short_reference_id,
                &c.quote_id,
                &c.sell_currency,
                &c.sell_amount,
                &c.buy_currency,
                &c.buy_amount,
                &c.client_rate,
                &c.status,
                &c.conversion_date,
                &c.reference,
                &created,
                &completed,
            ],
        )
        .await?;
        Ok(())
    }
}
