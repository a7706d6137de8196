//! Running a local program: an argument list (never a shell string), env
//! vars (on top of opsroom's environment, or of a clean one), working
//! directory, timeout (the process group is killed), stdout and stderr
//! streamed line by line with secrets redacted, and the exit code.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;

use crate::secret::{Redactor, Secret};

/// Output kept in [`CommandOutput`] per stream; lines past it are still
/// streamed, just not kept.
const MAX_CAPTURE_BYTES: usize = 1024 * 1024;
/// How long to wait for output to drain after the program exited.
const DRAIN_GRACE: Duration = Duration::from_secs(5);
/// The only variables of opsroom's own environment a program started with
/// [`CommandSpec::clean_env`] gets: enough to find programs, a home folder
/// and a locale, and none of opsroom's credentials.
pub const INHERITED_VARS: [&str; 3] = ["PATH", "HOME", "LANG"];

/// Which output stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line of a program's output, secrets already replaced by `***`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputLine {
    /// Where it came from.
    pub stream: Stream,
    /// The line, without its line ending.
    pub line: String,
}

/// A program to run and how.
#[derive(Clone, Debug)]
pub struct CommandSpec {
    /// The program (looked up in `PATH` when it has no `/`).
    pub program: String,
    /// Its arguments, passed as they are (no shell, no globbing).
    pub args: Vec<String>,
    /// Variables added to (or replacing in) the environment.
    pub env: Vec<(String, String)>,
    /// Start from a clean environment ([`INHERITED_VARS`] only) instead of
    /// all of opsroom's.
    pub clear_env: bool,
    /// Working directory; opsroom's when `None`.
    pub cwd: Option<PathBuf>,
    /// The program (and its process group) is killed after this long.
    pub timeout: Duration,
    /// Values replaced by `***` in every line, streamed or kept.
    pub redact: Vec<Secret>,
}

impl CommandSpec {
    /// `program` with `args`, a 10-minute timeout, nothing else set.
    pub fn new<I, S>(program: impl Into<String>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            clear_env: false,
            cwd: None,
            timeout: Duration::from_secs(600),
            redact: Vec::new(),
        }
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Starts the program from a clean environment: [`INHERITED_VARS`] and
    /// the variables added with [`CommandSpec::env`], nothing else of
    /// opsroom's (its admin token, database URL and credentials stay out).
    pub fn clean_env(mut self) -> Self {
        self.clear_env = true;
        self
    }

    /// Sets the working directory.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Sets the timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Adds a secret to hide from the output.
    pub fn redact(mut self, secret: Secret) -> Self {
        self.redact.push(secret);
        self
    }

    fn display(&self) -> String {
        let mut text = self.program.clone();
        for arg in &self.args {
            text.push(' ');
            text.push_str(arg);
        }
        Redactor::new(&self.redact).redact(&text)
    }
}

/// How a program ended and what it printed (redacted).
#[derive(Clone, Debug)]
pub struct CommandOutput {
    /// The exit code; `None` when a signal ended it.
    pub exit_code: Option<i32>,
    /// Standard output (at most 1 MiB kept).
    pub stdout: String,
    /// Standard error (at most 1 MiB kept).
    pub stderr: String,
    /// Whether some output was not kept (it was still streamed).
    pub truncated: bool,
    /// Wall time.
    pub duration: Duration,
}

impl CommandOutput {
    /// Whether the exit code is 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// Why a program could not be run to completion.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    /// The program could not be started (not found, not executable, bad cwd).
    #[error("could not start `{command}`: {message}")]
    Spawn {
        /// The command line (redacted).
        command: String,
        /// The OS error.
        message: String,
    },
    /// It ran past its timeout and was killed.
    #[error("`{command}` timed out after {timeout:?} and was killed")]
    TimedOut {
        /// The command line (redacted).
        command: String,
        /// The timeout.
        timeout: Duration,
        /// What it printed before being killed.
        output: Box<CommandOutput>,
    },
    /// Waiting for it failed.
    #[error("`{command}`: {message}")]
    Io {
        /// The command line (redacted).
        command: String,
        /// The OS error.
        message: String,
    },
    /// It exited with a non-zero code (from [`run_checked`]).
    #[error("`{command}` exited with {}: {}", exit_text(.output.exit_code), failure_text(.output))]
    Failed {
        /// The command line (redacted).
        command: String,
        /// What it printed.
        output: Box<CommandOutput>,
    },
}

fn exit_text(code: Option<i32>) -> String {
    match code {
        Some(code) => format!("code {code}"),
        None => "a signal".to_owned(),
    }
}

/// The end of stderr (or of stdout when stderr is empty), for error messages.
fn failure_text(output: &CommandOutput) -> String {
    if output.stderr.trim().is_empty() {
        tail(&output.stdout)
    } else {
        tail(&output.stderr)
    }
}

/// The last lines of an output, for error messages.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(5);
    let joined = lines[start..].join(" | ");
    if joined.is_empty() {
        "(no error output)".to_owned()
    } else {
        joined
    }
}

/// Kills the child's whole process group when dropped while armed (timeout,
/// or the run's future being dropped on cancellation).
struct GroupKill(Option<u32>);

impl GroupKill {
    fn kill(&mut self) {
        if let Some(pid) = self.0.take() {
            if let Ok(pid) = i32::try_from(pid) {
                // SAFETY: kill(2) with a negative pid signals a process group;
                // it has no memory-safety preconditions.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
        }
    }
}

impl Drop for GroupKill {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs a program to its end (or its timeout), streaming each output line to
/// `lines` as it comes. A non-zero exit is not an error here; see
/// [`run_checked`].
pub async fn run(
    spec: &CommandSpec,
    lines: Option<&mpsc::Sender<OutputLine>>,
) -> Result<CommandOutput, ShellError> {
    let command = spec.display();
    let mut cmd = tokio::process::Command::new(&spec.program);
    cmd.args(&spec.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    if spec.clear_env {
        cmd.env_clear();
        for var in INHERITED_VARS {
            if let Some(value) = std::env::var_os(var) {
                cmd.env(var, value);
            }
        }
    }
    cmd.envs(spec.env.iter().map(|(k, v)| (k, v)));
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| ShellError::Spawn {
        command: command.clone(),
        message: match &spec.cwd {
            Some(cwd) => format!("{e} (working directory {})", cwd.display()),
            None => e.to_string(),
        },
    })?;
    let mut group = GroupKill(child.id());
    tracing::debug!(command = %command, pid = ?child.id(), "started program");
    let redactor = Redactor::new(&spec.redact);

    let out_task = tokio::spawn(pump(
        child.stdout.take().expect("stdout is piped"),
        Stream::Stdout,
        redactor.clone(),
        lines.cloned(),
    ));
    let err_task = tokio::spawn(pump(
        child.stderr.take().expect("stderr is piped"),
        Stream::Stderr,
        redactor,
        lines.cloned(),
    ));

    let waited = tokio::time::timeout(spec.timeout, child.wait()).await;
    let (exit_code, timed_out) = match waited {
        Ok(Ok(status)) => (status.code(), false),
        Ok(Err(e)) => {
            group.kill();
            return Err(ShellError::Io {
                command,
                message: e.to_string(),
            });
        }
        Err(_) => {
            group.kill();
            let _ = child.kill().await;
            (None, true)
        }
    };
    // Output pipes close when every process holding them is gone; a
    // background process left by the program would keep them open.
    let drained = tokio::time::timeout(DRAIN_GRACE, async {
        (
            out_task.await.unwrap_or_default(),
            err_task.await.unwrap_or_default(),
        )
    })
    .await;
    let ((stdout, out_cut), (stderr, err_cut)) = match drained {
        Ok(captured) => captured,
        Err(_) => {
            group.kill();
            ((String::new(), true), (String::new(), true))
        }
    };
    let output = CommandOutput {
        exit_code,
        stdout,
        stderr,
        truncated: out_cut || err_cut,
        duration: started.elapsed(),
    };
    if timed_out {
        return Err(ShellError::TimedOut {
            command,
            timeout: spec.timeout,
            output: Box::new(output),
        });
    }
    // The program exited by itself: leave anything it started in the background alone.
    group.0 = None;
    tracing::debug!(command = %command, exit_code = ?output.exit_code, "program ended");
    Ok(output)
}

/// Like [`run`], but a non-zero exit is [`ShellError::Failed`].
pub async fn run_checked(
    spec: &CommandSpec,
    lines: Option<&mpsc::Sender<OutputLine>>,
) -> Result<CommandOutput, ShellError> {
    let output = run(spec, lines).await?;
    if output.success() {
        Ok(output)
    } else {
        Err(ShellError::Failed {
            command: spec.display(),
            output: Box::new(output),
        })
    }
}

/// Reads one stream line by line: redacts, forwards, keeps up to the cap.
async fn pump<R: AsyncRead + Unpin>(
    reader: R,
    stream: Stream,
    redactor: Redactor,
    lines: Option<mpsc::Sender<OutputLine>>,
) -> (String, bool) {
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    let mut kept = String::new();
    let mut truncated = false;
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        let line = redactor.redact(&String::from_utf8_lossy(&buf));
        if kept.len() + line.len() < MAX_CAPTURE_BYTES {
            kept.push_str(&line);
            kept.push('\n');
        } else {
            truncated = true;
        }
        if let Some(tx) = &lines {
            // A closed receiver only stops the streaming, not the program.
            let _ = tx.send(OutputLine { stream, line }).await;
        }
    }
    (kept, truncated)
}
