//! SQLite's notices, deliveries and attempts (one writer connection: the
//! claim is a single statement).

use super::{us, SqliteStore};

use crate::notifications::{next_state, AttemptRow, DeliveryRow, NoticeRow};
use crate::*;

type Delivery = DeliveryRow<String, i64>;
type Attempt = AttemptRow<i64>;

const DELIVERY_INSERT: &str = "INSERT INTO notification_deliveries
    (workspace_id, notice_id, channel, event, run_id, run, state, next_at, created_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7)
    ON CONFLICT (notice_id, channel) DO NOTHING";

const DELIVERIES_CLAIM: &str = "UPDATE notification_deliveries SET locked_until = ?2
    WHERE id IN (SELECT id FROM notification_deliveries
        WHERE state = 'pending' AND next_at <= ?1 AND (locked_until IS NULL OR locked_until <= ?1)
        ORDER BY next_at, id LIMIT ?3)
    RETURNING *";

const DELIVERY_UPDATE: &str = "UPDATE notification_deliveries
    SET state = ?2, next_at = ?3, attempts = attempts + 1, locked_until = NULL
    WHERE id = ?1";

const ATTEMPT_INSERT: &str = "INSERT INTO notification_attempts
    (workspace_id, delivery_id, channel, event, run_id, attempt, status_code, error, at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
    RETURNING id, channel, event, run_id, attempt, status_code, error, at";

const ATTEMPTS_LIST: &str = "SELECT id, channel, event, run_id, attempt, status_code, error, at
    FROM notification_attempts
    WHERE workspace_id = ?1 AND (?2 IS NULL OR channel = ?2)
    AND (?3 IS NULL OR id < ?3)
    ORDER BY id DESC LIMIT ?4";

#[async_trait]
impl NotificationStore for SqliteStore {
    async fn run_notices_pending(&self, limit: i64) -> StoreResult<Vec<RunNotice>> {
        let rows =
            sqlx::query_as::<_, NoticeRow<i64>>("SELECT * FROM run_notices ORDER BY id LIMIT ?1")
                .bind(limit)
                .fetch_all(&self.reader)
                .await
                .doing("reading pending run notices")?;
        rows.into_iter().map(RunNotice::try_from).collect()
    }

    async fn deliveries_enqueue(&self, p: DeliveriesEnqueueParams) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let gone = sqlx::query("DELETE FROM run_notices WHERE id = ?1")
            .bind(p.notice.id)
            .execute(&mut *tx)
            .await
            .doing("removing a run notice")?;
        // Fanned out by another process meanwhile: its deliveries stand.
        if gone.rows_affected() == 1 {
            for channel in &p.channels {
                sqlx::query(DELIVERY_INSERT)
                    .bind(&p.notice.workspace_id)
                    .bind(p.notice.id)
                    .bind(channel)
                    .bind(&p.notice.event)
                    .bind(p.notice.run_id.0)
                    .bind(p.run.to_string())
                    .bind(us(p.now))
                    .execute(&mut *tx)
                    .await
                    .doing("queueing a notification delivery")?;
            }
        }
        tx.commit()
            .await
            .doing("committing notification deliveries")
    }

    async fn deliveries_claim(
        &self,
        p: DeliveriesClaimParams,
    ) -> StoreResult<Vec<NotificationDelivery>> {
        let rows = sqlx::query_as::<_, Delivery>(DELIVERIES_CLAIM)
            .bind(us(p.now))
            .bind(us(p.until))
            .bind(p.limit)
            .fetch_all(&self.writer)
            .await
            .doing("claiming notification deliveries")?;
        rows.into_iter()
            .map(NotificationDelivery::try_from)
            .collect()
    }

    async fn delivery_attempt_record(
        &self,
        p: DeliveryAttemptParams,
    ) -> StoreResult<DeliveryAttempt> {
        let d = &p.delivery;
        let (state, next_at) = next_state(p.next, p.now);
        let mut tx = self.write_tx().await?;
        sqlx::query(DELIVERY_UPDATE)
            .bind(d.id)
            .bind(state)
            .bind(us(next_at))
            .execute(&mut *tx)
            .await
            .doing("updating a notification delivery")?;
        let attempt: DeliveryAttempt = sqlx::query_as::<_, Attempt>(ATTEMPT_INSERT)
            .bind(&d.workspace_id)
            .bind(d.id)
            .bind(&d.channel)
            .bind(&d.event)
            .bind(d.run_id.0)
            .bind(d.attempts + 1)
            .bind(p.status_code.map(i32::from))
            .bind(&p.error)
            .bind(us(p.now))
            .fetch_one(&mut *tx)
            .await
            .doing("logging a notification attempt")?
            .try_into()?;
        tx.commit()
            .await
            .doing("committing a notification attempt")?;
        Ok(attempt)
    }

    async fn delivery_attempts_list(
        &self,
        p: DeliveryAttemptsListParams,
    ) -> StoreResult<Vec<DeliveryAttempt>> {
        let rows = sqlx::query_as::<_, Attempt>(ATTEMPTS_LIST)
            .bind(&p.workspace_id)
            .bind(&p.channel)
            .bind(p.before)
            .bind(p.limit)
            .fetch_all(&self.reader)
            .await
            .doing("listing notification attempts")?;
        rows.into_iter().map(DeliveryAttempt::try_from).collect()
    }
}
