//! Shared pieces of the deploy, rollback and spec tests: an engine on a
//! test store with an injected clock, a worker, enqueueing, reading a run's
//! events and artifacts, credentials in files, and fake providers.

#![allow(dead_code)]

pub mod fake_digitalocean;
pub mod fake_github;
pub mod fake_vercel;

use chrono::{TimeZone, Utc};
use opsroom_engine::config::OpsConfig;
use opsroom_engine::{Engine, ManualClock, WorkerOptions, WorkerPool};
use opsroom_store::*;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// The token every fake provider accepts.
pub const TOKEN: &str = "tok_SECRET_deploy_4f9a";

/// An engine on `store` with `config` (opsroom.toml text).
pub fn engine(store: &DynStore, config_toml: &str) -> Engine {
    let config = OpsConfig::parse("test.toml", config_toml).expect("test config parses");
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
    ));
    Engine::new(store.clone(), config).with_clock(clock)
}

/// A worker that runs up to four runs at once.
pub fn worker(engine: &Engine) -> WorkerPool {
    WorkerPool::new(
        engine.clone(),
        WorkerOptions {
            concurrency: 4,
            ..Default::default()
        },
    )
}

/// What to enqueue.
pub struct Enqueue<'a> {
    pub runbook: &'a str,
    pub env: Option<&'a str>,
    pub target: Option<&'a str>,
    pub params: Value,
}

/// Enqueues a run as the server would: write runs hold the env lock.
pub async fn enqueue(engine: &Engine, e: Enqueue<'_>) -> Run {
    let mut p = RunInsertParams::new(e.runbook, engine.clock.now());
    p.env = e.env.map(String::from);
    p.target = e.target.map(String::from);
    p.params = e.params;
    p.risk = "write".into();
    if e.runbook != "spec" {
        p.lock_key = Some(format!(
            "{}/{}",
            e.env.unwrap_or("-"),
            e.target.unwrap_or("*")
        ));
    }
    engine.store.run_insert(p).await.unwrap().0
}

/// Runs every claimable run to its end.
pub async fn drain(engine: &Engine) {
    let w = worker(engine);
    while w.run_batch().await > 0 {}
}

/// A run, its events and artifacts, after it ended.
pub struct Finished {
    pub run: Run,
    pub events: Vec<RunEvent>,
    pub artifacts: Vec<Artifact>,
}

impl Finished {
    pub async fn load(store: &DynStore, id: i64) -> Finished {
        Finished {
            run: store.run_get(DEFAULT_WORKSPACE, id).await.unwrap(),
            events: store.events_list(id, 0, 100_000).await.unwrap(),
            artifacts: store.artifacts_list(DEFAULT_WORKSPACE, id).await.unwrap(),
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

    /// Fails when `secret` appears anywhere a user could see it.
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
        let run = serde_json::to_string(&self.run).unwrap();
        assert!(!run.contains(secret), "the run leaks the token: {run}");
    }
}

/// A fresh directory under the system temp dir.
pub fn temp_dir(prefix: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "opsroom-{prefix}-{}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `value` to a file and returns the `file:` reference to it.
pub fn secret_file(value: &str) -> String {
    let path = temp_dir("secret").join("token");
    std::fs::write(&path, value).unwrap();
    format!("file:{}", path.display())
}

/// Binds 127.0.0.1:0 first, then serves in the background.
pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

/// Whether the `Authorization` header carries [`TOKEN`].
pub fn authorized(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {TOKEN}"))
}
