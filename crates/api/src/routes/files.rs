//! `POST /api/v1/files/upload`: supporting documents (multipart, at most 20 MB; jpeg, png, jpg,
//! doc, docx or pdf, judged by content).

use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use outlay_core::files::MAX_FILE_BYTES;
use outlay_engine::{Command, FileUpload};
use serde_json::json;

use crate::extract::Caller;
use crate::idempotency::{Mutation, execute};
use crate::{ApiError, AppState, wire};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/files/upload", post(upload))
        // The file plus multipart framing and the notes field.
        .layer(DefaultBodyLimit::max(MAX_FILE_BYTES + 64 * 1024))
}

async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    mut form: Multipart,
) -> Result<Response, ApiError> {
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut notes: Option<String> = None;
    while let Some(field) = form.next_field().await.map_err(|e| multipart_error(&e))? {
        match field.name() {
            Some("file") => {
                let name = field.file_name().unwrap_or("upload").chars().take(200).collect::<String>();
                let bytes = field.bytes().await.map_err(|e| multipart_error(&e))?;
                file = Some((name, bytes.to_vec()));
            }
            Some("notes") => {
                let text = field.text().await.map_err(|e| multipart_error(&e))?;
                if text.chars().count() > 500 {
                    return Err(ApiError::validation("notes", "too_long", "must be at most 500 characters"));
                }
                notes = Some(text);
            }
            Some(other) => return Err(ApiError::validation(other, "unknown_field", "is not a field of this request")),
            None => return Err(ApiError::validation("file", "invalid_multipart", "every part needs a name")),
        }
    }
    let Some((name, bytes)) = file else { return Err(ApiError::MissingFields(vec!["file".into()])) };
    let file_type = outlay_engine::parse::check_document("file", &name, &bytes).map_err(ApiError::from)?;
    // The fingerprint of an upload is its content and notes, not the multipart framing.
    let fingerprint =
        json!({"file_sha256": outlay_engine::idempotency::content_hash(&bytes), "file_name": name, "notes": notes});
    let command = Command::UploadFile {
        account: caller.account,
        file: FileUpload { name, file_type, bytes: bytes.into(), notes },
    };
    let m = Mutation {
        caller: &caller,
        headers: &headers,
        path: "/api/v1/files/upload",
        body: &fingerprint,
        key_required: false,
        error_kind: "file_error",
    };
    execute(&state, m, command, wire::file_response).await
}

fn multipart_error(e: &axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(MAX_FILE_BYTES)
    } else {
        ApiError::validation("file", "invalid_multipart", e.body_text())
    }
}
