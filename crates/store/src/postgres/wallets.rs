//! PostgreSQL: the stored-value (wallet) model. The trait methods in postgres.rs delegate to the
//! helpers here, on the read pool ([`PgStore`]) and on the writer's transaction ([`PgTx`]).

use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{PgStore, PgTx, col, collect, count_of, db_time, page_params};
use crate::{
    Page, PageRequest, RecipientCredentialRow, RecipientRow, RecipientTokenRow, StoreResult, TransferMethodRow,
    WalletPayoutRow, WalletWithdrawalRow,
};
use outlay_core::AccountId;

const SQL_PAYOUT_MODEL: &str = "SELECT payout_model FROM account_payout_models WHERE account_id = $1";
const SQL_SET_PAYOUT_MODEL: &str = "INSERT INTO account_payout_models (account_id, payout_model, updated_at) \
    VALUES ($1, $2, $3) ON CONFLICT (account_id) DO UPDATE SET payout_model = EXCLUDED.payout_model, \
    updated_at = EXCLUDED.updated_at";

macro_rules! recipient_cols {
    () => {
        "id, account_id, external_reference, name, email, status, created_at"
    };
}
const SQL_RECIPIENT: &str =
    concat!("SELECT ", recipient_cols!(), " FROM recipients WHERE id = $1 AND ($2::uuid IS NULL OR account_id = $2)");
const SQL_RECIPIENT_BY_REFERENCE: &str =
    concat!("SELECT ", recipient_cols!(), " FROM recipients WHERE account_id = $1 AND external_reference = $2");
const SQL_RECIPIENTS_COUNT: &str = "SELECT COUNT(*) FROM recipients WHERE account_id = $1";
const SQL_RECIPIENTS: &str = concat!(
    "SELECT ",
    recipient_cols!(),
    " FROM recipients WHERE account_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
);
const SQL_RECIPIENT_INSERT: &str =
    concat!("INSERT INTO recipients (", recipient_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7)");

macro_rules! credential_cols {
    () => {
        "id, recipient_id, account_id, client_id, secret_hash, created_at, revoked_at"
    };
}
const SQL_CREDENTIAL: &str = concat!("SELECT ", credential_cols!(), " FROM recipient_credentials WHERE client_id = $1");
const SQL_CREDENTIAL_INSERT: &str =
    concat!("INSERT INTO recipient_credentials (", credential_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7)");

const SQL_TOKEN: &str = "SELECT token_hash, recipient_id, account_id, expires_at, created_at FROM recipient_tokens \
    WHERE token_hash = $1";
const SQL_TOKEN_INSERT: &str = "INSERT INTO recipient_tokens (token_hash, recipient_id, account_id, expires_at, \
    created_at) VALUES ($1, $2, $3, $4, $5)";

const SQL_METHOD: &str =
    "SELECT id, recipient_id, account_id, created_at FROM recipient_transfer_methods WHERE id = $1";
const SQL_METHODS: &str = "SELECT id, recipient_id, account_id, created_at FROM recipient_transfer_methods \
    WHERE recipient_id = $1 ORDER BY created_at DESC, id DESC LIMIT 500";
const SQL_METHOD_INSERT: &str =
    "INSERT INTO recipient_transfer_methods (id, recipient_id, account_id, created_at) VALUES ($1, $2, $3, $4)";

macro_rules! wallet_payout_cols {
    () => {
        "id, account_id, recipient_id, short_reference_id, currency, amount, reference, status, created_at"
    };
}
const SQL_WALLET_PAYOUT: &str =
    concat!("SELECT ", wallet_payout_cols!(), " FROM wallet_payouts WHERE account_id = $1 AND id = $2");
const SQL_WALLET_PAYOUTS_COUNT: &str =
    "SELECT COUNT(*) FROM wallet_payouts WHERE account_id = $1 AND ($2::uuid IS NULL OR recipient_id = $2)";
const SQL_WALLET_PAYOUTS: &str = concat!(
    "SELECT ",
    wallet_payout_cols!(),
    " FROM wallet_payouts WHERE account_id = $1 AND ($2::uuid IS NULL OR recipient_id = $2) \
     ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
);
const SQL_WALLET_PAYOUT_INSERT: &str =
    concat!("INSERT INTO wallet_payouts (", wallet_payout_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");

macro_rules! withdrawal_cols {
    () => {
        "payout_id, recipient_id, account_id, transfer_method_id, created_at"
    };
}
const SQL_WITHDRAWAL: &str = concat!("SELECT ", withdrawal_cols!(), " FROM wallet_withdrawals WHERE payout_id = $1");
const SQL_WITHDRAWALS_COUNT: &str = "SELECT COUNT(*) FROM wallet_withdrawals WHERE recipient_id = $1";
const SQL_WITHDRAWALS: &str = concat!(
    "SELECT ",
    withdrawal_cols!(),
    " FROM wallet_withdrawals WHERE recipient_id = $1 ORDER BY created_at DESC, payout_id DESC LIMIT $2 OFFSET $3"
);
const SQL_WITHDRAWAL_INSERT: &str =
    concat!("INSERT INTO wallet_withdrawals (", withdrawal_cols!(), ") VALUES ($1, $2, $3, $4, $5)");

fn recipient_row(r: &Row) -> StoreResult<RecipientRow> {
    Ok(RecipientRow {
        id: col(r, 0)?,
        account_id: AccountId(col(r, 1)?),
        external_reference: col(r, 2)?,
        name: col(r, 3)?,
        email: col(r, 4)?,
        status: col(r, 5)?,
        created_at: col(r, 6)?,
    })
}

fn credential_row(r: &Row) -> StoreResult<RecipientCredentialRow> {
    Ok(RecipientCredentialRow {
        id: col(r, 0)?,
        recipient_id: col(r, 1)?,
        account_id: AccountId(col(r, 2)?),
        client_id: col(r, 3)?,
        secret_hash: col(r, 4)?,
        created_at: col(r, 5)?,
        revoked_at: col(r, 6)?,
    })
}

fn token_row(r: &Row) -> StoreResult<RecipientTokenRow> {
    Ok(RecipientTokenRow {
        token_hash: col(r, 0)?,
        recipient_id: col(r, 1)?,
        account_id: AccountId(col(r, 2)?),
        expires_at: col(r, 3)?,
        created_at: col(r, 4)?,
    })
}

fn method_row(r: &Row) -> StoreResult<TransferMethodRow> {
    Ok(TransferMethodRow {
        id: col(r, 0)?,
        recipient_id: col(r, 1)?,
        account_id: AccountId(col(r, 2)?),
        created_at: col(r, 3)?,
    })
}

fn wallet_payout_row(r: &Row) -> StoreResult<WalletPayoutRow> {
    Ok(WalletPayoutRow {
        id: col(r, 0)?,
        account_id: AccountId(col(r, 1)?),
        recipient_id: col(r, 2)?,
        short_reference_id: col(r, 3)?,
        currency: col(r, 4)?,
        amount: col(r, 5)?,
        reference: col(r, 6)?,
        status: col(r, 7)?,
        created_at: col(r, 8)?,
    })
}

fn withdrawal_row(r: &Row) -> StoreResult<WalletWithdrawalRow> {
    Ok(WalletWithdrawalRow {
        payout_id: col(r, 0)?,
        recipient_id: col(r, 1)?,
        account_id: AccountId(col(r, 2)?),
        transfer_method_id: col(r, 3)?,
        created_at: col(r, 4)?,
    })
}

const SQL_AUDIT_WALLET_LINES: &str = "SELECT e.account_id, e.reference_type, e.reference_id, a.kind, \
    SUM(l.amount)::bigint FROM journal_lines l JOIN ledger_accounts a ON a.id = l.ledger_account_id \
    JOIN journal_entries e ON e.id = l.entry_id \
    WHERE a.kind LIKE 'wallet:%' AND a.owner_id <> 'platform' GROUP BY 1, 2, 3, 4";
const SQL_AUDIT_WALLET_WITHDRAWALS: &str = "SELECT w.payout_id::text, w.recipient_id::text, p.state, p.amount, \
    p.fee_amount FROM wallet_withdrawals w JOIN payouts p ON p.id = w.payout_id";

impl PgStore {
    pub(super) async fn w_audit_wallet_by_reference(&self) -> StoreResult<Vec<crate::WalletByReference>> {
        let rows = self.rows(SQL_AUDIT_WALLET_LINES, &[]).await?;
        collect(&rows, |r| {
            Ok(crate::WalletByReference {
                account_id: AccountId(col(r, 0)?),
                reference_type: col(r, 1)?,
                reference_id: col(r, 2)?,
                kind: col(r, 3)?,
                net: col(r, 4)?,
            })
        })
    }

    pub(super) async fn w_audit_wallet_withdrawals(&self) -> StoreResult<Vec<crate::WalletWithdrawalAudit>> {
        let rows = self.rows(SQL_AUDIT_WALLET_WITHDRAWALS, &[]).await?;
        collect(&rows, |r| {
            Ok(crate::WalletWithdrawalAudit {
                payout_id: col(r, 0)?,
                recipient_id: col(r, 1)?,
                state: col(r, 2)?,
                amount: col(r, 3)?,
                fee: col(r, 4)?,
            })
        })
    }

    pub(super) async fn w_payout_model(&self, account: AccountId) -> StoreResult<Option<String>> {
        self.row_opt(SQL_PAYOUT_MODEL, &[&account.0]).await?.as_ref().map(|r| col(r, 0)).transpose()
    }

    pub(super) async fn w_recipient(&self, account: AccountId, id: Uuid) -> StoreResult<Option<RecipientRow>> {
        self.row_opt(SQL_RECIPIENT, &[&id, &Some(account.0)]).await?.as_ref().map(recipient_row).transpose()
    }

    pub(super) async fn w_recipients(&self, account: AccountId, page: PageRequest) -> StoreResult<Page<RecipientRow>> {
        let (limit, offset) = page_params(page);
        let total_items = count_of(&self.row(SQL_RECIPIENTS_COUNT, &[&account.0]).await?)?;
        let rows = self.rows(SQL_RECIPIENTS, &[&account.0, &limit, &offset]).await?;
        Ok(Page { total_items, items: collect(&rows, recipient_row)? })
    }

    pub(super) async fn w_recipient_credential(&self, client_id: &str) -> StoreResult<Option<RecipientCredentialRow>> {
        self.row_opt(SQL_CREDENTIAL, &[&client_id]).await?.as_ref().map(credential_row).transpose()
    }

    pub(super) async fn w_recipient_token(&self, token_hash: &str) -> StoreResult<Option<RecipientTokenRow>> {
        self.row_opt(SQL_TOKEN, &[&token_hash]).await?.as_ref().map(token_row).transpose()
    }

    pub(super) async fn w_transfer_methods(&self, recipient: Uuid) -> StoreResult<Vec<TransferMethodRow>> {
        collect(&self.rows(SQL_METHODS, &[&recipient]).await?, method_row)
    }

    pub(super) async fn w_wallet_payout(&self, account: AccountId, id: Uuid) -> StoreResult<Option<WalletPayoutRow>> {
        self.row_opt(SQL_WALLET_PAYOUT, &[&account.0, &id]).await?.as_ref().map(wallet_payout_row).transpose()
    }

    pub(super) async fn w_wallet_payouts(
        &self,
        account: AccountId,
        recipient: Option<Uuid>,
        page: PageRequest,
    ) -> StoreResult<Page<WalletPayoutRow>> {
        let (limit, offset) = page_params(page);
        let total_items = count_of(&self.row(SQL_WALLET_PAYOUTS_COUNT, &[&account.0, &recipient]).await?)?;
        let rows = self.rows(SQL_WALLET_PAYOUTS, &[&account.0, &recipient, &limit, &offset]).await?;
        Ok(Page { total_items, items: collect(&rows, wallet_payout_row)? })
    }

    pub(super) async fn w_wallet_withdrawals(
        &self,
        recipient: Uuid,
        page: PageRequest,
    ) -> StoreResult<Page<WalletWithdrawalRow>> {
        let (limit, offset) = page_params(page);
        let total_items = count_of(&self.row(SQL_WITHDRAWALS_COUNT, &[&recipient]).await?)?;
        let rows = self.rows(SQL_WITHDRAWALS, &[&recipient, &limit, &offset]).await?;
        Ok(Page { total_items, items: collect(&rows, withdrawal_row)? })
    }
}

impl PgTx<'_> {
    pub(super) async fn w_payout_model(&mut self, account: AccountId) -> StoreResult<Option<String>> {
        self.opt(SQL_PAYOUT_MODEL, &[&account.0]).await?.as_ref().map(|r| col(r, 0)).transpose()
    }

    pub(super) async fn w_set_payout_model(
        &mut self,
        account: AccountId,
        model: &str,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        self.exec(SQL_SET_PAYOUT_MODEL, &[&account.0, &model, &db_time(at)]).await?;
        Ok(())
    }

    pub(super) async fn w_recipient(&mut self, id: Uuid) -> StoreResult<Option<RecipientRow>> {
        let none: Option<Uuid> = None;
        self.opt(SQL_RECIPIENT, &[&id, &none]).await?.as_ref().map(recipient_row).transpose()
    }

    pub(super) async fn w_recipient_by_reference(
        &mut self,
        account: AccountId,
        external_reference: &str,
    ) -> StoreResult<Option<RecipientRow>> {
        self.opt(SQL_RECIPIENT_BY_REFERENCE, &[&account.0, &external_reference])
            .await?
            .as_ref()
            .map(recipient_row)
            .transpose()
    }

    pub(super) async fn w_insert_recipient(&mut self, r: &RecipientRow) -> StoreResult<()> {
        self.exec(
            SQL_RECIPIENT_INSERT,
            &[&r.id, &r.account_id.0, &r.external_reference, &r.name, &r.email, &r.status, &db_time(r.created_at)],
        )
        .await?;
        Ok(())
    }

    pub(super) async fn w_insert_recipient_credential(&mut self, c: &RecipientCredentialRow) -> StoreResult<()> {
        self.exec(
            SQL_CREDENTIAL_INSERT,
            &[
                &c.id,
                &c.recipient_id,
                &c.account_id.0,
                &c.client_id,
                &c.secret_hash,
                &db_time(c.created_at),
                &c.revoked_at.map(db_time),
            ],
        )
        .await?;
        Ok(())
    }

    pub(super) async fn w_insert_recipient_token(&mut self, t: &RecipientTokenRow) -> StoreResult<()> {
        self.exec(
            SQL_TOKEN_INSERT,
            &[&t.token_hash, &t.recipient_id, &t.account_id.0, &db_time(t.expires_at), &db_time(t.created_at)],
        )
        .await?;
        Ok(())
    }

    pub(super) async fn w_transfer_method(&mut self, id: Uuid) -> StoreResult<Option<TransferMethodRow>> {
        self.opt(SQL_METHOD, &[&id]).await?.as_ref().map(method_row).transpose()
    }

    pub(super) async fn w_insert_transfer_method(&mut self, m: &TransferMethodRow) -> StoreResult<()> {
        self.exec(SQL_METHOD_INSERT, &[&m.id, &m.recipient_id, &m.account_id.0, &db_time(m.created_at)]).await?;
        Ok(())
    }

    pub(super) async fn w_insert_wallet_payout(&mut self, w: &WalletPayoutRow) -> StoreResult<()> {
        self.exec(
            SQL_WALLET_PAYOUT_INSERT,
            &[
                &w.id,
                &w.account_id.0,
                &w.recipient_id,
                &w.short_reference_id,
                &w.currency,
                &w.amount,
                &w.reference,
                &w.status,
                &db_time(w.created_at),
            ],
        )
        .await?;
        Ok(())
    }

    pub(super) async fn w_wallet_withdrawal(&mut self, payout: Uuid) -> StoreResult<Option<WalletWithdrawalRow>> {
        self.opt(SQL_WITHDRAWAL, &[&payout]).await?.as_ref().map(withdrawal_row).transpose()
    }

    pub(super) async fn w_insert_wallet_withdrawal(&mut self, w: &WalletWithdrawalRow) -> StoreResult<()> {
        self.exec(
            SQL_WITHDRAWAL_INSERT,
            &[&w.payout_id, &w.recipient_id, &w.account_id.0, &w.transfer_method_id, &db_time(w.created_at)],
        )
        .await?;
        Ok(())
    }
}
