//! The shell adapter with real processes.

use std::time::{Duration, Instant};

use opsroom_adapters::shell::{run, run_checked, CommandSpec, OutputLine, ShellError, Stream};
use opsroom_adapters::Secret;
use tokio::sync::mpsc;

fn sh(script: &str) -> CommandSpec {
    CommandSpec::new("sh", ["-c", script]).timeout(Duration::from_secs(20))
}

async fn collect(mut rx: mpsc::Receiver<OutputLine>) -> Vec<OutputLine> {
    let mut lines = Vec::new();
    while let Some(line) = rx.recv().await {
        lines.push(line);
    }
    lines
}

fn line(stream: Stream, text: &str) -> OutputLine {
    OutputLine {
        stream,
        line: text.to_owned(),
    }
}

#[tokio::test]
async fn streams_both_streams_and_reports_exit_code() {
    let (tx, rx) = mpsc::channel(64);
    let out = run(
        &sh("echo one; echo two >&2; printf 'no newline'; exit 3"),
        Some(&tx),
    )
    .await
    .unwrap();
    drop(tx);
    let lines = collect(rx).await;
    assert_eq!(out.exit_code, Some(3));
    assert!(!out.success());
    assert!(lines.contains(&line(Stream::Stdout, "one")), "{lines:?}");
    assert!(lines.contains(&line(Stream::Stderr, "two")), "{lines:?}");
    assert!(
        lines.contains(&line(Stream::Stdout, "no newline")),
        "{lines:?}"
    );
    assert_eq!(out.stdout, "one\nno newline\n");
    assert_eq!(out.stderr, "two\n");
}

#[tokio::test]
async fn arguments_are_not_interpreted_by_a_shell() {
    let tricky = "$HOME; echo injected `id` | cat *";
    let out = run(&CommandSpec::new("printf", ["%s\\n", tricky]), None)
        .await
        .unwrap();
    assert!(out.success());
    assert_eq!(out.stdout, format!("{tricky}\n"));
}

#[tokio::test]
async fn env_and_working_directory_are_applied() {
    let dir = opsroom_adapters::testing::temp_dir("shell-cwd");
    let spec = sh("echo \"$GREETING\"; pwd")
        .env("GREETING", "hello there")
        .cwd(&dir);
    let out = run_checked(&spec, None).await.unwrap();
    let canonical = std::fs::canonicalize(&dir).unwrap();
    assert_eq!(
        out.stdout,
        format!("hello there\n{}\n", canonical.display())
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn secrets_are_redacted_in_streamed_and_kept_output() {
    let (tx, rx) = mpsc::channel(64);
    let spec = sh("echo \"token is $API_TOKEN\"; echo \"$API_TOKEN\" >&2")
        .env("API_TOKEN", "s3cr3t-value")
        .redact(Secret::new("s3cr3t-value"));
    let out = run(&spec, Some(&tx)).await.unwrap();
    drop(tx);
    let lines = collect(rx).await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines.contains(&line(Stream::Stdout, "token is ***")),
        "{lines:?}"
    );
    assert!(lines.contains(&line(Stream::Stderr, "***")), "{lines:?}");
    assert!(!out.stdout.contains("s3cr3t") && !out.stderr.contains("s3cr3t"));
    assert_eq!(out.stdout, "token is ***\n");
}

#[tokio::test]
async fn a_clean_environment_keeps_only_path_home_lang_and_the_added_variables() {
    // Set once, before any program of this test starts; no other test reads it.
    std::env::set_var("OPSROOM_SHELL_TEST_INHERITED", "must-not-leak");
    let out = run_checked(
        &CommandSpec::new("env", [""; 0])
            .clean_env()
            .env("GREETING", "hello"),
        None,
    )
    .await
    .unwrap();
    let names: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_once('=').map(|(name, _)| name))
        .collect();
    assert!(names.contains(&"GREETING"), "{names:?}");
    assert!(names.contains(&"PATH"), "{names:?}");
    assert!(
        names
            .iter()
            .all(|n| *n == "GREETING" || opsroom_adapters::shell::INHERITED_VARS.contains(n)),
        "{names:?}"
    );
    assert!(!out.stdout.contains("must-not-leak"));

    let inherited = run_checked(&CommandSpec::new("env", [""; 0]), None)
        .await
        .unwrap();
    assert!(
        inherited.stdout.contains("must-not-leak"),
        "without clean_env the program gets opsroom's environment"
    );
}

#[tokio::test]
async fn encoded_secrets_are_redacted_in_output() {
    let secret = "s3cr3t-Value/42+x";
    let script = "printf '%s' \"$API_TOKEN\" | base64; printf 'user:%s' \"$API_TOKEN\" | base64; \
                  printf 'q=s3cr3t-Value%%2F42%%2Bx\\n'";
    let spec = sh(script)
        .clean_env()
        .env("API_TOKEN", secret)
        .redact(Secret::new(secret));
    let out = run_checked(&spec, None).await.unwrap();
    assert_eq!(out.stdout.lines().count(), 3, "{}", out.stdout);
    for line in out.stdout.lines() {
        assert!(line.contains("***"), "{line}");
    }
    assert!(
        !out.stdout.contains("czNjcjN0LVZhbHVlLzQyK3g"),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn lines_arrive_while_the_program_runs_and_timeout_kills_the_group() {
    let dir = opsroom_adapters::testing::temp_dir("shell-timeout");
    let pids = dir.join("pids");
    // The child starts a grandchild (sleep) and waits; both must die.
    let script = format!(
        "echo $$ > {p}; sleep 30 & echo $! >> {p}; echo started; wait",
        p = pids.display()
    );
    let spec = sh(&script).timeout(Duration::from_millis(1500));
    let (tx, mut rx) = mpsc::channel(64);
    let started = Instant::now();
    let task = tokio::spawn(async move { run(&spec, Some(&tx)).await });
    let first = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first, line(Stream::Stdout, "started"));
    assert!(
        !task.is_finished(),
        "the line must be streamed before the program ends"
    );
    let err = task.await.unwrap().unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    match &err {
        ShellError::TimedOut { output, .. } => assert_eq!(output.stdout, "started\n"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(err.to_string().contains("timed out"), "{err}");
    let pids = std::fs::read_to_string(&pids).unwrap();
    // SIGKILL is delivered at once but the kernel tears a process down
    // asynchronously: give each one up to 5 s to be gone (or a zombie).
    for pid in pids.split_whitespace() {
        let alive = || {
            std::path::Path::new(&format!("/proc/{pid}")).exists()
                && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .unwrap_or_default()
                    .contains(") Z ")
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!alive(), "process {pid} survived the timeout");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn missing_program_is_a_spawn_error() {
    let err = run(&CommandSpec::new("opsroom-no-such-program", ["x"]), None)
        .await
        .unwrap_err();
    assert!(matches!(err, ShellError::Spawn { .. }), "{err:?}");
    assert!(err.to_string().contains("opsroom-no-such-program"), "{err}");
}

#[tokio::test]
async fn checked_run_reports_failure_with_stderr_tail() {
    let err = run_checked(
        &sh("echo working; echo 'fatal: disk full' >&2; exit 2"),
        None,
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("code 2"), "{text}");
    assert!(text.contains("fatal: disk full"), "{text}");
}

#[tokio::test]
async fn command_line_in_errors_is_redacted() {
    let spec = CommandSpec::new("sh", ["-c", "exit 1", "tok_abc"]).redact(Secret::new("tok_abc"));
    let err = run_checked(&spec, None).await.unwrap_err();
    assert!(!err.to_string().contains("tok_abc"), "{err}");
}

fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.contains(") Z "))
        .unwrap_or(false)
}

#[tokio::test]
async fn cancelling_the_run_kills_the_program_and_its_children() {
    let dir = opsroom_adapters::testing::temp_dir("shell-cancel");
    let pids = dir.join("pids");
    let script = format!(
        "echo $$ > {p}; sleep 30 & echo $! >> {p}; echo ready; wait",
        p = pids.display()
    );
    let spec = sh(&script).timeout(Duration::from_secs(60));
    let (tx, mut rx) = mpsc::channel(8);
    let task = tokio::spawn(async move { run(&spec, Some(&tx)).await });
    assert_eq!(rx.recv().await.unwrap().line, "ready");
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    let pids = std::fs::read_to_string(&pids).unwrap();
    let pids: Vec<&str> = pids.split_whitespace().collect();
    assert_eq!(pids.len(), 2);
    // SIGKILL is delivered at once, but reaping by the kernel is asynchronous.
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|p| alive(p)) && Instant::now() < deadline {
        tokio::task::yield_now().await;
        std::thread::sleep(Duration::from_millis(10));
    }
    for pid in pids {
        assert!(!alive(pid), "process {pid} survived cancellation");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
