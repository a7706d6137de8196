//! Schedules (`/api/v1/schedules`) in the typed client.

use super::{api_error, ApiClient, ClientError};
use crate::views::{CreateSchedule, ScheduleView};
use reqwest::Method;

impl ApiClient {
    /// `POST /api/v1/schedules`.
    pub async fn schedule_create(
        &self,
        body: &CreateSchedule,
    ) -> Result<ScheduleView, ClientError> {
        Ok(self
            .call(Method::POST, "/api/v1/schedules", Some(body))
            .await?
            .1)
    }

    /// `GET /api/v1/schedules`.
    pub async fn schedules(&self) -> Result<Vec<ScheduleView>, ClientError> {
        self.get("/api/v1/schedules").await
    }

    /// `POST /api/v1/schedules/{id}/pause` (`paused`) or `/resume`.
    pub async fn schedule_set_paused(
        &self,
        id: i64,
        paused: bool,
    ) -> Result<ScheduleView, ClientError> {
        let action = if paused { "pause" } else { "resume" };
        Ok(self
            .call(
                Method::POST,
                &format!("/api/v1/schedules/{id}/{action}"),
                None::<&()>,
            )
            .await?
            .1)
    }

    /// `DELETE /api/v1/schedules/{id}`.
    pub async fn schedule_delete(&self, id: i64) -> Result<(), ClientError> {
        let (status, text) = self
            .send(
                Method::DELETE,
                &format!("/api/v1/schedules/{id}"),
                None::<&()>,
            )
            .await?;
        if !status.is_success() {
            return Err(api_error(status, text));
        }
        Ok(())
    }
}
