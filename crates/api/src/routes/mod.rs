//! One module per resource.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod balances;
pub mod beneficiaries;
pub mod compliance;
pub mod credentials;
pub mod deposits;
pub mod files;
pub mod fx;
pub mod health;
pub mod payout_batches;
pub mod payouts;
pub mod reports;
pub mod sftp_keys;
pub mod simulation;
pub mod transfers;
pub mod webhooks;
pub mod withdrawals;
// --- wallets ---
pub mod recipient;
pub mod wallets;

use axum::Router;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(auth::router())
        .merge(accounts::router())
        .merge(audit::router())
        .merge(deposits::router())
        .merge(balances::router())
        .merge(withdrawals::router())
        .merge(beneficiaries::router())
        .merge(payouts::router())
        .merge(payout_batches::router())
        .merge(compliance::router())
        .merge(transfers::router())
        .merge(reports::router())
        .merge(files::router())
        .merge(fx::router())
        .merge(webhooks::router())
        .merge(credentials::router())
        .merge(sftp_keys::router())
        .merge(wallets::router())
        .merge(recipient::router())
}
