//! Health, metrics, the OpenAPI document, the parser, the runbook catalog
//! and the workers list.

use crate::error::{ApiError, ApiJson};
use crate::AppState;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use opsroom_core::RunStatus;
use serde::Deserialize;
use serde_json::{json, Value};
use std::fmt::Write;

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

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn openapi() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "application/json")],
        include_str!("../openapi.json"),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParseBody {
    text: String,
}

/// Parses command text and previews its plan, without enqueuing anything.
async fn parse(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ParseBody>,
) -> Result<Json<Value>, ApiError> {
    let engine = &state.engine;
    let parsed = state.parse_env.parse(engine, &body.text)?;
    let spec = engine.catalog.get(&parsed.intent);
    let plan = spec.map(|s| s.plan(parsed.env.as_deref(), parsed.target.as_deref()));
    let risk = spec.map(|s| s.risk);
    let needs_approval =
        risk.is_some_and(|r| crate::resolve::needs_approval(engine, r, parsed.env.as_deref()));
    let mut out = serde_json::to_value(&parsed).unwrap_or_default();
    if let Some(obj) = out.as_object_mut() {
        obj.insert(
            "plan".into(),
            serde_json::to_value(plan.unwrap_or_default()).unwrap_or_default(),
        );
        obj.insert(
            "risk".into(),
            serde_json::to_value(risk).unwrap_or_default(),
        );
        obj.insert("needs_approval".into(), Value::Bool(needs_approval));
        obj.insert(
            "runnable".into(),
            Value::Bool(
                spec.is_some_and(|s| {
                    opsroom_engine::runbooks::is_implemented(&engine.catalog, &s.name)
                }) && parsed.questions.is_empty(),
            ),
        );
    }
    Ok(Json(out))
}

async fn runbooks(State(state): State<AppState>) -> Json<Value> {
    let list: Vec<Value> = state
        .engine
        .catalog
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "available".into(),
                    Value::Bool(opsroom_engine::runbooks::is_implemented(
                        &state.engine.catalog,
                        &r.name,
                    )),
                );
            }
            v
        })
        .collect();
    Json(Value::Array(list))
}

async fn workers(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let now = state.engine.clock.now();
    let timeout = chrono::Duration::from_std(state.heartbeat_timeout)
        .unwrap_or(chrono::Duration::seconds(30));
    let workers = state.engine.store.workers_list().await?;
    let list: Vec<Value> = workers
        .into_iter()
        .map(|w| {
            let stale = w.state != "stopped" && now - w.heartbeat_at > timeout;
            let mut v = serde_json::to_value(&w).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("stale".into(), Value::Bool(stale));
                o.insert(
                    "heartbeat_age_ms".into(),
                    json!((now - w.heartbeat_at).num_milliseconds()),
                );
            }
            v
        })
        .collect();
    Ok(Json(Value::Array(list)))
}

/// Prometheus text format.
async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let engine = &state.engine;
    let counts = engine.store.runs_count_by_status().await?;
    let workers = engine.store.workers_list().await?;
    let now = engine.clock.now();
    let timeout = chrono::Duration::from_std(state.heartbeat_timeout)
        .unwrap_or(chrono::Duration::seconds(30));
    let live = workers
        .iter()
        .filter(|w| w.state != "stopped" && now - w.heartbeat_at <= timeout)
        .count();
    let m = engine.metrics.snapshot();
    let mut out = String::new();
    let count = |s: RunStatus| {
        counts
            .iter()
            .find(|(k, _)| k == s.as_str())
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let _ = writeln!(
        out,
        "# HELP opsroom_queue_depth Runs waiting to be claimed.\n# TYPE opsroom_queue_depth gauge"
    );
    let _ = writeln!(out, "opsroom_queue_depth {}", count(RunStatus::Queued));
    let _ = writeln!(
        out,
        "# HELP opsroom_runs Runs by status.\n# TYPE opsroom_runs gauge"
    );
    for s in RunStatus::ALL {
        let _ = writeln!(out, "opsroom_runs{{status=\"{s}\"}} {}", count(s));
    }
    let _ = writeln!(
        out,
        "# HELP opsroom_workers Workers with a fresh heartbeat.\n# TYPE opsroom_workers gauge"
    );
    let _ = writeln!(out, "opsroom_workers {live}");
    let _ = writeln!(
        out,
        "# HELP opsroom_claim_duration_seconds Time spent claiming runs by this process's workers.\n# TYPE opsroom_claim_duration_seconds summary"
    );
    let _ = writeln!(
        out,
        "opsroom_claim_duration_seconds_sum {:.6}",
        m.claim_seconds
    );
    let _ = writeln!(out, "opsroom_claim_duration_seconds_count {}", m.claims);
    let _ = writeln!(out, "# HELP opsroom_runs_claimed_total Runs claimed by this process.\n# TYPE opsroom_runs_claimed_total counter");
    let _ = writeln!(out, "opsroom_runs_claimed_total {}", m.claimed_runs);
    let _ = writeln!(out, "# HELP opsroom_runs_completed_total Attempts completed by this process.\n# TYPE opsroom_runs_completed_total counter");
    let _ = writeln!(out, "opsroom_runs_completed_total {}", m.completed_runs);
    let _ = writeln!(out, "# HELP opsroom_leases_lost_total Runs taken away from this process's workers.\n# TYPE opsroom_leases_lost_total counter");
    let _ = writeln!(out, "opsroom_leases_lost_total {}", m.lost_leases);
    let _ = writeln!(out, "# HELP opsroom_runs_abandoned_total Runs whose end this process could not record, left to the rescuer.\n# TYPE opsroom_runs_abandoned_total counter");
    let _ = writeln!(out, "opsroom_runs_abandoned_total {}", m.abandoned_runs);
    let _ = writeln!(out, "# HELP opsroom_completion_write_seconds Transactions that ended attempts (several at once when busy), and their time.\n# TYPE opsroom_completion_write_seconds summary");
    let _ = writeln!(
        out,
        "opsroom_completion_write_seconds_sum {:.6}",
        m.completion_seconds
    );
    let _ = writeln!(
        out,
        "opsroom_completion_write_seconds_count {}",
        m.completion_writes
    );
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}
