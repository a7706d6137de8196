//! The client as an operator uses it in an incident: the README's examples
//! on the demo workspace, colour only for terminals, the run's URL, aligned
//! history with who and how long, artifacts, cancel and retry, the run's own
//! duration, and following a run that waits for someone else.

mod common;

use common::cli::{opsroom, text};
use opsroom_core::{RunId, RunStatus};
use opsroom_server::client::ApiClient;
use opsroom_server::testing::{TestApp, TestAppOptions};
use opsroom_server::views::CreateRun;
use opsroom_store::testing::TestStore;
use std::time::Duration;

const ADMIN: &str = "operator-cli-admin-token";

/// The README's "in another terminal" examples, one command per line, with
/// their trailing comments removed.
fn readme_examples() -> Vec<Vec<String>> {
    let readme = include_str!("../../../README.md");
    let start = readme
        .find("every example works on")
        .expect("the README introduces its examples");
    let block = &readme[start..];
    let block = &block[block.find("```sh\n").unwrap() + 6..];
    let block = &block[..block.find("```").unwrap()];
    block
        .lines()
        .map(|l| l.split("  #").next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .map(|l| {
            // Words, with "double-quoted phrases" as one word.
            let mut words = Vec::new();
            let mut rest = l;
            while let Some(c) = rest.trim_start().chars().next() {
                rest = rest.trim_start();
                let (word, after) = if c == '"' {
                    let end = rest[1..].find('"').expect("closed quote") + 1;
                    (&rest[1..end], &rest[end + 1..])
                } else {
                    let end = rest.find(' ').unwrap_or(rest.len());
                    (&rest[..end], &rest[end..])
                };
                words.push(word.to_string());
                rest = after;
            }
            words
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_readme_example_works_on_the_demo_workspace() {
    let t = TestStore::sqlite().await;
    let app = TestApp::spawn(t.store.clone(), TestAppOptions::default()).await;
    let examples = readme_examples();
    assert!(examples.len() >= 4, "{examples:?}");
    for words in &examples {
        assert_eq!(words[0], "opsroom", "{words:?}");
        let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
        let out = opsroom(&args).server(&app.url).output().await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{words:?}\n{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    // The deploy went through the demo's shell provider, and the rollback
    // brought back what was there before.
    let api = ApiClient::new(&app.url).unwrap();
    let runs = api.runs(&Default::default()).await.unwrap();
    let deploy = runs
        .iter()
        .find(|r| r.runbook == "deploy")
        .expect("a deploy ran");
    assert_eq!(deploy.status, RunStatus::Succeeded);
    // Newest first: the second release is v2 ("roll out v2 of web"), and
    // the rollback after it went back to the first one's ref.
    assert_eq!(deploy.params["ref"], "v2", "{:?}", deploy.params);
    let rollback = runs
        .iter()
        .find(|r| r.runbook == "rollback")
        .expect("a rollback ran");
    assert_eq!(rollback.status, RunStatus::Succeeded);
    let rolled = api
        .all_events(rollback.id, opsroom_core::Seq(0))
        .await
        .unwrap();
    assert!(
        rolled
            .iter()
            .any(|e| e.message.contains("web is live on staging at main")),
        "the rollback put main back: {:?}",
        rolled.iter().map(|e| &e.message).collect::<Vec<_>>()
    );
    let events = api
        .all_events(deploy.id, opsroom_core::Seq(0))
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.message.contains("web is live on staging")),
        "the script's output is the deploy's log"
    );
    app.stop().await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_aligned_with_who_and_how_long_and_coloured_only_for_terminals() {
    let t = TestStore::sqlite().await;
    let app = TestApp::spawn(t.store.clone(), TestAppOptions::default()).await;
    let url = app.url.as_str();
    let started = opsroom(&["run", "--runbook", "noop", "--param", "sleep_ms=300", "-f"])
        .server(url)
        .output()
        .await;
    assert_eq!(started.status.code(), Some(0), "{}", text(&started.stderr));
    assert!(
        text(&started.stderr).contains(&format!("{url}/runs/1")),
        "run prints the run's URL: {}",
        text(&started.stderr)
    );
    let failed = opsroom(&["run", "--runbook", "noop", "--param", "fail_phase=verify"])
        .server(url)
        .output()
        .await;
    assert_eq!(
        text(&failed.stdout).trim(),
        "2",
        "stdout is the id alone, for scripts"
    );
    ApiClient::new(url)
        .unwrap()
        .wait_final(RunId(2))
        .await
        .unwrap();

    let plain = opsroom(&["runs"]).server(url).output().await;
    let table = text(&plain.stdout);
    assert!(!table.contains('\x1b'), "no colour into a pipe: {table:?}");
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    for column in ["STATUS", "RUNBOOK", "BY", "CREATED", "DURATION"] {
        let at = lines[0]
            .find(column)
            .unwrap_or_else(|| panic!("{column}: {table}"));
        for row in &lines[1..] {
            assert_ne!(&row[at - 2..at], "", "{table}");
            assert_eq!(
                &row[at - 2..at],
                "  ",
                "column {column} starts at {at} in every row:\n{table}"
            );
        }
    }
    assert!(
        lines[1].contains("failed") && lines[2].contains("succeeded"),
        "{table}"
    );
    assert!(
        lines[2].contains(" operator "),
        "local mode acts as `operator`: {table}"
    );
    assert!(
        lines[2].trim_end().ends_with(" s") || lines[2].trim_end().ends_with(" ms"),
        "{table}"
    );

    // Forced colour (CLICOLOR_FORCE, as for `less -R`) paints the statuses;
    // NO_COLOR wins over it.
    let forced = opsroom(&["runs"])
        .server(url)
        .env("CLICOLOR_FORCE", "1")
        .output()
        .await;
    let painted = text(&forced.stdout);
    assert!(
        painted.contains("\x1b[31") || painted.contains("\x1b[1m\x1b[31"),
        "{painted:?}"
    );
    let no_color = opsroom(&["runs"])
        .server(url)
        .env("CLICOLOR_FORCE", "1")
        .env("NO_COLOR", "1")
        .output()
        .await;
    assert!(!text(&no_color.stdout).contains('\x1b'));

    // The raw log is the server's text, the same the UI downloads.
    let raw = opsroom(&["logs", "1", "--raw"]).server(url).output().await;
    assert_eq!(raw.status.code(), Some(0), "{}", text(&raw.stderr));
    let served = ApiClient::new(url)
        .unwrap()
        .raw_log(RunId(1))
        .await
        .unwrap();
    assert_eq!(text(&raw.stdout), served);
    assert!(served.contains("run succeeded"), "{served}");
    let missing = opsroom(&["logs", "999", "--raw"])
        .server(url)
        .output()
        .await;
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing.stderr));

    // `logs -f` on a finished run: the run's own duration (300 ms of sleep
    // and more), not the moment it took to read it back.
    let again = opsroom(&["logs", "1", "--follow"])
        .server(url)
        .output()
        .await;
    let err = text(&again.stderr);
    assert_eq!(again.status.code(), Some(0), "{err}");
    let took = err.split(" after ").nth(1).unwrap_or_default();
    assert!(
        !took.starts_with("0 ms") && !took.starts_with("0.0 s"),
        "{err}"
    );
    assert!(took.ends_with("ms\n") || took.ends_with(" s\n"), "{err}");
    let ms: f64 = took.split(' ').next().unwrap().parse().unwrap();
    let seconds = if took.contains("ms") { ms / 1000.0 } else { ms };
    assert!(seconds >= 0.3, "{err}");
    app.stop().await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parse_cancel_retry_and_artifacts() {
    let t = TestStore::sqlite().await;
    let app = TestApp::spawn(t.store.clone(), TestAppOptions::default()).await;
    let url = app.url.as_str();
    let api = ApiClient::new(url).unwrap();

    let nothing = opsroom(&["parse", "make me a sandwich"])
        .server(url)
        .output()
        .await;
    assert_eq!(nothing.status.code(), Some(2), "nothing matched: exit 2");
    assert!(text(&nothing.stderr).contains("nothing to run"));
    let json = opsroom(&["parse", "make me a sandwich", "--json"])
        .server(url)
        .output()
        .await;
    assert_eq!(json.status.code(), Some(2));
    let understood = opsroom(&["parse", "check prod status"])
        .server(url)
        .output()
        .await;
    assert_eq!(understood.status.code(), Some(0));

    // A running run: cancel is a request the worker acts on.
    let (long, _) = api
        .create_run(&CreateRun {
            runbook: Some("noop".into()),
            params: serde_json::json!({"sleep_ms": 20_000, "events": 1})
                .as_object()
                .cloned()
                .unwrap(),
            ..Default::default()
        })
        .await
        .unwrap();
    for _ in 0..200 {
        if api.run(long.id).await.unwrap().status == RunStatus::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cancel = opsroom(&["cancel", &long.id.to_string()])
        .server(url)
        .output()
        .await;
    assert_eq!(cancel.status.code(), Some(0), "{}", text(&cancel.stderr));
    assert!(
        text(&cancel.stdout).contains("cancel requested"),
        "{}",
        text(&cancel.stdout)
    );
    let (_, end) = api.wait_final(long.id).await.unwrap();
    assert_eq!(end.status, RunStatus::Cancelled);

    let refused = opsroom(&["retry", &long.id.to_string(), "--param", "events=many"])
        .server(url)
        .output()
        .await;
    assert_eq!(
        refused.status.code(),
        Some(2),
        "a bad param is refused: {}",
        text(&refused.stderr)
    );
    assert!(
        text(&refused.stderr).contains("events"),
        "{}",
        text(&refused.stderr)
    );
    let retried = opsroom(&[
        "retry",
        &long.id.to_string(),
        "--param",
        "events=3",
        "--follow",
    ])
    .server(url);
    // The retry sleeps 20 s too: cancel it from here once it runs.
    let child = retried.spawn().await;
    let retry_id = RunId(long.id.0 + 1);
    for _ in 0..200 {
        if api
            .run(retry_id)
            .await
            .is_ok_and(|r| r.status == RunStatus::Running)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    api.act(retry_id, opsroom_server::client::RunAction::Cancel, None)
        .await
        .unwrap();
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(1), "a cancelled retry exits 1");
    let again = api.run(retry_id).await.unwrap();
    assert_eq!(again.params["events"], 3, "the changed param");
    assert_eq!(again.params["sleep_ms"], 20_000, "the others as they were");
    assert!(
        text(&out.stderr).contains(&format!("run {} retried as run {retry_id}", long.id)),
        "{}",
        text(&out.stderr)
    );

    // Artifacts: a list, one printed, one saved, an unknown name refused.
    let check = opsroom(&["run", "check prod status", "-f"])
        .server(url)
        .output()
        .await;
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    let id = api.runs(&Default::default()).await.unwrap()[0]
        .id
        .to_string();
    let listed = opsroom(&["artifacts", &id]).server(url).output().await;
    assert!(
        text(&listed.stdout).contains("healthcheck-report.md"),
        "{}",
        text(&listed.stdout)
    );
    let printed = opsroom(&["artifacts", &id, "healthcheck-report.md"])
        .server(url)
        .output()
        .await;
    assert!(
        text(&printed.stdout).contains("opsroom"),
        "{}",
        text(&printed.stdout)
    );
    let dir = std::env::temp_dir().join(format!("opsroom-artifacts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("report.md");
    let saved = opsroom(&[
        "artifacts",
        &id,
        "healthcheck-report.md",
        "-o",
        file.to_str().unwrap(),
    ])
    .server(url)
    .output()
    .await;
    assert_eq!(saved.status.code(), Some(0), "{}", text(&saved.stderr));
    let stored = api.artifacts(RunId(id.parse().unwrap())).await.unwrap();
    let report = &stored
        .iter()
        .find(|a| a.name == "healthcheck-report.md")
        .unwrap()
        .content;
    assert_eq!(
        &std::fs::read_to_string(&file).unwrap(),
        report,
        "saved as stored"
    );
    assert!(
        text(&printed.stdout).starts_with(report.as_str()),
        "printed as stored"
    );
    let _ = std::fs::remove_dir_all(&dir);
    let unknown = opsroom(&["artifacts", &id, "nope.txt"])
        .server(url)
        .output()
        .await;
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        text(&unknown.stderr).contains("healthcheck-report.md"),
        "names what it has"
    );
    app.stop().await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_a_run_that_waits_for_approval_says_who_can_approve_and_ctrl_c_says_how_to_resume(
) {
    let t = TestStore::sqlite().await;
    let app = TestApp::spawn(
        t.store.clone(),
        TestAppOptions {
            workers: 0,
            admin_token: Some(ADMIN.into()),
            ..Default::default()
        },
    )
    .await;
    let admin = ApiClient::new(&app.url)
        .unwrap()
        .with_token(Some(ADMIN.into()));
    let alice = admin
        .member_with_token(opsroom_store::DEFAULT_WORKSPACE, "alice", "operator")
        .await
        .unwrap();
    let (run, _) = alice
        .create_run(&CreateRun {
            runbook: Some("deploy".into()),
            env: Some("prod".into()),
            target: Some("opsroom".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::AwaitingApproval);
    let mut child = opsroom(&["logs", &run.id.to_string(), "--follow"])
        .server(&app.url)
        .token(ADMIN)
        .spawn()
        .await;
    // Interrupt once it has said who can approve.
    let mut stderr = child.stderr.take().unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while !seen
        .split_once("can approve")
        .is_some_and(|(_, rest)| rest.contains('\n'))
    {
        use tokio::io::AsyncReadExt;
        let n = tokio::time::timeout(Duration::from_secs(30), stderr.read(&mut buf))
            .await
            .expect("the follow explains the wait")
            .unwrap();
        assert!(n > 0, "stderr closed early: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.contains("other than alice"), "{seen}");
    assert!(
        seen.contains(&format!("opsroom approve {}", run.id)),
        "{seen}"
    );
    unsafe {
        libc::kill(child.id().unwrap() as i32, libc::SIGINT);
    }
    let status = child.wait().await.unwrap();
    let mut rest = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut rest)
        .await
        .unwrap();
    assert_eq!(status.code(), Some(130), "{seen}{rest}");
    assert!(
        rest.contains(&format!("opsroom logs {} --follow", run.id)),
        "says how to resume: {rest}"
    );
    assert_eq!(
        admin.run(run.id).await.unwrap().status,
        RunStatus::AwaitingApproval,
        "Ctrl-C stops following, not the run"
    );
    app.stop().await;
    t.cleanup().await;
}
