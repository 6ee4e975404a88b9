//! SFTP public keys of an account: `POST /api/v1/sftp_keys` `{"public_key": "ssh-ed25519 AAAA..."}`,
//! `GET /api/v1/sftp_keys`, `DELETE /api/v1/sftp_keys/{id}`. A registered key logs in to the
//! embedded SFTP server with the account id as user name (see docs/sftp.md). Changing keys needs
//! the Manage permission (the central policy in `Caller`).

use axum::extract::{Path, State};
use axum::routing::{delete, get};
use axum::{Json, Router};
use outlay_engine::events::rfc3339;
use outlay_engine::{Command, Outcome};
use outlay_store::SftpKeyRow;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::extract::{Caller, JsonBody, ListQuery, parse_id};
use crate::wire::List;
use crate::{ApiError, AppState};

const ERROR_KIND: &str = "sftp_key_error";

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/sftp_keys", get(list).post(create)).route("/api/v1/sftp_keys/{id}", delete(revoke))
}

fn view(k: &SftpKeyRow) -> Value {
    json!({
        "sftp_key_id": k.id,
        "account_id": k.account_id,
        "public_key": k.public_key,
        "fingerprint": k.fingerprint,
        "status": if k.revoked_at.is_some() { "REVOKED" } else { "ACTIVE" },
        "create_time": rfc3339(k.created_at),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    public_key: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody<CreateRequest>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let Some(text) = body.value.public_key.as_deref() else {
        return Err(ApiError::validation("public_key", "missing_required_field", "is required"));
    };
    let key = outlay_engine::sftp_keys::parse_public_key(text)
        .map_err(|e| ApiError::validation("public_key", "invalid_public_key", e))?;
    let command =
        Command::AddSftpKey { account: caller.account, public_key: key.openssh, fingerprint: key.fingerprint };
    let outcome = state.engine.execute(command).await.map_err(|e| ApiError::from_command(e, ERROR_KIND))?;
    let Outcome::SftpKey(row) = outcome else {
        return Err(ApiError::Internal(format!("unexpected outcome {outcome:?}")));
    };
    Ok((axum::http::StatusCode::CREATED, Json(view(&row))))
}

async fn list(State(state): State<AppState>, caller: Caller, query: ListQuery) -> Result<Json<List<Value>>, ApiError> {
    let page = state.engine.store().sftp_keys(caller.account, query.page).await?;
    Ok(Json(List::from_page(page, query.page, |k| view(&k))))
}

async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id("sftp_key", &id)?;
    let command = Command::RevokeSftpKey { account: caller.account, id };
    state.engine.execute(command).await.map_err(|e| ApiError::from_command(e, ERROR_KIND))?;
    Ok(Json(json!({ "sftp_key_id": id, "status": "REVOKED" })))
}
