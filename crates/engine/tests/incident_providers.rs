//! Deploys only the env provider's own deployment list knows, end to end
//! through the API of a real server with a file log source: a git push
//! Vercel built, a GitHub deployment made by a workflow job, a DigitalOcean
//! auto-deploy. Each is the suspect of the new error that begins right
//! after it (`source` the provider, `run_id` null), and the proposed
//! rollback of the Vercel push runs; a list that cannot be read is a note,
//! not a failed triage.

#[macro_use]
mod support;

use chrono::{DateTime, Duration, Utc};
use opsroom_adapters::testing::digitalocean::FakeDigitalOcean;
use opsroom_adapters::testing::github::FakeGitHub;
use opsroom_adapters::testing::vercel::FakeVercel;
use opsroom_adapters::testing::Fault;
use opsroom_core::RunStatus;
use opsroom_store::{DynStore, RunId};
use serde_json::{json, Value};
use std::path::Path;
use support::triage::{check_shape, finish, log_with_new_error_after, triage_json};
use support::{secret_file, temp_dir, Api, Finished, NewRun, TOKEN};

fn triage_web() -> NewRun<'static> {
    NewRun {
        runbook: "incident",
        env: Some("prod"),
        target: Some("web"),
        params: json!({}),
    }
}

/// The service `web` of prod, its logs the file `log`, and `deploy` as
/// prod's deploy table.
fn web_with_file_logs(log: &Path, deploy: &str) -> String {
    format!(
        r#"
[secrets]
token = "{secret}"

[[environments.prod.services]]
name = "web"
kind = "opsroom_db"
logs = {{ kind = "file", path = "{log}" }}

[environments.prod.deploy]
token_secret = "token"
poll_interval_ms = 5
{deploy}
"#,
        secret = secret_file(TOKEN),
        log = log.display(),
    )
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

async fn a_github_deployment_and_a_digitalocean_auto_deploy_are_suspects(store: DynStore) {
    let dir = temp_dir("incident-gh-do");
    let log = dir.join("web.log");
    let now = Utc::now();
    let pushed_at = now - Duration::minutes(20);
    std::fs::write(&log, log_with_new_error_after(now, pushed_at)).unwrap();

    // A workflow job with `environment: production` deployed sha-gh; a
    // later deployment went to staging, which is not this env's.
    let github = FakeGitHub::start().await;
    github.deploy("production", "main", "sha-gh-old", now - Duration::hours(3));
    let id = github.deploy("production", "main", "sha-gh", pushed_at);
    github.deploy(
        "staging",
        "main",
        "sha-staging",
        pushed_at + Duration::seconds(1),
    );
    let deploy = format!(
        "provider = \"github_actions\"\nrepo = \"acme/web\"\nworkflow = \"deploy.yml\"\nref_input = \"ref\"\nenvironment = \"production\"\nbase_url = \"{}\"",
        github.url
    );
    let api = Api::start(&store, &web_with_file_logs(&log, &deploy), 1).await;
    let done = finish(&api, triage_web()).await;
    let triage = triage_json(&done);
    let suspect = &check_shape(&triage)["suspect"];
    assert_eq!(suspect["source"], "github_actions", "{triage:#}");
    assert_eq!(suspect["deployment"], id.to_string());
    assert_eq!(suspect["commit"], "sha-gh");
    assert_eq!(suspect["ref"], "main");
    assert_eq!(suspect["run_id"], Value::Null);
    assert_eq!(
        DateTime::parse_from_rfc3339(suspect["finished_at"].as_str().unwrap())
            .unwrap()
            .timestamp(),
        pushed_at.timestamp(),
        "the time of its success status"
    );
    assert_eq!(triage["notes"], json!([]));
    assert_eq!(triage["remediation"]["runbook"], "rollback");
    done.assert_never_shows(TOKEN);
    api.stop().await;

    // App Platform deployed a push to the spec's branch by itself.
    let digitalocean = FakeDigitalOcean::start().await;
    let id = digitalocean.push("c0ffee9", pushed_at);
    let deploy = format!(
        "provider = \"digitalocean\"\napp_id = \"app-1\"\nbase_url = \"{}\"",
        digitalocean.url
    );
    let api = Api::start(&store, &web_with_file_logs(&log, &deploy), 1).await;
    let done = finish(&api, triage_web()).await;
    let triage = triage_json(&done);
    let suspect = &check_shape(&triage)["suspect"];
    assert_eq!(suspect["source"], "digitalocean", "{triage:#}");
    assert_eq!(suspect["deployment"], id);
    assert_eq!(suspect["commit"], "c0ffee9");
    assert_eq!(
        suspect["url"],
        format!("https://cloud.digitalocean.com/apps/app-1/deployments/{id}")
    );
    assert_eq!(
        DateTime::parse_from_rfc3339(suspect["finished_at"].as_str().unwrap())
            .unwrap()
            .timestamp(),
        pushed_at.timestamp()
    );
    api.stop().await;
    std::fs::remove_dir_all(dir).unwrap();
}

opsroom_store::on_both_stores!(
    a_git_push_only_vercel_lists_is_the_suspect_and_rolled_back,
    a_deployment_list_that_fails_is_a_note_and_triage_goes_on,
    a_github_deployment_and_a_digitalocean_auto_deploy_are_suspects,
);
