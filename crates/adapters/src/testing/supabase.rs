//! A fake Supabase Management API: one project ([`PROJECT_REF`], "prod-db"
//! in eu-west-1) answering `GET /v1/projects/{ref}` with its status and
//! `GET /v1/projects/{ref}/health?services=…` with one entry per service
//! asked for, as the real API does. Every service is ACTIVE_HEALTHY until a
//! test says otherwise; a project can be made to pass through statuses
//! (restoring, coming up) one read at a time.

use super::Fake;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// The ref of the one project the fake knows.
pub const PROJECT_REF: &str = "abcdefghijklmnopqrst";

/// The services the Management API reports on.
const SERVICES: [&str; 6] = ["auth", "db", "pooler", "realtime", "rest", "storage"];

/// What the fake holds and saw.
#[derive(Debug)]
pub struct SupabaseWorld {
    /// The project's status (`ACTIVE_HEALTHY`, `INACTIVE`, `COMING_UP`, …).
    pub status: String,
    /// Statuses the next reads of the project show, one per read, before
    /// [`SupabaseWorld::status`].
    pub upcoming: VecDeque<String>,
    /// Services that are not ACTIVE_HEALTHY: their status and error.
    pub services: BTreeMap<String, (String, Option<String>)>,
    /// The query string of every health request.
    pub health_queries: Vec<String>,
}

type Shared = Arc<Mutex<SupabaseWorld>>;

#[derive(Clone)]
struct AppState {
    fake: Fake,
    world: Shared,
}

/// A running fake; `url` is its base URL, `gate` checks the token, injects
/// faults and records requests.
#[derive(Clone)]
pub struct FakeSupabase {
    pub url: String,
    pub world: Shared,
    pub gate: Fake,
}

fn error_body(_status: u16, message: &str) -> Value {
    json!({"message": message})
}

async fn project(State(s): State<AppState>, Path(project_ref): Path<String>) -> Response {
    if project_ref != PROJECT_REF {
        return s.fake.error(404, "Project not found");
    }
    let mut world = s.world.lock().unwrap();
    let status = match world.upcoming.pop_front() {
        Some(status) => status,
        None => world.status.clone(),
    };
    Json(
        json!({"id": PROJECT_REF, "organization_id": "org_acme", "name": "prod-db",
        "region": "eu-west-1", "created_at": "2025-01-01T00:00:00.000Z", "status": status,
        "database": {"host": format!("db.{PROJECT_REF}.supabase.co"), "version": "15.8.1.044",
                     "postgres_engine": "15", "release_channel": "ga"}}),
    )
    .into_response()
}

async fn health(
    State(s): State<AppState>,
    Path(project_ref): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if project_ref != PROJECT_REF {
        return s.fake.error(404, "Project not found");
    }
    let mut world = s.world.lock().unwrap();
    let query: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
    world.health_queries.push(query.join("&"));
    let Some(services) = q.get("services") else {
        return s
            .fake
            .error(422, "querystring must have required property 'services'");
    };
    let mut answer = Vec::new();
    for name in services.split(',') {
        if !SERVICES.contains(&name) {
            return s.fake.error(
                422,
                &format!(
                    "querystring/services/0 must be equal to one of the allowed values: {name}"
                ),
            );
        }
        answer.push(match world.services.get(name) {
            Some((status, error)) => {
                let mut v = json!({"name": name, "healthy": false, "status": status});
                if let Some(e) = error {
                    v["error"] = json!(e);
                }
                v
            }
            None => json!({"name": name, "healthy": true, "status": "ACTIVE_HEALTHY",
                "info": {"name": name, "version": "2.170.0", "description": ""}}),
        });
    }
    Json(Value::Array(answer)).into_response()
}

impl FakeSupabase {
    /// Starts the fake with a healthy project.
    pub async fn start() -> FakeSupabase {
        let world = Arc::new(Mutex::new(SupabaseWorld {
            status: "ACTIVE_HEALTHY".into(),
            upcoming: VecDeque::new(),
            services: BTreeMap::new(),
            health_queries: Vec::new(),
        }));
        let fake = Fake::refusing(error_body, 401, "Unauthorized");
        let routes = Router::new()
            .route("/v1/projects/{ref}", get(project))
            .route("/v1/projects/{ref}/health", get(health))
            .with_state(AppState {
                fake: fake.clone(),
                world: world.clone(),
            });
        FakeSupabase {
            url: fake.serve(routes).await,
            world,
            gate: fake,
        }
    }

    /// Sets the project's status.
    pub fn set_status(&self, status: &str) {
        self.world.lock().unwrap().status = status.into();
    }

    /// Makes the next reads of the project show `statuses`, one per read,
    /// before its status.
    pub fn pass_through(&self, statuses: &[&str]) {
        self.world
            .lock()
            .unwrap()
            .upcoming
            .extend(statuses.iter().map(|s| s.to_string()));
    }

    /// Makes `service` report `status` (and `error`) instead of healthy.
    pub fn set_service(&self, service: &str, status: &str, error: Option<&str>) {
        self.world
            .lock()
            .unwrap()
            .services
            .insert(service.into(), (status.into(), error.map(String::from)));
    }

    /// The query strings of the health requests received.
    pub fn health_queries(&self) -> Vec<String> {
        self.world.lock().unwrap().health_queries.clone()
    }
}
