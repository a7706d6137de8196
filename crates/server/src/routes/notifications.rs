//! `GET /api/v1/notifications/deliveries`: the log of attempts to deliver
//! notifications of this workspace's runs, newest first. A channel's URL and
//! secret never appear: attempts name the channel only.

use crate::auth::Workspace;
use crate::error::{ApiError, ApiQuery};
use crate::views::{DeliveriesQuery, DeliveryAttemptView};
use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Extension, Json, Router};
use opsroom_store::DeliveryAttemptsListParams;

pub fn router() -> Router<AppState> {
    Router::new().route("/notifications/deliveries", get(list))
}

/// Delivery attempts of notifications, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/notifications/deliveries",
    params(DeliveriesQuery),
    responses((status = 200, description = "Attempts, newest first", body = Vec<DeliveryAttemptView>))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(Workspace(ws)): Extension<Workspace>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<Json<Vec<DeliveryAttemptView>>, ApiError> {
    let attempts = deliveries(&state, ws, q).await?;
    Ok(Json(attempts))
}

/// The attempts a query asks for (the UI's delivery log reads them too).
pub(crate) async fn deliveries(
    state: &AppState,
    workspace_id: String,
    q: DeliveriesQuery,
) -> Result<Vec<DeliveryAttemptView>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be from 1 to 1000, got {limit}"),
        ));
    }
    let attempts = state
        .engine
        .store
        .delivery_attempts_list(DeliveryAttemptsListParams {
            workspace_id,
            channel: q.channel,
            before: None,
            limit,
        })
        .await?;
    Ok(attempts
        .into_iter()
        .map(DeliveryAttemptView::from)
        .collect())
}
