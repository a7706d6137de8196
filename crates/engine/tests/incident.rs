//! The `incident` runbook end to end through the HTTP API of a real server:
//! file logs (a glob over a plain and a gzip file, with lines that cannot
//! be read), command logs, an HTTP log server and Vercel's runtime logs
//! (the fake). A deploy followed by a new error makes that deploy the
//! suspect and a rollback of it the remediation, which starts as a run;
//! without a deploy the suspect is null. A deploy only the provider's
//! deployment list knows (a git push to Vercel) is a suspect too, and a
//! list that cannot be read is a note, not a failed triage. Sources that
//! cannot be read fail the run naming what is wrong.

#[macro_use]
mod support;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use opsroom_adapters::testing::vercel::FakeVercel;
use opsroom_adapters::testing::Fault;
use opsroom_core::RunStatus;
use opsroom_store::{DynStore, RunId};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use support::{secret_file, temp_dir, Api, Finished, NewRun, TOKEN};

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A shell deploy provider for env prod that records the ref it deployed.
fn shell_deploy(dir: &Path) -> String {
    let script = dir.join("deploy.sh");
    std::fs::write(&script, "#!/bin/sh\nset -e\nprintf %s \"$1\" > LIVE\n").unwrap();
    format!(
        r#"
[environments.prod.deploy]
provider = "shell"
argv = ["sh", "{script}", "{{ref}}"]
cwd = "{dir}"
"#,
        script = script.display(),
        dir = dir.display(),
    )
}

fn payments(logs: &str) -> String {
    format!(
        "[[environments.prod.services]]\nname = \"payments\"\nkind = \"opsroom_db\"\nlogs = {logs}\n"
    )
}

fn deploy(git_ref: &str) -> NewRun<'_> {
    NewRun {
        runbook: "deploy",
        env: Some("prod"),
        target: Some("payments"),
        params: json!({"ref": git_ref}),
    }
}

fn incident(params: Value) -> NewRun<'static> {
    NewRun {
        runbook: "incident",
        env: Some("prod"),
        target: Some("payments"),
        params,
    }
}

async fn finish(api: &Api, run: NewRun<'_>) -> Finished {
    let id = api.submit(run).await;
    Finished::load(api, id).await
}

/// `triage.json` of a finished incident run.
fn triage_json(done: &Finished) -> Value {
    assert_eq!(done.run.status, RunStatus::Succeeded, "{}", done.log());
    serde_json::from_str(&done.artifact("triage.json").content).expect("triage.json is JSON")
}

/// Lines of an older error that recurs every 5 minutes from 100 minutes
/// ago, and info lines beside it.
fn recurring_lines(now: DateTime<Utc>, until: DateTime<Utc>) -> Vec<String> {
    let mut lines = Vec::new();
    let mut t = now - Duration::minutes(100);
    let mut n = 0;
    while t < until {
        lines.push(format!(
            "{} ERROR db pool exhausted after {} ms waiting for a connection",
            ts(t),
            100 + n
        ));
        lines.push(format!("{} INFO GET /health 200 in {} ms", ts(t), n % 7));
        t += Duration::minutes(5);
        n += 1;
    }
    lines
}

/// Checks every field of `triage.json` (§8's shape) and returns its top
/// pattern.
fn check_shape(triage: &Value) -> &Value {
    let from = triage["window"]["from"].as_str().expect("window.from");
    let to = triage["window"]["to"].as_str().expect("window.to");
    let (from, to) = (
        DateTime::parse_from_rfc3339(from).unwrap(),
        DateTime::parse_from_rfc3339(to).unwrap(),
    );
    assert_eq!(
        to - from,
        Duration::minutes(60),
        "the default window is an hour"
    );
    assert!(triage["lines"].as_u64().is_some(), "lines: {triage}");
    assert!(triage["skipped"].as_u64().is_some(), "skipped: {triage}");
    assert!(triage.get("remediation").is_some(), "remediation: {triage}");
    let patterns = triage["patterns"].as_array().expect("patterns");
    assert!(!patterns.is_empty());
    let total: u64 = patterns.iter().map(|p| p["count"].as_u64().unwrap()).sum();
    assert_eq!(
        total,
        triage["lines"].as_u64().unwrap(),
        "each line is in one pattern"
    );
    for p in patterns {
        assert!(p["id"].as_u64().is_some(), "{p}");
        assert!(p["template"].as_str().is_some(), "{p}");
        assert!(p["count"].as_u64().unwrap() > 0, "{p}");
        assert!(p["level"].is_string() || p["level"].is_null(), "{p}");
        for key in ["first_seen", "last_seen"] {
            DateTime::parse_from_rfc3339(p[key].as_str().unwrap())
                .unwrap_or_else(|e| panic!("{key} of {p}: {e}"));
        }
        assert!(p["new"].is_boolean(), "{p}");
        assert!(p["spike"].as_f64().is_some(), "{p}");
        assert!(p["example"].as_str().is_some(), "{p}");
        let suspect = &p["suspect"];
        if !suspect.is_null() {
            match suspect["source"].as_str() {
                Some("opsroom") => assert!(suspect["run_id"].as_i64().is_some(), "{p}"),
                Some(_) => assert!(suspect["run_id"].is_null(), "made outside opsroom: {p}"),
                None => panic!("a suspect says where it is known from: {p}"),
            }
            assert!(suspect["deployment"].is_string(), "{p}");
            assert!(suspect["ref"].is_string(), "{p}");
            DateTime::parse_from_rfc3339(suspect["finished_at"].as_str().unwrap()).unwrap();
        }
    }
    &patterns[0]
}

async fn file_logs_after_a_deploy_blame_it_and_the_rollback_runs(store: DynStore) {
    let dir = temp_dir("incident-file");
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let toml = format!(
        "{}{}",
        shell_deploy(&dir),
        payments(&format!(
            "{{ kind = \"file\", path = \"{}/payments.log*\" }}",
            logs.display()
        ))
    );
    let api = Api::start(&store, &toml, 1).await;
    let first = finish(&api, deploy("v1")).await;
    assert_eq!(first.run.status, RunStatus::Succeeded, "{}", first.log());
    let second = finish(&api, deploy("v2")).await;
    assert_eq!(second.run.status, RunStatus::Succeeded, "{}", second.log());
    let deployed_at = second.run.finished_at.expect("finished");

    // The older half gzipped (as rotated), the rest plain, with a line that
    // is not UTF-8, one far too long and a stack line without a time.
    let now = Utc::now();
    let old = recurring_lines(now, now - Duration::minutes(50));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all((old.join("\n") + "\n").as_bytes()).unwrap();
    std::fs::write(logs.join("payments.log.1.gz"), gz.finish().unwrap()).unwrap();
    let mut recent: Vec<u8> = Vec::new();
    let mut t = now - Duration::minutes(50);
    let mut n = 0;
    while t < now {
        writeln!(
            recent,
            "{} ERROR db pool exhausted after {} ms waiting for a connection",
            ts(t),
            300 + n
        )
        .unwrap();
        t += Duration::minutes(5);
        n += 1;
    }
    recent.extend_from_slice(b"\xff\xfe\xfd binary garbage\n");
    recent.extend_from_slice(&vec![b'x'; 200_000]);
    recent.push(b'\n');
    for (i, card) in ["4242", "0341", "9995"].iter().enumerate() {
        let at = deployed_at + Duration::milliseconds(1 + i as i64);
        writeln!(
            recent,
            "{} ERROR PaymentIntent pi_{card}{i} failed: card_declined",
            ts(at)
        )
        .unwrap();
        writeln!(recent, "    at charge (payments/stripe.js:{})", 40 + i).unwrap();
    }
    std::fs::write(logs.join("payments.log"), recent).unwrap();

    // Asked for in words.
    let (status, created) = api
        .post(
            "/api/v1/runs",
            support::REQUESTER,
            json!({"text": "triage payments in prod"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["runbook"], "incident", "{created}");
    assert_eq!(created["target"], "payments", "{created}");
    let done = Finished::load(&api, RunId(created["id"].as_i64().unwrap())).await;
    let triage = triage_json(&done);
    let top = check_shape(&triage);
    assert_eq!(
        top["template"], "ERROR PaymentIntent pi_<*> failed: card_declined",
        "{triage:#}"
    );
    assert_eq!(top["count"], 3);
    assert_eq!(top["level"], "error");
    assert_eq!(top["new"], true);
    assert_eq!(top["suspect"]["run_id"], second.run.id.0);
    assert_eq!(
        top["suspect"]["deployment"],
        format!("run-{}", second.run.id)
    );
    assert_eq!(top["suspect"]["ref"], "v2");
    assert_eq!(
        DateTime::parse_from_rfc3339(top["suspect"]["finished_at"].as_str().unwrap()).unwrap(),
        deployed_at
    );
    let patterns = triage["patterns"].as_array().unwrap();
    let older = patterns
        .iter()
        .find(|p| {
            p["template"]
                .as_str()
                .unwrap()
                .starts_with("ERROR db pool exhausted")
        })
        .expect("the recurring error is reported");
    assert!(
        older["count"].as_u64().unwrap() > top["count"].as_u64().unwrap(),
        "the new error is rarer"
    );
    assert_eq!(older["new"], false);
    assert!(
        older["suspect"].is_null(),
        "it began before any deploy: {older}"
    );
    assert_eq!(
        triage["skipped"], 2,
        "the binary and the too long line: {triage:#}"
    );
    // Only the window's lines are counted; the baseline's make it "known".
    let from = DateTime::parse_from_rfc3339(triage["window"]["from"].as_str().unwrap()).unwrap();
    let health_in_window = old
        .iter()
        .filter(|l| l.contains("GET /health"))
        .filter(|l| DateTime::parse_from_rfc3339(l.split(' ').next().unwrap()).unwrap() >= from)
        .count();
    let health = patterns
        .iter()
        .find(|p| p["template"].as_str().unwrap().contains("GET /health"))
        .expect("the info lines are a pattern");
    assert_eq!(health["count"], health_in_window as u64, "{health}");
    assert!(health["baseline_count"].as_u64().unwrap() > 0, "{health}");
    assert_eq!(health["new"], false);
    assert_eq!(health["level"], "info");
    assert_eq!(
        triage["remediation"],
        json!({"runbook": "rollback", "env": "prod", "target": "payments", "params": {}})
    );
    let md = &done.artifact("triage.md").content;
    for want in [
        "# Triage of payments on prod",
        "PaymentIntent",
        "Proposed remediation",
        "\"rollback\"",
    ] {
        assert!(md.contains(want), "triage.md lacks {want}:\n{md}");
    }

    // The remediation is a body for POST /api/v1/runs: a prod write, approved, run.
    let (status, created) = api
        .post(
            "/api/v1/runs",
            support::REQUESTER,
            triage["remediation"].clone(),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "awaiting_approval", "{created}");
    let id = RunId(created["id"].as_i64().unwrap());
    api.client(support::APPROVER)
        .act(id, opsroom_server::client::RunAction::Approve, None)
        .await
        .unwrap();
    let back = Finished::load(&api, id).await;
    assert_eq!(back.run.status, RunStatus::Succeeded, "{}", back.log());
    assert_eq!(std::fs::read_to_string(dir.join("LIVE")).unwrap(), "v1");
    api.stop().await;
    std::fs::remove_dir_all(dir).unwrap();
}

async fn command_logs_without_a_deploy_have_no_suspect(store: DynStore) {
    let now = Utc::now();
    let mut lines = recurring_lines(now, now);
    lines.push(format!(
        "{{\"ts\": {}, \"level\": \"error\", \"msg\": \"refund re_{} failed: timeout\"}}",
        (now - Duration::minutes(3)).timestamp_millis(),
        77
    ));
    let script = temp_dir("incident-cmd").join("lines.txt");
    std::fs::write(&script, lines.join("\n")).unwrap();
    let toml = payments(&format!(
        "{{ kind = \"command\", argv = [\"cat\", \"{}\"] }}",
        script.display()
    ));
    let api = Api::start(&store, &toml, 1).await;
    let done = finish(&api, incident(json!({}))).await;
    let triage = triage_json(&done);
    let top = check_shape(&triage);
    assert_eq!(
        top["template"], "refund re_<*> failed: timeout",
        "{triage:#}"
    );
    assert_eq!(top["new"], true);
    let patterns = triage["patterns"].as_array().unwrap();
    assert!(
        patterns.iter().all(|p| p["suspect"].is_null()),
        "{triage:#}"
    );
    assert!(triage["remediation"].is_null(), "{triage:#}");
    assert!(done
        .artifact("triage.md")
        .content
        .contains("None: no new or spiking error follows a known deploy"));

    // A command that fails: the run fails with its exit status and stderr.
    api.stop().await;
    let toml = payments(
        "{ kind = \"command\", argv = [\"sh\", \"-c\", \"echo 'journal not found' >&2; exit 3\"] }",
    );
    let api = Api::start(&store, &toml, 1).await;
    let done = finish(&api, incident(json!({}))).await;
    assert_eq!(done.run.status, RunStatus::Failed);
    assert!(
        done.error().contains("`sh` failed") && done.error().contains("journal not found"),
        "{}",
        done.error()
    );
    api.stop().await;
}

/// What the log server was sent: the `Authorization` header and `since`.
type Seen = Vec<(Option<String>, Option<String>)>;

#[derive(Clone, Default)]
struct LogServer {
    seen: Arc<Mutex<Seen>>,
    body: Arc<Mutex<String>>,
}

async fn serve_logs(
    State(s): State<LogServer>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> (StatusCode, String) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    s.seen
        .lock()
        .unwrap()
        .push((auth.clone(), q.get("since").cloned()));
    if auth.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        return (StatusCode::UNAUTHORIZED, "bad token".into());
    }
    (StatusCode::OK, s.body.lock().unwrap().clone())
}

async fn http_logs_are_read_with_the_token_and_since(store: DynStore) {
    let server = LogServer::default();
    let now = Utc::now();
    let mut lines: Vec<String> = recurring_lines(now, now)
        .into_iter()
        .map(|l| {
            let (t, msg) = l.split_once(' ').unwrap();
            json!({"@timestamp": t, "message": msg}).to_string()
        })
        .collect();
    lines.push(json!({"@timestamp": ts(now - Duration::minutes(2)), "severity": "FATAL", "message": format!("panic: token {TOKEN} rejected")}).to_string());
    *server.body.lock().unwrap() = lines.join("\n");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/logs", get(serve_logs))
        .with_state(server.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let toml = format!(
        "[secrets]\nlogs = \"{}\"\n{}",
        secret_file(TOKEN),
        payments(&format!(
            "{{ kind = \"http\", url = \"{url}/logs?since={{since}}\", token_secret = \"logs\" }}"
        ))
    );
    let api = Api::start(&store, &toml, 1).await;
    let done = finish(&api, incident(json!({"since_minutes": 30}))).await;
    let triage = triage_json(&done);
    let top = &triage["patterns"][0];
    assert_eq!(top["level"], "fatal", "{triage:#}");
    assert!(
        top["template"]
            .as_str()
            .unwrap()
            .starts_with("panic: token"),
        "{top}"
    );
    done.assert_never_shows(TOKEN);
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let since = DateTime::parse_from_rfc3339(seen[0].1.as_deref().expect("since sent")).unwrap();
    let from = DateTime::parse_from_rfc3339(triage["window"]["from"].as_str().unwrap()).unwrap();
    assert!(
        (from - since - Duration::minutes(30)).num_seconds().abs() <= 1,
        "since is the start of the baseline: {since} vs {from}"
    );
    api.stop().await;
}

async fn vercel_runtime_logs_after_a_deploy_blame_it(store: DynStore) {
    let fake = FakeVercel::start().await;
    let toml = format!(
        r#"
[secrets]
vercel = "{secret}"

[[environments.prod.services]]
name = "web"
kind = "http"
url = "{url}/healthz"
logs = {{ kind = "vercel" }}

[environments.prod.deploy]
provider = "vercel"
project = "web"
repo = "acme/web"
token_secret = "vercel"
base_url = "{url}"
poll_interval_ms = 5
"#,
        secret = secret_file(TOKEN),
        url = fake.url,
    );
    let api = Api::start(&store, &toml, 1).await;
    let deployed = finish(
        &api,
        NewRun {
            runbook: "deploy",
            env: Some("prod"),
            target: Some("web"),
            params: json!({"ref": "release-7"}),
        },
    )
    .await;
    assert_eq!(
        deployed.run.status,
        RunStatus::Succeeded,
        "{}",
        deployed.log()
    );
    let deployed_at = deployed.run.finished_at.unwrap();
    let now = Utc::now();
    let old: Vec<Value> = (0..20)
        .map(|i| {
            let at = now - Duration::minutes(100) + Duration::minutes(5 * i);
            FakeVercel::runtime_log(
                at.timestamp_millis(),
                "warning",
                &format!("slow query took {} ms", 900 + i),
            )
        })
        .filter(|l| l["timestampInMs"].as_i64().unwrap() < deployed_at.timestamp_millis())
        .collect();
    fake.set_runtime_logs("dpl_old2", old);
    let new: Vec<Value> = (1..=4)
        .map(|i| {
            FakeVercel::runtime_log(
                deployed_at.timestamp_millis() + i,
                "error",
                &format!("TypeError: Cannot read properties of undefined (reading 'amount') at /api/pay:{i}"),
            )
        })
        .collect();
    fake.set_runtime_logs("dpl_new1", new);
    let done = finish(
        &api,
        NewRun {
            runbook: "incident",
            env: Some("prod"),
            target: Some("web"),
            params: json!({}),
        },
    )
    .await;
    let triage = triage_json(&done);
    let top = check_shape(&triage);
    assert_eq!(top["level"], "error", "{triage:#}");
    assert_eq!(top["count"], 4);
    assert_eq!(top["new"], true);
    assert_eq!(top["suspect"]["deployment"], "dpl_new1");
    assert_eq!(top["suspect"]["ref"], "release-7");
    assert_eq!(
        triage["remediation"],
        json!({"runbook": "rollback", "env": "prod", "target": "web", "params": {}})
    );
    let reads = fake.runtime_log_reads();
    assert!(
        reads.contains(&"dpl_new1".to_string()) && reads.contains(&"dpl_old2".to_string()),
        "{reads:?}"
    );
    done.assert_never_shows(TOKEN);

    let id = api
        .submit(NewRun {
            runbook: "rollback",
            env: Some("prod"),
            target: Some("web"),
            params: json!({}),
        })
        .await;
    let back = Finished::load(&api, id).await;
    assert_eq!(back.run.status, RunStatus::Succeeded, "{}", back.log());
    assert_eq!(fake.rollbacks(), ["dpl_old2"]);
    api.stop().await;
}

/// prod on the fake Vercel (production target) with the service `web`
/// whose logs are the file `log`.
fn vercel_prod_with_file_logs(fake: &FakeVercel, log: &Path) -> String {
    format!(
        r#"
[secrets]
vercel = "{secret}"

[[environments.prod.services]]
name = "web"
kind = "http"
url = "{url}/healthz"
logs = {{ kind = "file", path = "{log}" }}

[environments.prod.deploy]
provider = "vercel"
project = "web"
repo = "acme/web"
target = "production"
token_secret = "vercel"
base_url = "{url}"
poll_interval_ms = 5
"#,
        secret = secret_file(TOKEN),
        url = fake.url,
        log = log.display(),
    )
}

/// The recurring error and info lines up to now, and a new error three
/// times from just after `after`, in time order.
fn log_with_new_error_after(now: DateTime<Utc>, after: DateTime<Utc>) -> String {
    let mut lines = recurring_lines(now, now);
    for i in 0..3 {
        lines.push(format!(
            "{} ERROR checkout failed: amount of cart c{i} is undefined",
            ts(after + Duration::seconds(2 + i))
        ));
    }
    lines.sort();
    lines.join("\n") + "\n"
}

async fn a_git_push_only_vercel_lists_is_the_suspect_and_rolled_back(store: DynStore) {
    let fake = FakeVercel::start().await;
    let dir = temp_dir("incident-push");
    let log = dir.join("web.log");
    let api = Api::start(&store, &vercel_prod_with_file_logs(&fake, &log), 1).await;
    // Someone pushed to main: Vercel built and served it; opsroom never ran it.
    let now = Utc::now();
    let pushed_at = now - Duration::minutes(20);
    fake.push(
        "dpl_push",
        "main",
        "9f8e7d6c5b4a",
        pushed_at.timestamp_millis(),
    );
    std::fs::write(&log, log_with_new_error_after(now, pushed_at)).unwrap();

    let done = finish(
        &api,
        NewRun {
            runbook: "incident",
            env: Some("prod"),
            target: Some("web"),
            params: json!({}),
        },
    )
    .await;
    let triage = triage_json(&done);
    let top = check_shape(&triage);
    assert!(
        top["template"]
            .as_str()
            .unwrap()
            .starts_with("ERROR checkout failed"),
        "{triage:#}"
    );
    assert_eq!(
        (top["count"].as_u64(), top["new"].as_bool()),
        (Some(3), Some(true))
    );
    let suspect = &top["suspect"];
    assert_eq!(suspect["source"], "vercel", "{suspect}");
    assert_eq!(suspect["run_id"], Value::Null, "opsroom did not run it");
    assert_eq!(suspect["deployment"], "dpl_push");
    assert_eq!(suspect["ref"], "main");
    assert_eq!(suspect["commit"], "9f8e7d6c5b4a");
    assert_eq!(
        DateTime::parse_from_rfc3339(suspect["finished_at"].as_str().unwrap())
            .unwrap()
            .timestamp_millis(),
        pushed_at.timestamp_millis(),
        "the time Vercel says it became ready"
    );
    assert_eq!(triage["notes"], json!([]));
    assert_eq!(
        triage["remediation"],
        json!({"runbook": "rollback", "env": "prod", "target": "web", "params": {}})
    );
    let md = &done.artifact("triage.md").content;
    assert!(
        md.contains("after vercel deployment dpl_push (main)") && md.contains("9f8e7d6c5b4a"),
        "{md}"
    );
    done.assert_never_shows(TOKEN);

    // The proposed rollback, approved, puts back what served before the push.
    let (status, created) = api
        .post(
            "/api/v1/runs",
            support::REQUESTER,
            triage["remediation"].clone(),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "awaiting_approval", "{created}");
    let id = RunId(created["id"].as_i64().unwrap());
    api.client(support::APPROVER)
        .act(id, opsroom_server::client::RunAction::Approve, None)
        .await
        .unwrap();
    let back = Finished::load(&api, id).await;
    assert_eq!(back.run.status, RunStatus::Succeeded, "{}", back.log());
    assert_eq!(fake.rollbacks(), ["dpl_old2"]);
    assert_eq!(fake.live(), "dpl_old2");
    api.stop().await;
    std::fs::remove_dir_all(dir).unwrap();
}

async fn a_deployment_list_that_fails_is_a_note_and_triage_goes_on(store: DynStore) {
    let fake = FakeVercel::start().await;
    let dir = temp_dir("incident-list-500");
    let log = dir.join("web.log");
    let api = Api::start(&store, &vercel_prod_with_file_logs(&fake, &log), 1).await;
    let now = Utc::now();
    let pushed_at = now - Duration::minutes(20);
    fake.push(
        "dpl_push",
        "main",
        "9f8e7d6c5b4a",
        pushed_at.timestamp_millis(),
    );
    std::fs::write(&log, log_with_new_error_after(now, pushed_at)).unwrap();
    // Every attempt at the list fails, retries included.
    fake.gate
        .push_faults((0..8).map(|_| Fault::status(500, "An unexpected internal error occurred")));

    let done = finish(
        &api,
        NewRun {
            runbook: "incident",
            env: Some("prod"),
            target: Some("web"),
            params: json!({}),
        },
    )
    .await;
    let triage = triage_json(&done);
    let top = check_shape(&triage);
    assert!(
        top["template"]
            .as_str()
            .unwrap()
            .starts_with("ERROR checkout failed"),
        "the patterns are still mined and ranked: {triage:#}"
    );
    assert!(top["suspect"].is_null(), "no deploy is known: {top}");
    assert!(triage["remediation"].is_null());
    let notes = triage["notes"].as_array().expect("notes");
    assert_eq!(notes.len(), 1, "{notes:?}");
    let note = notes[0].as_str().unwrap();
    assert!(
        note.contains("the vercel deployment list could not be read")
            && note.contains("500")
            && note.contains("only deploys opsroom ran are suspects"),
        "{note}"
    );
    let md = &done.artifact("triage.md").content;
    assert!(md.contains("## Notes") && md.contains(note), "{md}");
    assert!(
        fake.gate
            .requests()
            .iter()
            .any(|r| r.path == "/v6/deployments"),
        "the list was asked for"
    );
    done.assert_never_shows(TOKEN);
    api.stop().await;
    std::fs::remove_dir_all(dir).unwrap();
}

async fn sources_that_cannot_be_read_fail_naming_what_is_wrong(store: DynStore) {
    let dir = temp_dir("incident-bad");
    let missing = dir.join("nothing-*.log");
    let toml = format!(
        "{}[[environments.prod.services]]\nname = \"web\"\nkind = \"opsroom_db\"\n",
        payments(&format!(
            "{{ kind = \"file\", path = \"{}\" }}",
            missing.display()
        ))
    );
    let api = Api::start(&store, &toml, 1).await;
    let done = finish(&api, incident(json!({}))).await;
    assert_eq!(done.run.status, RunStatus::Failed);
    assert!(
        done.error().contains("logs of payments: no file matches")
            && done.error().contains("nothing-*.log"),
        "{}",
        done.error()
    );
    let done = finish(
        &api,
        NewRun {
            runbook: "incident",
            env: Some("prod"),
            target: Some("web"),
            params: json!({}),
        },
    )
    .await;
    assert_eq!(done.run.status, RunStatus::Failed);
    assert!(
        done.error()
            .contains("service web on prod has no log source; add logs = {"),
        "{}",
        done.error()
    );
    // An empty file is no error: nothing to triage.
    std::fs::write(dir.join("nothing-1.log"), "").unwrap();
    let done = finish(&api, incident(json!({}))).await;
    let triage = triage_json(&done);
    assert_eq!(triage["lines"], 0);
    assert_eq!(triage["patterns"], json!([]));
    assert!(triage["remediation"].is_null());
    api.stop().await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_bad_log_source_in_the_config_is_refused_naming_it() {
    let err = opsroom_engine::OpsConfig::parse("opsroom.toml", &payments("{ kind = \"kafka\" }"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("opsroom.toml")
            && err.contains("payments")
            && err.contains("unknown kind `kafka`; known kinds: file, command, http, vercel"),
        "{err}"
    );
}

opsroom_store::on_both_stores!(
    file_logs_after_a_deploy_blame_it_and_the_rollback_runs,
    command_logs_without_a_deploy_have_no_suspect,
    http_logs_are_read_with_the_token_and_since,
    vercel_runtime_logs_after_a_deploy_blame_it,
    a_git_push_only_vercel_lists_is_the_suspect_and_rolled_back,
    a_deployment_list_that_fails_is_a_note_and_triage_goes_on,
    sources_that_cannot_be_read_fail_naming_what_is_wrong,
);
