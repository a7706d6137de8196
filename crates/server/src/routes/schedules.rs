//! `/api/v1/schedules`: cron schedules that enqueue runs (the firing is in
//! `crate::scheduler`).

use crate::auth::Workspace;
use crate::error::{ApiError, ApiJson, IdPath};
use crate::resolve::{resolve, RunRequest};
use crate::scheduler::{new_run_of, request_json};
use crate::views::{CreateSchedule, ErrorBody, ScheduleView};
use crate::{Actor, AppState, ClientAddr};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete as delete_route, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use opsroom_core::cron::CronSchedule;
use opsroom_store::{Schedule, ScheduleCreateParams, ScheduleDeleteParams, SchedulePauseParams};

/// How many upcoming fires a schedule shows.
pub const NEXT_RUNS: usize = 5;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/schedules", post(create).get(list))
        .route("/schedules/{id}", delete_route(delete))
        .route("/schedules/{id}/pause", post(pause))
        .route("/schedules/{id}/resume", post(resume))
}

/// The checked cron of a request: 422 naming `cron` or `timezone`.
pub(crate) fn cron_of(cron: &str, timezone: Option<&str>) -> Result<CronSchedule, ApiError> {
    CronSchedule::parse(cron, timezone).map_err(|e| {
        let code = match e.field() {
            "timezone" => "invalid_timezone",
            _ => "invalid_cron",
        };
        ApiError::unprocessable(code, e.to_string())
    })
}

/// The view of a schedule with its next fires.
pub(crate) fn view(s: Schedule) -> ScheduleView {
    let next_runs = next_runs(&s);
    ScheduleView::new(s, next_runs)
}

/// The next [`NEXT_RUNS`] fires of an active schedule, from its next fire.
pub(crate) fn next_runs(s: &Schedule) -> Vec<DateTime<Utc>> {
    let (Some(first), false) = (s.next_fire_at, s.paused) else {
        return Vec::new();
    };
    let Ok(cron) = CronSchedule::parse(&s.cron, Some(&s.timezone)) else {
        return vec![first];
    };
    let mut out = vec![first];
    out.extend(cron.next_n(first, NEXT_RUNS - 1));
    out
}

/// Create a schedule.
#[utoipa::path(
    post,
    path = "/api/v1/schedules",
    request_body = CreateSchedule,
    responses(
        (status = 201, description = "The schedule, with its next five fire times in `next_runs`", body = ScheduleView),
        (status = 422, description = "A bad cron expression (`invalid_cron`), an unknown time zone (`invalid_timezone`), an expression that never fires, or a run request that does not resolve (text not understood, with `questions`; an unknown runbook or env; bad params).", body = ErrorBody),
    )
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
    Extension(Actor(actor)): Extension<Actor>,
    ClientAddr(source): ClientAddr,
    ApiJson(body): ApiJson<CreateSchedule>,
) -> Result<(StatusCode, Json<ScheduleView>), ApiError> {
    let engine = &state.engine;
    let cron = cron_of(&body.cron, body.timezone.as_deref())?;
    let request = request_json(body.text, body.runbook, body.env, body.target, body.params);
    // The request must resolve now (each fire resolves it again).
    let new_run = new_run_of(&request)?;
    resolve(engine, &state.parse_env, RunRequest::from(&new_run))?;
    let now = engine.clock.now();
    let Some(next) = cron.next_after(now) else {
        return Err(ApiError::unprocessable(
            "invalid_cron",
            format!("cron {:?} never fires", cron.cron()),
        ));
    };
    let s = engine
        .store
        .schedule_create(ScheduleCreateParams {
            workspace_id: ws,
            cron: cron.cron().to_string(),
            timezone: cron.timezone().to_string(),
            request,
            next_fire_at: Some(next),
            actor,
            source,
            now,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(view(s))))
}

/// The workspace's schedules, by id.
#[utoipa::path(
    get,
    path = "/api/v1/schedules",
    responses((status = 200, description = "Schedules", body = Vec<ScheduleView>))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
) -> Result<Json<Vec<ScheduleView>>, ApiError> {
    let schedules = state.engine.store.schedules_list(&ws).await?;
    Ok(Json(schedules.into_iter().map(view).collect()))
}

/// Pause a schedule: it fires no more until resumed.
#[utoipa::path(
    post,
    path = "/api/v1/schedules/{id}/pause",
    params(("id" = i64, Path, description = "Schedule id")),
    responses(
        (status = 200, description = "The paused schedule", body = ScheduleView),
        (status = 404, description = "No such schedule.", body = ErrorBody),
    )
)]
pub(crate) async fn pause(
    state: State<AppState>,
    ws: Extension<Workspace>,
    actor: Extension<Actor>,
    source: ClientAddr,
    IdPath(id): IdPath<i64>,
) -> Result<Json<ScheduleView>, ApiError> {
    set_paused(state, ws, actor, source, id, true).await
}

/// Resume a paused schedule: it fires from its next fire time after now
/// (fires that fell while it was paused are not owed).
#[utoipa::path(
    post,
    path = "/api/v1/schedules/{id}/resume",
    params(("id" = i64, Path, description = "Schedule id")),
    responses(
        (status = 200, description = "The resumed schedule", body = ScheduleView),
        (status = 404, description = "No such schedule.", body = ErrorBody),
    )
)]
pub(crate) async fn resume(
    state: State<AppState>,
    ws: Extension<Workspace>,
    actor: Extension<Actor>,
    source: ClientAddr,
    IdPath(id): IdPath<i64>,
) -> Result<Json<ScheduleView>, ApiError> {
    set_paused(state, ws, actor, source, id, false).await
}

async fn set_paused(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
    Extension(Actor(actor)): Extension<Actor>,
    ClientAddr(source): ClientAddr,
    id: i64,
    paused: bool,
) -> Result<Json<ScheduleView>, ApiError> {
    let engine = &state.engine;
    let now = engine.clock.now();
    let current = engine.store.schedule_get(&ws, id).await?;
    let next_fire_at = CronSchedule::parse(&current.cron, Some(&current.timezone))
        .ok()
        .and_then(|c| c.next_after(now));
    let s = engine
        .store
        .schedule_pause(SchedulePauseParams {
            workspace_id: ws,
            id,
            paused,
            next_fire_at,
            actor,
            source,
            now,
        })
        .await?;
    Ok(Json(view(s)))
}

/// Delete a schedule (the runs it enqueued stay).
#[utoipa::path(
    delete,
    path = "/api/v1/schedules/{id}",
    params(("id" = i64, Path, description = "Schedule id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such schedule.", body = ErrorBody),
    )
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
    Extension(Actor(actor)): Extension<Actor>,
    ClientAddr(source): ClientAddr,
    IdPath(id): IdPath<i64>,
) -> Result<StatusCode, ApiError> {
    let engine = &state.engine;
    engine
        .store
        .schedule_delete(ScheduleDeleteParams {
            workspace_id: ws,
            id,
            actor,
            source,
            now: engine.clock.now(),
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
