//! `deploy` and `rollback` end to end through the HTTP API of a real server
//! against a fake Vercel: the happy path (on SQLite and PostgreSQL), a
//! rejected deploy, a failed build (its build log streamed), a failed
//! verify with and without automatic rollback, a wrong or missing token, a
//! provider too slow for the timeout, a second deploy waiting for the
//! first, and rollbacks, which start from what production serves.

#[macro_use]
mod support;

use opsroom_adapters::testing::vercel::FakeVercel;
use opsroom_core::RunStatus;
use opsroom_store::DynStore;
use serde_json::json;
use support::{run_through_api, secret_file, Api, Finished, NewRun, TOKEN};

struct Setup<'a> {
    secret: String,
    rollback_on_failure: bool,
    timeout_ms: u64,
    fake: &'a FakeVercel,
}

impl<'a> Setup<'a> {
    fn new(fake: &'a FakeVercel) -> Self {
        Setup {
            secret: secret_file(TOKEN),
            rollback_on_failure: true,
            timeout_ms: 10_000,
            fake,
        }
    }

    fn toml(&self) -> String {
        format!(
            r#"
[secrets]
vercel = "{secret}"

[environments.staging]
rollback_on_failure = {rollback}

[[environments.staging.services]]
name = "web"
kind = "http"
url = "{url}/healthz"
expect_body = "ok"

[environments.staging.deploy]
provider = "vercel"
project = "web"
repo = "acme/web"
target = "production"
token_secret = "vercel"
base_url = "{url}"
poll_interval_ms = 5
timeout_ms = {timeout}
"#,
            secret = self.secret,
            rollback = self.rollback_on_failure,
            url = self.fake.url,
            timeout = self.timeout_ms,
        )
    }
}

fn deploy_web(git_ref: &str) -> NewRun<'static> {
    NewRun {
        runbook: "deploy",
        env: Some("staging"),
        target: Some("web"),
        params: json!({"ref": git_ref}),
    }
}

async fn deploy(store: &DynStore, setup: &Setup<'_>, git_ref: &str) -> Finished {
    run_through_api(store, &setup.toml(), deploy_web(git_ref)).await
}

async fn deploys_through_vercel_and_verifies(store: DynStore) {
    let fake = FakeVercel::start().await;
    let done = deploy(&store, &Setup::new(&fake), "release-42").await;
    assert_eq!(done.run.status, RunStatus::Succeeded, "{}", done.log());
    let log = done.log();
    assert!(
        log.contains("live now: dpl_old2 (v2)"),
        "preflight records the current deployment:\n{log}"
    );
    let statuses: Vec<&str> = done
        .events
        .iter()
        .filter(|e| e.data["kind"] == "provider_status")
        .map(|e| e.message.as_str())
        .collect();
    let position = |s: &str| {
        statuses
            .iter()
            .position(|m| m.ends_with(&format!("dpl_new1: {s}")))
            .unwrap_or_else(|| panic!("no {s} status in {statuses:?}"))
    };
    assert!(position("QUEUED") < position("BUILDING") && position("BUILDING") < position("READY"));
    assert!(log.contains("web: ok"), "{log}");
    assert!(
        log.contains("Build Completed in /vercel/output"),
        "the build log is streamed: {log}"
    );
    assert_eq!(fake.live(), "dpl_new1");
    assert!(fake.promotions().is_empty(), "Vercel put it live by itself");
    let summary = &done.artifact("deploy-summary.md").content;
    for want in [
        "release-42",
        "dpl_new1",
        "https://web-dpl_new1.vercel.app",
        "duration",
        "dpl_old2",
        "vercel",
    ] {
        assert!(summary.contains(want), "summary lacks {want}:\n{summary}");
    }
    let link = done.artifact("deployment");
    assert_eq!(
        (link.kind.as_str(), link.content.as_str()),
        ("link", "https://web-dpl_new1.vercel.app")
    );
    done.assert_never_shows(TOKEN);
}

async fn a_deploy_the_provider_rejects_fails_with_its_reason(store: DynStore) {
    let fake = FakeVercel::start().await;
    let done = deploy(&store, &Setup::new(&fake), "rejected").await;
    assert_eq!(done.run.status, RunStatus::Failed);
    assert!(
        done.error().contains("phase action failed")
            && done
                .error()
                .contains("Cannot deploy ref rejected: it does not exist in acme/web"),
        "{}",
        done.error()
    );
    assert_eq!(fake.live(), "dpl_old2", "nothing changed");
    assert!(done
        .artifact("deploy-summary.md")
        .content
        .contains("Cannot deploy ref rejected"));
    done.assert_never_shows(TOKEN);
}

/// The build's log is streamed as run events while it builds, each line
/// once however often it is read, so a failed build shows its failing
/// lines; the run's error quotes them beside Vercel's `errorMessage`.
async fn a_failed_build_fails_the_run_with_the_build_error(store: DynStore) {
    let fake = FakeVercel::start().await;
    let done = deploy(&store, &Setup::new(&fake), "broken").await;
    assert_eq!(done.run.status, RunStatus::Failed);
    assert!(
        done.error().contains("ended ERROR") && done.error().contains("npm run build"),
        "{}",
        done.error()
    );
    let build_log: Vec<(&str, &str)> = done
        .events
        .iter()
        .filter(|e| e.data["kind"] == "build_log")
        .map(|e| (e.data["stream"].as_str().unwrap_or(""), e.message.as_str()))
        .collect();
    assert_eq!(
        build_log,
        [
            ("command", "Cloning github.com/acme/web (Branch: broken)"),
            ("stdout", "Running \"npm run build\""),
            ("stderr", "Error: Cannot find module 'left-pad'"),
            ("stderr", "Error: Command \"npm run build\" exited with 1"),
        ],
        "{}",
        done.log()
    );
    let failing = done
        .events
        .iter()
        .find(|e| e.message == "Error: Cannot find module 'left-pad'")
        .unwrap();
    assert_eq!(failing.level, opsroom_core::EventLevel::Warn);
    assert_eq!(failing.data["deployment"], "dpl_new1");
    assert!(
        done.error()
            .contains("last build lines: Error: Cannot find module 'left-pad'"),
        "{}",
        done.error()
    );
    done.assert_never_shows(TOKEN);
}

async fn a_failed_verify_rolls_back_to_the_recorded_deployment(store: DynStore) {
    let fake = FakeVercel::start().await;
    let done = deploy(&store, &Setup::new(&fake), "unhealthy").await;
    assert_eq!(done.run.status, RunStatus::Failed);
    let log = done.log();
    assert!(
        log.contains(
            "rolling back to dpl_old2 (v2) because environments.staging.rollback_on_failure = true"
        ),
        "{log}"
    );
    assert!(log.contains("healthy again after the rollback"), "{log}");
    assert_eq!(fake.rollbacks(), ["dpl_old2"]);
    assert_eq!(fake.live(), "dpl_old2");
    assert!(
        done.error().contains("phase verify failed")
            && done.error().contains("rolled back to dpl_old2"),
        "{}",
        done.error()
    );
    assert!(done
        .artifact("deploy-summary.md")
        .content
        .contains("rolled back to"));
    done.assert_never_shows(TOKEN);
}

async fn a_failed_verify_stays_when_the_env_does_not_allow_rollback(store: DynStore) {
    let fake = FakeVercel::start().await;
    let mut setup = Setup::new(&fake);
    setup.rollback_on_failure = false;
    let done = deploy(&store, &setup, "unhealthy").await;
    assert_eq!(done.run.status, RunStatus::Failed);
    assert!(
        done.error()
            .contains("not rolled back: environments.staging.rollback_on_failure is not true"),
        "{}",
        done.error()
    );
    assert_eq!(fake.live(), "dpl_new1");
}

async fn a_wrong_token_names_the_credential_never_its_value(store: DynStore) {
    let fake = FakeVercel::start().await;
    let mut setup = Setup::new(&fake);
    setup.secret = secret_file("tok_WRONG_value_77");
    let done = deploy(&store, &setup, "main").await;
    assert_eq!(done.run.status, RunStatus::Failed);
    let error = done.error();
    assert!(
        error.contains("phase preflight failed")
            && error.contains("rejected credential `vercel`")
            && error.contains("HTTP 403"),
        "{error}"
    );
    done.assert_never_shows("tok_WRONG_value_77");
    assert_eq!(fake.world.lock().unwrap().created, 0);
}

async fn a_missing_credential_fails_validation_naming_it(store: DynStore) {
    let fake = FakeVercel::start().await;
    let mut setup = Setup::new(&fake);
    setup.secret = "env:OPSROOM_TEST_NEVER_SET_DEPLOY_TOKEN".into();
    let done = deploy(&store, &setup, "main").await;
    assert_eq!(done.run.status, RunStatus::Failed);
    assert!(
        done.error().contains("phase validate failed")
            && done.error().contains("credential `vercel`")
            && done
                .error()
                .contains("OPSROOM_TEST_NEVER_SET_DEPLOY_TOKEN is not set"),
        "{}",
        done.error()
    );
    assert!(
        fake.world.lock().unwrap().deployments.len() == 2,
        "no call was made"
    );
}

async fn a_slow_provider_times_out(store: DynStore) {
    let fake = FakeVercel::start().await;
    let mut setup = Setup::new(&fake);
    setup.timeout_ms = 150;
    let done = deploy(&store, &setup, "slow").await;
    assert_eq!(done.run.status, RunStatus::Failed);
    assert!(
        done.error().contains("not finished after")
            && done.error().contains("last status BUILDING"),
        "{}",
        done.error()
    );
    assert!(
        done.error().contains("timeout_ms"),
        "says how to fix it: {}",
        done.error()
    );
}

/// Both deploys are asked for at once, on a server with room to run them
/// together: the env lock keeps the second queued until the first ends.
async fn a_second_deploy_waits_for_the_first(store: DynStore) {
    let fake = FakeVercel::start().await;
    // Two worker pools of four slots: only the env lock keeps them apart.
    let api = Api::start(&store, &Setup::new(&fake).toml(), 2).await;
    fake.hold("first");
    let first = api.submit(deploy_web("first")).await;
    let second = api.submit(deploy_web("second")).await;
    // Asked for after both and free to run: once it has run, the workers
    // have looked at the queue behind the first deploy.
    let witness = api
        .submit(NewRun {
            runbook: "noop",
            env: None,
            target: None,
            params: json!({}),
        })
        .await;
    let (witness, body) = api.wait_until_final(witness).await;
    assert_eq!(witness.status, RunStatus::Succeeded, "{body}");
    let (running, body) = api.run(first).await;
    assert_eq!(running.status, RunStatus::Running, "{body}");
    let (waiting, body) = api.run(second).await;
    assert_eq!(
        waiting.status,
        RunStatus::Queued,
        "the env lock lets one deploy run; the second waits: {body}"
    );
    assert_eq!(api.lock_key(second).await.as_deref(), Some("staging/web"));
    assert_eq!(fake.world.lock().unwrap().created, 1);

    fake.release("first");
    let first = Finished::load(&api, first).await;
    let second = Finished::load(&api, second).await;
    api.stop().await;
    assert_eq!(
        (first.run.status, second.run.status),
        (RunStatus::Succeeded, RunStatus::Succeeded)
    );
    assert!(
        second.run.started_at >= first.run.finished_at,
        "the second started at {:?}, after the first ended at {:?}",
        second.run.started_at,
        first.run.finished_at
    );
    assert!(
        second.log().contains("live now: dpl_new1 (first)"),
        "{}",
        second.log()
    );
    assert_eq!(fake.live(), "dpl_new2");
}

async fn rollback(store: &DynStore, fake: &FakeVercel, params: serde_json::Value) -> Finished {
    let run = NewRun {
        runbook: "rollback",
        env: Some("staging"),
        target: None,
        params,
    };
    run_through_api(store, &Setup::new(fake).toml(), run).await
}

async fn rollback_returns_to_the_previous_successful_deployment(store: DynStore) {
    let fake = FakeVercel::start().await;
    let done = rollback(&store, &fake, json!({})).await;
    assert_eq!(done.run.status, RunStatus::Succeeded, "{}", done.log());
    assert_eq!(fake.rollbacks(), ["dpl_old1"]);
    let log = done.log();
    assert!(
        log.contains("live now: dpl_old2 (v2); rolling back to dpl_old1 (v1)"),
        "{log}"
    );
    assert!(log.contains("web: ok"), "verifies health: {log}");
    let summary = &done.artifact("rollback-summary.md").content;
    assert!(
        summary.contains("dpl_old1") && summary.contains("dpl_old2"),
        "{summary}"
    );
    assert!(
        summary.contains("## Health after the rollback") && summary.contains("| web | ✅ ok |"),
        "{summary}"
    );
    done.assert_never_shows(TOKEN);
}

/// A and B deployed, then rolled back: production serves A again, and
/// Vercel no longer points production at new deployments by itself. A
/// failing deploy C is promoted (so verify checks C, not A) and its
/// automatic rollback returns to A, what production served, not to B, the
/// newest READY deployment the operator had rolled away from.
async fn a_failed_deploy_after_a_rollback_returns_to_what_production_served(store: DynStore) {
    let fake = FakeVercel::start().await;
    let setup = Setup::new(&fake);
    for git_ref in ["a", "b"] {
        let done = deploy(&store, &setup, git_ref).await;
        assert_eq!(done.run.status, RunStatus::Succeeded, "{}", done.log());
    }
    assert_eq!(fake.live(), "dpl_new2");
    let back = rollback(&store, &fake, json!({})).await;
    assert_eq!(back.run.status, RunStatus::Succeeded, "{}", back.log());
    assert!(
        back.log()
            .contains("live now: dpl_new2 (b); rolling back to dpl_new1 (a)"),
        "{}",
        back.log()
    );
    assert_eq!(fake.live(), "dpl_new1", "production serves A again");

    let c = deploy(&store, &setup, "unhealthy").await;
    assert_eq!(c.run.status, RunStatus::Failed, "{}", c.log());
    let log = c.log();
    assert!(log.contains("live now: dpl_new1 (a)"), "{log}");
    assert_eq!(
        fake.promotions(),
        ["dpl_new3"],
        "C is put live so verify checks it: {log}"
    );
    assert!(
        log.contains(
            "rolling back to dpl_new1 (a) because environments.staging.rollback_on_failure = true"
        ),
        "{log}"
    );
    assert!(log.contains("healthy again after the rollback"), "{log}");
    assert_eq!(fake.rollbacks(), ["dpl_new1", "dpl_new1"]);
    assert_eq!(fake.live(), "dpl_new1");
    assert!(
        c.error().contains("rolled back to dpl_new1 (a)"),
        "{}",
        c.error()
    );
    c.assert_never_shows(TOKEN);
}

/// Each rollback steps back from what production serves: after A, B and
/// a rollback to A, the next rollback goes to the deployment before A, not
/// to A again (which would change nothing and report success) nor to B. A
/// rollback to what is live already is refused, by ref or by id.
async fn rollbacks_in_a_row_step_back_from_what_production_serves(store: DynStore) {
    let fake = FakeVercel::start().await;
    let setup = Setup::new(&fake);
    for git_ref in ["a", "b"] {
        let done = deploy(&store, &setup, git_ref).await;
        assert_eq!(done.run.status, RunStatus::Succeeded, "{}", done.log());
    }
    let first = rollback(&store, &fake, json!({})).await;
    assert_eq!(first.run.status, RunStatus::Succeeded, "{}", first.log());
    assert_eq!(fake.live(), "dpl_new1");

    let second = rollback(&store, &fake, json!({})).await;
    assert_eq!(second.run.status, RunStatus::Succeeded, "{}", second.log());
    assert!(
        second
            .log()
            .contains("live now: dpl_new1 (a); rolling back to dpl_old2 (v2)"),
        "{}",
        second.log()
    );
    assert_eq!(fake.rollbacks(), ["dpl_new1", "dpl_old2"]);
    assert_eq!(fake.live(), "dpl_old2");

    for wanted in ["v2", "dpl_old2"] {
        let refused = rollback(&store, &fake, json!({"ref": wanted})).await;
        assert_eq!(refused.run.status, RunStatus::Failed, "{}", refused.log());
        assert!(
            refused.error().contains("phase preflight failed")
                && refused.error().contains(
                    "dpl_old2 (v2) is what staging serves now; there is nothing to roll back to"
                ),
            "{wanted}: {}",
            refused.error()
        );
        assert!(
            refused.artifact("rollback-summary.md").content.contains(
                "| was live | [dpl_old2](https://web-dpl_old2.vercel.app) (v2) |\n| now live | - |"
            ),
            "{}",
            refused.artifact("rollback-summary.md").content
        );
    }
    assert_eq!(fake.rollbacks().len(), 2, "nothing was sent to Vercel");
}

async fn rollback_to_a_named_ref_or_explain_what_exists(store: DynStore) {
    let fake = FakeVercel::start().await;
    let done = rollback(&store, &fake, json!({"ref": "v1"})).await;
    assert_eq!(done.run.status, RunStatus::Succeeded, "{}", done.log());
    let done = rollback(&store, &fake, json!({"ref": "v9"})).await;
    assert_eq!(done.run.status, RunStatus::Failed);
    assert!(
        done.error()
            .contains("no earlier successful deployment matches `v9`")
            && done.error().contains("dpl_old2 (v2)"),
        "{}",
        done.error()
    );
}

opsroom_store::on_both_stores!(
    deploys_through_vercel_and_verifies,
    a_second_deploy_waits_for_the_first,
    a_failed_deploy_after_a_rollback_returns_to_what_production_served
);

mod sqlite_only {
    use super::*;
    opsroom_store::on_sqlite!(
        a_deploy_the_provider_rejects_fails_with_its_reason,
        a_failed_build_fails_the_run_with_the_build_error,
        a_failed_verify_rolls_back_to_the_recorded_deployment,
        a_failed_verify_stays_when_the_env_does_not_allow_rollback,
        a_wrong_token_names_the_credential_never_its_value,
        a_missing_credential_fails_validation_naming_it,
        a_slow_provider_times_out,
        rollback_returns_to_the_previous_successful_deployment,
        rollback_to_a_named_ref_or_explain_what_exists,
        rollbacks_in_a_row_step_back_from_what_production_serves,
        an_unknown_target_fails_validation_naming_the_known_ones,
    );
}

/// The project and the service are both called `web`: it is listed once.
async fn an_unknown_target_fails_validation_naming_the_known_ones(store: DynStore) {
    let fake = FakeVercel::start().await;
    let mut run = deploy_web("main");
    run.target = Some("api");
    let done = run_through_api(&store, &Setup::new(&fake).toml(), run).await;
    assert_eq!(done.run.status, RunStatus::Failed);
    assert!(
        done.error()
            .contains("phase validate failed: unknown target `api` in env staging; known: web"),
        "{}",
        done.error()
    );
    assert!(!done.error().contains("web, web"), "{}", done.error());
}
