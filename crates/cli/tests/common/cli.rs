//! The `opsroom` binary as a test runs it: a clean environment (none of the
//! developer's OPSROOM_* variables), then what the test gives.

use std::process::{Output, Stdio};
use tokio::io::AsyncWriteExt;

/// One invocation, built up and then run with [`Opsroom::output`].
pub struct Opsroom {
    cmd: tokio::process::Command,
    stdin: String,
}

/// `opsroom ARGS…` with a clean environment.
pub fn opsroom(args: &[&str]) -> Opsroom {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_opsroom"));
    cmd.args(args)
        .env_remove("OPSROOM_SERVER")
        .env_remove("OPSROOM_TOKEN")
        .env_remove("OPSROOM_ADMIN_TOKEN")
        .env_remove("OPSROOM_BIND")
        .env_remove("OPSROOM_CONFIG")
        .env_remove("OPSROOM_DATABASE_URL")
        .env_remove("OPSROOM_SECRET_KEY")
        .env_remove("OPSROOM_SECRET_KEY_FILE")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env("RUST_LOG", "warn");
    Opsroom {
        cmd,
        stdin: String::new(),
    }
}

impl Opsroom {
    pub fn server(self, url: &str) -> Self {
        self.env("OPSROOM_SERVER", url)
    }

    pub fn token(self, token: &str) -> Self {
        self.env("OPSROOM_TOKEN", token)
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.cmd.env(key, value);
        self
    }

    pub fn envs(mut self, vars: &[(&str, &str)]) -> Self {
        self.cmd.envs(vars.iter().copied());
        self
    }

    pub fn stdin(mut self, input: &str) -> Self {
        self.stdin = input.to_string();
        self
    }

    /// Starts it with piped stdio (stdin already written and closed).
    pub async fn spawn(mut self) -> tokio::process::Child {
        self.cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.cmd.spawn().expect("run opsroom");
        let mut input = child.stdin.take().unwrap();
        match input.write_all(self.stdin.as_bytes()).await {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.unwrap(),
        }
        drop(input);
        child
    }

    /// Runs it to the end.
    pub async fn output(self) -> Output {
        self.spawn().await.wait_with_output().await.unwrap()
    }
}

/// Output bytes as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
