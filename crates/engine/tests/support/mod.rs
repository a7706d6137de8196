//! Shared pieces of the deploy, rollback and spec tests: a real opsroom
//! server on port 0, runs asked for, approved and read back through its
//! HTTP API, and credentials in files. The fake providers are
//! [`opsroom_adapters::testing`]'s.

#![allow(dead_code)]

use opsroom_engine::OpsConfig;
use opsroom_server::testing::{TestApp, TestAppOptions};
use opsroom_store::DynStore;
pub use opsroom_store::{Artifact, Run, RunEvent};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The token every fake provider accepts, and what the tests share with
/// the adapters' own.
pub use opsroom_adapters::testing::{temp_dir, TOKEN};

/// The admin token of the test servers; every request carries it.
pub const ADMIN: &str = "admin-token-for-tests";

/// Who asks for runs.
pub const REQUESTER: &str = "alice";

/// Who approves the runs the server holds for approval: not the requester.
pub const APPROVER: &str = "bob";

/// How long a run may take to end before a test gives up on it.
const RUN_DEADLINE: Duration = Duration::from_secs(30);

/// How often a test asks whether a run has ended.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// What to ask for: the body of `POST /api/v1/runs`.
pub struct NewRun<'a> {
    pub runbook: &'a str,
    pub env: Option<&'a str>,
    pub target: Option<&'a str>,
    pub params: Value,
}

/// A real server on a test store, and a client for its API.
pub struct Api {
    app: TestApp,
    client: reqwest::Client,
}

impl Api {
    /// Starts a server on `store` configured by `config_toml` (opsroom.toml
    /// text), with `workers` in-process worker pools of four slots each.
    pub async fn start(store: &DynStore, config_toml: &str, workers: usize) -> Api {
        Api::start_with(
            store,
            config_toml,
            TestAppOptions {
                workers,
                ..TestAppOptions::default()
            },
        )
        .await
    }

    /// Like [`Api::start`], with more of the server's options (the config
    /// and the admin token are set here).
    pub async fn start_with(store: &DynStore, config_toml: &str, options: TestAppOptions) -> Api {
        let config = OpsConfig::parse("test.toml", config_toml).expect("test config parses");
        let app = TestApp::spawn(
            store.clone(),
            TestAppOptions {
                config: Some(config),
                admin_token: Some(ADMIN.into()),
                ..options
            },
        )
        .await;
        Api {
            app,
            client: reqwest::Client::new(),
        }
    }

    /// POSTs `body` to `path` as `user`: the status and the JSON answer
    /// (null when the answer is not JSON).
    pub async fn post(&self, path: &str, user: &str, body: Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.app.url))
            .bearer_auth(ADMIN)
            .header("x-opsroom-user", user)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// GETs `path` and returns the answer as sent; fails unless it is a 200.
    pub async fn get(&self, path: &str) -> String {
        let response = self
            .client
            .get(format!("{}{path}", self.app.url))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: reading the answer: {e}"));
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// Asks for a run as [`REQUESTER`] and returns its id. The server
    /// decides risk, env lock and approval; a run it holds for approval is
    /// approved by [`APPROVER`].
    pub async fn submit(&self, run: NewRun<'_>) -> i64 {
        let body = json!({
            "runbook": run.runbook,
            "env": run.env,
            "target": run.target,
            "params": run.params,
        });
        let (status, created) = self.post("/api/v1/runs", REQUESTER, body).await;
        assert_eq!(status, 201, "POST /api/v1/runs: {created}");
        let id = created["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("a created run has an id: {created}"));
        if created["status"] == "awaiting_approval" {
            let path = format!("/api/v1/runs/{id}/approve");
            let (status, answer) = self.post(&path, APPROVER, json!({})).await;
            assert_eq!(status, 200, "POST {path}: {answer}");
        }
        id
    }

    /// Run `id` as the API shows it now, and the answer it came in.
    pub async fn run(&self, id: i64) -> (Run, String) {
        let body = self.get(&format!("/api/v1/runs/{id}")).await;
        (parse(&format!("run {id}"), &body), body)
    }

    /// Polls run `id` until its status is final; fails with the last answer
    /// when that takes longer than [`RUN_DEADLINE`].
    pub async fn wait_until_final(&self, id: i64) -> (Run, String) {
        let deadline = Instant::now() + RUN_DEADLINE;
        loop {
            let (run, body) = self.run(id).await;
            if run.status.is_final() {
                return (run, body);
            }
            assert!(
                Instant::now() < deadline,
                "run {id} is not final after {RUN_DEADLINE:?}: {body}"
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Stops the server and its workers and waits for them.
    pub async fn stop(self) {
        // No idle keep-alive connection left for the server to wait on.
        drop(self.client);
        self.app.stop().await;
    }
}

fn parse<T: DeserializeOwned>(what: &str, body: &str) -> T {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: {e}: {body}"))
}

/// One run on a fresh server on `store` configured by `config_toml`: asked
/// for, approved when the server holds it, waited for and read back, all
/// through the API.
pub async fn run_through_api(store: &DynStore, config_toml: &str, run: NewRun<'_>) -> Finished {
    let api = Api::start(store, config_toml, 1).await;
    let id = api.submit(run).await;
    let done = Finished::load(&api, id).await;
    api.stop().await;
    done
}

/// A run, its events and artifacts, after it ended, as the API shows them.
pub struct Finished {
    pub run: Run,
    pub events: Vec<RunEvent>,
    pub artifacts: Vec<Artifact>,
    /// Every answer these were read from, as sent.
    bodies: Vec<String>,
}

impl Finished {
    /// Waits until run `id` is final, then reads it, its events (page by
    /// page) and its artifacts through the API.
    pub async fn load(api: &Api, id: i64) -> Finished {
        let (run, body) = api.wait_until_final(id).await;
        let mut bodies = vec![body];
        let mut events: Vec<RunEvent> = Vec::new();
        loop {
            let after = events.last().map_or(0, |e| e.seq);
            let body = api
                .get(&format!("/api/v1/runs/{id}/events?after={after}"))
                .await;
            let page: Vec<RunEvent> = parse(&format!("events of run {id}"), &body);
            bodies.push(body);
            let Some(first) = page.first() else { break };
            assert!(
                first.seq > after,
                "events?after={after} of run {id} starts at seq {}",
                first.seq
            );
            events.extend(page);
        }
        let body = api.get(&format!("/api/v1/runs/{id}/artifacts")).await;
        let artifacts = parse(&format!("artifacts of run {id}"), &body);
        bodies.push(body);
        Finished {
            run,
            events,
            artifacts,
            bodies,
        }
    }

    /// Every message, one per line.
    pub fn log(&self) -> String {
        self.events
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn artifact(&self, name: &str) -> &Artifact {
        self.artifacts
            .iter()
            .find(|a| a.name == name)
            .unwrap_or_else(|| {
                panic!(
                    "no artifact {name}; have {:?}",
                    self.artifacts.iter().map(|a| &a.name).collect::<Vec<_>>()
                )
            })
    }

    pub fn error(&self) -> &str {
        self.run.error.as_deref().unwrap_or("")
    }

    /// Fails when `secret` appears anywhere a user could see it: in an
    /// event, an artifact, or any answer of the API about the run.
    pub fn assert_never_shows(&self, secret: &str) {
        for e in &self.events {
            assert!(
                !e.message.contains(secret) && !e.data.to_string().contains(secret),
                "event {} leaks the token: {} {}",
                e.seq,
                e.message,
                e.data
            );
        }
        for a in &self.artifacts {
            assert!(
                !a.content.contains(secret) && !a.name.contains(secret),
                "artifact {} leaks the token",
                a.name
            );
        }
        for body in &self.bodies {
            assert!(
                !body.contains(secret),
                "an API answer about run {} leaks the token: {body}",
                self.run.id
            );
        }
    }
}

/// Writes `value` to a file and returns the `file:` reference to it.
pub fn secret_file(value: &str) -> String {
    let path = temp_dir("secret").join("token");
    std::fs::write(&path, value).unwrap();
    format!("file:{}", path.display())
}
