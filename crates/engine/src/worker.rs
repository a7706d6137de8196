//! A worker: claims runs in batches, executes each through the pipeline,
//! heartbeats its leases, passes on cancels, rescues runs of dead workers,
//! and on shutdown lets current runs finish within a grace period or
//! releases them back to the queue. Its heartbeat also does the queue's
//! maintenance: rescues and expired approvals.

use crate::pipeline::{execute_run, Outcome, StopSignal};
use crate::Engine;
use opsroom_store::{
    Run, RunClaimParams, RunId, RunsRescueParams, Wakeup, WorkerHeartbeatParams, WorkerState,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Runs executed at once by this worker.
    pub concurrency: usize,
    /// Polling interval when no wakeup arrives (scheduled and retried runs).
    pub poll_interval: Duration,
    pub heartbeat_interval: Duration,
    /// A run whose worker has not heartbeated for this long is rescued.
    pub heartbeat_timeout: Duration,
    /// On shutdown, how long current runs may take before they are released.
    pub shutdown_grace: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            concurrency: 8,
            poll_interval: Duration::from_millis(500),
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

static NEXT_WORKER: AtomicU64 = AtomicU64::new(1);

/// How long a free slot may wait for others to free up, so that a busy
/// worker claims several runs at once; after that it claims alone.
const BATCH_WAIT: Duration = Duration::from_millis(20);

/// The machine's host name, for worker ids and the workers page.
pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Resolves once the flag is true (never, if its sender is gone while false).
pub async fn until_true(rx: &mut watch::Receiver<bool>) {
    while !*rx.borrow_and_update() {
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

type StopSenders = Arc<Mutex<HashMap<RunId, watch::Sender<StopSignal>>>>;

/// One worker with its own id.
#[derive(Clone)]
pub struct WorkerPool {
    engine: Engine,
    options: WorkerOptions,
    id: String,
    host: String,
    in_flight: StopSenders,
}

impl WorkerPool {
    pub fn new(engine: Engine, options: WorkerOptions) -> Self {
        let host = host_name();
        let id = format!(
            "{host}-{}-{}",
            std::process::id(),
            NEXT_WORKER.fetch_add(1, Ordering::Relaxed)
        );
        WorkerPool {
            engine,
            options,
            id,
            host,
            in_flight: Arc::default(),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn in_flight_count(&self) -> usize {
        self.in_flight.lock().unwrap().len()
    }

    async fn claim(&self, limit: usize) -> Vec<Run> {
        if limit == 0 {
            return Vec::new();
        }
        let started = std::time::Instant::now();
        let result = self
            .engine
            .store
            .run_claim(RunClaimParams {
                worker_id: self.id.clone(),
                limit: limit as i64,
                now: self.engine.clock.now(),
            })
            .await;
        match result {
            Ok(runs) => {
                self.engine
                    .metrics
                    .record_claim(started.elapsed(), runs.len());
                runs
            }
            Err(e) => {
                tracing::warn!(worker = %self.id, error = %e, "claim failed");
                Vec::new()
            }
        }
    }

    fn spawn_run(&self, set: &mut JoinSet<(RunId, Outcome)>, run: Run) {
        let (tx, rx) = watch::channel(StopSignal::Run);
        self.in_flight.lock().unwrap().insert(run.id, tx);
        let engine = self.engine.clone();
        let worker_id = self.id.clone();
        set.spawn(async move {
            let id = run.id;
            (id, execute_run(engine, run, &worker_id, rx).await)
        });
    }

    fn finished(&self, id: RunId, outcome: &Outcome) {
        self.in_flight.lock().unwrap().remove(&id);
        match outcome {
            Outcome::Completed(_) => self.engine.metrics.record_completed(),
            Outcome::LeaseLost => self.engine.metrics.record_lost_lease(),
            Outcome::Released => {}
            Outcome::Abandoned => self.engine.metrics.record_abandoned(),
        }
        match outcome {
            Outcome::LeaseLost => {
                tracing::warn!(worker = %self.id, run = %id, "lost the lease on a run; another worker owns it now")
            }
            Outcome::Abandoned => {
                tracing::error!(worker = %self.id, run = %id, "gave up on a run; it is rescued once its lease lapses")
            }
            _ => {}
        }
    }

    /// Claims what it can and runs all of it to the end; returns how many
    /// runs it executed. Tests drain the queue with this, without sleeps.
    pub async fn run_batch(&self) -> usize {
        let runs = self.claim(self.options.concurrency).await;
        let n = runs.len();
        let mut set = JoinSet::new();
        for run in runs {
            self.spawn_run(&mut set, run);
        }
        while let Some(joined) = set.join_next().await {
            if let Ok((id, outcome)) = joined {
                self.finished(id, &outcome);
            }
        }
        n
    }

    /// One heartbeat: extend the leases of the runs this worker is executing
    /// (and no others), pass on cancels, rescue dead workers' runs, reject
    /// runs whose approval expired.
    pub async fn heartbeat(&self, state: WorkerState) {
        let now = self.engine.clock.now();
        let store = &self.engine.store;
        let running: Vec<RunId> = self.in_flight.lock().unwrap().keys().copied().collect();
        match store
            .worker_heartbeat(WorkerHeartbeatParams {
                worker_id: self.id.clone(),
                host: self.host.clone(),
                pid: std::process::id() as i64,
                state,
                concurrency: self.options.concurrency as i32,
                running,
                now,
            })
            .await
        {
            Ok(cancelled) => {
                let senders = self.in_flight.lock().unwrap();
                for id in cancelled {
                    if let Some(tx) = senders.get(&id) {
                        tx.send_if_modified(|s| {
                            let changed = *s == StopSignal::Run;
                            if changed {
                                *s = StopSignal::Cancel;
                            }
                            changed
                        });
                    }
                }
            }
            Err(e) => tracing::warn!(worker = %self.id, error = %e, "heartbeat failed"),
        }
        let timeout = chrono::Duration::from_std(self.options.heartbeat_timeout)
            .unwrap_or(chrono::Duration::seconds(30));
        match store
            .runs_rescue(RunsRescueParams {
                stale_before: now - timeout,
                now,
                retry_at: now,
            })
            .await
        {
            Ok(rescued) => {
                for r in rescued {
                    tracing::warn!(run = %r.id, status = %r.status, "rescued a run whose worker stopped heartbeating");
                }
            }
            Err(e) => tracing::warn!(error = %e, "rescue failed"),
        }
        // Every worker sweeps; the store expires each run exactly once.
        match store.runs_expire_approvals(now).await {
            Ok(expired) => {
                for r in expired {
                    tracing::info!(run = %r.id, "approval expired; run rejected");
                }
            }
            Err(e) => tracing::warn!(error = %e, "expiring approvals failed"),
        }
    }

    /// Claims and executes runs until `shutdown` turns true, then drains.
    pub async fn run_until_stopped(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(worker = %self.id, concurrency = self.options.concurrency, "worker started");
        let mut wakeups = self.engine.store.wakeups().subscribe();
        // Heartbeats go on while current runs drain after a shutdown request.
        let (hb_stop_tx, mut hb_stop) = watch::channel(false);
        let notify_stop = hb_stop.clone();
        let heartbeat = {
            let me = self.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(me.options.heartbeat_interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = tick.tick() => {
                            let state = if me.in_flight_count() > 0 { WorkerState::Busy } else { WorkerState::Idle };
                            me.heartbeat(state).await;
                        }
                        _ = until_true(&mut hb_stop) => break,
                    }
                }
            })
        };
        // Notifications of run events go out from every worker (each
        // delivery is claimed by one); they never hold up a run.
        let notifier = tokio::spawn(
            crate::notify::Notifier::new(self.engine.clone(), Default::default())
                .run_until_stopped(self.options.poll_interval, notify_stop),
        );
        let mut set: JoinSet<(RunId, Outcome)> = JoinSet::new();
        let mut poll = tokio::time::interval(self.options.poll_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut claim_now = true;
        // Whether the last claim filled every free slot, so more runs wait.
        let mut backlog = false;
        // When a slot left free to batch claims is claimed for anyway.
        let mut batch_deadline: Option<tokio::time::Instant> = None;
        while !*shutdown.borrow() {
            if claim_now {
                claim_now = false;
                let free = self.options.concurrency.saturating_sub(set.len());
                // With a backlog, claiming each slot as it frees up costs a
                // claim per run; waiting (briefly) for a quarter of the slots
                // lets one claim take several. Runs wait in the queue either way.
                let min_batch = if backlog {
                    (self.options.concurrency / 4).max(1)
                } else {
                    1
                };
                let waited = batch_deadline.is_some_and(|t| tokio::time::Instant::now() >= t);
                if free >= min_batch || (free > 0 && waited) {
                    batch_deadline = None;
                    let runs = self.claim(free).await;
                    backlog = runs.len() == free;
                    for run in runs {
                        self.spawn_run(&mut set, run);
                    }
                } else if free > 0 && batch_deadline.is_none() {
                    batch_deadline = Some(tokio::time::Instant::now() + BATCH_WAIT);
                }
            }
            tokio::select! {
                Some(joined) = set.join_next(), if !set.is_empty() => {
                    if let Ok((id, outcome)) = joined {
                        self.finished(id, &outcome);
                    }
                    claim_now = true;
                }
                w = wakeups.recv() => {
                    claim_now = matches!(w, Some(Wakeup::RunsAvailable | Wakeup::Everything) | None);
                    if w.is_none() {
                        break;
                    }
                }
                _ = tokio::time::sleep_until(batch_deadline.unwrap_or_else(tokio::time::Instant::now)), if batch_deadline.is_some() => {
                    claim_now = true;
                }
                _ = poll.tick() => claim_now = true,
                _ = until_true(&mut shutdown) => {}
            }
        }
        self.drain(set).await;
        let _ = hb_stop_tx.send(true);
        let _ = heartbeat.await;
        let _ = notifier.await;
        self.heartbeat(WorkerState::Stopped).await;
        tracing::info!(worker = %self.id, "worker stopped");
    }

    /// Lets current runs finish within the grace period, then releases the rest.
    async fn drain(&self, mut set: JoinSet<(RunId, Outcome)>) {
        if set.is_empty() {
            return;
        }
        tracing::info!(worker = %self.id, runs = set.len(), grace_secs = self.options.shutdown_grace.as_secs(), "finishing current runs");
        let deadline = tokio::time::Instant::now() + self.options.shutdown_grace;
        let mut released = false;
        loop {
            tokio::select! {
                joined = set.join_next() => match joined {
                    Some(Ok((id, outcome))) => self.finished(id, &outcome),
                    Some(Err(_)) => {}
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline), if !released => {
                    released = true;
                    for tx in self.in_flight.lock().unwrap().values() {
                        let _ = tx.send(StopSignal::Release);
                    }
                }
            }
        }
    }
}
