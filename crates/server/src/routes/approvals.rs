//! `/api/v1/approvals`: the runs of this workspace that wait for someone to
//! approve or reject them, each with the exact plan it will execute, who
//! asked for it, when, and when the wait expires.

use crate::auth::Workspace;
use crate::error::ApiError;
use crate::views::RunView;
use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::Extension;
use axum::{Json, Router};
use opsroom_core::RunStatus;
use opsroom_store::RunListParams;

/// The most runs the inbox lists.
const MAX_WAITING: i64 = 1000;

pub fn router() -> Router<AppState> {
    Router::new().route("/approvals", get(list))
}

/// Runs awaiting approval, oldest request first: each run's `plan` is what
/// it will execute once approved, and its `approval` says who requested it,
/// when, and when the request expires.
#[utoipa::path(
    get,
    path = "/api/v1/approvals",
    responses((status = 200, description = "Runs awaiting approval, oldest first", body = Vec<RunView>))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
) -> Result<Json<Vec<RunView>>, ApiError> {
    let mut runs = state
        .engine
        .store
        .run_list(RunListParams {
            workspace_id: ws,
            status: Some(RunStatus::AwaitingApproval),
            limit: MAX_WAITING,
            ..Default::default()
        })
        .await?;
    runs.reverse();
    Ok(Json(runs.into_iter().map(RunView::from).collect()))
}
