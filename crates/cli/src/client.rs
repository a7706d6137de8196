//! The server's typed API client, with errors a terminal user can read.

use opsroom_server::client::{ApiClient, ClientError};

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

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        match &e {
            ClientError::Unreachable { base, cause } => CliError::server(format!(
                "cannot reach the opsroom server at {base} ({cause}); start it with `opsroom serve` or pass --server"
            )),
            ClientError::Api { status, .. } if status.is_client_error() => {
                CliError::input(e.to_string())
            }
            _ => CliError::server(e.to_string()),
        }
    }
}

/// The API at `--server`, with `--token`.
pub fn connect(server: &str, token: Option<String>) -> CliResult<ApiClient> {
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        return Err(CliError::input(format!(
            "--server must be an http:// or https:// URL, got `{server}`"
        )));
    }
    Ok(ApiClient::new(server)?.with_token(token))
}
