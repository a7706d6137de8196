//! `opsroom bench`: measures the queue on each store — enqueue rate through
//! the API and in batches, end-to-end no-op runs per second with N workers,
//! enqueue → first SSE event latency idle and under load, and server memory;
//! with `--only incident`, the incident runbook end to end on generated logs.
//! Every measurement runs a real `opsroom serve` child process: the running
//! program must be the `opsroom` binary, which calls [`bench`] for its
//! `bench` command.
mod incident;

use chrono::Utc;
use clap::Args;
use opsroom_store::{DynStore, RunInsertParams};
use serde_json::{json, Value};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// What stopped the bench.
#[derive(Debug)]
pub enum BenchError {
    /// The arguments are wrong; nothing was measured.
    Input(String),
    /// The server, a store or a measurement failed.
    Server(String),
}

impl BenchError {
    fn input(message: impl Into<String>) -> Self {
        BenchError::Input(message.into())
    }

    fn server(message: impl Into<String>) -> Self {
        BenchError::Server(message.into())
    }
}

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BenchError::Input(m) | BenchError::Server(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for BenchError {}

/// The bench's results: its rows are printed as they are measured.
pub type BenchResult<T> = Result<T, BenchError>;

/// `opsroom bench`'s arguments.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Which stores to measure: sqlite, postgres or both.
    #[arg(long, default_value = "both")]
    pub store: String,
    /// PostgreSQL server for the postgres half (a fresh schema is used and dropped).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    pub postgres_url: String,
    /// Runs for the end-to-end measurement.
    #[arg(long, default_value_t = 3000)]
    pub runs: usize,
    /// Runs enqueued one request at a time through the API.
    #[arg(long, default_value_t = 2000)]
    pub api_runs: usize,
    /// Runs enqueued in batches.
    #[arg(long, default_value_t = 50_000)]
    pub bulk_runs: usize,
    /// Workers in the server, and runs each executes at once.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Requests in flight at once while enqueueing through the API.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Events each no-op run's action phase writes (plus 13 from the pipeline).
    #[arg(long, default_value_t = 1)]
    pub events: u32,
    /// Samples for each latency measurement.
    #[arg(long, default_value_t = 200)]
    pub samples: usize,
    /// Background load (runs/s) while measuring latency under load.
    #[arg(long, default_value_t = 1000)]
    pub load_rate: u32,
    /// Time budget of each latency measurement, in seconds (at least one
    /// sample is always taken).
    #[arg(long, default_value_t = 30)]
    pub latency_secs: u64,
    /// MiB of generated logs the incident measurement triages.
    #[arg(long, default_value_t = 256)]
    pub incident_mb: u64,
    /// Which measurements to take, comma separated (`incident`, the
    /// incident runbook on generated logs, only when named).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "api,bulk,e2e,latency"
    )]
    pub only: Vec<Measure>,
}

/// One measurement `--only` can pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Measure {
    Api,
    Bulk,
    E2e,
    Latency,
    Incident,
}

struct Server {
    child: Child,
    url: String,
}

impl Server {
    async fn start(database_url: &str, workers: usize, concurrency: usize) -> BenchResult<Server> {
        Server::spawn(database_url, workers, concurrency, None).await
    }

    /// Starts `opsroom serve`, with `config` as its opsroom.toml when given.
    async fn spawn(
        database_url: &str,
        workers: usize,
        concurrency: usize,
        config: Option<&std::path::Path>,
    ) -> BenchResult<Server> {
        let exe = std::env::current_exe().map_err(failed)?;
        let mut command = Command::new(exe);
        command.env_remove("OPSROOM_CONFIG");
        if let Some(config) = config {
            command.env("OPSROOM_CONFIG", config);
        }
        let mut child = command
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--database-url",
                database_url,
            ])
            .args([
                "--workers",
                &workers.to_string(),
                "--concurrency",
                &concurrency.to_string(),
            ])
            .env("RUST_LOG", "error")
            .env_remove("OPSROOM_ADMIN_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| BenchError::server(format!("starting opsroom serve: {e}")))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .map_err(|_| BenchError::server("opsroom serve did not start within 30 s"))?
            .map_err(failed)?
            .ok_or_else(|| BenchError::server("opsroom serve exited at start"))?;
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .ok_or_else(|| BenchError::server(format!("unexpected first line from serve: {line}")))?
            .to_string();
        Ok(Server { child, url })
    }

    fn rss_mb(&self) -> f64 {
        rss_of(self.child.id().unwrap_or(0)).unwrap_or(f64::NAN)
    }

    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await;
    }
}

/// A fresh database per measurement: a temp SQLite file, or a new schema.
struct Scratch {
    url: String,
    schema: Option<(String, String)>,
    file: Option<std::path::PathBuf>,
}

async fn scratch(kind: &str, pg: &str, n: usize) -> BenchResult<Scratch> {
    let tag = format!("opsroom_bench_{}_{n}", std::process::id());
    if kind == "sqlite" {
        let path = std::env::temp_dir().join(format!("{tag}.db"));
        return Ok(Scratch {
            url: format!("sqlite://{}", path.display()),
            schema: None,
            file: Some(path),
        });
    }
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(pg).await.map_err(|e| {
        BenchError::input(format!(
            "cannot connect to {}: {e}",
            opsroom_store::redact_url(pg)
        ))
    })?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {tag} CASCADE; "))
        .execute(&mut conn)
        .await
        .ok();
    sqlx::query(&format!("CREATE SCHEMA {tag}"))
        .execute(&mut conn)
        .await
        .map_err(failed)?;
    let sep = if pg.contains('?') { '&' } else { '?' };
    Ok(Scratch {
        url: format!("{pg}{sep}options=-c%20search_path%3D{tag}"),
        schema: Some((pg.to_string(), tag)),
        file: None,
    })
}

impl Scratch {
    async fn store(&self) -> BenchResult<DynStore> {
        let store = opsroom_store::connect(&self.url).await.map_err(failed)?;
        store.migrate().await.map_err(failed)?;
        Ok(store)
    }

    /// Gives PostgreSQL's planner statistics for the runs just loaded, as
    /// autovacuum would within a minute on a live database; without them
    /// it sorts every queued run on each claim of a freshly filled table.
    async fn analyze(&self) -> BenchResult<()> {
        if let Some((_, schema)) = &self.schema {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&self.url)
                .await
                .map_err(failed)?;
            sqlx::query(&format!("ANALYZE {schema}.runs"))
                .execute(&mut conn)
                .await
                .map_err(failed)?;
        }
        Ok(())
    }

    async fn drop(self) {
        if let Some((pg, schema)) = self.schema {
            use sqlx::Connection;
            if let Ok(mut conn) = sqlx::PgConnection::connect(&pg).await {
                let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .execute(&mut conn)
                    .await;
            }
        }
        if let Some(f) = self.file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", f.display()));
            }
        }
    }
}

fn noop(events: u32) -> RunInsertParams {
    let mut p = RunInsertParams::new("noop", Utc::now());
    p.params = json!({"events": events});
    p.actor = "bench".into();
    p
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn post_run(http: &reqwest::Client, url: &str, events: u32) -> BenchResult<i64> {
    let r: Value = http
        .post(format!("{url}/api/v1/runs"))
        .json(&json!({"runbook": "noop", "params": {"events": events}}))
        .send()
        .await
        .map_err(failed)?
        .json()
        .await
        .map_err(failed)?;
    r["id"]
        .as_i64()
        .ok_or_else(|| BenchError::server(format!("no run id in {r}")))
}

/// Time from the POST until the first event after `created` arrives over SSE.
async fn first_event_latency(http: &reqwest::Client, url: &str) -> BenchResult<f64> {
    let t = Instant::now();
    let id = post_run(http, url, 1).await?;
    let mut response = http
        .get(format!("{url}/api/v1/runs/{id}/events/stream"))
        .header("last-event-id", "1")
        .send()
        .await
        .map_err(failed)?;
    let mut buf = String::new();
    loop {
        let chunk = tokio::time::timeout(Duration::from_secs(5), response.chunk())
            .await
            .map_err(|_| BenchError::server("no SSE event within 5 s"))?
            .map_err(failed)?
            .ok_or_else(|| BenchError::server("SSE stream closed"))?;
        buf.push_str(&String::from_utf8_lossy(&chunk));
        if buf.contains("\nid:") || buf.starts_with("id:") {
            return Ok(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
}

/// The pause between two latency samples.
const SAMPLE_GAP: Duration = Duration::from_millis(25);

/// Latency samples: p50 and p99 in ms, how many samples were taken within
/// the time budget and how many saw no event within 5 s (counted as 5 s).
struct Latencies {
    sorted: Vec<f64>,
    timeouts: usize,
    wanted: usize,
}

impl std::fmt::Display for Latencies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.1} ms, p99 {:.1} ms",
            percentile(&self.sorted, 0.5),
            percentile(&self.sorted, 0.99)
        )?;
        if self.sorted.len() < self.wanted {
            write!(
                f,
                " ({} of {} samples taken within the time budget)",
                self.sorted.len(),
                self.wanted
            )?;
        }
        if self.timeouts > 0 {
            write!(f, " ({} samples saw nothing within 5 s)", self.timeouts)?;
        }
        Ok(())
    }
}

async fn latencies(
    http: &reqwest::Client,
    url: &str,
    samples: usize,
    budget: Duration,
) -> Latencies {
    let started = Instant::now();
    let mut sorted = Vec::with_capacity(samples);
    let mut timeouts = 0;
    while sorted.len() < samples && (sorted.is_empty() || started.elapsed() < budget) {
        if !sorted.is_empty() {
            // Spread the samples, so the loaded ones span several seconds
            // of load and the idle ones find the previous run finished.
            tokio::time::sleep(SAMPLE_GAP).await;
        }
        match first_event_latency(http, url).await {
            Ok(ms) => sorted.push(ms),
            Err(_) => {
                timeouts += 1;
                sorted.push(5_000.0);
            }
        }
    }
    sorted.sort_by(|a, b| a.total_cmp(b));
    Latencies {
        sorted,
        timeouts,
        wanted: samples,
    }
}

async fn wait_drained(store: &DynStore, total: usize) -> BenchResult<Duration> {
    let t = Instant::now();
    loop {
        let done = finished(store).await?;
        if done as usize >= total {
            return Ok(t.elapsed());
        }
        if t.elapsed() > Duration::from_secs(600) {
            return Err(BenchError::server(format!(
                "only {done} of {total} runs finished in 600 s"
            )));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn metric(http: &reqwest::Client, url: &str, name: &str) -> f64 {
    let text = match http.get(format!("{url}/metrics")).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => return f64::NAN,
    };
    text.lines()
        .find(|l| l.starts_with(name) && l.as_bytes().get(name.len()) == Some(&b' '))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

/// One line of the report, printed as soon as it is measured.
fn row(what: &str, result: String) {
    use std::io::Write;
    println!("| {what} | {result} |");
    let _ = std::io::stdout().flush();
}

fn failed(e: impl std::fmt::Display) -> BenchError {
    BenchError::server(e.to_string())
}

/// Enqueue through the API, one run per request, 32 clients.
async fn measure_api(kind: &str, args: &BenchArgs, http: &reqwest::Client) -> BenchResult<()> {
    let db = scratch(kind, &args.postgres_url, 1).await?;
    db.store().await?;
    let server = Server::start(&db.url, 0, 1).await?;
    let idle_rss = server.rss_mb();
    let t = Instant::now();
    let per_client = args.api_runs / 32;
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let http = http.clone();
        let url = server.url.clone();
        let events = args.events;
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_client {
                post_run(&http, &url, events).await?;
            }
            Ok::<_, BenchError>(())
        }));
    }
    for task in tasks {
        task.await.map_err(failed)??;
    }
    let rate = (per_client * 32) as f64 / t.elapsed().as_secs_f64();
    let busy_rss = server.rss_mb();
    server.stop().await;
    db.drop().await;
    row(
        "enqueue through the API, 1 run per request, 32 clients",
        format!("{rate:.0} runs/s"),
    );
    row(
        "server RSS idle / after the API enqueue",
        format!("{idle_rss:.1} MB / {busy_rss:.1} MB"),
    );
    Ok(())
}

/// Enqueue in batches of 1,000 (one transaction each), straight into the store.
async fn measure_bulk(kind: &str, args: &BenchArgs) -> BenchResult<()> {
    let db = scratch(kind, &args.postgres_url, 2).await?;
    let store = db.store().await?;
    let t = Instant::now();
    let mut left = args.bulk_runs;
    while left > 0 {
        let n = left.min(1000);
        store
            .runs_insert_batch((0..n).map(|_| noop(args.events)).collect())
            .await
            .map_err(failed)?;
        left -= n;
    }
    let rate = args.bulk_runs as f64 / t.elapsed().as_secs_f64();
    drop(store);
    db.drop().await;
    row("enqueue in batches of 1,000", format!("{rate:.0} runs/s"));
    Ok(())
}

/// End to end: queued no-op runs drained by the server's workers.
async fn measure_e2e(kind: &str, args: &BenchArgs, http: &reqwest::Client) -> BenchResult<()> {
    let db = scratch(kind, &args.postgres_url, 3).await?;
    let store = db.store().await?;
    for chunk in (0..args.runs).collect::<Vec<_>>().chunks(1000) {
        store
            .runs_insert_batch(chunk.iter().map(|_| noop(args.events)).collect())
            .await
            .map_err(failed)?;
    }
    db.analyze().await?;
    let server = Server::start(&db.url, args.workers, args.concurrency).await?;
    let rss = RssWatch::start(&server);
    let took = wait_drained(&store, args.runs).await;
    let peak = rss.peak().await;
    let took = took?;
    let rate = args.runs as f64 / took.as_secs_f64();
    let claims = metric(http, &server.url, "opsroom_claim_duration_seconds_count").await;
    let claim_secs = metric(http, &server.url, "opsroom_claim_duration_seconds_sum").await;
    let sample = store
        .run_list(opsroom_store::RunListParams {
            workspace_id: opsroom_store::DEFAULT_WORKSPACE.into(),
            limit: 1,
            ..Default::default()
        })
        .await
        .map_err(failed)?;
    let events_per_run = sample.first().map(|r| r.last_seq.0).unwrap_or(0);
    server.stop().await;
    drop(store);
    db.drop().await;
    row(
        &format!(
            "end to end, {} no-op runs, {} workers × {} concurrent, {events_per_run} events per run",
            args.runs, args.workers, args.concurrency
        ),
        format!(
            "{rate:.0} runs/s ({:.0} events/s)",
            rate * events_per_run as f64
        ),
    );
    row(
        "where the time goes: claims",
        format!(
            "{claims:.0} claim statements, {:.2} ms each on average, {:.1} runs per claim",
            claim_secs / claims * 1000.0,
            args.runs as f64 / claims
        ),
    );
    row("server RSS peak while draining", format!("{peak:.1} MB"));
    Ok(())
}

/// Enqueue → first SSE event, idle, then under a background load of
/// `--load-rate` runs/s through the API.
async fn measure_latency(kind: &str, args: &BenchArgs, http: &reqwest::Client) -> BenchResult<()> {
    let db = scratch(kind, &args.postgres_url, 4).await?;
    let store = db.store().await?;
    let server = Server::start(&db.url, args.workers, args.concurrency).await?;
    let budget = Duration::from_secs(args.latency_secs);
    let idle = latencies(http, &server.url, args.samples, budget).await;
    row("enqueue → first SSE event, idle", idle.to_string());

    let loading = Arc::new(AtomicBool::new(true));
    let load = {
        let http = http.clone();
        let url = server.url.clone();
        let loading = loading.clone();
        let per_tick = (args.load_rate / 100).max(1);
        tokio::spawn(async move {
            // load_rate/100 runs every 10 ms, at most 64 requests in flight:
            // an overloaded server gets less, and the report says how much.
            let in_flight = Arc::new(tokio::sync::Semaphore::new(64));
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            let mut sent = 0u64;
            while loading.load(Ordering::Relaxed) {
                tick.tick().await;
                for _ in 0..per_tick {
                    let Ok(permit) = in_flight.clone().try_acquire_owned() else {
                        break;
                    };
                    let http = http.clone();
                    let url = url.clone();
                    tokio::spawn(async move {
                        let _ = post_run(&http, &url, 1).await;
                        drop(permit);
                    });
                    sent += 1;
                }
            }
            sent
        })
    };
    // Let the load settle before sampling.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let done_before = finished(&store).await?;
    let started = Instant::now();
    let rss = RssWatch::start(&server);
    let under_load = latencies(http, &server.url, args.samples, budget).await;
    let peak = rss.peak().await;
    let secs = started.elapsed().as_secs_f64();
    let drained = (finished(&store).await? - done_before) as f64 / secs;
    loading.store(false, Ordering::Relaxed);
    let sent = load.await.unwrap_or(0);
    let backlog = metric(http, &server.url, "opsroom_queue_depth").await;
    server.stop().await;
    drop(store);
    db.drop().await;
    row(
        &format!(
            "enqueue → first SSE event, under load ({} runs/s offered through the API, {drained:.0} runs/s finished while sampling, {backlog:.0} queued at the end)",
            (sent as f64 / (secs + 1.0)).round()
        ),
        under_load.to_string(),
    );
    row("server RSS peak under load", format!("{peak:.1} MB"));
    Ok(())
}

async fn finished(store: &DynStore) -> BenchResult<i64> {
    let counts = store.runs_count_by_status().await.map_err(failed)?;
    Ok(counts
        .iter()
        .filter(|(s, _)| s == "succeeded" || s == "failed")
        .map(|(_, n)| n)
        .sum())
}

async fn bench_store(kind: &str, args: &BenchArgs) -> BenchResult<()> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(failed)?;
    println!("\n## {kind}\n");
    println!("| measurement | result |");
    println!("|---|---|");
    for m in &args.only {
        match m {
            Measure::Api => measure_api(kind, args, &http).await?,
            Measure::Bulk => measure_bulk(kind, args).await?,
            Measure::E2e => measure_e2e(kind, args, &http).await?,
            Measure::Latency => measure_latency(kind, args, &http).await?,
            Measure::Incident => incident::measure_incident(kind, args, &http).await?,
        }
    }
    Ok(())
}

/// Samples a server's RSS every 50 ms until asked for the peak.
struct RssWatch {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<f64>,
}

impl RssWatch {
    fn start(server: &Server) -> RssWatch {
        let pid = server.child.id().unwrap_or(0);
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut peak = f64::NAN;
            while !stopped.load(Ordering::Relaxed) {
                if let Some(mb) = rss_of(pid) {
                    peak = mb.max(peak);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            peak
        });
        RssWatch { stop, task }
    }

    async fn peak(self) -> f64 {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap_or(f64::NAN)
    }
}

fn rss_of(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Measures each store `args` names, printing a markdown table per store.
pub async fn bench(args: BenchArgs) -> BenchResult<()> {
    let kinds: Vec<&str> = match args.store.as_str() {
        "both" => vec!["sqlite", "postgres"],
        "sqlite" => vec!["sqlite"],
        "postgres" => vec!["postgres"],
        other => {
            return Err(BenchError::input(format!(
                "--store must be sqlite, postgres or both, got `{other}`"
            )))
        }
    };
    if args.runs == 0 || args.api_runs < 32 || args.bulk_runs == 0 || args.samples == 0 {
        return Err(BenchError::input(
            "--runs, --bulk-runs and --samples must be positive and --api-runs at least 32",
        ));
    }
    println!(
        "# opsroom bench — {} cores, {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    for kind in kinds {
        bench_store(kind, &args).await?;
    }
    Ok(())
}
