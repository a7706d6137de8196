//! The fake's deployments and their statuses, as GitHub lists them:
//! newest first, filtered by `environment`, `sha` and `ref`, paged by
//! `per_page`. [`FakeGitHub::deploy`] records one the way a workflow job
//! with `environment:` makes it: `queued`, `in_progress`, then `success`
//! when it went live, the environment's previous live deployment turning
//! `inactive` at that moment.

use super::{AppState, FakeGitHub};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;

/// One deployment the fake holds.
#[derive(Clone, Debug)]
pub struct FakeGhDeployment {
    pub id: u64,
    pub sha: String,
    pub git_ref: String,
    pub environment: String,
    pub created_at: DateTime<Utc>,
    /// Oldest first: (state, when).
    pub statuses: Vec<(&'static str, DateTime<Utc>)>,
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `GET /repos/{o}/{r}/deployments`.
pub(super) async fn list(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let world = s.world.lock().unwrap();
    let per_page: usize = q.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(30);
    let matches = |key: &str, value: &str| q.get(key).is_none_or(|want| want == value);
    let mut shown: Vec<&FakeGhDeployment> = world
        .deployments
        .iter()
        .filter(|d| matches("environment", &d.environment))
        .filter(|d| matches("sha", &d.sha) && matches("ref", &d.git_ref))
        .collect();
    shown.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let items: Vec<Value> = shown
        .into_iter()
        .take(per_page.clamp(1, 100))
        .map(|d| {
            json!({"url": format!("https://api.github.com/repos/acme/web/deployments/{}", d.id),
                "id": d.id, "node_id": format!("DE_{}", d.id), "sha": d.sha, "ref": d.git_ref,
                "task": "deploy", "payload": {}, "original_environment": d.environment,
                "environment": d.environment, "description": null,
                "creator": {"login": "github-actions[bot]"},
                "created_at": time(d.created_at), "updated_at": time(d.created_at),
                "statuses_url": format!("https://api.github.com/repos/acme/web/deployments/{}/statuses", d.id),
                "repository_url": "https://api.github.com/repos/acme/web",
                "transient_environment": false, "production_environment": d.environment == "production"})
        })
        .collect();
    Json(items).into_response()
}

/// `GET /repos/{o}/{r}/deployments/{id}/statuses`: newest first.
pub(super) async fn statuses(
    State(s): State<AppState>,
    Path((_o, _r, id)): Path<(String, String, u64)>,
) -> Response {
    let world = s.world.lock().unwrap();
    let Some(d) = world.deployments.iter().find(|d| d.id == id) else {
        return s.error(404, "Not Found");
    };
    let items: Vec<Value> = d
        .statuses
        .iter()
        .enumerate()
        .rev()
        .map(|(n, (state, at))| {
            json!({"id": d.id * 100 + n as u64, "state": state, "description": "",
                "environment": d.environment, "target_url": "",
                "log_url": format!("https://github.com/acme/web/actions/runs/{}", d.id),
                "environment_url": if *state == "success" { format!("https://{}.acme.dev", d.environment) } else { String::new() },
                "created_at": time(*at), "updated_at": time(*at),
                "deployment_url": format!("https://api.github.com/repos/acme/web/deployments/{}", d.id)})
        })
        .collect();
    Json(items).into_response()
}

impl FakeGitHub {
    /// Records a deployment of `sha` (`git_ref`) to `environment` that went
    /// live at `live_at`, as a workflow job with `environment:` makes one;
    /// the environment's deployment live before it turns `inactive` then.
    /// Returns its id.
    pub fn deploy(
        &self,
        environment: &str,
        git_ref: &str,
        sha: &str,
        live_at: DateTime<Utc>,
    ) -> u64 {
        let mut world = self.world.lock().unwrap();
        for d in world
            .deployments
            .iter_mut()
            .filter(|d| d.environment == environment)
        {
            if d.statuses.last().is_some_and(|(s, _)| *s == "success") {
                d.statuses.push(("inactive", live_at));
            }
        }
        let id = 1_000 + world.deployments.len() as u64;
        let created_at = live_at - Duration::minutes(3);
        world.deployments.push(FakeGhDeployment {
            id,
            sha: sha.into(),
            git_ref: git_ref.into(),
            environment: environment.into(),
            created_at,
            statuses: vec![
                ("queued", created_at),
                ("in_progress", live_at - Duration::minutes(2)),
                ("success", live_at),
            ],
        });
        id
    }

    /// Records a deployment to `environment` whose job failed at `at`.
    pub fn failed_deploy(&self, environment: &str, sha: &str, at: DateTime<Utc>) -> u64 {
        let mut world = self.world.lock().unwrap();
        let id = 1_000 + world.deployments.len() as u64;
        world.deployments.push(FakeGhDeployment {
            id,
            sha: sha.into(),
            git_ref: "main".into(),
            environment: environment.into(),
            created_at: at - Duration::minutes(1),
            statuses: vec![("in_progress", at - Duration::minutes(1)), ("failure", at)],
        });
        id
    }
}
