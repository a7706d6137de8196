//! How PostgreSQL columns come out: `jsonb` as JSON values, `timestamptz`
//! as [`PgTime`], so a time out of chrono's range (`infinity`) is a
//! [`crate::StoreError::Corrupt`] like on SQLite instead of a panic.

use crate::rows::{self, StoredTime};
use serde_json::Value;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgTypeInfo, PgValueFormat, PgValueRef};
use sqlx::{Decode, Postgres, Type};

/// A `timestamptz` as PostgreSQL sends it: microseconds since 2000-01-01.
pub(super) struct PgTime(i64);

/// Unix time of PostgreSQL's epoch, 2000-01-01, in microseconds.
const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

impl Type<Postgres> for PgTime {
    fn type_info() -> PgTypeInfo {
        <chrono::DateTime<chrono::Utc> as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <chrono::DateTime<chrono::Utc> as Type<Postgres>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Postgres> for PgTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        match value.format() {
            PgValueFormat::Binary => Ok(PgTime(<i64 as Decode<Postgres>>::decode(value)?)),
            PgValueFormat::Text => Err("timestamptz sent as text; expected binary".into()),
        }
    }
}

impl StoredTime for PgTime {
    fn unix_micros(&self) -> Option<i64> {
        self.0.checked_add(PG_EPOCH_UNIX_MICROS)
    }
}

pub(super) type RunRow = rows::RunRow<Value, PgTime>;
pub(super) type EventPageRow = rows::EventPageRow<Value, PgTime>;
pub(super) type ArtifactRow = rows::ArtifactRow<PgTime>;
pub(super) type SessionRow = rows::SessionRow<PgTime>;
pub(super) type WorkerRow = rows::WorkerRow<PgTime, Vec<i64>>;
pub(super) type AuditRow = rows::AuditRow<Value, PgTime>;
