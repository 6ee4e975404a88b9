//! The audit trail's HTTP side. A middleware wraps every mutating request: it notes where the
//! request came from (source IP, honouring `x-forwarded-for` only when configured, user agent,
//! request id) and the route's action in a task-local slot. [`crate::idempotency::execute`]
//! hands that to the engine, which appends the record in the effect's own transaction. Whatever
//! the engine did not record (a validation failure, an insufficient balance, a refused
//! permission, an idempotent replay) the middleware records on its own afterwards, with the
//! status and error code the client received.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use outlay_engine::audit::AuditContext;
use outlay_engine::auth::hash_secret;
use outlay_engine::idempotency::Renderer;

use crate::AppState;
use crate::extract::Caller;

/// What the middleware learned about the request in flight.
pub struct AuditSlot {
    source_ip: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
    action: String,
    object_id: Option<String>,
    recorded: AtomicBool,
}

tokio::task_local! {
    static CURRENT: Arc<AuditSlot>;
}

/// The audit context of the request being handled, if it is audited.
pub fn context(caller: &Caller, render: Option<Renderer>) -> Option<AuditContext> {
    context_as(caller.account, caller.credential_id.to_string(), caller.role.as_str(), render)
}

/// The audit context of a recipient's request (the recipient API): the record joins the client
/// account's chain under credential `recipient:<id>`.
pub fn recipient_context(
    account: outlay_core::AccountId,
    recipient: uuid::Uuid,
    render: Option<Renderer>,
) -> Option<AuditContext> {
    context_as(account, format!("recipient:{recipient}"), "recipient", render)
}

/// This request's audit context, acting as `credential_id` in `role` for `account`.
fn context_as(
    account: outlay_core::AccountId,
    credential_id: String,
    role: &str,
    render: Option<Renderer>,
) -> Option<AuditContext> {
    CURRENT
        .try_with(|slot| AuditContext {
            account,
            credential_id,
            role: role.to_owned(),
            source_ip: slot.source_ip.clone(),
            user_agent: slot.user_agent.clone(),
            request_id: slot.request_id.clone(),
            action: slot.action.clone(),
            object_id: slot.object_id.clone(),
            render,
        })
        .ok()
}

/// The engine wrote this request's record with its effect.
pub fn mark_recorded() {
    let _ = CURRENT.try_with(|slot| slot.recorded.store(true, Ordering::SeqCst));
}

fn header(headers: &HeaderMap, name: &str, max: usize) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().filter(|c| !c.is_control()).take(max).collect::<String>())
        .filter(|s| !s.is_empty())
}

/// The action of a route: the engine's name for the routes whose commands it names (so a failed
/// `POST /api/v1/payouts` is `payout.create`, like a successful one), else the route's path:
/// `compliance.reviews.clear` from `/api/v1/compliance/reviews/{id}/clear`.
fn action_of(route: &str) -> String {
    let named = match route {
        "/api/v1/payouts" => "payout.create",
        "/api/v1/payouts/{id}/cancel" => "payout.cancelled",
        "/api/v1/payouts/{id}/approve" => "payout.approve",
        "/api/v1/payouts/{id}/reject_approval" => "payout.reject_approval",
        "/api/v1/beneficiaries" => "beneficiary.create",
        "/api/v1/beneficiaries/{id}" => "beneficiary.update",
        "/api/v1/beneficiaries/{id}/delete" => "beneficiary.delete",
        "/api/v1/withdrawals" => "withdrawal.create",
        "/api/v1/transfer" => "transfer.create",
        _ => return route_action(route),
    };
    named.to_owned()
}

fn route_action(route: &str) -> String {
    let route = route.strip_prefix("/api/v1/").or_else(|| route.strip_prefix("/api/")).unwrap_or(route);
    let parts: Vec<&str> = route.split('/').filter(|s| !s.is_empty() && !s.starts_with('{')).collect();
    parts.join(".")
}

fn source_ip(req: &Request, trust_forwarded_for: bool) -> Option<String> {
    if trust_forwarded_for
        && let Some(first) = header(req.headers(), "x-forwarded-for", 200)
            .and_then(|v| v.split(',').next().map(|s| s.trim().to_owned()))
            .filter(|s| s.parse::<std::net::IpAddr>().is_ok())
    {
        return Some(first);
    }
    req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string())
}

/// Who is calling, even when the role refuses the request (a refusal is recorded too).
async fn who(req: Request, state: &AppState) -> (Request, Option<Caller>) {
    let (mut parts, body) = req.into_parts();
    let caller = match Caller::from_request_parts(&mut parts, state).await {
        Ok(c) => {
            // The handler's own `Caller` is this one: it need not hash and look up the token
            // (nor read a connected account) a second time.
            parts.extensions.insert(c);
            Some(c)
        }
        Err(crate::ApiError::Forbidden { role, .. }) => {
            let token = parts.headers.get("x-auth-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
            let token = token.strip_prefix("Bearer ").unwrap_or(token).trim();
            match state.engine.store().token(&hash_secret(token)).await {
                Ok(Some(grant)) => Some(Caller {
                    principal: grant.account_id,
                    account: grant.account_id,
                    credential_id: grant.credential_id,
                    role,
                }),
                _ => None,
            }
        }
        Err(_) => None,
    };
    (Request::from_parts(parts, body), caller)
}

/// The middleware: see the module comment.
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let Some(route) = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()) else {
        return next.run(req).await;
    };
    let object_id = req.uri().path().split('/').find(|s| uuid::Uuid::parse_str(s).is_ok()).map(str::to_owned);
    let slot = Arc::new(AuditSlot {
        source_ip: source_ip(&req, state.config.trust_forwarded_for),
        user_agent: header(req.headers(), "user-agent", 300),
        request_id: header(req.headers(), "x-request-id", 100),
        action: action_of(&route),
        object_id,
        recorded: AtomicBool::new(false),
    });
    let (req, caller) = who(req, &state).await;
    let response = CURRENT.scope(slot.clone(), next.run(req)).await;
    let Some(caller) = caller else { return response };
    // Recorded with the effect; or shed by the writer without running (recording that would
    // turn overload into writes: it is counted in `outlay_writer_shed_total` instead).
    if slot.recorded.load(Ordering::SeqCst) || response.extensions().get::<crate::error::NotRun>().is_some() {
        return response;
    }
    let status = response.status().as_u16();
    let (response, error_code) = if status >= 400 {
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 1024 * 1024).await.unwrap_or_default();
        let code = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_owned))
            .or_else(|| Some(format!("http_{status}")));
        (Response::from_parts(parts, axum::body::Body::from(bytes)), code)
    } else {
        (response, None)
    };
    let Some(ctx) = CURRENT.sync_scope(slot, || context(&caller, None)) else { return response };
    let draft = ctx.draft(state.engine.clock().now(), status, error_code);
    // The trail's own record is never shed, whatever the request's deadline.
    if let Err(e) = outlay_engine::Engine::internal(state.engine.record_audit(draft)).await {
        tracing::error!(error = %e, action = %ctx.action, "could not record an audit event");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::action_of;

    #[test]
    fn actions_come_from_routes() {
        assert_eq!(action_of("/api/v1/payouts"), "payout.create");
        assert_eq!(action_of("/api/v1/payouts/{id}/cancel"), "payout.cancelled");
        assert_eq!(action_of("/api/v1/compliance/reviews/{id}/clear"), "compliance.reviews.clear");
        assert_eq!(action_of("/api/v1/simulation/payouts/{id}"), "simulation.payouts");
    }
}
