//! Soak: 2,000 runs flow across two `opsroom worker` processes while their
//! PostgreSQL is restarted twice. Afterwards every run is final, each ended
//! exactly once, and every run's events are contiguous: a fault of the
//! database leaves no run `running` without a live owner.
//!
//! The test starts a PostgreSQL server of its own (initdb in a temporary
//! folder, on a free port), so restarting it disturbs nothing else. It needs
//! PostgreSQL's server binaries (Debian's `postgresql` package, which
//! `.ci/run` installs); without them it fails, it is never skipped.

use chrono::Utc;
use opsroom_store::*;

mod common;
use common::{all_runs, spawn_worker, terminate};
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 2000;

/// A PostgreSQL server of this test's own.
struct PrivatePostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    fn start() -> PrivatePostgres {
        let bin = server_binaries();
        let dir = std::env::temp_dir().join(format!("opsroom-soak-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = PrivatePostgres { bin, dir, port };
        if is_root() {
            // PostgreSQL refuses to run as root: its files belong to `postgres`.
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&pg.dir)
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown {} to postgres", pg.dir.display());
        }
        let data = pg.data();
        pg.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
            ],
        );
        pg.ctl(&["start"]);
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `pg_ctl ACTION`, waiting until it is done.
    fn ctl(&self, action: &[&str]) {
        let data = self.data();
        let log = self.dir.join("server.log");
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=100",
            self.port,
            self.dir.display()
        );
        let mut args = vec!["-D", data.to_str().unwrap(), "-l", log.to_str().unwrap()];
        args.extend(["-o", &options, "-w", "-t", "60", "-m", "fast"]);
        args.extend(action);
        self.run("pg_ctl", &args);
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let program = self.bin.join(tool);
        let output = if is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .stdin(Stdio::null())
                .output()
        } else {
            Command::new(&program)
                .args(args)
                .stdin(Stdio::null())
                .output()
        }
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
        assert!(
            output.status.success(),
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data();
        let program = self.bin.join("pg_ctl");
        let args = ["-D", data.to_str().unwrap(), "-m", "immediate", "stop"];
        let _ = if is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()
        } else {
            Command::new(&program).args(args).output()
        };
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

/// The newest installed PostgreSQL's server binaries.
fn server_binaries() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .unwrap_or_else(|e| {
            panic!("PostgreSQL's server binaries are needed in {root:?} (apt-get install postgresql): {e}")
        })
        .filter_map(|d| d.ok())
        .filter_map(|d| {
            let v = d.file_name().to_str()?.parse().ok()?;
            let bin = d.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .expect("no PostgreSQL with initdb in /usr/lib/postgresql")
}

/// How many runs are final; `None` while the database cannot answer.
async fn finished(store: &DynStore) -> Option<usize> {
    let counts = store.runs_count_by_status().await.ok()?;
    Some(
        counts
            .iter()
            .filter(|(s, _)| matches!(s.as_str(), "succeeded" | "failed" | "cancelled"))
            .map(|(_, n)| *n as usize)
            .sum(),
    )
}

/// Waits (checking, not sleeping blindly) until `at_least` runs are final.
async fn wait_for_finished(store: &DynStore, at_least: usize, timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(n) = finished(store).await {
            if n >= at_least {
                return n;
            }
        }
        if Instant::now() > deadline {
            let counts = store.runs_count_by_status().await;
            panic!("timed out waiting for {at_least} final runs: {counts:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_survive_two_postgres_restarts_across_two_worker_processes() {
    let pg = PrivatePostgres::start();
    let url = pg.url();
    let store = opsroom_store::connect(&url).await.expect("connect");
    store.migrate().await.expect("migrate");
    let mut batch = Vec::new();
    for _ in 0..RUNS {
        let mut p = RunInsertParams::new("noop", Utc::now());
        p.params = json!({"events": 5, "sleep_ms": 20});
        p.max_attempts = 3;
        batch.push(p);
    }
    let inserted = store.runs_insert_batch(batch).await.unwrap();
    assert_eq!(inserted.len(), RUNS);

    let flags = ["--concurrency", "8", "--heartbeat-timeout", "3"];
    let mut workers = [
        spawn_worker(&url, "error", &flags),
        spawn_worker(&url, "error", &flags),
    ];
    let started = Instant::now();
    for share in [3, 2] {
        let n = wait_for_finished(&store, RUNS / share, Duration::from_secs(300)).await;
        eprintln!(
            "restarting PostgreSQL with {n} of {RUNS} runs final, after {:?}",
            started.elapsed()
        );
        pg.ctl(&["restart"]);
    }
    wait_for_finished(&store, RUNS, Duration::from_secs(300)).await;
    eprintln!(
        "{RUNS} runs final after {:?}, across two restarts",
        started.elapsed()
    );
    for w in &mut workers {
        terminate(w);
    }

    let runs = all_runs(&store).await;
    assert_eq!(runs.len(), RUNS);
    let mut statuses: HashMap<String, usize> = HashMap::new();
    let mut retried = 0;
    for r in &runs {
        assert!(r.status.is_final(), "run {} is {}", r.id, r.status);
        *statuses.entry(r.status.to_string()).or_default() += 1;
        if r.attempt > 1 {
            retried += 1;
        }
        let evs = store
            .events_list(EventsListParams::new(DEFAULT_WORKSPACE, r.id, 10_000))
            .await
            .unwrap();
        assert_eq!(
            evs.iter().map(|e| e.seq.0).collect::<Vec<_>>(),
            (1..=evs.len() as i64).collect::<Vec<_>>(),
            "run {}: events contiguous",
            r.id
        );
        // Each attempt starts once and the run ends once.
        let starts = evs
            .iter()
            .filter(|e| e.data["kind"] == "attempt_start")
            .count();
        assert_eq!(
            starts as i32, r.attempt,
            "run {}: one start per attempt",
            r.id
        );
        let ends: Vec<_> = evs
            .iter()
            .filter(|e| {
                matches!(e.data["kind"].as_str(), Some("run_end") | Some("rescued"))
                    && e.data["status"].as_str().is_some_and(|s| s != "queued")
            })
            .collect();
        assert_eq!(ends.len(), 1, "run {} ended exactly once: {ends:?}", r.id);
    }
    eprintln!("final statuses {statuses:?}; {retried} runs needed another attempt");
    assert_eq!(
        statuses.get("succeeded").copied().unwrap_or(0)
            + statuses.get("failed").copied().unwrap_or(0),
        RUNS
    );
}
