//! Shared pieces of the deploy, rollback and spec tests: a real opsroom
//! server on port 0, runs asked for, approved and read back through its
//! HTTP API, and credentials in files. The fake providers are
//! [`opsroom_adapters::testing`]'s.

#![allow(dead_code)]

pub mod triage;

use opsroom_engine::OpsConfig;
use opsroom_server::client::{ApiClient, RunAction};
use opsroom_server::testing::{TestApp, TestAppOptions};
use opsroom_server::views::CreateRun;
pub use opsroom_server::views::{ArtifactView as Artifact, EventView as RunEvent, RunView as Run};
use opsroom_store::{DynStore, RunId, Seq, DEFAULT_WORKSPACE};
use serde_json::Value;

/// The token every fake provider accepts, and what the tests share with
/// the adapters' own.
pub use opsroom_adapters::testing::{temp_dir, TOKEN};

/// The admin token of the test servers; every request carries it.
pub const ADMIN: &str = "admin-token-for-tests";

/// Who asks for runs.
pub const REQUESTER: &str = "alice";

/// Who approves the runs the server holds for approval: not the requester.
pub const APPROVER: &str = "bob";

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
    client: ApiClient,
    /// [`REQUESTER`] (an operator) and [`APPROVER`] (an approver), each
    /// with a token of their own.
    people: std::collections::HashMap<String, ApiClient>,
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
        let client = ApiClient::new(&app.url)
            .expect("an API client")
            .with_token(Some(ADMIN.into()));
        let mut people = std::collections::HashMap::new();
        for (user, role) in [(REQUESTER, "operator"), (APPROVER, "approver")] {
            let as_user = client
                .member_with_token(DEFAULT_WORKSPACE, user, role)
                .await
                .unwrap_or_else(|e| panic!("creating {user}: {e}"));
            people.insert(user.to_string(), as_user);
        }
        Api {
            app,
            client,
            people,
        }
    }

    /// The API as the bootstrap admin (the admin token): secrets, members.
    pub fn admin(&self) -> ApiClient {
        self.client.clone()
    }

    /// The API as `user` ([`REQUESTER`] or [`APPROVER`]), with their token.
    pub fn client(&self, user: &str) -> ApiClient {
        self.people
            .get(user)
            .unwrap_or_else(|| panic!("no test user {user}: use REQUESTER or APPROVER"))
            .clone()
    }

    /// POSTs `body` to `path` as `user`: the status and the JSON answer
    /// (null when the answer is not JSON).
    pub async fn post(&self, path: &str, user: &str, body: Value) -> (u16, Value) {
        let (status, answer) = self
            .client(user)
            .send_json(reqwest::Method::POST, path, Some(&body))
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        (status.as_u16(), answer)
    }

    /// Asks for a run as [`REQUESTER`] and returns its id. The server
    /// decides risk, env lock and approval; a run it holds for approval is
    /// approved by [`APPROVER`].
    pub async fn submit(&self, run: NewRun<'_>) -> RunId {
        let body = CreateRun {
            runbook: Some(run.runbook.into()),
            env: run.env.map(String::from),
            target: run.target.map(String::from),
            params: run.params.as_object().cloned().unwrap_or_default(),
            ..Default::default()
        };
        let (created, _) = self
            .client(REQUESTER)
            .create_run(&body)
            .await
            .unwrap_or_else(|e| panic!("POST /api/v1/runs: {e}"));
        if created.status == opsroom_core::RunStatus::AwaitingApproval {
            self.client(APPROVER)
                .act(created.id, RunAction::Approve, None)
                .await
                .unwrap_or_else(|e| panic!("approving run {}: {e}", created.id));
        }
        created.id
    }

    /// Run `id` as the API shows it now, and the answer as JSON.
    pub async fn run(&self, id: RunId) -> (Run, String) {
        let run = self
            .client
            .run(id)
            .await
            .unwrap_or_else(|e| panic!("GET run {id}: {e}"));
        let body = serde_json::to_string(&run).unwrap();
        (run, body)
    }

    /// The env lock key the server gave run `id` (a store internal the API
    /// does not show).
    pub async fn lock_key(&self, id: RunId) -> Option<String> {
        let store = &self.app.engine.store;
        store.run_get(DEFAULT_WORKSPACE, id).await.unwrap().lock_key
    }

    /// Follows run `id`'s event stream until the server ends it (no
    /// polling), then reads the run.
    pub async fn wait_until_final(&self, id: RunId) -> (Run, String) {
        self.client
            .wait_final(id)
            .await
            .unwrap_or_else(|e| panic!("following run {id}: {e}"));
        self.run(id).await
    }

    /// Stops the server and its workers and waits for them.
    pub async fn stop(self) {
        // No idle keep-alive connection left for the server to wait on.
        drop(self.client);
        self.app.stop().await;
    }
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
    pub async fn load(api: &Api, id: RunId) -> Finished {
        let (run, body) = api.wait_until_final(id).await;
        let events = api
            .client
            .all_events(id, Seq(0))
            .await
            .unwrap_or_else(|e| panic!("events of run {id}: {e}"));
        let seqs: Vec<i64> = events.iter().map(|e| e.seq.0).collect();
        assert_eq!(
            seqs,
            (1..=events.len() as i64).collect::<Vec<_>>(),
            "events of run {id} come in seq order, each once"
        );
        let artifacts = api
            .client
            .artifacts(id)
            .await
            .unwrap_or_else(|e| panic!("artifacts of run {id}: {e}"));
        let bodies = vec![
            body,
            serde_json::to_string(&events).unwrap(),
            serde_json::to_string(&artifacts).unwrap(),
        ];
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
