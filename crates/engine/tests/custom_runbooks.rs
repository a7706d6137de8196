//! Custom runbooks from files, end to end through the engine on both stores:
//! programs' output as ordered events, an HTTP probe against a local server,
//! SQL on a configured database, failing steps named in the run's error, and
//! bad files reported with file and line while good ones load.

use opsroom_core::{Phase, RunStatus};
use opsroom_engine::config::{DatabaseConfig, OpsConfig};
use opsroom_engine::runbook_files::{catalog_from_dir, load_runbooks_dir};
use opsroom_engine::{runbooks, Engine, WorkerOptions, WorkerPool};
use opsroom_store::testing::{test_database_url, TestStore};
use opsroom_store::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A folder of its own under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "opsroom_custom_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A local HTTP server: `/healthz/...` answers 200, `/broken` 500; it keeps
/// every request line it got.
struct FakeService {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

async fn fake_service() -> FakeService {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head).to_string();
                let line = text.lines().next().unwrap_or_default().to_string();
                let (status, body) = if line.contains(" /healthz/") {
                    ("200 OK", "ok")
                } else {
                    ("500 Internal Server Error", "boom: the database is on fire")
                };
                seen.lock().unwrap().push(line);
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    FakeService { url, requests }
}

fn config() -> OpsConfig {
    let mut config = OpsConfig::demo("http://127.0.0.1:9");
    config.databases.insert(
        "main".into(),
        DatabaseConfig {
            url: Some(test_database_url()),
            url_env: None,
            url_secret: None,
        },
    );
    config
}

/// A runbook that probes, runs two programs and queries a database.
fn good_runbook(service: &str, script: &Path) -> String {
    format!(
        r#"# A custom runbook used by the engine's tests.
name = "release_check"
description = "Probes a service, runs two programs and reads the database."
risk = "read"
triggers = ["release check {{service}} on {{env}}"]

[[params]]
name = "greeting"
type = "string"
default = "hello"

[[steps.preflight]]
title = "probe {{target}} on {{env}}"
http = {{ url = "{service}/healthz/{{target}}?env={{env}}", expect_status = 200 }}

[[steps.action]]
title = "say {{greeting}} to {{target}}"
shell = {{ argv = ["sh", "{script}", "{{greeting}}", "{{target}}"], timeout_seconds = 30 }}

[[steps.action]]
title = "count to three"
shell = {{ argv = ["printf", "%s\n", "one", "two", "three"] }}

[[steps.verify]]
title = "wait until {{target}} is ready"
poll = {{ url = "{service}/healthz/{{target}}/ready", interval_seconds = 1, timeout_seconds = 10 }}

[[steps.verify]]
title = "read the database"
sql = {{ database = "main", query = "select {{greeting}} as greeting, 41 + 1 as answer" }}
"#,
        script = script.display()
    )
}

const SCRIPT: &str = r#"echo "out 1 $1"
echo "err 1" >&2
echo "out 2 $2 $OPSROOM_ENV"
echo "err 2" >&2
echo "out 3 $OPSROOM_PARAM_GREETING"
"#;

fn failing_runbook(service: &str) -> String {
    format!(
        r#"name = "broken_check"
description = "Calls an endpoint that fails."
risk = "read"
triggers = ["broken check on {{env}}"]

[[steps.action]]
title = "print before"
shell = {{ argv = ["printf", "before\n"] }}

[[steps.action]]
title = "call the broken endpoint"
http = {{ url = "{service}/broken" }}

[[steps.action]]
title = "never runs"
shell = {{ argv = ["printf", "after\n"] }}
"#
    )
}

const EXIT_RUNBOOK: &str = r#"name = "exit_check"
description = "Runs a program that fails."
risk = "read"
triggers = ["exit check"]

[[steps.action]]
title = "list a missing folder"
shell = { argv = ["ls", "/nonexistent/opsroom-test-folder"] }
"#;

fn worker(engine: &Engine) -> WorkerPool {
    WorkerPool::new(
        engine.clone(),
        WorkerOptions {
            concurrency: 2,
            heartbeat_interval: std::time::Duration::from_millis(100),
            ..Default::default()
        },
    )
}

async fn run_to_end(engine: &Engine, runbook: &str, target: Option<&str>) -> (Run, Vec<RunEvent>) {
    let mut p = RunInsertParams::new(runbook, engine.clock.now());
    p.env = Some("prod".into());
    p.target = target.map(String::from);
    p.max_attempts = 1;
    let run = engine.store.run_insert(p).await.unwrap().0;
    assert_eq!(worker(engine).run_batch().await, 1);
    let done = engine
        .store
        .run_get(DEFAULT_WORKSPACE, run.id)
        .await
        .unwrap();
    let events = engine
        .store
        .events_list(EventsListParams::new(DEFAULT_WORKSPACE, run.id, 10_000))
        .await
        .unwrap();
    let seqs: Vec<i64> = events.iter().map(|e| e.seq.0).collect();
    assert_eq!(seqs, (1..=events.len() as i64).collect::<Vec<_>>());
    (done, events)
}

fn output(events: &[RunEvent], stream: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.data["kind"] == "output" && e.data["stream"] == stream)
        .map(|e| e.message.clone())
        .collect()
}

async fn runs_end_to_end(store: DynStore) {
    let service = fake_service().await;
    let dir = TempDir::new();
    let script = dir.write("greet.sh.txt", SCRIPT);
    dir.write("release_check.toml", &good_runbook(&service.url, &script));
    let (catalog, errors) = catalog_from_dir(&dir.0);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(runbooks::is_implemented(&catalog, "release_check"));
    let engine = Engine::new(store, config()).with_catalog(catalog);

    let (run, events) = run_to_end(&engine, "release_check", Some("web")).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.error);

    assert_eq!(
        *service.requests.lock().unwrap(),
        vec![
            "GET /healthz/web?env=prod HTTP/1.1".to_string(),
            "GET /healthz/web/ready HTTP/1.1".to_string()
        ],
        "the probe and the poll went to the local server with env and target filled in"
    );
    let probe = events.iter().find(|e| e.data["kind"] == "http").unwrap();
    assert_eq!(probe.phase, Some(Phase::Preflight));
    assert_eq!(probe.data["status"], 200);

    assert_eq!(
        output(&events, "stdout"),
        [
            "out 1 hello",
            "out 2 web prod",
            "out 3 hello",
            "one",
            "two",
            "three"
        ],
        "each stdout line is an event, in order, across steps"
    );
    assert_eq!(output(&events, "stderr"), ["err 1", "err 2"]);
    let first_line = events
        .iter()
        .position(|e| e.message == "out 1 hello")
        .unwrap();
    let step_start = events
        .iter()
        .position(|e| e.data["kind"] == "step_start" && e.data["step"] == "say hello to web")
        .unwrap();
    assert!(step_start < first_line, "the step starts before its output");
    assert!(events[first_line..]
        .iter()
        .take_while(|e| e.data["kind"] == "output")
        .all(|e| e.phase == Some(Phase::Action)));

    let sql = events.iter().find(|e| e.data["kind"] == "sql").unwrap();
    assert_eq!(sql.phase, Some(Phase::Verify));
    assert_eq!(
        sql.data["rows"],
        json!([{"greeting": "hello", "answer": 42}])
    );

    let ends: Vec<&Value> = events
        .iter()
        .filter(|e| e.data["kind"] == "step_end")
        .map(|e| &e.data["status"])
        .collect();
    assert_eq!(ends.len(), 5);
    let poll = events.iter().find(|e| e.data["kind"] == "poll").unwrap();
    assert_eq!(
        (poll.phase, poll.data["status"].as_u64()),
        (Some(Phase::Verify), Some(200))
    );
    assert!(ends.iter().all(|s| *s == "succeeded"));
}

async fn failing_steps_fail_the_run_with_their_name(store: DynStore) {
    let service = fake_service().await;
    let dir = TempDir::new();
    dir.write("broken.toml", &failing_runbook(&service.url));
    dir.write("exit.toml", EXIT_RUNBOOK);
    let (catalog, errors) = catalog_from_dir(&dir.0);
    assert!(errors.is_empty(), "{errors:?}");
    let engine = Engine::new(store, config()).with_catalog(catalog);

    let (run, events) = run_to_end(&engine, "broken_check", None).await;
    assert_eq!(run.status, RunStatus::Failed);
    let error = run.error.unwrap();
    assert!(
        error.contains("call the broken endpoint") && error.contains("500"),
        "{error}"
    );
    assert!(error.contains("boom: the database is on fire"), "{error}");
    assert_eq!(output(&events, "stdout"), ["before"]);
    assert!(
        !events.iter().any(|e| e.data["step"] == "never runs"),
        "steps after the failing one do not run"
    );
    let skipped: Vec<_> = events
        .iter()
        .filter(|e| e.data["kind"] == "phase_skipped")
        .map(|e| e.phase)
        .collect();
    assert_eq!(skipped, [Some(Phase::Verify)]);

    let (run, events) = run_to_end(&engine, "exit_check", None).await;
    assert_eq!(run.status, RunStatus::Failed);
    let error = run.error.unwrap();
    assert!(
        error.contains("list a missing folder") && error.contains("exited with code"),
        "{error}"
    );
    assert!(
        output(&events, "stderr")
            .iter()
            .any(|l| l.contains("/nonexistent/opsroom-test-folder")),
        "the program's stderr is in the events"
    );
}

async fn missing_values_fail_validation(store: DynStore) {
    let service = fake_service().await;
    let dir = TempDir::new();
    let script = dir.write("greet.sh.txt", SCRIPT);
    dir.write("release_check.toml", &good_runbook(&service.url, &script));
    let (catalog, _) = catalog_from_dir(&dir.0);
    let engine = Engine::new(store, config()).with_catalog(catalog);
    let (run, _) = run_to_end(&engine, "release_check", None).await;
    assert_eq!(run.status, RunStatus::Failed);
    let error = run.error.unwrap();
    assert!(
        error.contains("phase validate failed") && error.contains("give the run a target"),
        "{error}"
    );
    assert!(service.requests.lock().unwrap().is_empty(), "nothing ran");
}

#[tokio::test]
async fn custom_runbook_runs_end_to_end_sqlite() {
    let t = TestStore::sqlite().await;
    runs_end_to_end(t.store.clone()).await;
    t.cleanup().await;
}

#[tokio::test]
async fn custom_runbook_runs_end_to_end_postgres() {
    let t = TestStore::postgres().await;
    runs_end_to_end(t.store.clone()).await;
    t.cleanup().await;
}

#[tokio::test]
async fn failing_step_fails_the_run_with_its_name_sqlite() {
    let t = TestStore::sqlite().await;
    failing_steps_fail_the_run_with_their_name(t.store.clone()).await;
    t.cleanup().await;
}

#[tokio::test]
async fn failing_step_fails_the_run_with_its_name_postgres() {
    let t = TestStore::postgres().await;
    failing_steps_fail_the_run_with_their_name(t.store.clone()).await;
    t.cleanup().await;
}

#[tokio::test]
async fn a_placeholder_without_a_value_fails_validation() {
    let t = TestStore::sqlite().await;
    missing_values_fail_validation(t.store.clone()).await;
    t.cleanup().await;
}

#[test]
fn a_bad_file_is_reported_with_file_and_line_while_good_ones_load() {
    let dir = TempDir::new();
    dir.write("good.toml", EXIT_RUNBOOK);
    dir.write(
        "bad.toml",
        "name = \"bad_one\"\ndescription = \"Has an unknown risk.\"\ntriggers = [\"bad one\"]\nrisk = \"maybe\"\n\n[[steps.action]]\nwait = { seconds = 1 }\n",
    );
    dir.write(
        "clash.toml",
        "name = \"healthcheck\"\ndescription = \"Takes a built-in's name.\"\ntriggers = [\"clash\"]\nrisk = \"read\"\n\n[[steps.action]]\nwait = { seconds = 1 }\n",
    );
    std::fs::write(dir.0.join("latin1.toml"), b"name = \"caf\xe9\"\n").unwrap();
    dir.write("notes.txt", "not a runbook");

    let (specs, errors) = load_runbooks_dir(&dir.0);
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["exit_check"]);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    let bad = dir.0.join("bad.toml").display().to_string();
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with(&format!("{bad}:4: ")) && e.contains("risk `maybe`")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("clash.toml") && e.contains("`healthcheck` is already taken")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("latin1.toml:1: ") && e.contains("UTF-8")),
        "{errors:#?}"
    );

    let (catalog, errors) = catalog_from_dir(&dir.0);
    assert_eq!(errors.len(), 3);
    let spec = catalog.get("exit_check").unwrap();
    assert!(spec.custom);
    assert!(runbooks::is_implemented(&catalog, "exit_check"));
    assert!(!runbooks::is_implemented(&catalog, "bad_one"));
    assert!(catalog.get("healthcheck").is_some_and(|s| !s.custom));
}
