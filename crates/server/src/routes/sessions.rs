//! `/api/v1/sessions`: a session groups runs in lanes A to D.

use crate::auth::Workspace;
use crate::error::{ApiError, ApiQuery, IdPath, OptionalJson};
use crate::views::{CreateSession, ErrorBody, SessionView, SessionsQuery};
use crate::{Actor, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use opsroom_store::SessionCreateParams;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sessions", post(create).get(list))
        .route("/sessions/{id}", get(read))
}

/// Create a session with lanes A to D.
#[utoipa::path(
    post,
    path = "/api/v1/sessions",
    request_body(content = Option<CreateSession>, description = "Optional"),
    responses(
        (status = 201, description = "The session", body = SessionView),
        (status = 422, description = "A name that is empty, too long, only spaces, or holds a control character.", body = ErrorBody),
    )
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
    Extension(Actor(actor)): Extension<Actor>,
    OptionalJson(body): OptionalJson<CreateSession>,
) -> Result<(StatusCode, Json<SessionView>), ApiError> {
    let engine = &state.engine;
    let now = engine.clock.now();
    let name = body
        .and_then(|b| b.name)
        .unwrap_or_else(|| format!("session {}", now.format("%Y-%m-%d %H:%M")));
    if name.trim().is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "invalid_name",
            "name must be 1 to 200 printable characters, not only spaces",
        ));
    }
    let session = engine
        .store
        .session_create(SessionCreateParams {
            workspace_id: ws.clone(),
            name,
            actor,
            now,
        })
        .await?;
    let full = engine.store.session_get(&ws, session.id).await?;
    Ok((StatusCode::CREATED, Json(full.into())))
}

/// A session with its lanes and their runs.
#[utoipa::path(
    get,
    path = "/api/v1/sessions/{id}",
    params(("id" = i64, Path, description = "The session's id")),
    responses(
        (status = 200, description = "The session", body = SessionView),
        (status = 404, description = "No such session.", body = ErrorBody),
    )
)]
pub(crate) async fn read(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
    IdPath(id): IdPath<i64>,
) -> Result<Json<SessionView>, ApiError> {
    let session = state.engine.store.session_get(&ws, id).await?;
    Ok(Json(session.into()))
}

/// The workspace's sessions, newest first, each with its lanes and their
/// runs (for the Runboard's list).
#[utoipa::path(
    get,
    path = "/api/v1/sessions",
    params(SessionsQuery),
    responses(
        (status = 200, description = "Sessions, newest first", body = Vec<SessionView>),
        (status = 400, description = "A limit out of range.", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
    ApiQuery(q): ApiQuery<SessionsQuery>,
) -> Result<Json<Vec<SessionView>>, ApiError> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit must be from 1 to 100",
        ));
    }
    let store = &state.engine.store;
    let mut out = Vec::new();
    for s in store.session_list(&ws, limit).await? {
        out.push(store.session_get(&ws, s.id).await?.into());
    }
    Ok(Json(out))
}
