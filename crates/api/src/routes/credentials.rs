//! Credentials of an account, each in a role: `POST /api/v1/credentials` (the API key is shown
//! once), `GET /api/v1/credentials`, `DELETE /api/v1/credentials/{id}` (revoke; its tokens stop
//! working at once). Only an admin credential may call these (the central policy in `Caller`).

use axum::extract::{Path, State};
use axum::routing::{delete, get};
use axum::{Json, Router};
use outlay_core::roles::Role;
use outlay_engine::auth::{hash_secret, new_api_key, new_client_id};
use outlay_engine::events::rfc3339;
use outlay_engine::{Command, Outcome};
use outlay_store::CredentialView;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::extract::{Caller, JsonBody, parse_id};
use crate::{ApiError, AppState};

const ERROR_KIND: &str = "credential_error";

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/credentials", get(list).post(create)).route("/api/v1/credentials/{id}", delete(revoke))
}

fn view(c: &CredentialView) -> Value {
    json!({
        "credential_id": c.id,
        "account_id": c.account_id,
        "client_id": c.client_id,
        "role": c.role,
        "status": if c.revoked_at.is_some() { "REVOKED" } else { "ACTIVE" },
        "create_time": rfc3339(c.created_at),
        "revoke_time": c.revoked_at.map(rfc3339),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    role: String,
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody<CreateRequest>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let role: Role = body.value.role.trim().parse().map_err(|e| ApiError::validation("role", "invalid_role", e))?;
    let (client_id, api_key) = (new_client_id(), new_api_key());
    let command = Command::CreateCredential {
        account: caller.account,
        role,
        client_id: client_id.clone(),
        api_key_hash: hash_secret(&api_key),
    };
    let outcome = state.engine.execute(command).await.map_err(|e| ApiError::from_command(e, ERROR_KIND))?;
    let Outcome::CredentialCreated(row) = outcome else {
        return Err(ApiError::Internal(format!("unexpected outcome {outcome:?}")));
    };
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!({
            "credential_id": row.id,
            "account_id": row.account_id,
            "client_id": client_id,
            "api_key": api_key,
            "role": row.role,
            "status": "ACTIVE",
            "create_time": rfc3339(row.created_at),
        })),
    ))
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let rows = state.engine.store().credentials(caller.account).await?;
    let data: Vec<Value> = rows.iter().map(view).collect();
    Ok(Json(json!({ "total_items": data.len(), "data": data })))
}

async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id("credential", &id)?;
    if id == caller.credential_id {
        return Err(ApiError::Business {
            kind: ERROR_KIND,
            code: "cannot_revoke_self",
            message: "a credential cannot revoke itself; use another admin credential".into(),
            field: None,
        });
    }
    let command = Command::RevokeCredential { account: caller.account, credential: id };
    state.engine.execute(command).await.map_err(|e| ApiError::from_command(e, ERROR_KIND))?;
    // Cached grants would keep the revoked tokens alive for up to the cache's TTL on this node.
    state.tokens.clear();
    Ok(Json(json!({ "credential_id": id, "status": "REVOKED" })))
}
