//! `POST /api/v1/connect/token`: client id and API key in, a 30-minute token out.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use outlay_engine::Command;
use outlay_engine::auth::{TOKEN_LIFETIME_SECS, hash_secret, new_token, secret_matches};
use serde_json::{Value, json};

use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/connect/token", post(token))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

async fn token(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let (client_id, api_key) = match (header(&headers, "x-client-id"), header(&headers, "x-api-key")) {
        (Some(c), Some(k)) => (c, k),
        (c, k) => {
            let missing = [("x-client-id", c.is_none()), ("x-api-key", k.is_none())]
                .into_iter()
                .filter(|(_, m)| *m)
                .map(|(n, _)| n.to_owned())
                .collect();
            return Err(ApiError::MissingFields(missing));
        }
    };
    let credential = state.engine.store().credential_by_client_id(client_id).await?;
    // Compare against something even when the client id is unknown, so timing tells nothing.
    let stored = credential.as_ref().map_or("0".repeat(64), |c| c.secret_hash.clone());
    let valid = secret_matches(api_key, &stored);
    let credential = match credential {
        Some(c) if valid => c,
        _ => return Err(ApiError::unauthorized("invalid_credentials", "the client id or API key is not valid")),
    };
    let token = new_token();
    let expires_at = state.engine.clock().now() + time::Duration::seconds(TOKEN_LIFETIME_SECS);
    let command = Command::IssueToken {
        account: credential.account_id,
        credential: credential.id,
        token_hash: hash_secret(&token),
        expires_at,
    };
    state.engine.execute(command).await.map_err(|e| ApiError::from_command(e, "unauthorized_error"))?;
    Ok(Json(json!({ "auth_token": token, "expired_at": expires_at.unix_timestamp() })))
}
