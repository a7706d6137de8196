//! An incident's report in headless Chromium: the run view shows
//! triage.md rendered and one button per remediation of triage.json; a
//! click starts that run (through the API, with the session's CSRF header)
//! and goes to it.

#[allow(dead_code)]
#[path = "browser/support.rs"]
mod support;

use opsroom_store::{ArtifactInsertParams, ArtifactKind, RunId, DEFAULT_WORKSPACE};
use serde_json::json;
use support::{Browser, BrowserOptions, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remediation_buttons_start_their_runs() {
    let server = Server::start().await;
    // A finished run carrying an incident's two artifacts, as the incident
    // runbook writes them.
    let run = server
        .post("/runs", json!({"text": "check dev status"}))
        .await;
    let id = run["id"].as_i64().unwrap();
    server.wait_final(id).await;
    let rollback = json!({"runbook": "rollback", "env": "prod", "target": "opsroom", "params": {}});
    let revert = json!({"runbook": "incident_pr", "env": "prod", "target": "opsroom",
                        "params": {"incident_run": id, "from": "1a2b3c4", "to": "5d6e7f8"}});
    let triage = json!({"window": {"from": "2026-12-01T09:00:00Z", "to": "2026-12-01T10:00:00Z"},
        "lines": 3, "skipped": 0, "patterns": [], "remediation": rollback,
        "remediations": [rollback, revert], "sources": []});
    for (kind, name, content) in [
        (
            ArtifactKind::Markdown,
            "triage.md",
            "# Triage of opsroom on prod\n\n| # | level |\n|---|---|\n| 7 | error |\n".to_string(),
        ),
        (ArtifactKind::Json, "triage.json", triage.to_string()),
    ] {
        server
            .store
            .store
            .artifact_insert(ArtifactInsertParams {
                workspace_id: DEFAULT_WORKSPACE.into(),
                run_id: RunId(id),
                fence: None,
                kind,
                name: name.into(),
                content,
                now: chrono::Utc::now(),
            })
            .await
            .unwrap();
    }
    let mut b = Browser::start("incident", BrowserOptions::default()).await;
    b.goto(&server.url(&format!("/runs/{id}"))).await;
    b.wait(
        "report and buttons drawn",
        "return [...document.querySelectorAll('.artifact[data-kind=markdown]')].some(a => a.querySelector('summary').textContent.endsWith('triage.md') && a.querySelector('.md h3')) && document.querySelectorAll('.remediations [data-action=remediate]').length === 2",
    )
    .await;
    let shown = b
        .js(
            "const report = [...document.querySelectorAll('.artifact')].find(a => a.querySelector('summary').textContent.endsWith('triage.md')); return [report.querySelector('.md h3').textContent, [...document.querySelectorAll('.remediations [data-action=remediate]')].map(b => b.textContent)]",
            vec![],
        )
        .await;
    assert_eq!(
        shown,
        json!([
            "Triage of opsroom on prod",
            [
                "Roll back opsroom on prod",
                "Open a pull request reverting 1a2b3c4..5d6e7f8"
            ]
        ])
    );
    b.screenshot("remediations").await;
    b.click(".remediations [data-runbook=incident_pr]").await;
    let started = b
        .wait(
            "the new run's page",
            &format!(
                "const m = location.pathname.match(/^\\/runs\\/(\\d+)$/); return m && m[1] !== '{id}' && document.querySelector('#run-view .run-title') && Number(m[1])"
            ),
        )
        .await;
    let new_run = server
        .get(&format!("/runs/{}", started.as_i64().unwrap()))
        .await;
    assert_eq!(new_run["runbook"], "incident_pr", "{new_run}");
    assert_eq!(new_run["env"], "prod");
    assert_eq!(new_run["params"]["from"], "1a2b3c4");
    assert_eq!(
        new_run["status"], "awaiting_approval",
        "a prod write waits for approval"
    );
    b.screenshot("started").await;
    b.assert_clean_console().await;
    b.close().await;
    server.stop().await;
}

/// A real incident run, end to end in the browser: a service's file log
/// gains a new error right after a deploy; the run page of "triage web in
/// staging" shows the report naming that deploy, and its rollback button
/// starts the rollback, which puts the previous ref back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_incident_run_shows_its_report_and_its_rollback_runs() {
    use chrono::{Duration, SecondsFormat, Utc};
    use std::fmt::Write as _;

    let dir = std::env::temp_dir().join(format!("opsroom-browser-incident-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("web.log");
    let toml = format!(
        r#"
[environments.staging.deploy]
provider = "shell"
argv = ["sh", "-c", "printf %s \"$1\" > LIVE", "deploy", "{{ref}}"]
cwd = "{dir}"

[[environments.staging.services]]
name = "web"
kind = "opsroom_db"
logs = {{ kind = "file", path = "{log}" }}
"#,
        dir = dir.display(),
        log = log.display(),
    );
    let config = opsroom_engine::OpsConfig::parse("test config", &toml).unwrap();
    let server = Server::start_with(Some(config)).await;
    for git_ref in ["v1", "v2"] {
        let run = server
            .post(
                "/runs",
                json!({"runbook": "deploy", "env": "staging", "target": "web", "params": {"ref": git_ref}}),
            )
            .await;
        let done = server.wait_final(run["id"].as_i64().unwrap()).await;
        assert_eq!(done["status"], "succeeded", "{done}");
    }
    let v2 = server.get("/runs?runbook=deploy&limit=1").await[0].clone();
    assert_eq!(v2["params"]["ref"], "v2", "{v2}");
    let deployed_at: chrono::DateTime<Utc> = v2["finished_at"].as_str().unwrap().parse().unwrap();

    // An old error every five minutes for the last hour, and a new one
    // that starts right after the second deploy.
    let ts = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut text = String::new();
    let mut t = deployed_at - Duration::minutes(55);
    let mut n = 0;
    while t < deployed_at {
        writeln!(
            text,
            "{} ERROR cache miss storm after {} ms",
            ts(t),
            100 + n
        )
        .unwrap();
        t += Duration::minutes(5);
        n += 1;
    }
    for i in 0..3 {
        let at = deployed_at + Duration::milliseconds(1 + i);
        writeln!(text, "{} ERROR checkout {i} failed: nil session", ts(at)).unwrap();
    }
    std::fs::write(&log, text).unwrap();

    let run = server
        .post("/runs", json!({"text": "triage web in staging"}))
        .await;
    assert_eq!(run["runbook"], "incident", "{run}");
    let id = run["id"].as_i64().unwrap();
    let done = server.wait_final(id).await;
    assert_eq!(done["status"], "succeeded", "{done}");

    let mut b = Browser::start("incident-real", BrowserOptions::default()).await;
    b.goto(&server.url(&format!("/runs/{id}"))).await;
    let shown = b
        .wait(
            "the report and its rollback button",
            "const report = [...document.querySelectorAll('.artifact')].find(a => a.querySelector('summary').textContent.endsWith('triage.md'));
             const button = document.querySelector('.remediations [data-runbook=rollback]');
             return report && report.querySelector('.md') && button && [report.querySelector('.md').textContent, button.textContent]",
        )
        .await;
    let report = shown[0].as_str().unwrap();
    assert!(
        report.contains("checkout <*> failed: nil session"),
        "{report}"
    );
    assert!(
        report.contains(&format!("#{}", v2["id"])),
        "the report names the deploy run: {report}"
    );
    assert_eq!(shown[1], "Roll back web on staging");
    b.screenshot("report").await;

    b.click(".remediations [data-runbook=rollback]").await;
    let started = b
        .wait(
            "the rollback's page",
            &format!(
                "const m = location.pathname.match(/^\\/runs\\/(\\d+)$/); return m && m[1] !== '{id}' && document.querySelector('#run-view .run-title') && Number(m[1])"
            ),
        )
        .await;
    let rollback = server.wait_final(started.as_i64().unwrap()).await;
    assert_eq!(rollback["runbook"], "rollback", "{rollback}");
    assert_eq!(rollback["status"], "succeeded", "{rollback}");
    assert_eq!(
        std::fs::read_to_string(dir.join("LIVE")).unwrap(),
        "v1",
        "the rollback put the previous ref back"
    );
    b.assert_clean_console().await;
    b.close().await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
