//! `healthcheck` asking providers for their view of a service, through the
//! HTTP API of a real server, against fake Vercel, DigitalOcean and
//! Supabase Management APIs: healthy, unhealthy and degraded states, a
//! provider answering 5xx, one not answering at all, a wrong token.

#[macro_use]
mod support;

use opsroom_adapters::testing::digitalocean::{FakeDeployment as DoDeployment, FakeDigitalOcean};
use opsroom_adapters::testing::supabase::{FakeSupabase, PROJECT_REF};
use opsroom_adapters::testing::vercel::{FakeDeployment as VercelDeployment, FakeVercel};
use opsroom_core::{EventLevel, RunStatus};
use opsroom_store::DynStore;
use serde_json::json;
use support::{secret_file, Api, Finished, REQUESTER, TOKEN};

/// The three fakes a test's env points at.
struct Providers {
    vercel: FakeVercel,
    digitalocean: FakeDigitalOcean,
    supabase: FakeSupabase,
}

impl Providers {
    async fn start() -> Providers {
        Providers {
            vercel: FakeVercel::start().await,
            digitalocean: FakeDigitalOcean::start().await,
            supabase: FakeSupabase::start().await,
        }
    }

    /// `prod` deploys to Vercel (its `web` service takes project, token and
    /// base URL from the deploy table); `shop` and `backend` name theirs.
    fn toml(&self) -> String {
        self.toml_with_supabase_token(TOKEN)
    }

    fn toml_with_supabase_token(&self, supabase_token: &str) -> String {
        let secret = secret_file(TOKEN);
        let supabase_secret = secret_file(supabase_token);
        format!(
            r#"
[secrets]
vercel = "{secret}"
digitalocean = "{secret}"
supabase = "{supabase_secret}"

[environments.prod.deploy]
provider = "vercel"
project = "web"
repo = "acme/web"
target = "production"
token_secret = "vercel"
base_url = "{vercel}"

[[environments.prod.services]]
name = "web"
kind = "vercel"

[[environments.prod.services]]
name = "shop"
kind = "digitalocean"
app_id = "app-1"
token_secret = "digitalocean"
base_url = "{digitalocean}"

[[environments.prod.services]]
name = "backend"
kind = "supabase"
project_ref = "{PROJECT_REF}"
services = ["auth", "db", "rest", "realtime", "storage"]
token_secret = "supabase"
base_url = "{supabase}"
"#,
            vercel = self.vercel.url,
            digitalocean = self.digitalocean.url,
            supabase = self.supabase.url,
        )
    }

    /// Adds a production deployment to Vercel, newer than the others.
    fn vercel_deploys(&self, id: &str, git_ref: &str, state: &'static str) {
        let mut world = self.vercel.world.lock().unwrap();
        let created = world
            .deployments
            .iter()
            .map(|d| d.created)
            .max()
            .unwrap_or(0)
            + 1;
        world.deployments.push(VercelDeployment {
            id: id.into(),
            git_ref: git_ref.into(),
            state,
            polls: 0,
            created,
            served: false,
            log: Vec::new(),
            commit: None,
            ready: None,
        });
    }

    /// Starts a DigitalOcean deployment that has not been built yet.
    fn digitalocean_starts_deploying(&self, id: &str) {
        self.digitalocean
            .world
            .lock()
            .unwrap()
            .deployments
            .push(DoDeployment::building(id, "feed001"));
    }
}

/// One healthcheck of `prod` on a fresh server configured by `toml`, tried
/// once (a failed read run would otherwise be retried after a backoff).
async fn healthcheck(store: &DynStore, toml: &str) -> Finished {
    let api = Api::start(store, toml, 1).await;
    let (status, created) = api
        .post(
            "/api/v1/runs",
            REQUESTER,
            json!({"runbook": "healthcheck", "env": "prod", "max_attempts": 1}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let done = Finished::load(&api, opsroom_store::RunId(created["id"].as_i64().unwrap())).await;
    api.stop().await;
    done
}

impl Finished {
    /// The probe event of `service`: its level, message and result.
    fn probe(&self, service: &str) -> (EventLevel, &str, &serde_json::Value) {
        let event = self
            .events
            .iter()
            .find(|e| e.data["kind"] == "probe" && e.data["result"]["service"] == service)
            .unwrap_or_else(|| panic!("no probe event for {service}:\n{}", self.log()));
        (event.level, &event.message, &event.data["result"])
    }

    fn report(&self) -> &str {
        &self.artifact("healthcheck-report.md").content
    }
}

async fn healthy_providers_pass(store: DynStore) {
    let p = Providers::start().await;
    let done = healthcheck(&store, &p.toml()).await;
    assert_eq!(done.run.status, RunStatus::Succeeded, "{}", done.log());

    let (level, message, result) = done.probe("web");
    assert_eq!(level, EventLevel::Info);
    assert!(
        message.starts_with("web (vercel): ok in ")
            && message.ends_with("latest production deployment dpl_old2 (v2) is READY"),
        "{message}"
    );
    assert_eq!(
        (&result["ok"], &result["degraded"], &result["state"]),
        (&json!(true), &json!(false), &json!("READY"))
    );

    let (_, message, result) = done.probe("shop");
    assert!(
        message.starts_with("shop (digitalocean): ok in ")
            && message.ends_with(
                "app shop: active deployment dep-old, commit c0ffee2 is ACTIVE (3/3 steps)"
            ),
        "{message}"
    );
    assert_eq!(result["state"], "ACTIVE");

    let (_, message, result) = done.probe("backend");
    assert!(
        message.starts_with("backend (supabase): ok in ")
            && message.ends_with(
                "project prod-db (eu-west-1) is ACTIVE_HEALTHY; healthy: auth, db, rest, realtime, storage"
            ),
        "{message}"
    );
    assert_eq!(result["state"], "ACTIVE_HEALTHY");
    assert_eq!(
        p.supabase.health_queries(),
        ["services=auth,db,rest,realtime,storage"],
        "the configured services are asked for, as the API expects them"
    );

    let report = done.report();
    for row in [
        "| web | vercel | ✅ ok |",
        "| shop | digitalocean | ✅ ok |",
        "| backend | supabase | ✅ ok |",
    ] {
        assert!(report.contains(row), "no row {row}:\n{report}");
    }
    assert!(report.contains("3 of 3 services healthy."), "{report}");
    done.assert_never_shows(TOKEN);
}

async fn unhealthy_providers_fail_the_run_with_their_reasons(store: DynStore) {
    let p = Providers::start().await;
    p.vercel_deploys("dpl_bad", "broken", "ERROR");
    p.digitalocean.world.lock().unwrap().active = String::new();
    p.supabase
        .set_service("storage", "UNHEALTHY", Some("storage API timed out"));
    let done = healthcheck(&store, &p.toml()).await;
    assert_eq!(done.run.status, RunStatus::Failed, "{}", done.log());
    let error = done.error();
    for want in [
        "3 of 3 probes failed",
        "web (latest production deployment dpl_bad (broken) is ERROR: Command \"npm run build\" exited with 1; the newest READY one is dpl_old2 (v2))",
        "shop (app shop has no active deployment)",
        "backend (project prod-db (eu-west-1) is ACTIVE_HEALTHY; unhealthy: storage UNHEALTHY: storage API timed out; healthy: auth, db, rest, realtime)",
    ] {
        assert!(error.contains(want), "the error lacks {want:?}:\n{error}");
    }
    for service in ["web", "shop", "backend"] {
        let (level, message, result) = done.probe(service);
        assert_eq!(level, EventLevel::Error, "{message}");
        assert!(message.contains(": FAILED in "), "{message}");
        assert_eq!(result["ok"], false);
    }
    assert_eq!(done.probe("web").2["state"], "ERROR");
    let report = done.report();
    for row in [
        "| web | vercel | ❌ failed |",
        "| shop | digitalocean | ❌ failed |",
        "| backend | supabase | ❌ failed |",
    ] {
        assert!(report.contains(row), "no row {row}:\n{report}");
    }
    assert!(report.contains("0 of 3 services healthy."), "{report}");
    done.assert_never_shows(TOKEN);
}

async fn a_cancelled_deployment_and_a_paused_project_are_unhealthy(store: DynStore) {
    let p = Providers::start().await;
    p.vercel_deploys("dpl_stopped", "v3", "CANCELED");
    p.supabase.set_status("INACTIVE");
    let done = healthcheck(&store, &p.toml()).await;
    assert_eq!(done.run.status, RunStatus::Failed, "{}", done.log());
    let error = done.error();
    assert!(
        error.contains("2 of 3 probes failed")
            && error.contains("latest production deployment dpl_stopped (v3) was CANCELED; the newest READY one is dpl_old2 (v2)")
            && error.contains("project prod-db (eu-west-1) is INACTIVE (paused: restore it from the Supabase dashboard)"),
        "{error}"
    );
    assert!(
        p.supabase.health_queries().is_empty(),
        "a paused project's services are not asked"
    );
    assert_eq!(done.probe("shop").2["ok"], true);
}

async fn deployments_on_their_way_are_degraded_not_failed(store: DynStore) {
    let p = Providers::start().await;
    p.vercel_deploys("dpl_next", "v3", "BUILDING");
    p.digitalocean_starts_deploying("dep-next");
    p.supabase.set_service("realtime", "COMING_UP", None);
    let done = healthcheck(&store, &p.toml()).await;
    assert_eq!(done.run.status, RunStatus::Succeeded, "{}", done.log());

    let (level, message, result) = done.probe("web");
    assert_eq!(level, EventLevel::Warn);
    assert!(
        message.starts_with("web (vercel): degraded in ")
            && message.ends_with("latest production deployment dpl_next (v3) is BUILDING, not live yet; the newest READY one is dpl_old2 (v2)"),
        "{message}"
    );
    assert_eq!(
        (&result["ok"], &result["degraded"], &result["state"]),
        (&json!(true), &json!(true), &json!("BUILDING"))
    );
    let (level, message, _) = done.probe("shop");
    assert_eq!(level, EventLevel::Warn);
    assert!(
        message.contains("active deployment dep-old, commit c0ffee2 is ACTIVE (3/3 steps); deployment dep-next is rolling out: PENDING_BUILD (1/3 steps)"),
        "{message}"
    );
    let (level, message, _) = done.probe("backend");
    assert_eq!(level, EventLevel::Warn);
    assert!(message.contains("coming up: realtime"), "{message}");

    assert!(
        done.log()
            .contains("all 3 probes passed (3 degraded: web, shop, backend)"),
        "{}",
        done.log()
    );
    let report = done.report();
    assert!(
        report.contains("| web | vercel | ⚠️ degraded |")
            && report.contains("| shop | digitalocean | ⚠️ degraded |")
            && report.contains("| backend | supabase | ⚠️ degraded |")
            && report.contains("3 of 3 services healthy (3 degraded)."),
        "{report}"
    );
}

/// Services of each kind pointing at one base URL, configured in full
/// (no deploy table to take settings from).
fn services_at(base_url: &str, token_file: &str, timeout_ms: u64) -> String {
    format!(
        r#"
[secrets]
vercel = "{token_file}"
digitalocean = "{token_file}"
supabase = "{token_file}"

[[environments.prod.services]]
name = "web"
kind = "vercel"
project = "web"
token_secret = "vercel"
base_url = "{base_url}"
timeout_ms = {timeout_ms}

[[environments.prod.services]]
name = "shop"
kind = "digitalocean"
app_id = "app-1"
token_secret = "digitalocean"
base_url = "{base_url}"
timeout_ms = {timeout_ms}

[[environments.prod.services]]
name = "backend"
kind = "supabase"
project_ref = "{PROJECT_REF}"
token_secret = "supabase"
base_url = "{base_url}"
timeout_ms = {timeout_ms}
"#
    )
}

async fn a_provider_outage_fails_each_probe_with_the_status(store: DynStore) {
    let outage = axum::Router::new().fallback(|| async {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"message": "upstream is down for maintenance"})),
        )
    });
    let url = opsroom_adapters::testing::serve(outage).await;
    let done = healthcheck(&store, &services_at(&url, &secret_file(TOKEN), 5000)).await;
    assert_eq!(done.run.status, RunStatus::Failed, "{}", done.log());
    let error = done.error();
    for call in [
        "vercel.list_deployments",
        "digitalocean.get_app",
        "supabase.get_project",
    ] {
        let want =
            format!("{call} failed: HTTP 503: upstream is down for maintenance (after 2 attempts)");
        assert!(error.contains(&want), "the error lacks {want:?}:\n{error}");
    }
    assert!(done.report().contains("0 of 3 services healthy."));
    done.assert_never_shows(TOKEN);
}

async fn a_provider_that_never_answers_times_out(store: DynStore) {
    // Accepts connections and reads requests, but never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let done = healthcheck(&store, &services_at(&url, &secret_file(TOKEN), 300)).await;
    assert_eq!(done.run.status, RunStatus::Failed, "{}", done.log());
    let error = done.error();
    for call in [
        "vercel.list_deployments",
        "digitalocean.get_app",
        "supabase.get_project",
    ] {
        let want = format!("{call} failed: timed out after 300ms waiting for the provider");
        assert!(error.contains(&want), "the error lacks {want:?}:\n{error}");
    }
}

async fn a_wrong_token_names_the_credential_never_its_value(store: DynStore) {
    let p = Providers::start().await;
    let wrong = "sbp_wrong_token_7c1e";
    let done = healthcheck(&store, &p.toml_with_supabase_token(wrong)).await;
    assert_eq!(done.run.status, RunStatus::Failed, "{}", done.log());
    let error = done.error();
    assert!(
        error.contains("1 of 3 probes failed")
            && error.contains("supabase.get_project failed: HTTP 401: Unauthorized")
            && error.contains("check the token that secrets.supabase points at"),
        "{error}"
    );
    done.assert_never_shows(wrong);
    done.assert_never_shows(TOKEN);
}

opsroom_store::on_both_stores!(
    healthy_providers_pass,
    unhealthy_providers_fail_the_run_with_their_reasons,
);

mod sqlite_only {
    use super::*;
    opsroom_store::on_sqlite!(
        a_cancelled_deployment_and_a_paused_project_are_unhealthy,
        deployments_on_their_way_are_degraded_not_failed,
        a_provider_outage_fails_each_probe_with_the_status,
        a_provider_that_never_answers_times_out,
        a_wrong_token_names_the_credential_never_its_value,
    );
}
