//! Following a long-running provider operation (a deployment, a workflow run)
//! until it reaches a terminal state or a deadline.

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::http::{ApiError, Sleeper};

/// Something whose progress can be followed by polling.
pub trait Observed {
    /// The status as shown to an operator, e.g. `BUILDING` or `completed/success`.
    fn status_label(&self) -> String;
    /// Whether the operation is over (succeeded, failed or cancelled).
    fn is_terminal(&self) -> bool;
}

/// How to poll.
#[derive(Clone, Debug)]
pub struct FollowOptions {
    /// Wait between two polls.
    pub interval: Duration,
    /// Give up after this long.
    pub timeout: Duration,
    /// Transient poll failures (timeouts, 429, 5xx left after the client's
    /// own retries) tolerated in a row before giving up.
    pub max_consecutive_errors: u32,
    /// How waiting is done (injectable for tests).
    pub sleeper: Sleeper,
}

impl Default for FollowOptions {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(30 * 60),
            max_consecutive_errors: 3,
            sleeper: Sleeper::tokio(),
        }
    }
}

impl FollowOptions {
    /// Polls every `interval` for at most `timeout`.
    pub fn new(interval: Duration, timeout: Duration) -> Self {
        Self {
            interval,
            timeout,
            max_consecutive_errors: 3,
            sleeper: Sleeper::tokio(),
        }
    }
}

/// Why following stopped before a terminal state.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// A poll failed (after the client's own retries).
    #[error("following {what}: {source}")]
    Api {
        /// What was followed, e.g. `vercel deployment dpl_123`.
        what: String,
        /// The failed poll.
        #[source]
        source: ApiError,
    },
    /// The operation did not settle in time.
    #[error("following {what}: not finished after {waited:?}; last status {last_status}")]
    TimedOut {
        /// What was followed.
        what: String,
        /// How long it was followed.
        waited: Duration,
        /// The last status seen.
        last_status: String,
    },
}

/// Polls `fetch` until its result is terminal or `options.timeout` passes.
///
/// Each change of status is sent to `progress` as `"{what}: {status}"` (a
/// closed receiver is ignored: following goes on). A transient poll failure
/// is reported the same way and polling goes on, up to
/// `max_consecutive_errors` in a row. Returns the terminal value, whether it
/// means success or failure; the caller judges that.
pub async fn follow_until_terminal<T, F, Fut>(
    what: &str,
    options: &FollowOptions,
    progress: Option<&mpsc::Sender<String>>,
    mut fetch: F,
) -> Result<T, FollowError>
where
    T: Observed,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let started = tokio::time::Instant::now();
    let mut last_status: Option<String> = None;
    let mut errors_in_a_row = 0;
    loop {
        let current = match fetch().await {
            Ok(current) => {
                errors_in_a_row = 0;
                Some(current)
            }
            Err(source)
                if source.is_transient() && errors_in_a_row < options.max_consecutive_errors =>
            {
                errors_in_a_row += 1;
                tracing::warn!(what, error = %source, "poll failed, will poll again");
                if let Some(tx) = progress {
                    let _ = tx
                        .send(format!("{what}: poll failed ({source}); polling again"))
                        .await;
                }
                None
            }
            Err(source) => {
                return Err(FollowError::Api {
                    what: what.to_owned(),
                    source,
                })
            }
        };
        if let Some(current) = current {
            let status = current.status_label();
            if last_status.as_deref() != Some(status.as_str()) {
                tracing::info!(what, status = %status, "status changed");
                if let Some(tx) = progress {
                    let _ = tx.send(format!("{what}: {status}")).await;
                }
                last_status = Some(status);
            }
            if current.is_terminal() {
                return Ok(current);
            }
        }
        let waited = started.elapsed();
        if waited >= options.timeout {
            return Err(FollowError::TimedOut {
                what: what.to_owned(),
                waited,
                last_status: last_status.unwrap_or_default(),
            });
        }
        let remaining = options.timeout - waited;
        options.sleeper.sleep(options.interval.min(remaining)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Step(&'static str);

    impl Observed for Step {
        fn status_label(&self) -> String {
            self.0.to_owned()
        }
        fn is_terminal(&self) -> bool {
            self.0 == "READY" || self.0 == "ERROR"
        }
    }

    #[tokio::test]
    async fn reports_each_change_once_and_returns_terminal() {
        let mut script = vec!["QUEUED", "BUILDING", "BUILDING", "READY"].into_iter();
        let (tx, mut rx) = mpsc::channel(16);
        let opts = FollowOptions::new(Duration::from_millis(1), Duration::from_secs(5));
        let done = follow_until_terminal("dep 1", &opts, Some(&tx), || {
            let next = script.next().unwrap();
            async move { Ok(Step(next)) }
        })
        .await
        .unwrap();
        assert_eq!(done.0, "READY");
        drop(tx);
        let mut seen = Vec::new();
        while let Some(m) = rx.recv().await {
            seen.push(m);
        }
        assert_eq!(seen, ["dep 1: QUEUED", "dep 1: BUILDING", "dep 1: READY"]);
    }

    fn blip() -> ApiError {
        ApiError::Status {
            call: "test.get",
            status: 502,
            message: "bad gateway".to_owned(),
            attempts: 4,
        }
    }

    #[tokio::test]
    async fn tolerates_a_few_transient_poll_failures() {
        let mut script = vec![Ok("BUILDING"), Err(blip()), Err(blip()), Ok("READY")].into_iter();
        let (tx, mut rx) = mpsc::channel(16);
        let opts = FollowOptions::new(Duration::from_millis(1), Duration::from_secs(5));
        let done = follow_until_terminal("dep 3", &opts, Some(&tx), || {
            let next = script.next().unwrap().map(Step);
            async move { next }
        })
        .await
        .unwrap();
        assert_eq!(done.0, "READY");
        drop(tx);
        let mut seen = Vec::new();
        while let Some(m) = rx.recv().await {
            seen.push(m);
        }
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert!(
            seen[1].contains("poll failed") && seen[1].contains("HTTP 502"),
            "{seen:?}"
        );
    }

    #[tokio::test]
    async fn gives_up_after_too_many_failures_or_a_permanent_one() {
        let opts = FollowOptions {
            max_consecutive_errors: 1,
            ..FollowOptions::new(Duration::from_millis(1), Duration::from_secs(5))
        };
        let mut script = vec![Err(blip()), Err(blip())].into_iter();
        let err = follow_until_terminal("dep 4", &opts, None, || {
            let next = script.next().unwrap().map(Step);
            async move { next }
        })
        .await
        .err()
        .unwrap();
        assert!(matches!(err, FollowError::Api { .. }), "{err:?}");
        let not_found = || async {
            Err::<Step, _>(ApiError::Status {
                call: "test.get",
                status: 404,
                message: "gone".to_owned(),
                attempts: 1,
            })
        };
        let err = follow_until_terminal("dep 5", &opts, None, not_found)
            .await
            .err()
            .unwrap();
        assert!(err.to_string().contains("HTTP 404"), "{err}");
    }

    #[tokio::test]
    async fn times_out_with_last_status() {
        let opts = FollowOptions::new(Duration::from_millis(5), Duration::from_millis(30));
        let err = follow_until_terminal("dep 2", &opts, None, || async { Ok(Step("BUILDING")) })
            .await
            .err()
            .unwrap();
        assert!(matches!(err, FollowError::TimedOut { .. }));
        assert!(err.to_string().contains("last status BUILDING"), "{err}");
    }
}
