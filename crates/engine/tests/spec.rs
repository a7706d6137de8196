//! `spec` end to end through the HTTP API of a real server against a local
//! bare git repository: four documents committed on `spec/<slug>` and
//! pushed, the branch link and documents as artifacts; an existing branch,
//! a missing base branch and a missing `[spec]` fail with clear messages.
//! With `[spec.github]`, a pull request is opened through a fake GitHub.
//! The server holds every spec run for approval (a write with no env);
//! another person approves it.

#[macro_use]
mod support;

use opsroom_adapters::git::{GitAuthor, GitFile, GitOptions, GitRepo};
use opsroom_adapters::testing::github::FakeGitHub;
use opsroom_core::{ArtifactKind, RunStatus};
use opsroom_store::DynStore;
use serde_json::json;
use std::path::{Path, PathBuf};
use support::{run_through_api, secret_file, temp_dir, Finished, NewRun, TOKEN};

/// A bare repository with one commit on `main`; returns its `file://` URL.
async fn bare_repo(root: &Path) -> String {
    let bare = root.join("app.git");
    GitRepo::init(&bare, true, "main", GitOptions::default())
        .await
        .unwrap();
    let url = format!("file://{}", bare.display());
    let work = GitRepo::init(&root.join("seed"), false, "main", GitOptions::default())
        .await
        .unwrap();
    let author = GitAuthor {
        name: "t".into(),
        email: "t@localhost".into(),
    };
    work.commit_files(&[GitFile::text("README.md", "# app\n")], "initial", &author)
        .await
        .unwrap();
    work.add_remote("origin", &url).await.unwrap();
    work.push("origin", "main").await.unwrap();
    url
}

fn toml(remote: &str) -> String {
    format!(
        r#"
[spec]
remote = "{remote}"
product = "Acme Shop"
stack = "Rust, axum, PostgreSQL"
principles = ["Customers' data stays theirs.", "Every change is reversible."]

[environments.staging.deploy]
provider = "shell"
argv = ["true"]
"#
    )
}

async fn spec(store: &DynStore, config: &str, params: serde_json::Value) -> Finished {
    let run = NewRun {
        runbook: "spec",
        env: None,
        target: None,
        params,
    };
    run_through_api(store, config, run).await
}

async fn checkout(url: &str, branch: &str, dest: PathBuf) -> PathBuf {
    GitRepo::clone_from(url, &dest, Some(branch), GitOptions::default())
        .await
        .unwrap();
    dest
}

async fn writes_four_documents_on_a_branch_and_pushes_it(store: DynStore) {
    let root = temp_dir("spec");
    let url = bare_repo(&root).await;
    let done = spec(
        &store,
        &toml(&url),
        json!({"feature": "User authentication with SSO"}),
    )
    .await;
    assert_eq!(done.run.status, RunStatus::Succeeded, "{}", done.log());
    let link = done.artifact("pull request");
    assert_eq!(link.kind, ArtifactKind::Link);
    assert_eq!(
        link.content,
        format!("{url}#spec/user-authentication-with-sso")
    );
    for name in ["constitution.md", "prd.md", "plan.md", "tasks.md"] {
        assert_eq!(done.artifact(name).kind, ArtifactKind::Markdown);
    }
    let prd = &done.artifact("prd.md").content;
    assert!(
        prd.contains("User authentication with SSO") && prd.contains("Acme Shop"),
        "{prd}"
    );
    assert!(prd.contains("## User stories") && prd.contains("Acceptance criteria"));
    assert!(done
        .artifact("constitution.md")
        .content
        .contains("Customers' data stays theirs."));
    assert!(done
        .artifact("plan.md")
        .content
        .contains("Rust, axum, PostgreSQL"));
    assert!(done
        .artifact("plan.md")
        .content
        .contains("staging (deployed with shell)"));

    let copy = checkout(
        &url,
        "spec/user-authentication-with-sso",
        root.join("check"),
    )
    .await;
    let dir = copy.join("specs/user-authentication-with-sso");
    for name in ["constitution.md", "prd.md", "plan.md", "tasks.md"] {
        let on_disk = std::fs::read_to_string(dir.join(name)).unwrap();
        assert_eq!(on_disk, done.artifact(name).content, "{name} as committed");
    }
    assert!(
        copy.join("README.md").exists(),
        "the branch starts from main"
    );

    let again = spec(
        &store,
        &toml(&url),
        json!({"feature": "user authentication with sso"}),
    )
    .await;
    assert_eq!(again.run.status, RunStatus::Failed);
    assert!(
        again.error().contains("phase preflight failed")
            && again
                .error()
                .contains("branch spec/user-authentication-with-sso already exists"),
        "{}",
        again.error()
    );
    std::fs::remove_dir_all(root).unwrap();
}

async fn bad_base_branch_or_missing_config_fail_clearly(store: DynStore) {
    let root = temp_dir("spec-bad");
    let url = bare_repo(&root).await;
    let done = spec(
        &store,
        &toml(&url),
        json!({"feature": "billing", "base_branch": "develop"}),
    )
    .await;
    assert_eq!(done.run.status, RunStatus::Failed);
    assert!(
        done.error().contains("base branch develop does not exist"),
        "{}",
        done.error()
    );

    let done = spec(&store, "", json!({"feature": "billing"})).await;
    assert_eq!(done.run.status, RunStatus::Failed);
    assert!(
        done.error().contains("phase validate failed")
            && done.error().contains("add [spec] with remote"),
        "{}",
        done.error()
    );

    let done = spec(&store, &toml(&url), json!({"feature": "!!!"})).await;
    assert_eq!(done.run.status, RunStatus::Failed);
    assert!(done.error().contains("param `feature`"), "{}", done.error());
    std::fs::remove_dir_all(root).unwrap();
}

fn github_toml(fake: &FakeGitHub, token: &str) -> String {
    format!(
        r#"
[secrets]
github = "{secret}"

[spec]
product = "Acme Shop"

[spec.github]
repo = "acme/web"
token_secret = "github"
base_url = "{url}"
"#,
        secret = secret_file(token),
        url = fake.url
    )
}

async fn opens_a_pull_request_on_github(store: DynStore) {
    let fake = FakeGitHub::start().await;
    let done = spec(
        &store,
        &github_toml(&fake, TOKEN),
        json!({"feature": "user authentication"}),
    )
    .await;
    assert_eq!(done.run.status, RunStatus::Succeeded, "{}", done.log());
    assert_eq!(
        done.artifact("pull request").content,
        "https://github.com/acme/web/pull/7"
    );
    {
        let world = fake.world.lock().unwrap();
        let mut paths = world.tree_paths.clone();
        paths.sort();
        assert_eq!(
            paths,
            [
                "specs/user-authentication/constitution.md",
                "specs/user-authentication/plan.md",
                "specs/user-authentication/prd.md",
                "specs/user-authentication/tasks.md"
            ]
        );
        let pr = &world.pulls[0];
        assert_eq!(
            (pr["head"].as_str(), pr["base"].as_str()),
            (Some("spec/user-authentication"), Some("main"))
        );
        assert_eq!(pr["title"], "Spec: user authentication");
        let head = world
            .branches
            .iter()
            .find(|(b, _)| b == "spec/user-authentication")
            .unwrap();
        assert!(
            head.1.starts_with("obj-"),
            "the branch moved to the new commit: {head:?}"
        );
    }
    done.assert_never_shows(TOKEN);

    let again = spec(
        &store,
        &github_toml(&fake, TOKEN),
        json!({"feature": "user authentication"}),
    )
    .await;
    assert!(
        again.error().contains("already exists"),
        "{}",
        again.error()
    );

    let wrong = spec(
        &store,
        &github_toml(&fake, "ghp_wrong_token_1"),
        json!({"feature": "billing"}),
    )
    .await;
    assert_eq!(wrong.run.status, RunStatus::Failed);
    assert!(
        wrong
            .error()
            .contains("GitHub rejected credential `github`")
            && wrong.error().contains("HTTP 401"),
        "{}",
        wrong.error()
    );
    wrong.assert_never_shows("ghp_wrong_token_1");
}

opsroom_store::on_sqlite!(
    writes_four_documents_on_a_branch_and_pushes_it,
    bad_base_branch_or_missing_config_fail_clearly,
    opens_a_pull_request_on_github,
);
