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
