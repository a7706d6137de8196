//! The API's view types of schedules.

use super::{optional_command_text_schema, params_schema};
use chrono::{DateTime, Utc};
use opsroom_store::{Schedule, SkippedFires};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Body of `POST /api/v1/schedules`: a cron expression (five fields, or six
/// with seconds first), an optional IANA time zone (default UTC), and what
/// each fire runs, as `POST /api/v1/runs` takes it: `text`, or `runbook`
/// with `env` (and optional `target` and `params`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSchedule {
    /// `*/5 * * * *`, or with seconds first: `0 */5 * * * *`.
    #[schema(min_length = 1, max_length = 200, pattern = "^[^\\u0000]*$")]
    pub cron: String,
    /// An IANA name such as `Europe/Paris`; default `UTC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 100, pattern = "^[^\\u0000]*$")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = optional_command_text_schema)]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[^\\u0000]*$")]
    pub runbook: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[^\\u0000]*$")]
    pub env: Option<String>,
    /// 1 to 200 characters, no control characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schema(schema_with = params_schema)]
    pub params: Map<String, Value>,
}

/// A schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Schedule)]
pub struct ScheduleView {
    pub id: i64,
    pub cron: String,
    pub timezone: String,
    /// What each fire runs: `{"text"}` or `{"runbook","env","target"?,"params"?}`.
    #[schema(value_type = Object)]
    pub request: Value,
    pub paused: bool,
    /// The next five fire times (none while paused).
    pub next_runs: Vec<DateTime<Utc>>,
    /// The last fire that enqueued a run (or tried to).
    pub last_fire_at: Option<DateTime<Utc>>,
    pub last_run_id: Option<i64>,
    /// Why the last fire could not enqueue its run.
    pub last_error: Option<String>,
    /// How many fires were skipped because no server was up to run them in time.
    pub skipped_count: i64,
    /// The latest ranges of skipped fires, oldest first.
    pub skipped: Vec<SkippedFiresView>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Fires not run because they were found too late, noticed together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = SkippedFires)]
pub struct SkippedFiresView {
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    pub count: i64,
    pub noticed_at: DateTime<Utc>,
}

impl From<SkippedFires> for SkippedFiresView {
    fn from(s: SkippedFires) -> Self {
        SkippedFiresView {
            first: s.first,
            last: s.last,
            count: s.count,
            noticed_at: s.noticed_at,
        }
    }
}

impl ScheduleView {
    /// The view of `s` with its next fires (computed by the caller).
    pub fn new(s: Schedule, next_runs: Vec<DateTime<Utc>>) -> Self {
        ScheduleView {
            id: s.id,
            cron: s.cron,
            timezone: s.timezone,
            request: s.request,
            paused: s.paused,
            next_runs,
            last_fire_at: s.last_fire_at,
            last_run_id: s.last_run_id.map(|r| r.0),
            last_error: s.last_error,
            skipped_count: s.skipped_count,
            skipped: s.skipped.into_iter().map(Into::into).collect(),
            created_by: s.created_by,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}
