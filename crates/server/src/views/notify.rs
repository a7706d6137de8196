//! The views of notifications and signed hooks.

use chrono::{DateTime, Utc};
use opsroom_core::RunId;
use opsroom_store::DeliveryAttempt;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// One attempt to deliver a notification, as `GET
/// /api/v1/notifications/deliveries` lists them. Never the channel's URL
/// or secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = DeliveryAttempt)]
pub struct DeliveryAttemptView {
    /// The attempt's id; `before` pages from it.
    pub id: i64,
    /// The channel's name (`[[notifications]] name`, or its kind).
    pub channel: String,
    /// `run.awaiting_approval`, `run.started`, `run.succeeded`, `run.failed` or `run.rescued`.
    pub event: String,
    #[schema(value_type = i64)]
    pub run_id: RunId,
    /// 1 for a delivery's first attempt.
    pub attempt: i32,
    /// The receiver's HTTP status; null when it did not answer.
    pub status_code: Option<i32>,
    /// What went wrong; null when delivered.
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<DeliveryAttempt> for DeliveryAttemptView {
    fn from(a: DeliveryAttempt) -> Self {
        DeliveryAttemptView {
            id: a.id,
            channel: a.channel,
            event: a.event,
            run_id: a.run_id,
            attempt: a.attempt,
            status_code: a.status_code,
            error: a.error,
            at: a.at,
        }
    }
}

/// Query of `GET /api/v1/notifications/deliveries`: newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// Only this channel's attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(max_length = 200, pattern = "^[A-Za-z0-9_.-]+$")]
    pub channel: Option<String>,
    /// 1 to 1000; default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Only attempts with a smaller id (pagination: the last `id` of a page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<i64>,
}

/// The body of `POST /api/v1/hooks/{name}` (it may also be empty).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HookBody {
    /// Params for the run; only the names the hook's `allowed_params` lists.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub params: Option<Map<String, Value>>,
}
