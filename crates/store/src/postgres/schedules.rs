//! PostgreSQL's schedules (what they are: `crate::schedules`).

use super::rows::PgTime;
use super::{audit_insert, PgStore};
use crate::schedules::{audit_details, not_found, skipped_with, ScheduleRow};
use crate::sequences::NewAudit;
use crate::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

type Row = ScheduleRow<Value, PgTime>;

fn convert(rows: Vec<Row>) -> StoreResult<Vec<Schedule>> {
    rows.into_iter().map(Schedule::try_from).collect()
}

#[async_trait]
impl ScheduleStore for PgStore {
    async fn schedule_create(&self, p: ScheduleCreateParams) -> StoreResult<Schedule> {
        let mut tx = self.begin_in(&p.workspace_id).await?;
        let s: Schedule = sqlx::query_as::<_, Row>(include_str!("queries/schedule_insert.sql"))
            .bind(&p.workspace_id)
            .bind(&p.cron)
            .bind(&p.timezone)
            .bind(escape_nul_json(&p.request).into_owned())
            .bind(p.next_fire_at)
            .bind(&p.actor)
            .bind(p.now)
            .fetch_one(&mut *tx)
            .await
            .doing("creating a schedule")?
            .try_into()?;
        audit_insert(
            &mut tx,
            NewAudit {
                workspace_id: &s.workspace_id,
                ts: p.now,
                actor: &p.actor,
                action: "schedule.create",
                subject: &format!("schedule:{}", s.id),
                source: p.source.as_deref(),
                details: &audit_details(&s),
            },
        )
        .await?;
        tx.commit().await.doing("committing a new schedule")?;
        Ok(s)
    }

    async fn schedules_list(&self, workspace_id: &str) -> StoreResult<Vec<Schedule>> {
        let mut tx = self.begin_in(workspace_id).await?;
        let rows = sqlx::query_as::<_, Row>(include_str!("queries/schedules_list.sql"))
            .bind(workspace_id)
            .fetch_all(&mut *tx)
            .await
            .doing("listing schedules")?;
        convert(rows)
    }

    async fn schedule_get(&self, workspace_id: &str, id: i64) -> StoreResult<Schedule> {
        let mut tx = self.begin_in(workspace_id).await?;
        sqlx::query_as::<_, Row>(include_str!("queries/schedule_get.sql"))
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .doing("reading a schedule")?
            .ok_or_else(|| not_found(id))?
            .try_into()
    }

    async fn schedule_pause(&self, p: SchedulePauseParams) -> StoreResult<Schedule> {
        let mut tx = self.begin_in(&p.workspace_id).await?;
        let before: Schedule =
            sqlx::query_as::<_, Row>(include_str!("queries/schedule_get_for_update.sql"))
                .bind(&p.workspace_id)
                .bind(p.id)
                .fetch_optional(&mut *tx)
                .await
                .doing("reading a schedule")?
                .ok_or_else(|| not_found(p.id))?
                .try_into()?;
        if before.paused == p.paused {
            return Ok(before);
        }
        let next = if p.paused { None } else { p.next_fire_at };
        let s: Schedule = sqlx::query_as::<_, Row>(include_str!("queries/schedule_pause.sql"))
            .bind(&p.workspace_id)
            .bind(p.id)
            .bind(p.paused)
            .bind(next)
            .bind(p.now)
            .fetch_one(&mut *tx)
            .await
            .doing("pausing or resuming a schedule")?
            .try_into()?;
        audit_insert(
            &mut tx,
            NewAudit {
                workspace_id: &s.workspace_id,
                ts: p.now,
                actor: &p.actor,
                action: if p.paused {
                    "schedule.pause"
                } else {
                    "schedule.resume"
                },
                subject: &format!("schedule:{}", s.id),
                source: p.source.as_deref(),
                details: &audit_details(&s),
            },
        )
        .await?;
        tx.commit().await.doing("committing a schedule change")?;
        Ok(s)
    }

    async fn schedule_delete(&self, p: ScheduleDeleteParams) -> StoreResult<()> {
        let mut tx = self.begin_in(&p.workspace_id).await?;
        let s: Schedule = sqlx::query_as::<_, Row>(include_str!("queries/schedule_delete.sql"))
            .bind(&p.workspace_id)
            .bind(p.id)
            .fetch_optional(&mut *tx)
            .await
            .doing("deleting a schedule")?
            .ok_or_else(|| not_found(p.id))?
            .try_into()?;
        audit_insert(
            &mut tx,
            NewAudit {
                workspace_id: &s.workspace_id,
                ts: p.now,
                actor: &p.actor,
                action: "schedule.delete",
                subject: &format!("schedule:{}", s.id),
                source: p.source.as_deref(),
                details: &audit_details(&s),
            },
        )
        .await?;
        tx.commit().await.doing("committing a schedule deletion")?;
        Ok(())
    }

    async fn schedules_due(&self, now: DateTime<Utc>, limit: i64) -> StoreResult<Vec<Schedule>> {
        let rows = sqlx::query_as::<_, Row>(include_str!("queries/schedules_due.sql"))
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .doing("finding due schedules")?;
        convert(rows)
    }

    async fn schedule_advance(&self, p: ScheduleAdvanceParams) -> StoreResult<bool> {
        let mut tx = self.begin_in(&p.workspace_id).await?;
        let current = sqlx::query_as::<_, Row>(include_str!("queries/schedule_get_for_update.sql"))
            .bind(&p.workspace_id)
            .bind(p.id)
            .fetch_optional(&mut *tx)
            .await
            .doing("reading a due schedule")?;
        let Some(current) = current else {
            return Ok(false);
        };
        let s = Schedule::try_from(current)?;
        if s.paused || s.next_fire_at != Some(p.expected) {
            return Ok(false);
        }
        let (last_fire_at, last_run_id, last_error) = match p.fired {
            Some((at, run)) => (Some(at), run, p.error.clone()),
            None => (s.last_fire_at, s.last_run_id, s.last_error.clone()),
        };
        let added = p.skipped.as_ref().map_or(0, |k| k.count);
        let skipped = skipped_with(s.skipped, p.skipped.as_ref());
        sqlx::query(include_str!("queries/schedule_advance.sql"))
            .bind(&p.workspace_id)
            .bind(p.id)
            .bind(p.next_fire_at)
            .bind(last_fire_at)
            .bind(last_run_id.map(|r| r.0))
            .bind(last_error.as_deref().map(|e| escape_nul(e).into_owned()))
            .bind(s.skipped_count + added)
            .bind(serde_json::to_value(&skipped).unwrap_or_default())
            .bind(p.now)
            .execute(&mut *tx)
            .await
            .doing("recording a schedule's fire")?;
        tx.commit().await.doing("committing a schedule's fire")?;
        Ok(true)
    }
}
