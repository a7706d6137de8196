//! `/api/v1/runs`: create, list, read, events, artifacts and actions.

use crate::error::{ApiError, ApiJson, ApiQuery, OptionalJson, RunIdPath};
use crate::resolve::{resolve, Resolved, RunRequest};
use crate::{sse, Actor, AppState};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use opsroom_core::{Risk, RunStatus};
use opsroom_store::{
    Artifact, EventsListParams, Run, RunActionParams, RunEvent, RunInsertParams, RunListParams,
    DEFAULT_WORKSPACE, LANES,
};
use serde::Deserialize;
use serde_json::{Map, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/runs", post(create).get(list))
        .route("/runs/{id}", get(read))
        .route("/runs/{id}/events", get(events))
        .route("/runs/{id}/events/stream", get(sse::stream))
        .route("/runs/{id}/artifacts", get(artifacts))
        .route("/runs/{id}/cancel", post(cancel))
        .route("/runs/{id}/retry", post(retry))
        .route("/runs/{id}/approve", post(approve))
        .route("/runs/{id}/reject", post(reject))
}

/// Body of `POST /runs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRun {
    text: Option<String>,
    runbook: Option<String>,
    env: Option<String>,
    target: Option<String>,
    #[serde(default)]
    params: Map<String, Value>,
    session_id: Option<i64>,
    lane: Option<String>,
    idempotency_key: Option<String>,
    #[serde(default)]
    priority: i32,
    max_attempts: Option<i32>,
    run_after: Option<DateTime<Utc>>,
    timeout_secs: Option<i64>,
}

async fn create(
    State(state): State<AppState>,
    Extension(Actor(actor)): Extension<Actor>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateRun>,
) -> Result<(StatusCode, Json<Run>), ApiError> {
    let engine = &state.engine;
    let text = body.text.clone();
    let resolved = resolve(
        engine,
        &state.parse_env,
        RunRequest {
            text: body.text,
            runbook: body.runbook,
            env: body.env,
            target: body.target,
            params: body.params,
        },
    )?;
    let idempotency_key = body.idempotency_key.or_else(|| {
        headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    });
    if idempotency_key
        .as_ref()
        .is_some_and(|k| k.is_empty() || k.chars().count() > 200)
    {
        return Err(ApiError::unprocessable(
            "invalid_idempotency_key",
            "idempotency_key must be 1 to 200 characters",
        ));
    }
    match (&body.session_id, &body.lane) {
        (Some(_), None) | (None, Some(_)) => {
            return Err(ApiError::unprocessable(
                "invalid_lane",
                "give both `session_id` and `lane`, or neither",
            ))
        }
        (Some(sid), Some(lane)) => {
            if !LANES.contains(&lane.as_str()) {
                return Err(ApiError::unprocessable(
                    "invalid_lane",
                    format!("unknown lane `{lane}`; lanes are {}", LANES.join(", ")),
                ));
            }
            engine.store.session_get(DEFAULT_WORKSPACE, *sid).await?;
        }
        _ => {}
    }
    let max_attempts = body.max_attempts.unwrap_or(resolved.default_max_attempts());
    if !(1..=20).contains(&max_attempts) {
        return Err(ApiError::unprocessable(
            "invalid_max_attempts",
            "max_attempts must be from 1 to 20",
        ));
    }
    let timeout_secs = body.timeout_secs.unwrap_or(3600);
    if !(1..=86_400).contains(&timeout_secs) {
        return Err(ApiError::unprocessable(
            "invalid_timeout",
            "timeout_secs must be from 1 to 86400",
        ));
    }
    if !(-100..=100).contains(&body.priority) {
        return Err(ApiError::unprocessable(
            "invalid_priority",
            "priority must be from -100 to 100",
        ));
    }
    let mut p = insert_params(&state, resolved, actor);
    p.text = text;
    p.priority = body.priority;
    p.run_after = body.run_after;
    p.max_attempts = max_attempts;
    p.session_id = body.session_id;
    p.lane = body.lane;
    p.idempotency_key = idempotency_key;
    p.timeout_secs = timeout_secs;
    let (run, created) = engine.store.run_insert(p).await?;
    Ok((
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(run),
    ))
}

/// The parts of a new run that come from its checked request.
fn insert_params(state: &AppState, resolved: Resolved, actor: String) -> RunInsertParams {
    let mut p = RunInsertParams::new(&resolved.runbook, state.engine.clock.now());
    p.lock_key = resolved.lock_key();
    p.max_attempts = resolved.default_max_attempts();
    p.risk = match resolved.risk {
        Risk::Read => "read".into(),
        Risk::Write => "write".into(),
    };
    p.env = resolved.env;
    p.target = resolved.target;
    p.params = Value::Object(resolved.params);
    p.plan = resolved.plan;
    p.needs_approval = resolved.needs_approval;
    p.actor = actor;
    p
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    env: Option<String>,
    runbook: Option<String>,
    session_id: Option<i64>,
    limit: Option<i64>,
    before: Option<i64>,
}

async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<Run>>, ApiError> {
    let status = q
        .status
        .map(|s| s.parse::<RunStatus>())
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit must be from 1 to 1000",
        ));
    }
    let runs = state
        .engine
        .store
        .run_list(RunListParams {
            workspace_id: DEFAULT_WORKSPACE.into(),
            status,
            env: q.env,
            runbook: q.runbook,
            session_id: q.session_id,
            before: q.before,
            limit,
        })
        .await?;
    Ok(Json(runs))
}

async fn read(
    State(state): State<AppState>,
    RunIdPath(id): RunIdPath,
) -> Result<Json<Run>, ApiError> {
    Ok(Json(
        state.engine.store.run_get(DEFAULT_WORKSPACE, id).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

async fn events(
    State(state): State<AppState>,
    RunIdPath(id): RunIdPath,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Json<Vec<RunEvent>>, ApiError> {
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit must be from 1 to 10000",
        ));
    }
    let params = EventsListParams::new(DEFAULT_WORKSPACE, id, limit).after(q.after.unwrap_or(0));
    Ok(Json(state.engine.store.events_list(params).await?))
}

async fn artifacts(
    State(state): State<AppState>,
    RunIdPath(id): RunIdPath,
) -> Result<Json<Vec<Artifact>>, ApiError> {
    let store = &state.engine.store;
    store.run_get(DEFAULT_WORKSPACE, id).await?;
    Ok(Json(store.artifacts_list(DEFAULT_WORKSPACE, id).await?))
}

/// Optional body of the action endpoints.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    reason: Option<String>,
}

fn action_params(
    state: &AppState,
    id: i64,
    actor: String,
    body: Option<ActionBody>,
) -> Result<RunActionParams, ApiError> {
    let reason = body.and_then(|b| b.reason);
    if reason.as_ref().is_some_and(|r| r.chars().count() > 1000) {
        return Err(ApiError::unprocessable(
            "invalid_reason",
            "reason must be at most 1000 characters",
        ));
    }
    Ok(RunActionParams {
        workspace_id: DEFAULT_WORKSPACE.into(),
        run_id: id,
        actor,
        reason,
        allow_self: false,
        now: state.engine.clock.now(),
    })
}

async fn cancel(
    State(state): State<AppState>,
    Extension(Actor(actor)): Extension<Actor>,
    RunIdPath(id): RunIdPath,
    OptionalJson(body): OptionalJson<ActionBody>,
) -> Result<Json<Run>, ApiError> {
    let p = action_params(&state, id, actor, body)?;
    Ok(Json(state.engine.store.run_cancel(p).await?))
}

async fn approve(
    State(state): State<AppState>,
    Extension(Actor(actor)): Extension<Actor>,
    RunIdPath(id): RunIdPath,
    OptionalJson(body): OptionalJson<ActionBody>,
) -> Result<Json<Run>, ApiError> {
    let p = action_params(&state, id, actor, body)?;
    Ok(Json(state.engine.store.run_approve(p).await?))
}

async fn reject(
    State(state): State<AppState>,
    Extension(Actor(actor)): Extension<Actor>,
    RunIdPath(id): RunIdPath,
    OptionalJson(body): OptionalJson<ActionBody>,
) -> Result<Json<Run>, ApiError> {
    let p = action_params(&state, id, actor, body)?;
    Ok(Json(state.engine.store.run_reject(p).await?))
}

/// Retry makes a new run with the same request; the old one stays as it was.
async fn retry(
    State(state): State<AppState>,
    Extension(Actor(actor)): Extension<Actor>,
    RunIdPath(id): RunIdPath,
) -> Result<(StatusCode, Json<Run>), ApiError> {
    let engine = &state.engine;
    let old = engine.store.run_get(DEFAULT_WORKSPACE, id).await?;
    if !old.status.is_final() {
        return Err(ApiError::Conflict(format!(
            "run {id} is {}; only finished runs can be retried",
            old.status
        )));
    }
    let resolved = resolve(
        engine,
        &state.parse_env,
        RunRequest {
            text: None,
            runbook: Some(old.runbook.clone()),
            env: old.env.clone(),
            target: old.target.clone(),
            params: old.params.as_object().cloned().unwrap_or_default(),
        },
    )?;
    let mut p = insert_params(&state, resolved, actor);
    p.text = old.text.clone();
    p.priority = old.priority;
    p.max_attempts = old.max_attempts;
    p.session_id = old.session_id;
    p.lane = old.lane.clone();
    p.timeout_secs = old.timeout_secs;
    let (run, _) = engine.store.run_insert(p).await?;
    Ok((StatusCode::CREATED, Json(run)))
}
