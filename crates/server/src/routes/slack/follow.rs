//! Telling Slack how a run goes: messages are posted to the `response_url`
//! Slack handed out with the click, from a background task, so the click is
//! answered at once. The task follows the run (store reads, no transaction
//! held across a post) and posts when it starts and when it ends; a run
//! that waits for approval is left to the approver's click, whose own
//! `response_url` carries on. Slack accepts five posts to a `response_url`
//! within 30 minutes: at most three are made, within that time.

use crate::sse::wait_for_run;
use crate::views::SlackMessage;
use crate::AppState;
use opsroom_core::RunStatus;
use opsroom_store::{RunId, StoreError};
use std::time::Duration;

/// How long Slack accepts posts to a `response_url`.
const RESPONSE_URL_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// A Slack `response_url`: where messages about one click go.
#[derive(Clone)]
pub struct ResponseUrl {
    client: reqwest::Client,
    url: String,
}

impl ResponseUrl {
    /// `url` must be an http(s) URL (Slack's are `https://hooks.slack.com/…`).
    pub fn parse(client: reqwest::Client, url: &str) -> Option<ResponseUrl> {
        (url.starts_with("https://") || url.starts_with("http://")).then(|| ResponseUrl {
            client,
            url: url.to_string(),
        })
    }

    /// Posts `message`; a failure is logged (without the URL: it lets anyone
    /// post to the channel) and not retried, as the run goes on regardless.
    pub async fn post(&self, message: &SlackMessage) {
        let result = self.client.post(&self.url).json(message).send().await;
        match result {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                tracing::warn!(status = %r.status(), "Slack refused a message posted to its response_url")
            }
            Err(e) => tracing::warn!(
                error = %e.without_url(),
                "posting to Slack's response_url failed"
            ),
        }
    }

    /// Posts `message` from a background task.
    pub fn post_later(self, message: SlackMessage) {
        tokio::spawn(async move { self.post(&message).await });
    }
}

/// Posts `first`, then follows run `run_id` of `workspace` and posts its
/// start and its outcome, from a background task.
pub fn follow(
    state: &AppState,
    workspace: String,
    run_id: RunId,
    to: ResponseUrl,
    first: SlackMessage,
) {
    let state = state.clone();
    tokio::spawn(async move {
        to.post(&first).await;
        let followed = tokio::time::timeout(
            RESPONSE_URL_LIFETIME,
            follow_run(&state, &workspace, run_id, &to),
        )
        .await;
        if followed.is_err() {
            tracing::debug!(run = %run_id, "stopped following the run for Slack: its response_url has expired");
        }
    });
}

async fn follow_run(state: &AppState, workspace: &str, run_id: RunId, to: &ResponseUrl) {
    let store = &state.engine.store;
    let mut closing = state.closing.clone();
    // Subscribed before the first read, so no change is missed.
    let mut wakeups = store.wakeups().subscribe();
    let mut told_started = false;
    loop {
        match store.run_get(workspace, run_id).await {
            Ok(run) => {
                if run.status == RunStatus::AwaitingApproval {
                    return;
                }
                let link = state.engine.config.run_link(run.id);
                // A run that ended between two reads still started.
                if run.started_at.is_some() && !told_started {
                    told_started = true;
                    to.post(&super::blocks::started(&run, &link)).await;
                }
                if run.status.is_final() {
                    to.post(&super::blocks::outcome(&run, &link)).await;
                    return;
                }
            }
            Err(StoreError::NotFound { .. }) => return,
            Err(e) => {
                tracing::warn!(run = %run_id, error = %e, "reading a run for Slack failed; trying again")
            }
        }
        if wait_for_run(&mut wakeups, run_id, &mut closing).await {
            return;
        }
    }
}
