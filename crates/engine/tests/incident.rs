//! The `incident` runbook end to end through the HTTP API of a real server:
//! file logs (a glob over a plain and a gzip file, with lines that cannot
//! be read), command logs, an HTTP log server and Vercel's runtime logs
//! (the fake). A deploy followed by a new error makes that deploy the
//! suspect and a rollback of it the remediation, which starts as a run;
//! without a deploy the suspect is null (deploys only a provider's list
//! knows: `incident_providers.rs`). Sources that cannot be read fail the
//! run naming what is wrong.

#[macro_use]
mod support;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use opsroom_adapters::testing::vercel::FakeVercel;
use opsroom_core::RunStatus;
use opsroom_store::{DynStore, RunId};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use support::triage::{check_shape, finish, recurring_lines, triage_json, ts};
use support::{secret_file, temp_dir, Api, Finished, NewRun, TOKEN};

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
    sources_that_cannot_be_read_fail_naming_what_is_wrong,
);
