//! The one error type of every provider HTTP client.

use std::time::Duration;

/// What went wrong in one provider API call.
///
/// Every variant names the call (for example `vercel.get_deployment`) so that an
/// operator reading a run's events knows which step failed. Messages carry the
/// provider's own error text with the token scrubbed out, never the token.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The provider answered with a non-success HTTP status (after retries,
    /// when the status was retryable).
    #[error("{call} failed: HTTP {status}: {message}{}", attempts_note(*attempts))]
    Status {
        /// The call, as `provider.operation`.
        call: &'static str,
        /// The HTTP status code of the last answer.
        status: u16,
        /// The provider's error message (or the start of the body).
        message: String,
        /// How many requests were sent.
        attempts: u32,
    },
    /// No complete answer arrived within the configured timeout.
    #[error("{call} failed: timed out after {timeout:?} waiting for the provider")]
    Timeout {
        /// The call, as `provider.operation`.
        call: &'static str,
        /// The per-request timeout that elapsed.
        timeout: Duration,
    },
    /// The request could not be sent or the connection broke.
    #[error("{call} failed: could not reach the provider: {message}{}", attempts_note(*attempts))]
    Transport {
        /// The call, as `provider.operation`.
        call: &'static str,
        /// What the HTTP stack reported.
        message: String,
        /// How many requests were sent.
        attempts: u32,
    },
    /// The provider answered with success but the body was not what its API documents.
    #[error("{call} failed: unexpected response body: {message}")]
    Decode {
        /// The call, as `provider.operation`.
        call: &'static str,
        /// What did not match.
        message: String,
    },
    /// The client was configured or called with invalid input (bad base URL,
    /// empty identifier); nothing was sent.
    #[error("{call} not sent: {message}")]
    InvalidInput {
        /// The call, as `provider.operation`.
        call: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
}

fn attempts_note(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    }
}

impl ApiError {
    /// The call that failed, as `provider.operation`.
    pub fn call(&self) -> &'static str {
        match self {
            ApiError::Status { call, .. }
            | ApiError::Timeout { call, .. }
            | ApiError::Transport { call, .. }
            | ApiError::Decode { call, .. }
            | ApiError::InvalidInput { call, .. } => call,
        }
    }

    /// The HTTP status of the provider's answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the provider said the resource does not exist (404).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether the provider rejected the credentials (401 or 403).
    pub fn is_auth(&self) -> bool {
        matches!(self.status(), Some(401) | Some(403))
    }

    /// Whether a later retry of the whole step might succeed (timeouts,
    /// transport errors, 429 and 5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Status { status, .. } => *status == 429 || *status >= 500,
            ApiError::Timeout { .. } | ApiError::Transport { .. } => true,
            ApiError::Decode { .. } | ApiError::InvalidInput { .. } => false,
        }
    }
}
