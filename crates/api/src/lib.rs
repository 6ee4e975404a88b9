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
    /// `server_busy` (load shedding), so overload never becomes an unbounded queue.
    pub max_in_flight: usize,
}

/// The default bound on API requests in progress: about a third of a second of work at this
/// machine's sustained payout rate (docs/benchmarks.md).
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub config: Arc<ApiConfig>,
    tokens: Arc<token_cache::TokenCache>,
}

impl AppState {
    pub fn new(engine: Arc<Engine>, config: ApiConfig) -> Self {
        Self { engine, config: Arc::new(config), tokens: Arc::default() }
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
    // Past the bound a request is refused before any work (health checks stay outside it).
    let api = api.layer(
        tower::ServiceBuilder::new()
            .layer(axum::error_handling::HandleErrorLayer::new(|_: tower::BoxError| async {
                axum::response::IntoResponse::into_response(ApiError::Overloaded)
            }))
            .layer(tower::load_shed::LoadShedLayer::new())
            .layer(tower::limit::ConcurrencyLimitLayer::new(state.config.max_in_flight.max(1))),
    );
    Router::new()
        .merge(routes::health::router())
        .route("/api/openapi.json", axum::routing::get(openapi::spec))
        .merge(api)
        .fallback(error::not_found_fallback)
        .method_not_allowed_fallback(error::method_not_allowed_fallback)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.clone(), audit::layer))
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
