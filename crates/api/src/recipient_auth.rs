//! Recipient authentication (stored-value model). A recipient's token comes from
//! `POST /api/v1/recipient/access_token` and lives in its own table, so it is never a client token:
//! the client extractor (`Caller`) does not know it, and this extractor does not know client
//! tokens. Recipient routes take only this extractor.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use outlay_core::AccountId;
use outlay_engine::auth::hash_secret;
use uuid::Uuid;

use crate::{ApiError, AppState};

/// An authenticated recipient and the client account that owns its wallet.
#[derive(Clone, Copy, Debug)]
pub struct RecipientCaller {
    pub recipient: Uuid,
    pub account: AccountId,
}

impl FromRequestParts<AppState> for RecipientCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let raw = parts
            .headers
            .get("x-auth-token")
            .ok_or_else(|| ApiError::unauthorized("missing_token", "the x-auth-token header is required"))?
            .to_str()
            .map_err(|_| ApiError::unauthorized("invalid_token", "the x-auth-token header is not valid"))?;
        let token = raw.strip_prefix("Bearer ").unwrap_or(raw).trim();
        if token.is_empty() {
            return Err(ApiError::unauthorized("missing_token", "the x-auth-token header is empty"));
        }
        let store = state.engine.store();
        let row = store
            .recipient_token(&hash_secret(token))
            .await?
            .ok_or_else(|| ApiError::unauthorized("invalid_token", "the auth token is not a valid recipient token"))?;
        if row.expires_at <= state.engine.clock().now() {
            return Err(ApiError::unauthorized("token_expired", "the auth token has expired; request a new one"));
        }
        // A recipient the client disabled cannot act, even with a live token.
        match store.recipient(row.account_id, row.recipient_id).await? {
            Some(r) if r.status == "ACTIVE" => Ok(RecipientCaller { recipient: r.id, account: r.account_id }),
            _ => Err(ApiError::unauthorized("invalid_token", "the recipient is not active")),
        }
    }
}
