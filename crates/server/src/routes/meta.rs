//! Health, metrics, the OpenAPI document, the parser, the runbook catalog
//! and the workers list.

use crate::error::{ApiError, ApiJson};
use crate::resolve::{preview, RunRequest};
use crate::views::{ErrorBody, Health, ParseRequest, ParseView, WorkerView};
use crate::AppState;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use opsroom_core::new_run::RunWhat;
use opsroom_core::RunbookSpec;
use opsroom_core::{RunStatus, WorkerState};
use serde::Serialize;

/// Routes without authentication.
pub fn open_router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/openapi.json", get(openapi))
}

/// Routes under `/api/v1`.
pub fn api_router() -> Router<AppState> {
    Router::new()
        .route("/parse", post(parse))
        .route("/runbooks", get(runbooks))
        .route("/workers", get(workers))
}

/// Liveness.
#[utoipa::path(
    get,
    path = "/healthz",
    security(()),
    responses((status = 200, description = "ok", body = Health))
)]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// The OpenAPI document of this API (generated from its handlers and types).
async fn openapi() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "application/json")],
        crate::openapi::document(),
    )
}

/// Parse command text into intent, env, target, params and plan, without enqueuing.
#[utoipa::path(
    post,
    path = "/api/v1/parse",
    request_body = ParseRequest,
    responses(
        (status = 200, description = "How the text is understood", body = ParseView),
        (status = 422, description = "Text that cannot be read (empty, too long, control characters, NUL).", body = ErrorBody),
    )
)]
pub(crate) async fn parse(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ParseRequest>,
) -> Result<Json<ParseView>, ApiError> {
    let engine = &state.engine;
    let parsed = state.parse_env.parse(engine, &body.text)?;
    let mut params = parsed.params.clone();
    params.extend(body.params.clone());
    let spec = engine.catalog.get(&parsed.intent);
    let risk = spec.map(|s| crate::resolve::effective_risk(s, &parsed.params));
    let needs_approval =
        risk.is_some_and(|r| crate::resolve::needs_approval(engine, r, parsed.env.as_deref()));
    let matched = spec
        .is_some_and(|s| opsroom_engine::runbooks::is_implemented(&engine.catalog, &s.name))
        && parsed.questions.is_empty();
    let validation_error = if matched {
        let request = RunRequest {
            what: RunWhat::Text(body.text.clone()),
            env: None,
            target: None,
            params: body.params.clone(),
        };
        preview(engine, &state.parse_env, request)?.err()
    } else {
        None
    };
    let runnable = matched && validation_error.is_none();
    let plan = spec
        .map(|s| s.plan(parsed.env.as_deref(), parsed.target.as_deref()))
        .unwrap_or_default();
    Ok(Json(ParseView {
        plan: serde_json::to_value(plan).unwrap_or_default(),
        risk,
        needs_approval,
        runnable,
        validation_error,
        intent: parsed.intent,
        env: parsed.env,
        target: parsed.target,
        params,
        confidence: parsed.confidence,
        questions: parsed.questions,
        alternatives: parsed.alternatives,
    }))
}

/// One entry of `GET /api/v1/runbooks`.
#[derive(Serialize)]
pub(crate) struct RunbookView {
    #[serde(flatten)]
    spec: RunbookSpec,
    /// Whether this server can run it.
    available: bool,
}

/// The runbook catalog: built-in and custom runbooks, their params and phases.
#[utoipa::path(
    get,
    path = "/api/v1/runbooks",
    responses((status = 200, description = "Runbooks", body = Vec<Object>))
)]
pub(crate) async fn runbooks(State(state): State<AppState>) -> Json<Vec<RunbookView>> {
    let catalog = &state.engine.catalog;
    Json(
        catalog
            .iter()
            .map(|spec| RunbookView {
                available: opsroom_engine::runbooks::is_implemented(catalog, &spec.name),
                spec: spec.clone(),
            })
            .collect(),
    )
}

/// Workers with their last heartbeat, state and current runs.
#[utoipa::path(
    get,
    path = "/api/v1/workers",
    responses((status = 200, description = "Workers", body = Vec<WorkerView>))
)]
pub(crate) async fn workers(
    State(state): State<AppState>,
) -> Result<Json<Vec<WorkerView>>, ApiError> {
    let now = state.engine.clock.now();
    let timeout = chrono::Duration::from_std(state.heartbeat_timeout)
        .unwrap_or(chrono::Duration::seconds(30));
    let workers = state.engine.store.workers_list().await?;
    Ok(Json(
        workers
            .into_iter()
            .map(|w| WorkerView {
                stale: w.state != WorkerState::Stopped && now - w.heartbeat_at > timeout,
                heartbeat_age_ms: (now - w.heartbeat_at).num_milliseconds(),
                id: w.id,
                host: w.host,
                pid: w.pid,
                state: w.state,
                concurrency: w.concurrency,
                started_at: w.started_at,
                heartbeat_at: w.heartbeat_at,
                running: w.running,
            })
            .collect(),
    ))
}

/// Metrics in the OpenMetrics text format (queue depth, runs by status, claim
/// latency, workers).
#[utoipa::path(
    get,
    path = "/metrics",
    security(()),
    responses((status = 200, description = "OpenMetrics text", body = String, content_type = "application/openmetrics-text"))
)]
/// The OpenMetrics text format: the store's view (queue depth, runs by
/// status, live workers) read at scrape time, and this process's workers'
/// claim and completion metrics.
pub(crate) async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    use prometheus_client::metrics::{family::Family, gauge::Gauge};
    let engine = &state.engine;
    let counts = engine.store.runs_count_by_status().await?;
    let workers = engine.store.workers_list().await?;
    let now = engine.clock.now();
    let timeout = chrono::Duration::from_std(state.heartbeat_timeout)
        .unwrap_or(chrono::Duration::seconds(30));
    let live = workers
        .iter()
        .filter(|w| w.state != WorkerState::Stopped && now - w.heartbeat_at <= timeout)
        .count();
    let count = |s: RunStatus| {
        counts
            .iter()
            .find(|(k, _)| k == s.as_str())
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let mut registry = prometheus_client::registry::Registry::default();
    let queue_depth = Gauge::<i64>::default();
    queue_depth.set(count(RunStatus::Queued));
    registry.register(
        "opsroom_queue_depth",
        "Runs waiting to be claimed",
        queue_depth,
    );
    let runs = Family::<Vec<(&'static str, &'static str)>, Gauge>::default();
    for s in RunStatus::ALL {
        runs.get_or_create(&vec![("status", s.as_str())])
            .set(count(s));
    }
    registry.register("opsroom_runs", "Runs by status", runs);
    let live_workers = Gauge::<i64>::default();
    live_workers.set(live as i64);
    registry.register(
        "opsroom_workers",
        "Workers with a fresh heartbeat",
        live_workers,
    );
    engine.metrics.register(&mut registry);
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)
        .map_err(|e| ApiError::Internal(format!("encoding metrics: {e}")))?;
    Ok((
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    ))
}
