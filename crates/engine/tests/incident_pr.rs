//! The incident runbook's fixes end to end through the HTTP API: two
//! deploys of known commits, then a new error right after the second. The
//! triage proposes, besides the rollback, an `incident_pr` run reverting
//! the commits between the two deploys; started (and approved: a prod
//! write), it pushes branch `fix/…` with those commits reverted to a local
//! bare git remote, or opens a pull request with the report on a fake
//! GitHub. A later change to a reverted file is a conflict reported by
//! name, nothing pushed. Without a suspect, an issue with the report is
//! opened. Bad params are refused naming what is wrong.

#[macro_use]
mod support;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use opsroom_adapters::git::{GitAuthor, GitFile, GitOptions, GitRepo};
use opsroom_adapters::testing::github::FakeGitHub;
use opsroom_core::RunStatus;
use opsroom_server::client::RunAction;
use opsroom_store::{DynStore, RunId};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use support::{secret_file, temp_dir, Api, Finished, NewRun, APPROVER, REQUESTER, TOKEN};

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A shell deploy provider for prod that records the ref it deployed, and
/// payments' logs in `logs/payments.log`.
fn config(dir: &Path, incident: &str) -> String {
    let script = dir.join("deploy.sh");
    std::fs::write(&script, "#!/bin/sh\nset -e\nprintf %s \"$1\" > LIVE\n").unwrap();
    format!(
        r#"
[environments.prod.deploy]
provider = "shell"
argv = ["sh", "{script}", "{{ref}}"]
cwd = "{dir}"

[[environments.prod.services]]
name = "payments"
kind = "opsroom_db"
logs = {{ kind = "file", path = "{dir}/logs/payments.log" }}

{incident}
"#,
        script = script.display(),
        dir = dir.display(),
    )
}

fn author() -> GitAuthor {
    GitAuthor {
        name: "dev".into(),
        email: "dev@localhost".into(),
    }
}

/// The code's history in a bare repository: `v1` (app.txt), `v2` (app.txt
/// changed, new.txt added: the suspect deploy), then a later commit that
/// changes `later` (a file of its own, or app.txt for a conflict).
/// Returns the remote's `file://` URL and the two deployed commits.
async fn history(root: &Path, later: &str) -> (String, String, String) {
    let bare = root.join("app.git");
    GitRepo::init(&bare, true, "main", GitOptions::default())
        .await
        .unwrap();
    let url = format!("file://{}", bare.display());
    let work = GitRepo::init(&root.join("seed"), false, "main", GitOptions::default())
        .await
        .unwrap();
    let files = [
        GitFile::text("README.md", "# pay\n"),
        GitFile::text("app.txt", "charge v1\n"),
    ];
    let v1 = work.commit_files(&files, "v1", &author()).await.unwrap();
    let v2 = work
        .commit_files(
            &[
                GitFile::text("app.txt", "charge v2 with the bug\n"),
                GitFile::text("new.txt", "new feature\n"),
            ],
            "v2: new charge path",
            &author(),
        )
        .await
        .unwrap();
    work.commit_files(
        &[GitFile::text(later, "changed after the deploy\n")],
        "later work",
        &author(),
    )
    .await
    .unwrap();
    work.add_remote("origin", &url).await.unwrap();
    work.push("origin", "main").await.unwrap();
    (url, v1, v2)
}

/// Deploys `first` then `second` of payments on prod, and writes logs: an
/// older recurring error, and a new one right after the second deploy.
async fn deploys_then_a_new_error(api: &Api, dir: &Path, first: &str, second: &str) -> RunId {
    let mut last = RunId(0);
    for git_ref in [first, second] {
        let id = api
            .submit(NewRun {
                runbook: "deploy",
                env: Some("prod"),
                target: Some("payments"),
                params: json!({"ref": git_ref}),
            })
            .await;
        let done = Finished::load(api, id).await;
        assert_eq!(done.run.status, RunStatus::Succeeded, "{}", done.log());
        last = id;
    }
    let (deployed, _) = api.run(last).await;
    let deployed_at = deployed.finished_at.expect("finished");
    let now = Utc::now();
    let mut text = Vec::new();
    let mut t = now - Duration::minutes(100);
    while t < deployed_at {
        writeln!(text, "{} ERROR db pool exhausted after 30 ms", ts(t)).unwrap();
        t += Duration::minutes(5);
    }
    for i in 0..3 {
        let at = deployed_at + Duration::milliseconds(1 + i);
        writeln!(
            text,
            "{} ERROR charge ch_{i}9 failed: amount is NaN",
            ts(at)
        )
        .unwrap();
    }
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    std::fs::write(dir.join("logs/payments.log"), text).unwrap();
    last
}

/// Runs the incident triage of payments on prod; returns the run and
/// triage.json.
async fn run_triage(api: &Api) -> (Finished, Value) {
    let id = api
        .submit(NewRun {
            runbook: "incident",
            env: Some("prod"),
            target: Some("payments"),
            params: json!({}),
        })
        .await;
    let done = Finished::load(api, id).await;
    assert_eq!(done.run.status, RunStatus::Succeeded, "{}", done.log());
    let triage = serde_json::from_str(&done.artifact("triage.json").content).unwrap();
    (done, triage)
}

/// Starts `body` as the requester would with one click; a prod write is
/// held for approval and approved by someone else.
async fn start(api: &Api, body: &Value) -> Finished {
    let (status, created) = api.post("/api/v1/runs", REQUESTER, body.clone()).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "awaiting_approval", "{created}");
    let id = RunId(created["id"].as_i64().unwrap());
    api.client(APPROVER)
        .act(id, RunAction::Approve, None)
        .await
        .unwrap();
    Finished::load(api, id).await
}

async fn checkout(url: &str, branch: &str, dest: PathBuf) -> GitRepo {
    GitRepo::clone_from(url, &dest, Some(branch), GitOptions::default())
        .await
        .unwrap()
}

async fn reverts_the_suspects_commits_on_a_pushed_branch(store: DynStore) {
    let root = temp_dir("incident-pr-git");
    let (url, v1, v2) = history(&root, "other.txt").await;
    let toml = config(&root, &format!("[incident]\nremote = \"{url}\"\n"));
    let api = Api::start(&store, &toml, 1).await;
    deploys_then_a_new_error(&api, &root, &v1, &v2).await;
    let (incident, triage) = run_triage(&api).await;
    assert_eq!(
        triage["patterns"][0]["template"], "ERROR charge ch_<*> failed: amount is NaN",
        "{triage:#}"
    );
    assert_eq!(triage["remediation"]["runbook"], "rollback", "{triage:#}");
    let remediations = triage["remediations"].as_array().expect("remediations");
    assert_eq!(remediations[0], triage["remediation"]);
    let fix = &remediations[1];
    assert_eq!(
        *fix,
        json!({"runbook": "incident_pr", "env": "prod", "target": "payments",
               "params": {"incident_run": incident.run.id.0, "from": v1, "to": v2}}),
        "{triage:#}"
    );
    let md = incident.artifact("triage.md").content.clone();
    assert!(
        md.contains("reverting the suspect deploy's commits"),
        "{md}"
    );

    let done = start(&api, fix).await;
    assert_eq!(done.run.status, RunStatus::Succeeded, "{}", done.log());
    let branch = format!("fix/incident-{}-revert-{}", incident.run.id, &v2[..12]);
    assert_eq!(
        done.artifact("pull request").content,
        format!("{url}#{branch}")
    );
    let repo = checkout(&url, &branch, root.join("check")).await;
    let read = |name: &str| std::fs::read_to_string(repo.dir().join(name)).ok();
    assert_eq!(
        read("app.txt").as_deref(),
        Some("charge v1\n"),
        "v2's change is reverted"
    );
    assert_eq!(read("new.txt"), None, "v2's new file is gone");
    assert_eq!(
        read("other.txt").as_deref(),
        Some("changed after the deploy\n"),
        "later work is kept"
    );
    assert_eq!(
        repo.count_commits("origin/main", "HEAD").await.unwrap(),
        1,
        "one revert commit for the one commit deployed"
    );
    api.stop().await;
    std::fs::remove_dir_all(root).unwrap();
}

async fn a_conflicting_revert_is_reported_and_nothing_pushed(store: DynStore) {
    let root = temp_dir("incident-pr-conflict");
    let (url, v1, v2) = history(&root, "app.txt").await;
    let toml = config(&root, &format!("[incident]\nremote = \"{url}\"\n"));
    let api = Api::start(&store, &toml, 1).await;
    deploys_then_a_new_error(&api, &root, &v1, &v2).await;
    let (_, triage) = run_triage(&api).await;
    let done = start(&api, &triage["remediations"][1]).await;
    assert_eq!(done.run.status, RunStatus::Failed, "{}", done.log());
    assert!(
        done.error().contains(&format!(
            "reverting {v1}..{v2} on main conflicts in app.txt: main changed them since; nothing was pushed"
        )),
        "{}",
        done.error()
    );
    let event = done
        .events
        .iter()
        .find(|e| e.data["kind"] == "revert_conflict")
        .expect("the conflict as an event");
    assert_eq!(event.data["files"], json!(["app.txt"]));
    let heads = std::process::Command::new("git")
        .args(["ls-remote", "--heads", &url])
        .output()
        .unwrap();
    let heads = String::from_utf8_lossy(&heads.stdout);
    assert!(!heads.contains("fix/"), "nothing pushed: {heads}");
    api.stop().await;
    std::fs::remove_dir_all(root).unwrap();
}

fn github_toml(fake: &FakeGitHub) -> String {
    format!(
        "[secrets]\ngithub = \"{}\"\n\n[incident.github]\nrepo = \"acme/web\"\ntoken_secret = \"github\"\nbase_url = \"{}\"\n",
        secret_file(TOKEN),
        fake.url
    )
}

async fn opens_a_revert_pull_request_on_github(store: DynStore) {
    let root = temp_dir("incident-pr-github");
    let fake = FakeGitHub::start().await;
    let v1 = fake.push_commit("main", &[("app.txt", Some("charge v1\n"))], "v1");
    let v2 = fake.push_commit(
        "main",
        &[
            ("app.txt", Some("charge v2 with the bug\n")),
            ("new.txt", Some("new feature\n")),
        ],
        "v2",
    );
    fake.push_commit("main", &[("other.txt", Some("later\n"))], "later work");
    let api = Api::start(&store, &config(&root, &github_toml(&fake)), 1).await;
    deploys_then_a_new_error(&api, &root, &v1, &v2).await;
    let (incident, triage) = run_triage(&api).await;
    let fix = &triage["remediations"][1];
    assert_eq!(
        fix["params"],
        json!({"incident_run": incident.run.id.0, "from": v1, "to": v2}),
        "{triage:#}"
    );
    let done = start(&api, fix).await;
    assert_eq!(done.run.status, RunStatus::Succeeded, "{}", done.log());
    done.assert_never_shows(TOKEN);
    let pulls = fake.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0]["body"], incident.artifact("triage.md").content);
    assert_eq!(pulls[0]["base"], "main");
    let branch = pulls[0]["head"].as_str().unwrap();
    assert_eq!(
        branch,
        format!(
            "fix/incident-{}-revert-{}",
            incident.run.id,
            v2.replace('-', "")
        )
    );
    assert_eq!(
        fake.file_at(branch, "app.txt").as_deref(),
        Some("charge v1\n")
    );
    assert_eq!(fake.file_at(branch, "new.txt"), None);
    assert_eq!(
        fake.file_at(branch, "other.txt").as_deref(),
        Some("later\n")
    );
    assert_eq!(
        fake.file_at(branch, "README.md").as_deref(),
        Some("# web\n")
    );
    assert_eq!(
        done.artifact("pull request").content,
        "https://github.com/acme/web/pull/7"
    );

    // Changed on main since: a conflict naming the file, no branch made.
    let (_, triage) = run_triage(&api).await;
    fake.push_commit("main", &[("new.txt", Some("fixed forward\n"))], "hotfix");
    let done = start(&api, &triage["remediations"][1]).await;
    assert_eq!(done.run.status, RunStatus::Failed, "{}", done.log());
    assert!(
        done.error()
            .contains("conflicts in new.txt: main changed them since"),
        "{}",
        done.error()
    );
    assert_eq!(fake.pulls().len(), 1);
    api.stop().await;
    std::fs::remove_dir_all(root).unwrap();
}

async fn without_a_suspect_an_issue_carries_the_report(store: DynStore) {
    let root = temp_dir("incident-pr-issue");
    let fake = FakeGitHub::start().await;
    let api = Api::start(&store, &config(&root, &github_toml(&fake)), 1).await;
    let now = Utc::now();
    std::fs::create_dir_all(root.join("logs")).unwrap();
    std::fs::write(
        root.join("logs/payments.log"),
        format!(
            "{} ERROR refund re_1 failed: timeout\n",
            ts(now - Duration::minutes(3))
        ),
    )
    .unwrap();
    let (incident, triage) = run_triage(&api).await;
    assert!(triage["remediation"].is_null(), "{triage:#}");
    let body = json!({"runbook": "incident_pr", "env": "prod", "target": "payments",
                      "params": {"incident_run": incident.run.id.0}});
    assert_eq!(triage["remediations"], json!([body]), "{triage:#}");
    let done = start(&api, &body).await;
    assert_eq!(done.run.status, RunStatus::Succeeded, "{}", done.log());
    let issues = fake.issues();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0]["body"], incident.artifact("triage.md").content);
    assert_eq!(issues[0]["title"], "Incident: Triage of payments on prod");
    assert_eq!(
        done.artifact("issue").content,
        "https://github.com/acme/web/issues/7"
    );

    // Bad params: refused naming what is wrong, nothing opened.
    let bad = [
        (
            json!({"incident_run": incident.run.id.0, "from": "abc1234"}),
            "params `from` and `to` go together",
        ),
        (
            json!({"incident_run": incident.run.id.0, "from": "--upload-pack=x", "to": "abc1234"}),
            "param `from` must be a commit or tag",
        ),
        (
            json!({"incident_run": done.run.id.0}),
            "is a incident_pr run that is succeeded, not a succeeded incident run",
        ),
    ];
    for (params, want) in bad {
        let body = json!({"runbook": "incident_pr", "env": "prod", "target": "payments", "params": params});
        let failed = start(&api, &body).await;
        assert_eq!(failed.run.status, RunStatus::Failed, "{}", failed.log());
        assert!(
            failed.error().contains(want),
            "{params}: {}",
            failed.error()
        );
    }
    assert_eq!(fake.issues().len(), 1);
    api.stop().await;
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_bad_incident_table_is_refused_naming_the_key() {
    let cases = [
        ("[incident]\n", "incident.remote: expected a git remote URL"),
        (
            "[incident]\nremote = \"--upload-pack=x\"\n",
            "incident.remote: expected a git remote URL",
        ),
        (
            "[incident.github]\nrepo = \"acme\"\ntoken_secret = \"github\"\n",
            "incident.github.repo: expected `owner/name`",
        ),
        (
            "[incident.github]\nrepo = \"acme/web\"\ntoken_secret = \"nope\"\n",
            "incident.github.token_secret: credential `nope` is not declared",
        ),
    ];
    for (toml, want) in cases {
        let err = opsroom_engine::OpsConfig::parse("opsroom.toml", toml)
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{toml}: {err}");
    }
    let ok = opsroom_engine::OpsConfig::parse(
        "opsroom.toml",
        "[incident]\nremote = \"file:///srv/git/pay.git\"\n",
    )
    .unwrap();
    assert_eq!(ok.incident.unwrap().base_branch, "main");
}

opsroom_store::on_both_stores!(
    reverts_the_suspects_commits_on_a_pushed_branch,
    a_conflicting_revert_is_reported_and_nothing_pushed,
    opens_a_revert_pull_request_on_github,
    without_a_suspect_an_issue_carries_the_report,
);
