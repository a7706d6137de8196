//! The HTTP machinery every provider client shares: base URL, bearer token,
//! timeouts, retries with backoff, and turning failures into [`ApiError`].

mod error;
pub mod probe;
mod retry;

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;

pub use error::ApiError;
pub use probe::{get_url, UrlAnswer, UrlProbe};
pub use retry::{requested_wait, RetryPolicy, Sleeper};

use crate::secret::Secret;

/// Transport settings of a provider client.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Time allowed for one whole request, body included.
    pub timeout: Duration,
    /// Time allowed to open the connection.
    pub connect_timeout: Duration,
    /// Retries on 429, 5xx and connection failures.
    pub retry: RetryPolicy,
    /// The `User-Agent` header (GitHub requires one).
    pub user_agent: String,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            user_agent: concat!("opsroom/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// One API call: its name for errors and logs, method, path and inputs.
pub(crate) struct Call {
    name: &'static str,
    method: Method,
    segments: Vec<String>,
    query: Vec<(&'static str, String)>,
    body: Option<serde_json::Value>,
    timeout: Option<Duration>,
    idempotent: bool,
}

impl Call {
    pub(crate) fn new(name: &'static str, method: Method, segments: &[&str]) -> Self {
        Self {
            name,
            method: method.clone(),
            segments: segments.iter().map(|s| (*s).to_owned()).collect(),
            query: Vec::new(),
            body: None,
            timeout: None,
            idempotent: !matches!(method, Method::POST | Method::PATCH),
        }
    }

    pub(crate) fn get(name: &'static str, segments: &[&str]) -> Self {
        Self::new(name, Method::GET, segments)
    }

    pub(crate) fn post(name: &'static str, segments: &[&str]) -> Self {
        Self::new(name, Method::POST, segments)
    }

    /// Appends path segments; each is percent-encoded on its own, so a
    /// segment can never add `/` or `..` to the path.
    pub(crate) fn segments<I, S>(mut self, more: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.segments.extend(more.into_iter().map(Into::into));
        self
    }

    pub(crate) fn query(mut self, key: &'static str, value: impl ToString) -> Self {
        self.query.push((key, value.to_string()));
        self
    }

    pub(crate) fn query_opt(self, key: &'static str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.query(key, v),
            None => self,
        }
    }

    pub(crate) fn json(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Marks a POST as safe to repeat (e.g. promoting the same deployment
    /// twice), so it is retried on every 5xx like a GET.
    pub(crate) fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    pub(crate) fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// A provider's API: base URL, bearer token and transport options.
#[derive(Clone, Debug)]
pub(crate) struct ApiClient {
    http: reqwest::Client,
    base: Url,
    token: Secret,
    options: HttpOptions,
}

impl ApiClient {
    /// Builds a client; `provider` is used in configuration error messages.
    pub(crate) fn new(
        provider: &'static str,
        base_url: &str,
        token: Secret,
        options: HttpOptions,
        headers: &[(&'static str, &str)],
    ) -> Result<Self, ApiError> {
        let invalid = |message: String| ApiError::InvalidInput {
            call: provider,
            message,
        };
        let base = Url::parse(base_url)
            .map_err(|e| invalid(format!("base URL {base_url:?} is not a URL: {e}")))?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "base URL {base_url:?} must be an http:// or https:// URL"
            )));
        }
        if token.is_empty() {
            return Err(invalid(
                "the API token is empty; set the provider's token secret".to_owned(),
            ));
        }
        let mut default_headers = HeaderMap::new();
        for (name, value) in headers {
            let value = HeaderValue::from_str(value)
                .map_err(|_| invalid(format!("header {name} has an invalid value")))?;
            default_headers.insert(HeaderName::from_static(name), value);
        }
        let http = reqwest::Client::builder()
            .user_agent(options.user_agent.clone())
            .default_headers(default_headers)
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout)
            .build()
            .map_err(|e| invalid(format!("could not build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            base,
            token,
            options,
        })
    }

    fn url(&self, call: &Call) -> Result<Url, ApiError> {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|_| ApiError::InvalidInput {
                    call: call.name,
                    message: "base URL cannot have a path".to_owned(),
                })?;
            path.pop_if_empty();
            for segment in &call.segments {
                if segment.is_empty() || segment == "." || segment == ".." {
                    return Err(ApiError::InvalidInput {
                        call: call.name,
                        message: format!(
                            "path segment {segment:?} is not a valid identifier; give a non-empty name or id"
                        ),
                    });
                }
                path.push(segment);
            }
        }
        if !call.query.is_empty() {
            url.query_pairs_mut().extend_pairs(call.query.iter());
        }
        Ok(url)
    }

    /// Sends the call, retrying as the policy says, and returns the first
    /// successful (2xx) response.
    pub(crate) async fn send(&self, call: &Call) -> Result<reqwest::Response, ApiError> {
        let url = self.url(call)?;
        let policy = &self.options.retry;
        let max_attempts = policy.max_attempts.max(1);
        let timeout = call.timeout.unwrap_or(self.options.timeout);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self
                .http
                .request(call.method.clone(), url.clone())
                .header(AUTHORIZATION, format!("Bearer {}", self.token.expose()))
                .timeout(timeout);
            if let Some(body) = &call.body {
                request = request.json(body);
            }
            tracing::debug!(call = call.name, attempt, "sending provider request");
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) if e.is_timeout() => {
                    return Err(ApiError::Timeout {
                        call: call.name,
                        timeout,
                    })
                }
                Err(e) => {
                    if e.is_connect() && attempt < max_attempts {
                        let wait = policy.backoff(attempt);
                        tracing::warn!(
                            call = call.name,
                            attempt,
                            ?wait,
                            "connection failed, retrying"
                        );
                        policy.sleeper.sleep(wait).await;
                        continue;
                    }
                    return Err(ApiError::Transport {
                        call: call.name,
                        message: self.token.redact(&request_error_text(e)),
                        attempts: attempt,
                    });
                }
            };
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            let headers = response.headers().clone();
            let body = response.text().await.unwrap_or_default();
            if retry::is_retryable(status, &headers, call.idempotent) && attempt < max_attempts {
                let wait = match retry::requested_wait(&headers, chrono::Utc::now()) {
                    Some(asked) if asked > policy.max_retry_after => None,
                    Some(asked) => Some(asked),
                    None => Some(policy.backoff(attempt)),
                };
                if let Some(wait) = wait {
                    tracing::warn!(
                        call = call.name,
                        status = status.as_u16(),
                        attempt,
                        ?wait,
                        "provider answered with a retryable status, retrying"
                    );
                    policy.sleeper.sleep(wait).await;
                    continue;
                }
            }
            return Err(ApiError::Status {
                call: call.name,
                status: status.as_u16(),
                message: self.token.redact(&provider_message(status, &body)),
                attempts: attempt,
            });
        }
    }

    /// Sends the call and decodes the JSON body.
    pub(crate) async fn json<T: DeserializeOwned>(&self, call: Call) -> Result<T, ApiError> {
        let response = self.send(&call).await?;
        let bytes = self.read_body(&call, response).await?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Decode {
            call: call.name,
            message: e.to_string(),
        })
    }

    /// Sends the call and discards the (usually empty) body.
    pub(crate) async fn no_content(&self, call: Call) -> Result<(), ApiError> {
        let response = self.send(&call).await?;
        self.read_body(&call, response).await.map(drop)
    }

    /// Reads the whole body, mapping a slow body to [`ApiError::Timeout`].
    pub(crate) async fn read_body(
        &self,
        call: &Call,
        response: reqwest::Response,
    ) -> Result<Vec<u8>, ApiError> {
        response
            .bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| self.body_error(call, e))
    }

    /// Maps an error met while reading a response body.
    pub(crate) fn body_error(&self, call: &Call, e: reqwest::Error) -> ApiError {
        if e.is_timeout() {
            ApiError::Timeout {
                call: call.name,
                timeout: call.timeout.unwrap_or(self.options.timeout),
            }
        } else {
            ApiError::Transport {
                call: call.name,
                message: self.token.redact(&request_error_text(e)),
                attempts: 1,
            }
        }
    }
}

/// What went wrong with a request, on one line: the error and its causes
/// (reqwest hides the cause otherwise), without the request's URL (its query
/// or userinfo may hold a credential; callers name the URL redacted, if at all).
pub fn request_error_text(e: reqwest::Error) -> String {
    error_chain(&e.without_url())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The provider's error message from an error body. Providers use
/// `{"error":{"message"}}` (Vercel), `{"message","errors"}` (GitHub),
/// `{"id","message"}` (DigitalOcean) and `{"message"}` (Supabase).
fn provider_message(status: reqwest::StatusCode, body: &str) -> String {
    const MAX: usize = 500;
    let reason = status.canonical_reason().unwrap_or("error");
    let Ok(value) = serde_json::from_str::<serde_json::Value>(body) else {
        let text = body.trim();
        if text.is_empty() {
            return reason.to_owned();
        }
        return truncate(text, MAX);
    };
    let mut parts: Vec<String> = Vec::new();
    let str_at = |v: &serde_json::Value, path: &[&str]| -> Option<String> {
        let mut cur = v;
        for key in path {
            cur = cur.get(key)?;
        }
        cur.as_str().map(str::to_owned)
    };
    if let Some(m) = str_at(&value, &["error", "message"])
        .or_else(|| str_at(&value, &["message"]))
        .or_else(|| str_at(&value, &["error"]))
        .or_else(|| str_at(&value, &["msg"]))
    {
        parts.push(m);
    }
    if let Some(code) = str_at(&value, &["error", "code"]).or_else(|| str_at(&value, &["id"])) {
        parts.push(format!("(code {code})"));
    }
    if let Some(errors) = value.get("errors").and_then(|e| e.as_array()) {
        let details: Vec<String> = errors
            .iter()
            .filter_map(|e| {
                e.as_str()
                    .map(str::to_owned)
                    .or_else(|| str_at(e, &["message"]))
                    .or_else(|| str_at(e, &["code"]))
            })
            .collect();
        if !details.is_empty() {
            parts.push(format!("[{}]", details.join("; ")));
        }
    }
    if parts.is_empty() {
        return truncate(body.trim(), MAX);
    }
    truncate(&parts.join(" "), MAX)
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_messages_of_each_shape() {
        let s = reqwest::StatusCode::NOT_FOUND;
        assert_eq!(
            provider_message(
                s,
                r#"{"error":{"code":"not_found","message":"Deployment not found"}}"#
            ),
            "Deployment not found (code not_found)"
        );
        assert_eq!(
            provider_message(
                s,
                r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"No commits between main and x"}]}"#
            ),
            "Validation Failed [No commits between main and x]"
        );
        assert_eq!(
            provider_message(
                s,
                r#"{"id":"not_found","message":"The resource you were accessing could not be found."}"#
            ),
            "The resource you were accessing could not be found. (code not_found)"
        );
        assert_eq!(provider_message(s, ""), "Not Found");
        assert_eq!(provider_message(s, "plain text"), "plain text");
    }

    #[test]
    fn segments_are_encoded_one_by_one() {
        let client = ApiClient::new(
            "test",
            "http://127.0.0.1:1/api/v3/",
            Secret::new("t"),
            HttpOptions::default(),
            &[],
        )
        .unwrap();
        let call = Call::get("test.call", &["repos", "o"])
            .segments(["a b/c"])
            .query("x", "1&2");
        assert_eq!(
            client.url(&call).unwrap().as_str(),
            "http://127.0.0.1:1/api/v3/repos/o/a%20b%2Fc?x=1%262"
        );
        let bad = Call::get("test.call", &["repos"]).segments([".."]);
        assert!(matches!(
            client.url(&bad),
            Err(ApiError::InvalidInput { .. })
        ));
    }
}
