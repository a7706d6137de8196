//! `deploy` and `rollback` through the HTTP API of a real server, with the
//! other providers: a shell command (output streamed, secrets hidden,
//! history kept by opsroom), a GitHub Actions workflow dispatch against a
//! fake GitHub (each deploy following the run its own dispatch started),
//! and a DigitalOcean App Platform app (its deployments, the branch a run
//! names, and rollbacks) against a fake DigitalOcean.

#[macro_use]
mod support;

use opsroom_adapters::testing::digitalocean::FakeDigitalOcean;
use opsroom_adapters::testing::github::FakeGitHub;
use opsroom_core::RunStatus;
use opsroom_store::DynStore;
use serde_json::json;
use support::{run_through_api, secret_file, temp_dir, Api, Finished, NewRun, TOKEN};

/// A shell deploy that "serves" the deployed ref from a file, with a
/// healthcheck that reads nothing but must see the file.
fn shell_toml(dir: &std::path::Path) -> String {
    let script = dir.join("deploy.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nset -e\necho \"deploying $1 to $OPSROOM_ENV\"\necho \"using token $DEPLOY_TOKEN\"\nif [ \"$1\" = bad ]; then echo 'error: disk full' >&2; exit 3; fi\nprintf %s \"$1\" > LIVE\necho done\n",
    )
    .unwrap();
    format!(
        r#"
[secrets]
deploy = "{secret}"

[environments.local.deploy]
provider = "shell"
argv = ["sh", "{script}", "{{ref}}"]
cwd = "{dir}"
secret_env = {{ DEPLOY_TOKEN = "deploy" }}
url = "http://local.test/{{ref}}"
"#,
        secret = secret_file(TOKEN),
        script = script.display(),
        dir = dir.display(),
    )
}

async fn run(
    store: &DynStore,
    toml: &str,
    runbook: &str,
    env: &str,
    params: serde_json::Value,
) -> Finished {
    let run = NewRun {
        runbook,
        env: Some(env),
        target: None,
        params,
    };
    run_through_api(store, toml, run).await
}

async fn shell_deploys_stream_output_and_roll_back_to_the_previous_ref(store: DynStore) {
    let dir = temp_dir("shell-deploy");
    let toml = shell_toml(&dir);
    let live = || std::fs::read_to_string(dir.join("LIVE")).unwrap();
    let first = run(&store, &toml, "deploy", "local", json!({"ref": "v1"})).await;
    assert_eq!(first.run.status, RunStatus::Succeeded, "{}", first.log());
    let log = first.log();
    assert!(
        log.contains("deploying v1 to local"),
        "output is streamed: {log}"
    );
    assert!(
        log.contains("using token ***"),
        "the secret is hidden: {log}"
    );
    first.assert_never_shows(TOKEN);
    assert_eq!(first.artifact("deployment").content, "http://local.test/v1");
    let second = run(&store, &toml, "deploy", "local", json!({"ref": "v2"})).await;
    assert_eq!(second.run.status, RunStatus::Succeeded);
    assert!(
        second
            .log()
            .contains(&format!("live now: run-{} (v1)", first.run.id)),
        "{}",
        second.log()
    );
    assert_eq!(live(), "v2");

    let back = run(&store, &toml, "rollback", "local", json!({})).await;
    assert_eq!(back.run.status, RunStatus::Succeeded, "{}", back.log());
    assert_eq!(live(), "v1", "the previous ref is deployed again");
    assert!(back.log().contains("rolling back to"), "{}", back.log());
    back.assert_never_shows(TOKEN);

    let failed = run(&store, &toml, "deploy", "local", json!({"ref": "bad"})).await;
    assert_eq!(failed.run.status, RunStatus::Failed);
    assert!(
        failed.error().contains("exited with code 3") && failed.error().contains("disk full"),
        "{}",
        failed.error()
    );
    assert_eq!(live(), "v1");
    std::fs::remove_dir_all(dir).unwrap();
}

fn github_toml(fake: &FakeGitHub) -> String {
    format!(
        r#"
[secrets]
github = "{secret}"

[environments.staging.deploy]
provider = "github_actions"
repo = "acme/web"
workflow = "deploy.yml"
ref_input = "ref"
inputs = {{ environment = "staging" }}
token_secret = "github"
base_url = "{url}"
poll_interval_ms = 5
timeout_ms = 10000
"#,
        secret = secret_file(TOKEN),
        url = fake.url,
    )
}

async fn github_actions_deploys_follow_the_workflow_run(store: DynStore) {
    let fake = FakeGitHub::start().await;
    let toml = github_toml(&fake);
    let done = run(&store, &toml, "deploy", "staging", json!({"ref": "v7"})).await;
    assert_eq!(done.run.status, RunStatus::Succeeded, "{}", done.log());
    assert_eq!(
        fake.dispatched_inputs(),
        [json!({"ref": "v7", "environment": "staging"})]
    );
    let log = done.log();
    for status in ["queued", "in_progress", "completed/success"] {
        assert!(
            log.contains(&format!("github workflow run 500 of acme/web: {status}")),
            "{status}: {log}"
        );
    }
    assert_eq!(
        done.artifact("deployment").content,
        "https://github.com/acme/web/actions/runs/500"
    );
    done.assert_never_shows(TOKEN);

    let broken = run(&store, &toml, "deploy", "staging", json!({"ref": "broken"})).await;
    assert_eq!(broken.run.status, RunStatus::Failed);
    assert!(
        broken.error().contains("ended failure"),
        "{}",
        broken.error()
    );

    // The last good deploy was v7: a rollback dispatches it again... but v7
    // is the live one, and nothing succeeded before it.
    let back = run(&store, &toml, "rollback", "staging", json!({})).await;
    assert_eq!(back.run.status, RunStatus::Failed);
    assert!(
        back.error()
            .contains("no successful deployment before the live one"),
        "{}",
        back.error()
    );
}

/// Two envs deploying with the same workflow (its `environment` input
/// tells them apart), with or without a correlation input.
fn github_two_envs_toml(fake: &FakeGitHub, correlation_input: bool) -> String {
    let correlation = if correlation_input {
        "correlation_input = \"opsroom_run\""
    } else {
        ""
    };
    let mut toml = format!("[secrets]\ngithub = \"{}\"\n", secret_file(TOKEN));
    for env in ["staging", "preview"] {
        toml.push_str(&format!(
            r#"
[environments.{env}.deploy]
provider = "github_actions"
repo = "acme/web"
workflow = "deploy.yml"
ref_input = "ref"
inputs = {{ environment = "{env}" }}
{correlation}
token_secret = "github"
base_url = "{url}"
poll_interval_ms = 5
timeout_ms = 10000
"#,
            url = fake.url,
        ));
    }
    toml
}

/// Deploys `staging` and `preview` at once through one server and returns
/// their finished runs.
async fn deploy_both(store: &DynStore, toml: &str) -> [Finished; 2] {
    let api = Api::start(store, toml, 1).await;
    let mut ids = Vec::new();
    for (env, git_ref) in [("staging", "v1"), ("preview", "v2")] {
        let run = NewRun {
            runbook: "deploy",
            env: Some(env),
            target: None,
            params: json!({ "ref": git_ref }),
        };
        ids.push(api.submit(run).await);
    }
    let staging = Finished::load(&api, ids[0]).await;
    let preview = Finished::load(&api, ids[1]).await;
    api.stop().await;
    [staging, preview]
}

/// Each deploy followed the run whose inputs are its own.
fn assert_each_followed_its_own_run(fake: &FakeGitHub, done: &[Finished; 2]) {
    let mut followed = Vec::new();
    for (finished, env, git_ref) in [(&done[0], "staging", "v1"), (&done[1], "preview", "v2")] {
        assert_eq!(
            finished.run.status,
            RunStatus::Succeeded,
            "{env}: {}",
            finished.log()
        );
        let url = &finished.artifact("deployment").content;
        let id: u64 = url.rsplit('/').next().unwrap().parse().unwrap();
        let inputs = fake.run_inputs(id);
        assert_eq!(
            (inputs["environment"].as_str(), inputs["ref"].as_str()),
            (Some(env), Some(git_ref)),
            "{env} followed run {id}: {}",
            finished.log()
        );
        assert!(
            finished.log().contains(&format!(
                "github workflow run {id} of acme/web: completed/success"
            )),
            "{}",
            finished.log()
        );
        followed.push(id);
    }
    assert_ne!(followed[0], followed[1]);
}

/// Two dispatches of one workflow in the same second (GitHub stamps runs
/// to the second) whose runs the runs list shows only once both exist:
/// each deploy follows the run GitHub says its dispatch started.
async fn two_dispatches_of_one_workflow_each_follow_their_own_run(store: DynStore) {
    let fake = FakeGitHub::start().await;
    fake.list_runs_after(2);
    let done = deploy_both(&store, &github_two_envs_toml(&fake, false)).await;
    assert_each_followed_its_own_run(&fake, &done);
    assert_eq!(
        fake.world.lock().unwrap().run_searches,
        0,
        "no run is searched for when GitHub names it"
    );
    for finished in &done {
        finished.assert_never_shows(TOKEN);
    }
}

/// A GitHub that answers dispatches with 204 and never names the run: the
/// run is found by the unique value the dispatch passed in the correlation
/// input, which the workflow's run-name shows; without that input the
/// deploy fails saying how to add it, instead of guessing.
async fn where_github_does_not_name_the_run_its_name_proves_which_it_is(store: DynStore) {
    let fake = FakeGitHub::start().await;
    fake.without_run_details();
    fake.list_runs_after(2);
    let done = deploy_both(&store, &github_two_envs_toml(&fake, true)).await;
    assert_each_followed_its_own_run(&fake, &done);
    assert!(fake.world.lock().unwrap().run_searches >= 2);
    for finished in &done {
        let url = &finished.artifact("deployment").content;
        let id: u64 = url.rsplit('/').next().unwrap().parse().unwrap();
        let marker = fake.run_inputs(id)["opsroom_run"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            marker.starts_with(&format!("opsroom-{}-", finished.run.id)),
            "{marker}"
        );
        assert!(
            finished
                .log()
                .contains(&format!("looking for the one named {marker}")),
            "{}",
            finished.log()
        );
    }

    let fake = FakeGitHub::start().await;
    fake.without_run_details();
    let toml = github_two_envs_toml(&fake, false);
    let blind = run(&store, &toml, "deploy", "staging", json!({"ref": "v3"})).await;
    assert_eq!(blind.run.status, RunStatus::Failed, "{}", blind.log());
    for part in [
        "did not say which run it started",
        "opsroom does not guess",
        "run-name: deploy ${{ inputs.opsroom_run }}",
        "correlation_input = \"opsroom_run\" in [environments.staging.deploy]",
    ] {
        assert!(blind.error().contains(part), "{part}: {}", blind.error());
    }
    assert_eq!(fake.dispatched_inputs().len(), 1, "dispatched once");
    assert_eq!(
        fake.world.lock().unwrap().run_searches,
        0,
        "no run was guessed"
    );
}

fn digitalocean_toml(fake: &FakeDigitalOcean) -> String {
    format!(
        r#"
[secrets]
digitalocean = "{secret}"

[environments.preview.deploy]
provider = "digitalocean"
app_id = "app-1"
token_secret = "digitalocean"
base_url = "{url}"
poll_interval_ms = 5
"#,
        secret = secret_file(TOKEN),
        url = fake.url,
    )
}

async fn digitalocean_deploys_follow_the_app_deployment(store: DynStore) {
    let fake = FakeDigitalOcean::start().await;
    let toml = digitalocean_toml(&fake);
    let done = run(&store, &toml, "deploy", "preview", json!({})).await;
    assert_eq!(done.run.status, RunStatus::Succeeded, "{}", done.log());
    let log = done.log();
    assert!(log.contains("live now: dep-old (c0ffee2)"), "{log}");
    for phase in [
        "PENDING_BUILD (1/3 steps)",
        "BUILDING",
        "DEPLOYING",
        "ACTIVE",
    ] {
        assert!(
            log.contains(&format!("digitalocean app app-1 deployment dep-1: {phase}")),
            "{phase}: {log}"
        );
    }
    assert_eq!(fake.active(), "dep-1");
    assert_eq!(
        done.artifact("deployment").content,
        "https://shop.ondigitalocean.app"
    );
    done.assert_never_shows(TOKEN);

    // Rolling back undoes that deploy: dep-old served before dep-1.
    let back = run(&store, &toml, "rollback", "preview", json!({})).await;
    assert_eq!(back.run.status, RunStatus::Succeeded, "{}", back.log());
    assert_eq!(
        fake.rollbacks(),
        [json!({"deployment_id": "dep-old", "skip_pin": true})]
    );
    assert_eq!(
        fake.active(),
        "dep-2",
        "the rollback's own deployment serves"
    );
    // `ref` may name the commit an earlier deployment was built from.
    let named = run(
        &store,
        &toml,
        "rollback",
        "preview",
        json!({"ref": "c0ffee1"}),
    )
    .await;
    assert_eq!(named.run.status, RunStatus::Succeeded, "{}", named.log());
    assert_eq!(
        fake.rollbacks().last(),
        Some(&json!({"deployment_id": "dep-older", "skip_pin": true}))
    );

    let wrong = toml
        .replace(&fake.url, &format!("{}/", fake.url))
        .replace("app-1", "app-9");
    let missing = run(&store, &wrong, "deploy", "preview", json!({})).await;
    assert_eq!(missing.run.status, RunStatus::Failed);
    assert!(
        missing.error().contains("could not be found"),
        "{}",
        missing.error()
    );
}

/// The live deployment is dep-old; before it dep-broken failed and
/// dep-older served. A rollback skips the failed one, asks DigitalOcean to
/// roll back to dep-older, follows the deployment that makes and verifies;
/// DigitalOcean's refusals end the run with DigitalOcean's reason.
async fn digitalocean_rollback_returns_to_the_app_deployment_before(store: DynStore) {
    let fake = FakeDigitalOcean::start().await;
    let toml = digitalocean_toml(&fake);
    // A rate limit first: the request is sent again after Retry-After.
    fake.refuse_next_rollback(429, "Too many requests", Some("0"));
    let back = run(&store, &toml, "rollback", "preview", json!({})).await;
    assert_eq!(back.run.status, RunStatus::Succeeded, "{}", back.log());
    assert_eq!(
        fake.rollbacks(),
        [json!({"deployment_id": "dep-older", "skip_pin": true})],
        "one rollback, to the deployment that served before the live one"
    );
    assert_eq!(fake.rollback_requests(), 2);
    assert_eq!(fake.active(), "dep-1");
    let log = back.log();
    for line in [
        "rolling back preview through digitalocean",
        "live now: dep-old (c0ffee2); rolling back to dep-older (c0ffee1)",
        "digitalocean deployment dep-1 rolls app app-1 back to dep-older (c0ffee1)",
        "digitalocean app app-1 deployment dep-1: PENDING_DEPLOY (1/3 steps)",
        "digitalocean app app-1 deployment dep-1: ACTIVE (3/3 steps)",
        "dep-1 (c0ffee1) is live: https://shop.ondigitalocean.app",
        "healthy after the rollback",
    ] {
        assert!(log.contains(line), "{line}: {log}");
    }
    assert_eq!(
        back.artifact("deployment").content,
        "https://shop.ondigitalocean.app"
    );
    let summary = &back.artifact("rollback-summary.md").content;
    assert!(
        summary.contains("| was live | [dep-old](https://shop.ondigitalocean.app) (c0ffee2) |")
            && summary
                .contains("| now live | [dep-1](https://shop.ondigitalocean.app) (c0ffee1) |"),
        "{summary}"
    );
    back.assert_never_shows(TOKEN);

    // Live now: dep-1; the one before it is dep-old. DigitalOcean refuses.
    fake.refuse_next_rollback(
        422,
        "app is pinned to a rollback that was neither committed nor reverted",
        None,
    );
    let refused = run(&store, &toml, "rollback", "preview", json!({})).await;
    assert_eq!(refused.run.status, RunStatus::Failed, "{}", refused.log());
    let error = refused.error();
    for part in [
        "digitalocean refused the rollback",
        "digitalocean.rollback failed: HTTP 422",
        "app is pinned to a rollback that was neither committed nor reverted",
    ] {
        assert!(error.contains(part), "{part}: {error}");
    }
    assert_eq!(fake.active(), "dep-1", "nothing changed");
    refused.assert_never_shows(TOKEN);

    // After a 500 DigitalOcean may have acted: the run fails rather than
    // send a second rollback.
    fake.refuse_next_rollback(500, "Server was unable to give you a response.", None);
    let sent = fake.rollback_requests();
    let broken = run(&store, &toml, "rollback", "preview", json!({})).await;
    assert_eq!(broken.run.status, RunStatus::Failed, "{}", broken.log());
    assert!(
        broken
            .error()
            .contains("digitalocean.rollback failed: HTTP 500"),
        "{}",
        broken.error()
    );
    assert_eq!(fake.rollback_requests(), sent + 1);
    assert_eq!(fake.rollbacks().len(), 1);
}

/// A deploy of a ref points the app spec's git source at that branch
/// (the rest of the spec kept) and the summary reports the commit that
/// went out; a ref App Platform cannot build is refused before anything
/// changes, and the summary says it was not deployed.
async fn digitalocean_deploys_the_named_branch_or_refuses_the_ref(store: DynStore) {
    let fake = FakeDigitalOcean::start().await;
    let toml = digitalocean_toml(&fake);
    let done = run(
        &store,
        &toml,
        "deploy",
        "preview",
        json!({"ref": "release-2"}),
    )
    .await;
    assert_eq!(done.run.status, RunStatus::Succeeded, "{}", done.log());
    let updates = fake.spec_updates();
    assert_eq!(updates.len(), 1, "{}", done.log());
    assert_eq!(updates[0]["update_all_source_versions"], true);
    assert_eq!(
        updates[0]["spec"]["services"][0],
        json!({"name": "web", "http_port": 8080,
            "github": {"repo": "acme/shop", "branch": "release-2", "deploy_on_push": true}})
    );
    assert_eq!(updates[0]["spec"]["region"], "ams");
    assert_eq!(fake.active(), "dep-1");
    assert_eq!(fake.commit_of("dep-1").as_deref(), Some("beef002"));
    assert!(
        done.log()
            .contains("app spec of app-1 now builds branch release-2 (was main)"),
        "{}",
        done.log()
    );
    let summary = &done.artifact("deploy-summary.md").content;
    assert!(summary.contains("| ref | beef002 |"), "{summary}");
    done.assert_never_shows(TOKEN);

    // The branch the spec builds already: deployed as it is.
    let again = run(
        &store,
        &toml,
        "deploy",
        "preview",
        json!({"ref": "release-2"}),
    )
    .await;
    assert_eq!(again.run.status, RunStatus::Succeeded, "{}", again.log());
    assert!(
        again
            .log()
            .contains("the app spec already builds branch release-2"),
        "{}",
        again.log()
    );
    assert_eq!(fake.spec_updates().len(), 1);

    // A commit: App Platform builds branches, not commits.
    let created = fake.created();
    let commit = run(
        &store,
        &toml,
        "deploy",
        "preview",
        json!({"ref": "9a4df0b"}),
    )
    .await;
    assert_eq!(commit.run.status, RunStatus::Failed, "{}", commit.log());
    assert!(
        commit
            .error()
            .contains("cannot deploy ref 9a4df0b to digitalocean app app-1")
            && commit.error().contains("cannot deploy one commit"),
        "{}",
        commit.error()
    );
    assert_eq!(fake.created(), created, "nothing was deployed");
    assert_eq!(fake.spec_updates().len(), 1, "the spec did not change");
    let summary = &commit.artifact("deploy-summary.md").content;
    assert!(
        summary.contains("| ref | 9a4df0b (not deployed) |"),
        "{summary}"
    );

    // An app built from images has no branch to change.
    fake.set_spec(json!({"name": "shop", "services": [{"name": "api",
        "image": {"registry_type": "DOCR", "repository": "shop-api", "tag": "v3"}}]}));
    let image = run(&store, &toml, "deploy", "preview", json!({"ref": "main"})).await;
    assert_eq!(image.run.status, RunStatus::Failed, "{}", image.log());
    assert!(
        image.error().contains(
            "no component of its spec builds from a git branch (components: api (image))"
        ),
        "{}",
        image.error()
    );
    assert_eq!(fake.created(), created);
}

/// Where App Platform rolls a new spec out by itself, that deployment is
/// the one followed: no second deployment is started.
async fn digitalocean_follows_the_deployment_a_spec_update_started(store: DynStore) {
    let fake = FakeDigitalOcean::start().await;
    fake.spec_update_deploys();
    let toml = digitalocean_toml(&fake);
    let done = run(
        &store,
        &toml,
        "deploy",
        "preview",
        json!({"ref": "release-2"}),
    )
    .await;
    assert_eq!(done.run.status, RunStatus::Succeeded, "{}", done.log());
    assert_eq!(fake.created(), 1, "{}", done.log());
    assert_eq!(fake.active(), "dep-1");
    assert!(
        done.log().contains("dep-1 (beef002) is live"),
        "{}",
        done.log()
    );
}

/// Migrations against the test PostgreSQL, in tables named for this test
/// alone (dropped at the end).
async fn migrations_run_once_after_the_deployment_is_ready(store: DynStore) {
    let dir = temp_dir("migrations");
    let suffix = format!(
        "{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    );
    let (table, ledger) = (
        format!("deploy_mig_{suffix}"),
        format!("opsroom_mig_{suffix}"),
    );
    std::fs::create_dir_all(dir.join("migrations")).unwrap();
    std::fs::write(
        dir.join("migrations/0001_create.sql"),
        format!("CREATE TABLE {table} (id int);"),
    )
    .unwrap();
    let url = opsroom_store::testing::test_database_url();
    let toml = format!(
        r#"
[secrets]
db = "{secret}"

[environments.local.deploy]
provider = "shell"
argv = ["true"]

[environments.local.migrations]
dir = "{dir}/migrations"
database_url_secret = "db"
table = "{ledger}"
"#,
        secret = secret_file(&url),
        dir = dir.display(),
    );
    let first = run(&store, &toml, "deploy", "local", json!({})).await;
    assert_eq!(first.run.status, RunStatus::Succeeded, "{}", first.log());
    assert!(
        first
            .log()
            .contains("migrations: 1 applied (0001), 0 already applied"),
        "{}",
        first.log()
    );
    assert!(first
        .artifact("deploy-summary.md")
        .content
        .contains("applied 0001"));
    first.assert_never_shows(&url);
    let second = run(&store, &toml, "deploy", "local", json!({})).await;
    assert!(
        second
            .log()
            .contains("migrations: 0 applied, 1 already applied"),
        "{}",
        second.log()
    );
    let skipped = run(
        &store,
        &toml,
        "deploy",
        "local",
        json!({"run_migrations": false}),
    )
    .await;
    assert!(!skipped.log().contains("migrations:"), "{}", skipped.log());

    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let exists: bool = sqlx::query_scalar("select to_regclass($1) is not null")
        .bind(&table)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(exists, "the migration created {table}");
    for t in [&table, &ledger] {
        sqlx::query(&format!("DROP TABLE IF EXISTS {t}"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    std::fs::remove_dir_all(dir).unwrap();
}

opsroom_store::on_both_stores!(
    digitalocean_rollback_returns_to_the_app_deployment_before,
    two_dispatches_of_one_workflow_each_follow_their_own_run,
    digitalocean_deploys_the_named_branch_or_refuses_the_ref
);

mod sqlite_only {
    use super::*;
    opsroom_store::on_sqlite!(
        migrations_run_once_after_the_deployment_is_ready,
        shell_deploys_stream_output_and_roll_back_to_the_previous_ref,
        github_actions_deploys_follow_the_workflow_run,
        digitalocean_deploys_follow_the_app_deployment,
        where_github_does_not_name_the_run_its_name_proves_which_it_is,
        digitalocean_follows_the_deployment_a_spec_update_started,
    );
}
