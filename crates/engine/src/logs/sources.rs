//! Reading a source's lines into a [`LineSink`], streamed: files (a glob,
//! `.gz` decompressed on the fly), a program's standard output, an HTTP
//! answer, Vercel's runtime log stream. Each error says what was being
//! read; the caller hides credentials from it.

use super::{LineSink, LineSplitter, LogLine, MAX_LINE_BYTES};
use crate::config::VercelLogsProject;
use chrono::{DateTime, TimeZone, Utc};
use opsroom_adapters::vercel::{ListDeployments, RuntimeLog, VercelClient};
use opsroom_adapters::{ApiError, Secret};
use opsroom_patterns::{lines, Level};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncReadExt;

const CHUNK: usize = 256 * 1024;

/// The files `pattern` names: the path itself, or with `*` and `?` in any
/// of its parts, every file that matches (hidden files left out), in name
/// order. Nothing matching is an error naming the pattern.
pub fn expand_glob(pattern: &str) -> Result<Vec<PathBuf>, String> {
    let wild = |s: &str| s.contains(['*', '?']);
    if !wild(pattern) {
        return Ok(vec![PathBuf::from(pattern)]);
    }
    let mut current = vec![PathBuf::new()];
    for part in Path::new(pattern).components() {
        let text = part.as_os_str().to_string_lossy();
        let mut next = Vec::new();
        for base in &current {
            if !wild(&text) {
                next.push(base.join(part));
                continue;
            }
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name_text = name.to_string_lossy();
                if !name_text.starts_with('.') && wildcard_match(&text, &name_text) {
                    next.push(base.join(&name));
                }
            }
        }
        current = next;
    }
    current.retain(|p| p.is_file());
    current.sort();
    if current.is_empty() {
        return Err(format!("no file matches {pattern}"));
    }
    Ok(current)
}

/// `*` (any run of characters) and `?` (one character) against `name`.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(c) if *c == '?' || *c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Reads every file of `paths` (blocking: run it on a blocking thread),
/// gzip when the name ends in `.gz`. Stops early when the sink breaks.
pub fn read_files(paths: &[PathBuf], sink: &mut dyn LineSink) -> Result<(), String> {
    for path in paths {
        let name = path.display();
        let mut reader = lines::open_file(path).map_err(|e| format!("cannot open {name}: {e}"))?;
        let flow = lines::read_all(&mut reader, MAX_LINE_BYTES, sink)
            .map_err(|e| format!("cannot read {name}: {e}"))?;
        if flow.is_break() {
            return Ok(());
        }
    }
    Ok(())
}

/// Runs `argv` (no shell; a clean environment of `PATH`, `HOME` and
/// `LANG`) and reads its standard output until it exits, the sink breaks
/// (the program is then stopped) or `timeout` passes. A program that cannot
/// start, fails or takes too long is an error with the end of its stderr.
pub async fn read_command(
    argv: &[String],
    timeout: Duration,
    sink: &mut dyn LineSink,
) -> Result<(), String> {
    let program = argv.first().map(String::as_str).unwrap_or_default();
    let mut command = tokio::process::Command::new(program);
    command
        .args(&argv[1..])
        .env_clear()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for var in ["PATH", "HOME", "LANG"] {
        if let Ok(value) = std::env::var(var) {
            command.env(var, value);
        }
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start `{program}`: {e}"))?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    // The end of stderr, for the error message; never more than 2 KB held.
    let stderr_tail = tokio::spawn(async move {
        let mut tail: Vec<u8> = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf).await {
            if n == 0 {
                break;
            }
            tail.extend_from_slice(&buf[..n]);
            if tail.len() > 2048 {
                tail.drain(..tail.len() - 2048);
            }
        }
        String::from_utf8_lossy(&tail).trim().to_string()
    });
    let deadline = tokio::time::Instant::now() + timeout;
    let too_slow = || {
        format!(
            "`{program}` did not finish within {} ms (raise the source's timeout_ms)",
            timeout.as_millis()
        )
    };
    let mut splitter = LineSplitter::new(MAX_LINE_BYTES);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match tokio::time::timeout_at(deadline, stdout.read(&mut buf)).await {
            Err(_) => {
                let _ = child.kill().await;
                return Err(too_slow());
            }
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(format!("cannot read the output of `{program}`: {e}")),
        };
        if splitter.push(&buf[..n], sink).is_break() {
            let _ = child.kill().await;
            return Ok(());
        }
    }
    let _ = splitter.finish(sink);
    let status = match tokio::time::timeout_at(deadline, child.wait()).await {
        Err(_) => {
            let _ = child.kill().await;
            return Err(too_slow());
        }
        Ok(status) => status.map_err(|e| format!("waiting for `{program}`: {e}"))?,
    };
    if status.success() {
        return Ok(());
    }
    let tail = stderr_tail.await.unwrap_or_default();
    Err(format!(
        "`{program}` failed ({status}){}",
        if tail.is_empty() {
            String::new()
        } else {
            format!(": {tail}")
        }
    ))
}

/// `url` with `{since}` replaced by `since` in RFC 3339 (UTC, seconds:
/// nothing in it needs escaping in a query).
pub fn http_url(url: &str, since: DateTime<Utc>) -> String {
    url.replace(
        "{since}",
        &since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}

/// GETs `url` (with the bearer `token`) and reads its answer, JSON lines or
/// text, as it arrives. A status other than 2xx is an error naming it.
pub async fn read_http(
    url: &str,
    token: Option<&Secret>,
    timeout: Duration,
    sink: &mut dyn LineSink,
) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| format!("cannot set up an HTTP client: {e}"))?;
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token.expose());
    }
    let mut response = request
        .send()
        .await
        .map_err(|e| format!("GET {url}: {}", describe(e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("GET {url}: HTTP {status}"));
    }
    let mut splitter = LineSplitter::new(MAX_LINE_BYTES);
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if splitter.push(&chunk, sink).is_break() {
                    return Ok(());
                }
            }
            Ok(None) => break,
            Err(e) => return Err(format!("reading GET {url}: {}", describe(e))),
        }
    }
    let _ = splitter.finish(sink);
    Ok(())
}

fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        e.without_url().to_string()
    }
}

/// How many of the newest deployments are always read: the one serving
/// production may be older than the window (after a rollback too).
const VERCEL_NEWEST: usize = 3;

/// Reads the runtime logs of the project's deployments to its target that
/// may have served since `since`: the newest few, and every one created
/// since. Returns the deployment ids read.
pub async fn read_vercel(
    client: &VercelClient,
    project: &VercelLogsProject,
    since: DateTime<Utc>,
    max_duration: Duration,
    sink: &mut dyn LineSink,
) -> Result<Vec<String>, ApiError> {
    let listed = client
        .list_all_deployments(
            &ListDeployments {
                project_id: Some(project.project.clone()),
                target: Some(project.target.clone()),
                state: Some("READY".into()),
                limit: Some(20),
                until: None,
            },
            20,
        )
        .await?;
    let since_ms = since.timestamp_millis();
    let mut read = Vec::new();
    for (i, deployment) in listed.iter().enumerate() {
        if i >= VERCEL_NEWEST && deployment.created < since_ms {
            break;
        }
        read.push(deployment.uid.clone());
        let mut stopped = false;
        client
            .runtime_logs_each(&project.project, &deployment.uid, max_duration, |log| {
                let flow = sink.parsed(runtime_log_line(&log));
                stopped = flow.is_break();
                flow
            })
            .await?;
        if stopped {
            break;
        }
    }
    Ok(read)
}

/// A Vercel runtime log as a line: its time and level, its message, or
/// for a request log without one, `METHOD PATH STATUS`.
fn runtime_log_line(log: &RuntimeLog) -> LogLine<'static> {
    let message = if log.message.trim().is_empty() {
        format!(
            "{} {} {}",
            log.request_method.as_deref().unwrap_or("-"),
            log.request_path.as_deref().unwrap_or("-"),
            log.response_status_code
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into())
        )
    } else {
        log.message.trim_end().to_string()
    };
    let level = Level::from_word(&log.level).or(match log.response_status_code {
        Some(500..=599) => Some(Level::Error),
        _ => None,
    });
    LogLine {
        time: Utc.timestamp_millis_opt(log.timestamp_in_ms).single(),
        level,
        message: Cow::Owned(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_names() {
        assert!(wildcard_match("*.log", "app.log"));
        assert!(wildcard_match("app-?.log*", "app-1.log.gz"));
        assert!(!wildcard_match("*.log", "app.log.gz"));
        assert!(wildcard_match("*", ""));
        assert!(!wildcard_match("a?c", "ac"));
    }

    #[test]
    fn a_glob_lists_matching_files_in_name_order_and_nothing_matching_is_named() {
        let dir = std::env::temp_dir().join(format!("opsroom-glob-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("b")).unwrap();
        for f in [
            "b/app.log",
            "b/app.1.log.gz",
            "b/other.txt",
            "b/.hidden.log",
        ] {
            std::fs::write(dir.join(f), "x\n").unwrap();
        }
        let found = expand_glob(&format!("{}/*/app*.log*", dir.display())).unwrap();
        let names: Vec<String> = found
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["app.1.log.gz", "app.log"]);
        let err = expand_glob(&format!("{}/*.nothing", dir.display())).unwrap_err();
        assert!(
            err.starts_with("no file matches") && err.contains(".nothing"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn since_goes_into_the_url() {
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
        assert_eq!(
            http_url("https://logs.test/p?since={since}&n=1", t),
            "https://logs.test/p?since=2026-12-01T10:00:00Z&n=1"
        );
    }
}
