//! Retry with exponential backoff, honouring the provider's `Retry-After`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

type SleepFn = dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync;

/// How a client waits between attempts. Production uses `tokio::time::sleep`;
/// tests inject one that records the requested delays and returns at once.
#[derive(Clone)]
pub struct Sleeper(Arc<SleepFn>);

impl Sleeper {
    /// A sleeper that really waits (`tokio::time::sleep`).
    pub fn tokio() -> Self {
        Self(Arc::new(|d| Box::pin(tokio::time::sleep(d))))
    }

    /// A sleeper built from any function returning a future.
    pub fn from_fn<F, Fut>(f: F) -> Self
    where
        F: Fn(Duration) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self(Arc::new(move |d| Box::pin(f(d))))
    }

    /// Waits for `duration` (or whatever the injected function does).
    pub async fn sleep(&self, duration: Duration) {
        (self.0)(duration).await
    }
}

impl Default for Sleeper {
    fn default() -> Self {
        Self::tokio()
    }
}

impl std::fmt::Debug for Sleeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sleeper")
    }
}

/// When and how long to retry a failed request.
///
/// Retried: 429, 5xx, 403 with a rate-limit signal (`Retry-After`, or GitHub's
/// `x-ratelimit-remaining: 0`), and connection failures. Not retried: other
/// 4xx and timeouts (a timed-out write may have been applied; the engine
/// decides whether to retry the whole step). A call that is not idempotent
/// (creating a deployment, dispatching a workflow) is retried on a 5xx only
/// when it is 503: after a 500, 502 or 504 the provider may have acted, and a
/// retry could start a second deployment.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Total number of requests sent at most, the first one included (>= 1).
    pub max_attempts: u32,
    /// Delay before the second attempt; doubled for each further one.
    pub base_delay: Duration,
    /// Upper bound of the exponential delay.
    pub max_delay: Duration,
    /// The longest `Retry-After` the client is willing to wait; a longer one
    /// ends the retries at once with the 429 error.
    pub max_retry_after: Duration,
    /// How waiting is done.
    pub sleeper: Sleeper,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
            sleeper: Sleeper::tokio(),
        }
    }
}

impl RetryPolicy {
    /// A policy that sends each request once.
    pub fn no_retry() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The exponential delay after failed attempt number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// Whether an answer with this status and headers is worth another attempt.
pub(crate) fn is_retryable(status: StatusCode, headers: &HeaderMap, idempotent: bool) -> bool {
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        return true;
    }
    if status.is_server_error() {
        return idempotent;
    }
    status == StatusCode::FORBIDDEN
        && (headers.contains_key(reqwest::header::RETRY_AFTER)
            || header_str(headers, "x-ratelimit-remaining") == Some("0"))
}

/// The wait the provider asked for: `Retry-After` in seconds or as an HTTP
/// date, else GitHub's `x-ratelimit-reset` (epoch seconds) when the quota is spent.
pub fn requested_wait(headers: &HeaderMap, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    if let Some(value) = header_str(headers, "retry-after") {
        let value = value.trim();
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        if let Ok(date) = chrono::DateTime::parse_from_rfc2822(value) {
            let wait = date.with_timezone(&chrono::Utc) - now;
            return Some(wait.to_std().unwrap_or(Duration::ZERO));
        }
    }
    if header_str(headers, "x-ratelimit-remaining") == Some("0") {
        if let Some(reset) = header_str(headers, "x-ratelimit-reset").and_then(|v| v.parse().ok()) {
            let reset = chrono::DateTime::<chrono::Utc>::from_timestamp(reset, 0)?;
            return Some((reset - now).to_std().unwrap_or(Duration::ZERO));
        }
    }
    None
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            ..RetryPolicy::default()
        };
        assert_eq!(policy.backoff(1), Duration::from_millis(100));
        assert_eq!(policy.backoff(2), Duration::from_millis(200));
        assert_eq!(policy.backoff(3), Duration::from_millis(350));
        assert_eq!(policy.backoff(40), Duration::from_millis(350));
    }

    #[test]
    fn retry_after_seconds_and_http_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(requested_wait(&headers, now), Some(Duration::from_secs(7)));
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:05 GMT"),
        );
        assert_eq!(requested_wait(&headers, now), Some(Duration::from_secs(5)));
    }

    #[test]
    fn github_rate_limit_reset() {
        let now = chrono::DateTime::<chrono::Utc>::from_timestamp(1_000, 0).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("1003"));
        assert_eq!(requested_wait(&headers, now), Some(Duration::from_secs(3)));
        assert!(is_retryable(StatusCode::FORBIDDEN, &headers, false));
        assert!(!is_retryable(
            StatusCode::FORBIDDEN,
            &HeaderMap::new(),
            true
        ));
        assert!(!is_retryable(
            StatusCode::NOT_FOUND,
            &HeaderMap::new(),
            true
        ));
    }

    #[test]
    fn writes_are_not_repeated_after_an_ambiguous_server_error() {
        let none = HeaderMap::new();
        assert!(is_retryable(StatusCode::INTERNAL_SERVER_ERROR, &none, true));
        assert!(!is_retryable(
            StatusCode::INTERNAL_SERVER_ERROR,
            &none,
            false
        ));
        assert!(!is_retryable(StatusCode::BAD_GATEWAY, &none, false));
        assert!(is_retryable(StatusCode::SERVICE_UNAVAILABLE, &none, false));
        assert!(is_retryable(StatusCode::TOO_MANY_REQUESTS, &none, false));
    }
}
