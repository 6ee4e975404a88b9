//! One module per resource.

pub mod accounts;
pub mod auth;
pub mod balances;
pub mod beneficiaries;
pub mod deposits;
pub mod files;
pub mod fx;
pub mod health;
pub mod payouts;
pub mod simulation;
pub mod transfers;
pub mod webhooks;
pub mod withdrawals;

use axum::Router;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(auth::router())
        .merge(accounts::router())
        .merge(deposits::router())
        .merge(balances::router())
        .merge(withdrawals::router())
        .merge(beneficiaries::router())
        .merge(payouts::router())
        .merge(transfers::router())
        .merge(files::router())
        .merge(fx::router())
        .merge(webhooks::router())
}
