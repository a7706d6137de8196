//! Durable notifications: the database queues a notice in the transaction
//! that changes a run (migration `0006_notifications`); the [`Notifier`]
//! turns each notice into one delivery per channel whose filters match, and
//! sends due deliveries, retrying with exponential backoff (and after a
//! 429, when `Retry-After` says). Every attempt is logged in the store.
//! State lives in the store, so a restarted process (or another one) picks
//! up what was pending. A run never waits for any of this.

pub mod payload;

use crate::config::{ChannelConfig, ChannelKind};
use crate::Engine;
use chrono::{DateTime, Duration, Utc};
use opsroom_adapters::http::requested_wait;
use opsroom_adapters::Secret;
use opsroom_auth::signature::{sign, SIGNATURE_HEADER};
use opsroom_store::{
    DeliveriesClaimParams, DeliveriesEnqueueParams, DeliveryAttemptParams, DeliveryNext,
    NotificationDelivery, RunNotice, StoreError,
};
use reqwest::header::HeaderMap;
use std::time::Duration as StdDuration;
use tokio::sync::watch;

/// How deliveries are retried.
#[derive(Debug, Clone)]
pub struct DeliveryPolicy {
    /// Attempts at most, the first included; then the delivery is given up.
    pub max_attempts: i32,
    /// The wait after the first failed attempt; doubled after each further one.
    pub base_delay: Duration,
    /// The longest wait between attempts (a longer `Retry-After` too is cut to it).
    pub max_delay: Duration,
    /// Time allowed for one request.
    pub timeout: StdDuration,
    /// How long a claimed delivery is held by its sender before another may
    /// take it (a sender that died mid-send).
    pub claim_for: Duration,
    /// Deliveries sent per step, at most.
    pub batch: i64,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            max_attempts: 8,
            base_delay: Duration::seconds(5),
            max_delay: Duration::hours(1),
            timeout: StdDuration::from_secs(10),
            claim_for: Duration::minutes(2),
            batch: 32,
        }
    }
}

/// How a receiver answered one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// It answered with this status; `retry_after` is what it asked to wait.
    Status {
        code: u16,
        retry_after: Option<StdDuration>,
    },
    /// No answer: connection refused, timed out, bad URL, unreadable secret.
    Failed(String),
}

impl DeliveryPolicy {
    /// The wait after failed attempt number `attempt` (1-based).
    pub fn backoff(&self, attempt: i32) -> Duration {
        let factor = 2i32.saturating_pow(attempt.saturating_sub(1).clamp(0, 20) as u32);
        (self.base_delay * factor).min(self.max_delay)
    }

    /// What follows attempt number `attempt` answered with `answer`.
    ///
    /// 2xx: delivered. 429: again after `Retry-After` (or the backoff). 5xx,
    /// 408 and no answer at all: again after the backoff. Any other 4xx: the
    /// receiver refuses this request (a wrong URL, a removed webhook), and the
    /// same request would be refused again: given up. Past `max_attempts`:
    /// given up.
    pub fn next(&self, attempt: i32, answer: &Answer, now: DateTime<Utc>) -> DeliveryNext {
        let wait = match answer {
            Answer::Status { code, .. } if (200..300).contains(code) => {
                return DeliveryNext::Delivered
            }
            Answer::Status {
                code: 429,
                retry_after,
            } => retry_after
                .and_then(|d| Duration::from_std(d).ok())
                .map(|d| d.min(self.max_delay))
                .unwrap_or_else(|| self.backoff(attempt)),
            Answer::Status { code, .. } if *code >= 500 || *code == 408 => self.backoff(attempt),
            Answer::Status { .. } => return DeliveryNext::GiveUp,
            Answer::Failed(_) => self.backoff(attempt),
        };
        if attempt >= self.max_attempts {
            DeliveryNext::GiveUp
        } else {
            DeliveryNext::RetryAt(now + wait)
        }
    }
}

/// What one [`Notifier::step`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepReport {
    /// Notices turned into deliveries.
    pub notices: usize,
    /// Attempts made.
    pub attempts: usize,
}

/// Fans notices out into deliveries and sends due deliveries.
#[derive(Clone)]
pub struct Notifier {
    engine: Engine,
    policy: DeliveryPolicy,
    client: reqwest::Client,
}

impl Notifier {
    pub fn new(engine: Engine, policy: DeliveryPolicy) -> Notifier {
        let client = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout)
            // A receiver's redirect could lead the signed body elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("opsroom/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client builds");
        Notifier {
            engine,
            policy,
            client,
        }
    }

    fn channel(&self, name: &str) -> Option<&ChannelConfig> {
        self.engine
            .config
            .notifications
            .iter()
            .find(|c| c.name() == name)
    }

    /// One pass: fan out pending notices, then send what is due at the
    /// clock's now. Tests call this to drive deliveries without sleeping.
    pub async fn step(&self) -> Result<StepReport, StoreError> {
        let notices = self.fan_out().await?;
        let attempts = self.send_due().await?;
        Ok(StepReport { notices, attempts })
    }

    async fn fan_out(&self) -> Result<usize, StoreError> {
        let store = &self.engine.store;
        let notices = store.run_notices_pending(100).await?;
        let n = notices.len();
        for notice in notices {
            self.fan_out_one(notice).await?;
        }
        Ok(n)
    }

    async fn fan_out_one(&self, notice: RunNotice) -> Result<(), StoreError> {
        let store = &self.engine.store;
        let (channels, run) = match store.run_get(&notice.workspace_id, notice.run_id).await {
            Ok(mut run) => {
                // The message tells of the transition, not of what the run
                // has become since (approved and started, say).
                if let Some(state) = &notice.state {
                    state.apply(&mut run);
                }
                let channels = self
                    .engine
                    .config
                    .notifications
                    .iter()
                    .filter(|c| c.wants(&notice.event, run.env.as_deref(), &run.runbook))
                    .map(|c| c.name().to_string())
                    .collect();
                (
                    channels,
                    payload::run_snapshot(&run, &self.engine.config.run_link(run.id)),
                )
            }
            // Deleted since: nothing to tell.
            Err(StoreError::NotFound { .. }) => (Vec::new(), serde_json::Value::Null),
            Err(e) => return Err(e),
        };
        store
            .deliveries_enqueue(DeliveriesEnqueueParams {
                notice,
                channels,
                run,
                now: self.engine.clock.now(),
            })
            .await
    }

    async fn send_due(&self) -> Result<usize, StoreError> {
        let now = self.engine.clock.now();
        let claimed = self
            .engine
            .store
            .deliveries_claim(DeliveriesClaimParams {
                now,
                until: now + self.policy.claim_for,
                limit: self.policy.batch,
            })
            .await?;
        let n = claimed.len();
        let sends = claimed.into_iter().map(|d| self.attempt(d));
        for result in futures_util::future::join_all(sends).await {
            result?;
        }
        Ok(n)
    }

    /// Sends one delivery once and records the attempt.
    async fn attempt(&self, delivery: NotificationDelivery) -> Result<(), StoreError> {
        let answer = match self.channel(&delivery.channel) {
            Some(channel) => self.send(channel, &delivery).await,
            None => Answer::Failed(format!(
                "channel `{}` is no longer configured",
                delivery.channel
            )),
        };
        let now = self.engine.clock.now();
        let attempt = delivery.attempts + 1;
        let next = match (&answer, self.channel(&delivery.channel)) {
            (_, None) => DeliveryNext::GiveUp,
            _ => self.policy.next(attempt, &answer, now),
        };
        let (status_code, error) = match &answer {
            Answer::Status { code, .. } if (200..300).contains(code) => (Some(*code), None),
            Answer::Status { code, .. } => (Some(*code), Some(format!("HTTP {code}"))),
            Answer::Failed(why) => (None, Some(why.clone())),
        };
        match next {
            DeliveryNext::Delivered => {}
            _ => tracing::warn!(
                channel = %delivery.channel, event = %delivery.event, run = %delivery.run_id,
                attempt, status = ?status_code, error = ?error, next = ?next,
                "notification not delivered"
            ),
        }
        self.engine
            .store
            .delivery_attempt_record(DeliveryAttemptParams {
                delivery,
                status_code,
                error,
                next,
                now,
            })
            .await?;
        Ok(())
    }

    async fn send(&self, channel: &ChannelConfig, delivery: &NotificationDelivery) -> Answer {
        // `secret:NAME` references are read from the run's workspace.
        let engine = crate::stored_secrets::for_run(&self.engine, &delivery.workspace_id).await;
        let url = match channel.resolve_url(&engine.config) {
            Ok(url) => url,
            Err(e) => return Answer::Failed(format!("the channel's URL cannot be read: {e}")),
        };
        let now = self.engine.clock.now();
        let body = payload::body(channel.kind, delivery, now);
        let body = serde_json::to_vec(&body).expect("JSON values serialise");
        let mut request = self
            .client
            .post(url.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if channel.kind == ChannelKind::Webhook {
            let secret = match channel.resolve_secret(&engine.config) {
                Ok(Some(secret)) => secret,
                Ok(None) => return Answer::Failed("the webhook has no signing secret".into()),
                Err(e) => {
                    return Answer::Failed(format!("the webhook's secret cannot be read: {e}"))
                }
            };
            request = request.header(
                SIGNATURE_HEADER,
                sign(secret.expose().as_bytes(), now.timestamp(), &body),
            );
        }
        match request.body(body).send().await {
            Ok(response) => Answer::Status {
                code: response.status().as_u16(),
                retry_after: retry_after(response.headers(), now),
            },
            Err(e) => Answer::Failed(hide(&url, opsroom_adapters::http::request_error_text(e))),
        }
    }

    /// Steps every `interval` until `shutdown` turns true.
    pub async fn run_until_stopped(
        self,
        interval: StdDuration,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = self.step().await {
                        tracing::warn!(error = %e, "sending notifications failed");
                    }
                }
                _ = crate::worker::until_true(&mut shutdown) => break,
            }
        }
    }
}

fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<StdDuration> {
    requested_wait(headers, now)
}

/// An error text without the channel's URL (it is a credential).
fn hide(url: &Secret, text: String) -> String {
    let url = url.expose();
    if url.is_empty() {
        text
    } else {
        text.replace(url, "[channel url]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> Answer {
        Answer::Status {
            code,
            retry_after: None,
        }
    }

    #[test]
    fn what_follows_each_answer() {
        let p = DeliveryPolicy::default();
        let now = Utc::now();
        assert_eq!(p.next(1, &status(204), now), DeliveryNext::Delivered);
        assert_eq!(
            p.next(1, &status(500), now),
            DeliveryNext::RetryAt(now + Duration::seconds(5))
        );
        assert_eq!(
            p.next(3, &status(503), now),
            DeliveryNext::RetryAt(now + Duration::seconds(20))
        );
        assert_eq!(
            p.next(
                1,
                &Answer::Status {
                    code: 429,
                    retry_after: Some(StdDuration::from_secs(120))
                },
                now
            ),
            DeliveryNext::RetryAt(now + Duration::seconds(120))
        );
        assert_eq!(p.next(1, &status(404), now), DeliveryNext::GiveUp);
        assert_eq!(
            p.next(2, &Answer::Failed("refused".into()), now),
            DeliveryNext::RetryAt(now + Duration::seconds(10))
        );
        assert_eq!(p.next(8, &status(500), now), DeliveryNext::GiveUp);
        assert_eq!(p.backoff(30), Duration::hours(1));
    }
}
