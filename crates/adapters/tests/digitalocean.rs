//! The DigitalOcean client against a fake DigitalOcean API.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opsroom_adapters::digitalocean::{
    spec_with_branch, ComponentSource, DeploymentPhase, DigitalOceanClient, DigitalOceanConfig,
};
use opsroom_adapters::follow::FollowOptions;
use opsroom_adapters::testing::digitalocean::{FakeDeployment, FakeDigitalOcean};
use opsroom_adapters::testing::{assert_error_text, test_http, Fault, TOKEN};
use opsroom_adapters::{ApiError, Secret};
use serde_json::json;

struct Harness {
    fake: FakeDigitalOcean,
    client: DigitalOceanClient,
    slept: Arc<Mutex<Vec<Duration>>>,
}

async fn harness() -> Harness {
    let fake = FakeDigitalOcean::start().await;
    let (http, slept) = test_http();
    let client = DigitalOceanClient::new(DigitalOceanConfig {
        base_url: fake.url.clone(),
        token: Secret::new(TOKEN),
        http,
    })
    .unwrap();
    Harness {
        fake,
        client,
        slept,
    }
}

#[tokio::test]
async fn lists_apps_across_pages_against_the_configured_host() {
    let h = harness().await;
    h.fake.add_apps(&["web-2", "web-3", "web-4", "web-5"]);
    let first = h.client.list_apps(1, 2).await.unwrap();
    assert_eq!(first.apps.len(), 2);
    assert_eq!(first.next_page, Some(2));
    let all = h.client.list_all_apps(2, 10).await.unwrap();
    let names: Vec<&str> = all.iter().map(|a| a.name()).collect();
    assert_eq!(names, ["shop", "web-2", "web-3", "web-4", "web-5"]);
    let pages: Vec<String> = h
        .fake
        .gate
        .requests()
        .iter()
        .skip(1)
        .map(|r| r.query.clone())
        .collect();
    assert_eq!(
        pages,
        [
            "page=1&per_page=2",
            "page=2&per_page=2",
            "page=3&per_page=2"
        ]
    );
}

#[tokio::test]
async fn updates_the_app_spec_and_names_the_deployment_it_started() {
    let h = harness().await;
    h.fake.spec_update_deploys();
    let spec = json!({"name": "shop", "services": [{"name": "web",
        "github": {"repo": "acme/shop", "branch": "main", "deploy_on_push": true}}]});
    let branched = spec_with_branch(&spec, "release-2");
    let app = h.client.update_app("app-1", &branched, true).await.unwrap();
    assert_eq!(app.in_progress_deployment.as_ref().unwrap().id, "dep-1");
    assert_eq!(
        app.component_sources(),
        [ComponentSource {
            component: "web".to_owned(),
            kind: "github".to_owned(),
            repo: Some("acme/shop".to_owned()),
            branch: Some("release-2".to_owned()),
        }]
    );
    assert_eq!(
        h.fake.spec_updates(),
        [json!({"spec": {"name": "shop", "services": [{"name": "web",
            "github": {"repo": "acme/shop", "branch": "release-2", "deploy_on_push": true}}]},
            "update_all_source_versions": true})]
    );
    let put = &h.fake.gate.requests()[0];
    assert_eq!(
        (put.method.as_str(), put.path.as_str()),
        ("PUT", "/v2/apps/app-1")
    );
    let err = h
        .client
        .update_app("app-9", &spec, false)
        .await
        .unwrap_err();
    assert_error_text(&err, "digitalocean.update_app", Some(404));
}

#[tokio::test]
async fn gets_an_app_with_its_active_deployment() {
    let h = harness().await;
    let app = h.client.get_app("app-1").await.unwrap();
    assert_eq!(app.name(), "shop");
    assert_eq!(
        app.active_deployment.unwrap().phase,
        DeploymentPhase::Active
    );
}

#[tokio::test]
async fn deploys_and_follows_phases_to_active() {
    let h = harness().await;
    let dep = h.client.create_deployment("app-1", true).await.unwrap();
    assert_eq!(dep.phase, DeploymentPhase::PendingBuild);
    assert_eq!(
        h.fake.world.lock().unwrap().deploy_requests,
        [json!({"force_build": true})],
        "force_build was sent"
    );
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let opts = FollowOptions::new(Duration::from_millis(1), Duration::from_secs(5));
    let done = h
        .client
        .follow_deployment("app-1", &dep.id, &opts, Some(&tx))
        .await
        .unwrap();
    assert_eq!(done.phase, DeploymentPhase::Active);
    drop(tx);
    let mut seen = Vec::new();
    while let Some(m) = rx.recv().await {
        seen.push(m);
    }
    assert_eq!(
        seen,
        [
            "digitalocean app app-1 deployment dep-1: PENDING_BUILD (1/3 steps)",
            "digitalocean app app-1 deployment dep-1: BUILDING (1/3 steps)",
            "digitalocean app app-1 deployment dep-1: DEPLOYING (1/3 steps)",
            "digitalocean app app-1 deployment dep-1: ACTIVE (3/3 steps)"
        ]
    );
}

#[tokio::test]
async fn failed_deployment_ends_in_error() {
    let h = harness().await;
    h.fake.fail_next_build();
    let dep = h.client.create_deployment("app-1", false).await.unwrap();
    let opts = FollowOptions::new(Duration::from_millis(1), Duration::from_secs(5));
    let done = h
        .client
        .follow_deployment("app-1", &dep.id, &opts, None)
        .await
        .unwrap();
    assert_eq!(done.phase, DeploymentPhase::Error);
}

#[tokio::test]
async fn reads_droplet_status() {
    let h = harness().await;
    let droplet = h.client.get_droplet(3164444).await.unwrap();
    assert_eq!(droplet.status, "active");
    assert_eq!(droplet.name, "worker-1");
}

#[tokio::test]
async fn error_statuses_are_typed_and_named() {
    let h = harness().await;
    let err = h.client.get_droplet(1).await.unwrap_err();
    assert_error_text(&err, "digitalocean.get_droplet", Some(404));
    assert!(err.to_string().contains("could not be found"), "{err}");
    assert!(err.to_string().contains("(code not_found)"), "{err}");
    h.fake.gate.push_faults([Fault::status(
        422,
        "app is locked by an in-progress deployment",
    )]);
    let err = h
        .client
        .create_deployment("app-1", false)
        .await
        .unwrap_err();
    assert_error_text(&err, "digitalocean.create_deployment", Some(422));
    assert!(err
        .to_string()
        .contains("locked by an in-progress deployment"));
    let (http, _) = test_http();
    let stranger = DigitalOceanClient::new(DigitalOceanConfig {
        base_url: h.fake.url.clone(),
        token: Secret::new("dop_v1_wrong"),
        http,
    })
    .unwrap();
    let err = stranger.get_app("app-1").await.unwrap_err();
    assert!(err.is_auth());
    assert_error_text(&err, "digitalocean.get_app", Some(401));
    assert!(!err.to_string().contains("dop_v1_wrong"));
}

#[tokio::test]
async fn rate_limit_and_server_errors_are_retried() {
    let h = harness().await;
    h.fake
        .gate
        .push_faults([Fault::rate_limited("4"), Fault::status(503, "unavailable")]);
    assert_eq!(h.client.get_app("app-1").await.unwrap().name(), "shop");
    assert_eq!(
        *h.slept.lock().unwrap(),
        [Duration::from_secs(4), Duration::from_millis(2)]
    );
    h.fake.gate.push_faults([
        Fault::status(500, "x"),
        Fault::status(500, "x"),
        Fault::status(500, "Server was unable to give you a response."),
    ]);
    let err = h.client.get_app("app-1").await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Status {
                status: 500,
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_error_text(&err, "digitalocean.get_app", Some(500));
}

#[tokio::test]
async fn slow_answer_is_a_timeout_error() {
    let h = harness().await;
    h.fake
        .gate
        .push_faults([Fault::Delay(Duration::from_secs(3))]);
    let err = h.client.list_apps(1, 20).await.unwrap_err();
    assert!(matches!(err, ApiError::Timeout { .. }), "{err:?}");
    assert_error_text(&err, "digitalocean.list_apps", None);
}

#[tokio::test]
async fn lists_deployments_across_pages_newest_first() {
    let h = harness().await;
    {
        let mut world = h.fake.world.lock().unwrap();
        world.deployments.push(FakeDeployment {
            superseded: true,
            ..FakeDeployment::building("dep-cut", "c0ffee4")
        });
        world
            .deployments
            .push(FakeDeployment::building("dep-new", "c0ffee5"));
    }
    let first = h.client.list_deployments("app-1", 1, 2).await.unwrap();
    let ids: Vec<&str> = first.deployments.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["dep-new", "dep-cut"]);
    assert_eq!(first.next_page, Some(2));
    assert_eq!(first.total, Some(5));
    assert_eq!(first.deployments[0].source_commit(), Some("c0ffee5"));
    assert_eq!(
        first.deployments[0].created_at.unwrap().to_rfc3339(),
        "2026-01-01T00:04:00+00:00"
    );

    h.fake.gate.clear_requests();
    let all = h.client.list_all_deployments("app-1", 2, 10).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        ids,
        ["dep-new", "dep-cut", "dep-old", "dep-broken", "dep-older"]
    );
    let live: Vec<&str> = all
        .iter()
        .filter(|d| d.went_live())
        .map(|d| d.id.as_str())
        .collect();
    assert_eq!(
        live,
        ["dep-old", "dep-older"],
        "ERROR, unfinished and replaced-before-finishing ones never served"
    );
    let requests = h.fake.gate.requests();
    let pages: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.path.as_str(), r.query.as_str()))
        .collect();
    assert_eq!(
        pages,
        [
            ("/v2/apps/app-1/deployments", "page=1&per_page=2"),
            ("/v2/apps/app-1/deployments", "page=2&per_page=2"),
            ("/v2/apps/app-1/deployments", "page=3&per_page=2"),
        ],
        "every page is asked of the configured host"
    );

    let capped = h.client.list_all_deployments("app-1", 2, 2).await.unwrap();
    assert_eq!(capped.len(), 4, "at most max_pages pages");
    let err = h.client.list_deployments("app-9", 1, 20).await.unwrap_err();
    assert_error_text(&err, "digitalocean.list_deployments", Some(404));
}

#[tokio::test]
async fn rolls_back_and_follows_the_new_deployment_to_active() {
    let h = harness().await;
    let dep = h.client.rollback("app-1", "dep-older", true).await.unwrap();
    assert_eq!(dep.phase, DeploymentPhase::PendingDeploy);
    assert_eq!(
        h.fake.rollbacks(),
        [json!({"deployment_id": "dep-older", "skip_pin": true})]
    );
    let request = h.fake.gate.requests().pop().unwrap();
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/v2/apps/app-1/rollback")
    );
    let opts = FollowOptions::new(Duration::from_millis(1), Duration::from_secs(5));
    let done = h
        .client
        .follow_deployment("app-1", &dep.id, &opts, None)
        .await
        .unwrap();
    assert_eq!(done.phase, DeploymentPhase::Active);
    assert!(!h.fake.pinned());
}

#[tokio::test]
async fn a_pinned_rollback_is_committed() {
    let h = harness().await;
    h.client
        .rollback("app-1", "dep-older", false)
        .await
        .unwrap();
    assert!(h.fake.pinned(), "skip_pin false pins the app");
    h.client.commit_rollback("app-1").await.unwrap();
    assert!(!h.fake.pinned());
    let err = h.client.commit_rollback("app-1").await.unwrap_err();
    assert_error_text(&err, "digitalocean.commit_rollback", Some(422));
    assert!(err.to_string().contains("no pending rollback"), "{err}");
}

#[tokio::test]
async fn rollback_refusals_name_the_call_status_and_reason() {
    let h = harness().await;
    let err = h
        .client
        .rollback("app-1", "dep-nope", true)
        .await
        .unwrap_err();
    assert!(err.is_not_found());
    assert_error_text(&err, "digitalocean.rollback", Some(404));
    assert!(err.to_string().contains("deployment not found"), "{err}");

    let err = h
        .client
        .rollback("app-1", "dep-broken", true)
        .await
        .unwrap_err();
    assert_error_text(&err, "digitalocean.rollback", Some(422));
    assert!(
        err.to_string()
            .contains("dep-broken did not complete successfully")
            && err.to_string().contains("(code unprocessable_entity)"),
        "{err}"
    );
    assert!(!err.is_transient(), "a refusal is not worth retrying");
    let err = h
        .client
        .rollback("app-1", "dep-old", true)
        .await
        .unwrap_err();
    assert_error_text(&err, "digitalocean.rollback", Some(422));
    assert!(err.to_string().contains("currently active"), "{err}");

    let sent = h.fake.gate.requests().len();
    let err = h.client.rollback("app-1", " ", true).await.unwrap_err();
    assert!(matches!(err, ApiError::InvalidInput { .. }), "{err:?}");
    assert_error_text(&err, "digitalocean.rollback", None);
    assert_eq!(
        h.fake.gate.requests().len(),
        sent,
        "nothing sent without an id"
    );
    assert!(h.fake.rollbacks().is_empty());
}

#[tokio::test]
async fn rollback_waits_out_a_rate_limit_but_never_repeats_after_a_500() {
    let h = harness().await;
    h.fake.gate.push_faults([Fault::rate_limited("7")]);
    h.client.rollback("app-1", "dep-older", true).await.unwrap();
    assert_eq!(*h.slept.lock().unwrap(), [Duration::from_secs(7)]);
    assert_eq!(h.fake.rollbacks().len(), 1);

    // After a 500 DigitalOcean may have started the rollback: a second
    // request could start another one, so the error goes to the caller.
    h.fake.gate.push_faults([Fault::status(
        500,
        "Server was unable to give you a response.",
    )]);
    let sent = h.fake.gate.requests().len();
    let err = h
        .client
        .rollback("app-1", "dep-older", true)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Status {
                status: 500,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_error_text(&err, "digitalocean.rollback", Some(500));
    assert_eq!(h.fake.gate.requests().len(), sent + 1);

    // Reading is safe to repeat.
    h.fake
        .gate
        .push_faults([Fault::status(500, "x"), Fault::rate_limited("1")]);
    let page = h.client.list_deployments("app-1", 1, 20).await.unwrap();
    assert_eq!(page.deployments.len(), 4, "three before, one rollback");
}

#[tokio::test]
async fn lists_deployments_that_went_live_with_when_and_their_commit() {
    let h = harness().await;
    let pushed_at = chrono::DateTime::parse_from_rfc3339("2026-01-01T01:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let pushed = h.fake.push("c0ffee9", pushed_at);
    let live = h.client.live_deployments("app-1", 2, 10).await.unwrap();
    let seen: Vec<(&str, String, Option<&str>)> = live
        .iter()
        .map(|d| (d.id.as_str(), d.live_at.to_rfc3339(), d.commit.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            (
                pushed.as_str(),
                "2026-01-01T01:00:00+00:00".into(),
                Some("c0ffee9")
            ),
            // SUPERSEDED at 01:00, but live since its steps ended.
            (
                "dep-old",
                "2026-01-01T00:02:40+00:00".into(),
                Some("c0ffee2")
            ),
            (
                "dep-older",
                "2026-01-01T00:00:40+00:00".into(),
                Some("c0ffee1")
            ),
        ],
        "the failed one never went live"
    );
    assert_eq!(
        live[0].url.as_deref(),
        Some(format!("https://cloud.digitalocean.com/apps/app-1/deployments/{pushed}").as_str())
    );
}
