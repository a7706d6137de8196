//! How SQLite columns come out: JSON as text, times as integer unix
//! microseconds, a worker's runs as a comma-separated list.

use crate::rows;

pub(super) type RunRow = rows::RunRow<String, i64>;
pub(super) type EventPageRow = rows::EventPageRow<String, i64>;
pub(super) type ArtifactRow = rows::ArtifactRow<i64>;
pub(super) type SessionRow = rows::SessionRow<i64>;
pub(super) type WorkerRow = rows::WorkerRow<i64, Option<String>>;
pub(super) type AuditRow = rows::AuditRow<String, i64>;
