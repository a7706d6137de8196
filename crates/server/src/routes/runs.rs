//! `/api/v1/runs`: create, list, read, events, artifacts and actions.

use crate::auth::Workspace;
use crate::error::{ApiError, ApiJson, ApiQuery, IdPath, OptionalJson};
use crate::resolve::{resolve, Resolved, RunRequest};
use crate::views::{
    ActionBody, ArtifactView, CreateRun, DecisionBody, ErrorBody, EventView, EventsQuery,
    RetryBody, RunView, RunsQuery,
};
use crate::{sse, Actor, AppState, ClientAddr};
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::SecondsFormat;
use opsroom_core::new_run::RunWhat;
use opsroom_core::{NewRun, NewRunInput, RunStatus};
use opsroom_engine::Engine;
use opsroom_store::{
    AuditListParams, EventsListParams, RunActionParams, RunEvent, RunId, RunInsertParams,
    RunListParams, Seq,
};
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/runs", post(create).get(list))
        .route("/runs/{id}", get(read))
        .route("/runs/{id}/events", get(events))
        .route("/runs/{id}/events/stream", get(sse::stream))
        .route("/runs/{id}/log", get(log))
        .route("/runs/{id}/artifacts", get(artifacts))
        .route("/runs/{id}/cancel", post(cancel))
        .route("/runs/{id}/retry", post(retry))
        .route("/runs/{id}/approve", post(approve))
        .route("/runs/{id}/reject", post(reject))
}

/// Create a run from text or from runbook + env.
#[utoipa::path(
    post,
    path = "/api/v1/runs",
    request_body = CreateRun,
    responses(
        (status = 201, description = "The run", body = RunView),
        (status = 200, description = "The run already created with this idempotency key", body = RunView),
        (status = 404, description = "No such session (`session_id`).", body = ErrorBody),
        (status = 422, description = "Well-formed but refused: a value out of range, a rule between fields, text this server does not understand (with `questions` and `alternatives`), an unknown runbook or env, bad params, or a NUL character.", body = ErrorBody),
    )
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
    Extension(Actor(actor)): Extension<Actor>,
    ClientAddr(source): ClientAddr,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateRun>,
) -> Result<(StatusCode, Json<RunView>), ApiError> {
    let engine = &state.engine;
    let idempotency_key = body.idempotency_key.or_else(|| {
        headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    });
    let new_run = NewRun::parse(NewRunInput {
        text: body.text,
        runbook: body.runbook,
        env: body.env,
        target: body.target,
        params: body.params,
        session_id: body.session_id,
        lane: body.lane,
        idempotency_key,
        priority: Some(body.priority),
        max_attempts: body.max_attempts,
        timeout_secs: body.timeout_secs,
    })?;
    let resolved = resolve(engine, &state.parse_env, RunRequest::from(&new_run))?;
    if let Some(lane) = &new_run.lane {
        engine.store.session_get(&ws, lane.session_id).await?;
    }
    let mut p = insert_params(&state.engine, resolved, actor, source);
    p.workspace_id = ws.clone();
    if let RunWhat::Text(text) = new_run.what {
        p.text = Some(text);
    }
    p.priority = new_run.priority.get();
    p.run_after = body.run_after;
    if let Some(max) = new_run.max_attempts {
        p.max_attempts = max.get();
    }
    if let Some(lane) = new_run.lane {
        p.session_id = Some(lane.session_id);
        p.lane = Some(lane.lane);
    }
    p.idempotency_key = new_run.idempotency_key.map(|k| k.into_inner());
    p.timeout_secs = new_run.timeout.get();
    let (run, created) = engine.store.run_insert(p).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(run.into())))
}

/// The parts of a new run that come from its checked request; a run that
/// needs approval waits for it until the configured expiry.
pub(crate) fn insert_params(
    engine: &Engine,
    resolved: Resolved,
    actor: String,
    source: Option<String>,
) -> RunInsertParams {
    let now = engine.clock.now();
    let mut p = RunInsertParams::new(&resolved.runbook, now);
    p.approval_expires_at = resolved
        .needs_approval
        .then(|| now + engine.config.approvals.expire_after());
    p.source = source;
    p.lock_key = resolved.lock_key();
    p.max_attempts = resolved.default_max_attempts();
    p.risk = resolved.risk;
    p.env = resolved.env;
    p.target = resolved.target;
    p.params = Value::Object(resolved.params);
    p.plan = resolved.plan;
    p.needs_approval = resolved.needs_approval;
    p.actor = actor;
    p
}

/// Run history, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/runs",
    params(RunsQuery),
    responses((status = 200, description = "Runs", body = Vec<RunView>))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
    ApiQuery(q): ApiQuery<RunsQuery>,
) -> Result<Json<Vec<RunView>>, ApiError> {
    let status = q
        .status
        .map(|s| s.parse::<RunStatus>())
        .transpose()
        .map_err(|mut e| {
            // The value is named, not echoed whole: it may be very long.
            if e.value.chars().count() > 40 {
                e.value = e.value.chars().take(40).chain(['…']).collect();
            }
            ApiError::bad_request("invalid_query", format!("query parameter `status`: {e}"))
        })?;
    let env = q.env.map(|e| ENV_FILTER.check(e)).transpose()?;
    let runbook = q.runbook.map(|r| RUNBOOK_FILTER.check(r)).transpose()?;
    let text = |name: &str, v: Option<String>| match v {
        Some(v) if v.chars().count() > 200 || v.contains('\0') => Err(ApiError::bad_request(
            "invalid_query",
            format!("query parameter `{name}` must be at most 200 characters, without NUL"),
        )),
        v => Ok(v.filter(|v| !v.trim().is_empty())),
    };
    let search = text("q", q.q)?;
    let created_by = text("created_by", q.created_by)?;
    // `from` after `to` is a well-formed, empty range: no run is in it.
    if let (Some(from), Some(to)) = (q.from, q.to) {
        if from > to {
            return Ok(Json(Vec::new()));
        }
    }
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
            workspace_id: ws.clone(),
            status,
            env,
            runbook,
            session_id: q.session_id,
            before: q.before,
            created_by,
            created_from: q.from,
            created_to: q.to,
            q: search,
            limit,
        })
        .await?;
    Ok(Json(runs.into_iter().map(RunView::from).collect()))
}

/// A filter that can only match a name of one shape: any other value
/// (quotes, spaces, SQL, paths, very long text) is refused naming the
/// parameter, instead of quietly matching nothing.
struct NameFilter {
    param: &'static str,
    max_chars: usize,
    allowed: fn(char) -> bool,
    rule: &'static str,
}

const ENV_FILTER: NameFilter = NameFilter {
    param: "env",
    max_chars: 100,
    allowed: |c| c.is_ascii_alphanumeric() || c == '-' || c == '_',
    rule: "an environment name: 1 to 100 letters, digits, `-` or `_`",
};

const RUNBOOK_FILTER: NameFilter = NameFilter {
    param: "runbook",
    max_chars: 64,
    allowed: |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_',
    rule: "a runbook name: 1 to 64 of a-z, 0-9 and `_`",
};

impl NameFilter {
    fn check(&self, value: String) -> Result<String, ApiError> {
        let n = value.chars().count();
        if (1..=self.max_chars).contains(&n) && value.chars().all(self.allowed) {
            return Ok(value);
        }
        Err(ApiError::bad_request(
            "invalid_query",
            format!("query parameter `{}` must be {}", self.param, self.rule),
        ))
    }
}

/// One run with its status, phases, attempt and timings.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}",
    params(("id" = i64, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The run", body = RunView),
        (status = 404, description = "No such run.", body = ErrorBody),
    )
)]
pub(crate) async fn read(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
    IdPath(id): IdPath<RunId>,
) -> Result<Json<RunView>, ApiError> {
    let run = state.engine.store.run_get(&ws, id).await?;
    let created_at = run.created_at;
    let waits_for = state.engine.store.run_waits_for(&run).await?;
    let mut view = RunView::from(run);
    (view.retry_of, view.retried_as) = retry_links(&state, &ws, id, created_at).await?;
    view.waits_for = waits_for.map(Into::into);
    Ok(Json(view))
}

/// How many `run.retry` audit entries are read to find a run's retries.
const RETRY_SCAN: i64 = 500;

/// The run `id` retries and the runs that retry it, read from the audit
/// log's `run.retry` entries (written with each retry, in its transaction):
/// the entries from the run's creation on, oldest first.
async fn retry_links(
    state: &AppState,
    ws: &str,
    id: RunId,
    created_at: chrono::DateTime<chrono::Utc>,
) -> Result<(Option<RunId>, Vec<RunId>), ApiError> {
    let entries = state
        .engine
        .store
        .audit_list(AuditListParams {
            workspace_id: ws.to_string(),
            since: Some(created_at),
            action: Some("run.retry".into()),
            newest_first: false,
            limit: RETRY_SCAN,
            ..Default::default()
        })
        .await?;
    let subject = format!("run:{}", id.0);
    let mut retry_of = None;
    let mut retried_as = Vec::new();
    for e in entries {
        let of = e.details["retry_of"].as_i64();
        let new = e.subject.strip_prefix("run:").and_then(|n| n.parse().ok());
        if e.subject == subject {
            retry_of = of.map(RunId);
        } else if of == Some(id.0) {
            retried_as.extend(new.map(RunId));
        }
    }
    Ok((retry_of, retried_as))
}

/// A run's events in order.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/events",
    params(("id" = i64, Path, description = "The run's id"), EventsQuery),
    responses(
        (status = 200, description = "Events", body = Vec<EventView>),
        (status = 404, description = "No such run.", body = ErrorBody),
    )
)]
pub(crate) async fn events(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
    IdPath(id): IdPath<RunId>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Json<Vec<EventView>>, ApiError> {
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit must be from 1 to 10000",
        ));
    }
    let params = EventsListParams::new(&ws, id, limit).after(q.after.unwrap_or_default());
    let events = state.engine.store.events_list(params).await?;
    Ok(Json(events.into_iter().map(EventView::from).collect()))
}

/// Events read per store call while writing a whole log.
const LOG_PAGE: i64 = 5000;

/// A run's log as plain text: one line per event, `TIME LEVEL PHASE
/// MESSAGE`, time in UTC (RFC 3339, milliseconds), messages as written
/// (ANSI colour codes kept), for download and for the CLI.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/log",
    params(("id" = i64, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The raw log", body = String, content_type = "text/plain"),
        (status = 404, description = "No such run.", body = ErrorBody),
    )
)]
pub(crate) async fn log(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
    IdPath(id): IdPath<RunId>,
) -> Result<impl IntoResponse, ApiError> {
    let store = &state.engine.store;
    store.run_get(&ws, id).await?;
    let mut out = String::new();
    let mut after = Seq(0);
    loop {
        let page = store
            .events_list(EventsListParams::new(&ws, id, LOG_PAGE).after(after))
            .await?;
        for e in &page {
            out.push_str(&log_line(e));
            out.push('\n');
        }
        match page.last() {
            Some(last) if page.len() as i64 == LOG_PAGE => after = last.seq,
            _ => break,
        }
    }
    Ok((
        [
            (CONTENT_TYPE, "text/plain; charset=utf-8".to_string()),
            (
                CONTENT_DISPOSITION,
                format!("inline; filename=\"run-{}.log\"", id.0),
            ),
        ],
        out,
    ))
}

/// One event as a line of the raw log; a message's own line breaks are
/// kept, continuation lines indented so each line still starts a record.
fn log_line(e: &RunEvent) -> String {
    let phase = e.phase.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
    let message = e.message.replace('\n', "\n    ");
    format!(
        "{} {:<5} {:<9} {message}",
        e.ts.to_rfc3339_opts(SecondsFormat::Millis, true),
        e.level.as_str().to_ascii_uppercase(),
        phase
    )
}

/// A run's artifacts.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/artifacts",
    params(("id" = i64, Path, description = "The run's id")),
    responses(
        (status = 200, description = "Artifacts", body = Vec<ArtifactView>),
        (status = 404, description = "No such run.", body = ErrorBody),
    )
)]
pub(crate) async fn artifacts(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
    IdPath(id): IdPath<RunId>,
) -> Result<Json<Vec<ArtifactView>>, ApiError> {
    let store = &state.engine.store;
    store.run_get(&ws, id).await?;
    let artifacts = store.artifacts_list(&ws, id).await?;
    Ok(Json(
        artifacts.into_iter().map(ArtifactView::from).collect(),
    ))
}

/// Who acts on which run, from where, with what reason or comment
/// (`field` names it in errors).
struct ActionRequest {
    ws: String,
    id: RunId,
    actor: String,
    source: Option<String>,
    reason: Option<String>,
    field: &'static str,
}

fn action_params(state: &AppState, r: ActionRequest) -> Result<RunActionParams, ApiError> {
    if r.reason.as_ref().is_some_and(|t| t.chars().count() > 1000) {
        return Err(ApiError::unprocessable(
            if r.field == "comment" {
                "invalid_comment"
            } else {
                "invalid_reason"
            },
            format!("{} must be at most 1000 characters", r.field),
        ));
    }
    Ok(RunActionParams {
        workspace_id: r.ws,
        run_id: r.id,
        actor: r.actor,
        reason: r.reason,
        source: r.source,
        allow_self: false,
        now: state.engine.clock.now(),
    })
}

/// Cancel a run: at once when it waits, at its next step when it runs.
#[utoipa::path(
    post,
    path = "/api/v1/runs/{id}/cancel",
    params(("id" = i64, Path, description = "The run's id")),
    request_body(content = Option<ActionBody>, description = "Optional"),
    responses(
        (status = 200, description = "The run", body = RunView),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 409, description = "The run is already final.", body = ErrorBody),
        (status = 422, description = "A reason that is too long or holds a NUL character.", body = ErrorBody),
    )
)]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
    Extension(Actor(actor)): Extension<Actor>,
    ClientAddr(source): ClientAddr,
    IdPath(id): IdPath<RunId>,
    OptionalJson(body): OptionalJson<ActionBody>,
) -> Result<Json<RunView>, ApiError> {
    let p = action_params(
        &state,
        ActionRequest {
            ws,
            id,
            actor,
            source,
            reason: body.and_then(|b| b.reason),
            field: "reason",
        },
    )?;
    Ok(Json(state.engine.store.run_cancel(p).await?.into()))
}

fn decision_params(
    state: &AppState,
    ws: String,
    id: RunId,
    actor: String,
    source: Option<String>,
    body: Option<DecisionBody>,
) -> Result<RunActionParams, ApiError> {
    action_params(
        state,
        ActionRequest {
            ws,
            id,
            actor,
            source,
            reason: body.and_then(|b| b.comment),
            field: "comment",
        },
    )
}

/// Approve a run waiting for approval: only someone other than the person
/// who requested it (its `created_by`) may. The comment is kept with the run.
#[utoipa::path(
    post,
    path = "/api/v1/runs/{id}/approve",
    params(("id" = i64, Path, description = "The run's id")),
    request_body(content = Option<DecisionBody>, description = "Optional"),
    responses(
        (status = 200, description = "The run, queued", body = RunView),
        (status = 403, description = "The approver requested the run (`self_approval`).", body = ErrorBody),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 409, description = "The run does not wait for approval.", body = ErrorBody),
        (status = 422, description = "A comment that is too long or holds a NUL character.", body = ErrorBody),
    )
)]
pub(crate) async fn approve(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
    Extension(Actor(actor)): Extension<Actor>,
    ClientAddr(source): ClientAddr,
    IdPath(id): IdPath<RunId>,
    OptionalJson(body): OptionalJson<DecisionBody>,
) -> Result<Json<RunView>, ApiError> {
    let p = decision_params(&state, ws, id, actor, source, body)?;
    Ok(Json(state.engine.store.run_approve(p).await?.into()))
}

/// Reject a run waiting for approval: like approving, not by its requester.
#[utoipa::path(
    post,
    path = "/api/v1/runs/{id}/reject",
    params(("id" = i64, Path, description = "The run's id")),
    request_body(content = Option<DecisionBody>, description = "Optional"),
    responses(
        (status = 200, description = "The run, rejected", body = RunView),
        (status = 403, description = "The rejecter requested the run (`self_approval`).", body = ErrorBody),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 409, description = "The run does not wait for approval.", body = ErrorBody),
        (status = 422, description = "A comment that is too long or holds a NUL character.", body = ErrorBody),
    )
)]
pub(crate) async fn reject(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
    Extension(Actor(actor)): Extension<Actor>,
    ClientAddr(source): ClientAddr,
    IdPath(id): IdPath<RunId>,
    OptionalJson(body): OptionalJson<DecisionBody>,
) -> Result<Json<RunView>, ApiError> {
    let p = decision_params(&state, ws, id, actor, source, body)?;
    Ok(Json(state.engine.store.run_reject(p).await?.into()))
}

/// Retry a finished run as a new run; the old one stays as it was.
#[utoipa::path(
    post,
    path = "/api/v1/runs/{id}/retry",
    params(("id" = i64, Path, description = "The run's id")),
    request_body(content = Option<RetryBody>, description = "Optional: params to change"),
    responses(
        (status = 201, description = "The new run", body = RunView),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 409, description = "The run is not final yet.", body = ErrorBody),
        (status = 422, description = "The run's request no longer fits this server's catalog or config.", body = ErrorBody),
    )
)]
pub(crate) async fn retry(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
    Extension(Actor(actor)): Extension<Actor>,
    ClientAddr(source): ClientAddr,
    IdPath(id): IdPath<RunId>,
    OptionalJson(body): OptionalJson<RetryBody>,
) -> Result<(StatusCode, Json<RunView>), ApiError> {
    let engine = &state.engine;
    let old = engine.store.run_get(&ws, id).await?;
    if !old.status.is_final() {
        return Err(ApiError::Conflict(format!(
            "run {id} is {}; only finished runs can be retried",
            old.status
        )));
    }
    let again = NewRun::parse(NewRunInput {
        runbook: Some(old.runbook.clone()),
        env: old.env.clone(),
        target: old.target.clone(),
        params: {
            let mut params = old.params.as_object().cloned().unwrap_or_default();
            params.extend(body.unwrap_or_default().params);
            params
        },
        priority: Some(old.priority),
        max_attempts: Some(old.max_attempts),
        timeout_secs: Some(old.timeout_secs),
        ..Default::default()
    })?;
    let resolved = resolve(engine, &state.parse_env, RunRequest::from(&again))?;
    let mut p = insert_params(&state.engine, resolved, actor, source);
    p.workspace_id = ws.clone();
    p.retry_of = Some(old.id);
    p.text = old.text;
    p.priority = old.priority;
    p.max_attempts = old.max_attempts;
    p.session_id = old.session_id;
    p.lane = old.lane;
    p.timeout_secs = old.timeout_secs;
    let (run, _) = engine.store.run_insert(p).await?;
    Ok((StatusCode::CREATED, Json(run.into())))
}
