//! `/api/v1/sessions`: a session groups runs in lanes A to D.

use crate::error::{ApiError, OptionalJson, RunIdPath};
use crate::{Actor, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use opsroom_store::{SessionCreateParams, SessionWithRuns, DEFAULT_WORKSPACE};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sessions", post(create))
        .route("/sessions/{id}", get(read))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateSession {
    name: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    Extension(Actor(actor)): Extension<Actor>,
    OptionalJson(body): OptionalJson<CreateSession>,
) -> Result<(StatusCode, Json<SessionWithRuns>), ApiError> {
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
            workspace_id: DEFAULT_WORKSPACE.into(),
            name,
            actor,
            now,
        })
        .await?;
    let full = engine
        .store
        .session_get(DEFAULT_WORKSPACE, session.id)
        .await?;
    Ok((StatusCode::CREATED, Json(full)))
}

async fn read(
    State(state): State<AppState>,
    RunIdPath(id): RunIdPath,
) -> Result<Json<SessionWithRuns>, ApiError> {
    Ok(Json(
        state
            .engine
            .store
            .session_get(DEFAULT_WORKSPACE, id)
            .await?,
    ))
}
