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
    /// How waiting is done (injectable for tests).
    pub sleeper: Sleeper,
}

impl Default for FollowOptions {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(30 * 60),
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
/// closed receiver is ignored: following goes on). Returns the terminal value,
/// whether it means success or failure; the caller judges that.
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
    loop {
        let current = fetch().await.map_err(|source| FollowError::Api {
            what: what.to_owned(),
            source,
        })?;
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
