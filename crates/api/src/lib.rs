//! The HTTP API. UQPAY v1.6 on the wire (paths, headers, field names, error envelope, pagination)
//! so an existing integration only changes its base URL; Outlay's own resources follow the same
//! conventions under the same prefix. Handlers are thin: parse into domain types, call the
//! engine, map the result.
// The OpenAPI document is one large json! literal.
#![recursion_limit = "1024"]

mod audit;
mod error;
mod extract;
mod idempotency;
mod openapi;
mod recipient_auth;
mod routes;
mod token_cache;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use outlay_engine::Engine;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::{ApiError, FieldIssue};

/// Bodies larger than this are refused with 413 before they are parsed.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Sandbox mode mounts the simulation endpoints.
    pub sandbox: bool,
    /// Take the client address from `x-forwarded-for` (behind a trusted proxy) for the audit trail.
    pub trust_forwarded_for: bool,
    /// API requests in progress at once on this node; more are refused at once with 503
    /// `server_busy` (load shedding), so overload never becomes an unbounded queue. Writes are
    /// bounded in time too: see `EngineConfig::max_queue_wait`.
    pub max_in_flight: usize,
}

/// The default bound on API requests in progress: about a tenth of a second of work at this
/// machine's sustained payout rate (~5,500/s on SQLite), which bounds what an accepted request
/// waits under overload (docs/benchmarks.md, "Overload"), while leaving room for the few hundred
/// concurrent requests that fill the writer's batches on PostgreSQL.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 512;

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub config: Arc<ApiConfig>,
    tokens: Arc<token_cache::TokenCache>,
    /// One permit per API request in progress (`max_in_flight`).
    in_flight: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    pub fn new(engine: Arc<Engine>, config: ApiConfig) -> Self {
        let in_flight = Arc::new(tokio::sync::Semaphore::new(config.max_in_flight.max(1)));
        Self { engine, config: Arc::new(config), tokens: Arc::default(), in_flight }
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Health checks only: what a worker node serves.
pub fn health_router(state: AppState) -> Router {
    routes::health::router().fallback(error::not_found_fallback).with_state(state)
}

pub fn router(state: AppState) -> Router {
    let mut api = routes::router();
    if state.config.sandbox {
        api = api.merge(routes::simulation::router());
    }
    Router::new()
        .merge(routes::health::router())
        .route("/api/openapi.json", axum::routing::get(openapi::spec))
        .merge(api)
        .fallback(error::not_found_fallback)
        .method_not_allowed_fallback(error::method_not_allowed_fallback)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.clone(), audit::layer))
        // Outside the audit trail: a refusal does no work at all, so it writes nothing.
        .layer(axum::middleware::from_fn_with_state(state.clone(), admit))
        .layer(axum::middleware::from_fn(record_metrics))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(30)))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            // Path and method only: query strings and headers may carry secrets.
            tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// Paths outside load shedding: health checks must answer when the node is saturated.
fn exempt(route: &str) -> bool {
    matches!(route, "/healthz" | "/readyz" | "/api/openapi.json")
}

/// Load shedding, before any work (no body read, no token checked, nothing written):
/// - past `max_in_flight` requests in progress, any API request is refused;
/// - while the writer is shedding and its queue is longer than `[writer] max_queue_wait_ms`, a
///   write is refused (it would be shed anyway, after costing parsing and reads);
/// - while the writer's queue stands over that bound, an admitted request's write that waited
///   longer is refused by the writer without running (`Engine::api_request`).
///
/// All three answer 503 `server_busy` (retryable, `Retry-After: 1`).
async fn admit(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if req.extensions().get::<axum::extract::MatchedPath>().is_some_and(|p| exempt(p.as_str())) {
        return next.run(req).await;
    }
    let Ok(_permit) = state.in_flight.clone().try_acquire_owned() else {
        return ApiError::Overloaded.into_response();
    };
    let reads_only = matches!(*req.method(), axum::http::Method::GET | axum::http::Method::HEAD);
    if !reads_only && state.engine.refuse_api_write() {
        metrics::counter!("outlay_http_refused_at_door_total").increment(1);
        return ApiError::Overloaded.into_response();
    }
    Engine::api_request(next.run(req)).await
}

/// Request rate and latency per route (the matched path, so ids do not explode the label set).
async fn record_metrics(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("outlay_http_requests_total", "route" => route.clone(), "method" => method.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("outlay_http_request_seconds", "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    response
}
