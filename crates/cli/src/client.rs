//! A small client of the HTTP API, with errors a terminal user can read.

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;

/// A failure with the message to print and the exit code to use.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub exit_code: u8,
}

impl CliError {
    /// Bad input or a request the server refused (exit 2).
    pub fn input(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            exit_code: 2,
        }
    }

    /// The server could not be reached or failed (exit 3).
    pub fn server(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            exit_code: 3,
        }
    }
}

pub type CliResult<T> = Result<T, CliError>;

/// The API at one server.
pub struct Api {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Api {
    pub fn new(server: &str, token: Option<String>) -> CliResult<Api> {
        let base = server.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(CliError::input(format!(
                "--server must be an http:// or https:// URL, got `{server}`"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| CliError::server(format!("cannot build HTTP client: {e}")))?;
        Ok(Api { base, token, http })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut rb = self.http.request(method, self.url(path));
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        rb
    }

    /// Sends a request and decodes the JSON answer, turning API errors into
    /// one-line messages.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> CliResult<T> {
        let mut rb = self.request(method, path).timeout(Duration::from_secs(30));
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let response = rb.send().await.map_err(|e| self.unreachable(e))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| CliError::server(format!("reading the answer from {}: {e}", self.base)))?;
        if !status.is_success() {
            return Err(api_error(status, &text));
        }
        serde_json::from_str(&text)
            .map_err(|e| CliError::server(format!("unexpected answer from {}: {e}", self.base)))
    }

    pub fn unreachable(&self, e: reqwest::Error) -> CliError {
        CliError::server(format!(
            "cannot reach the opsroom server at {} ({}); start it with `opsroom serve` or pass --server",
            self.base,
            root_cause(&e)
        ))
    }
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut last = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last
}

/// `{"error": {"code", "message", "questions"?}}` as one line (plus questions).
pub fn api_error(status: StatusCode, body: &str) -> CliError {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let err = parsed.as_ref().and_then(|v| v.get("error"));
    let message = err
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(String::from)
        .unwrap_or_else(|| format!("server answered {status}"));
    let mut extra = Vec::new();
    for key in ["questions", "alternatives"] {
        if let Some(items) = err.and_then(|e| e.get(key)).and_then(Value::as_array) {
            let items: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            if !items.is_empty() {
                let label = if key == "questions" {
                    "question"
                } else {
                    "did you mean"
                };
                extra.push(format!("{label}: {}", items.join(" / ")));
            }
        }
    }
    let message = if extra.is_empty() {
        message
    } else {
        format!("{message} ({})", extra.join("; "))
    };
    if status.is_client_error() {
        CliError::input(message)
    } else {
        CliError::server(message)
    }
}
