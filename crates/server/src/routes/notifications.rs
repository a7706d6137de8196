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
    // A channel's name is a plain name, as the document says: anything else
    // (the empty string included) names no channel and is refused.
    if let Some(channel) = &q.channel {
        let plain = !channel.is_empty()
            && channel.len() <= 200
            && channel
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !plain {
            return Err(ApiError::bad_request(
                "invalid_query",
                "query parameter `channel` must be a channel's name: 1 to 200 of A-Z a-z 0-9 _ . -",
            ));
        }
    }
    let attempts = state
        .engine
        .store
        .delivery_attempts_list(DeliveryAttemptsListParams {
            workspace_id,
            channel: q.channel,
            before: q.before,
            limit,
        })
        .await?;
    Ok(attempts
        .into_iter()
        .map(DeliveryAttemptView::from)
        .collect())
}
