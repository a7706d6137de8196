//! Counters and timings the workers of this process keep, for `/metrics`,
//! as `prometheus-client` metrics.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use std::time::Duration;

/// Claim and completion metrics of this process's workers. Cloning a metric
/// shares it, so [`EngineMetrics::register`] can add them to any registry.
#[derive(Debug)]
pub struct EngineMetrics {
    claim_seconds: Histogram,
    claimed_runs: Counter,
    completed_runs: Counter,
    lost_leases: Counter,
    abandoned_runs: Counter,
    completion_writes: Counter,
    completion_write_seconds: Histogram,
}

/// Bucket bounds for database round trips: 0.25 ms to about 4 s.
fn round_trip_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

impl Default for EngineMetrics {
    fn default() -> Self {
        EngineMetrics {
            claim_seconds: round_trip_buckets(),
            claimed_runs: Counter::default(),
            completed_runs: Counter::default(),
            lost_leases: Counter::default(),
            abandoned_runs: Counter::default(),
            completion_writes: Counter::default(),
            completion_write_seconds: round_trip_buckets(),
        }
    }
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricsSnapshot {
    pub claimed_runs: u64,
    pub completed_runs: u64,
    pub lost_leases: u64,
    /// Runs whose end could not be recorded, left to the rescuer.
    pub abandoned_runs: u64,
    /// Transactions that ended attempts (several attempts each when busy).
    pub completion_writes: u64,
}

impl EngineMetrics {
    pub fn record_claim(&self, took: Duration, runs: usize) {
        self.claim_seconds.observe(took.as_secs_f64());
        self.claimed_runs.inc_by(runs as u64);
    }

    pub fn record_completion_write(&self, took: Duration) {
        self.completion_writes.inc();
        self.completion_write_seconds.observe(took.as_secs_f64());
    }

    pub fn record_completed(&self) {
        self.completed_runs.inc();
    }

    pub fn record_lost_lease(&self) {
        self.lost_leases.inc();
    }

    pub fn record_abandoned(&self) {
        self.abandoned_runs.inc();
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            claimed_runs: self.claimed_runs.get(),
            completed_runs: self.completed_runs.get(),
            lost_leases: self.lost_leases.get(),
            abandoned_runs: self.abandoned_runs.get(),
            completion_writes: self.completion_writes.get(),
        }
    }

    /// Adds this process's worker metrics to `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register_with_unit(
            "opsroom_claim_duration",
            "Time spent claiming runs by this process's workers",
            Unit::Seconds,
            self.claim_seconds.clone(),
        );
        registry.register(
            "opsroom_runs_claimed",
            "Runs claimed by this process",
            self.claimed_runs.clone(),
        );
        registry.register(
            "opsroom_runs_completed",
            "Attempts completed by this process",
            self.completed_runs.clone(),
        );
        registry.register(
            "opsroom_leases_lost",
            "Runs taken away from this process's workers",
            self.lost_leases.clone(),
        );
        registry.register(
            "opsroom_runs_abandoned",
            "Runs whose end this process could not record, left to the rescuer",
            self.abandoned_runs.clone(),
        );
        registry.register(
            "opsroom_completion_writes",
            "Transactions that ended attempts (several at once when busy)",
            self.completion_writes.clone(),
        );
        registry.register_with_unit(
            "opsroom_completion_write_duration",
            "Time of the transactions that ended attempts",
            Unit::Seconds,
            self.completion_write_seconds.clone(),
        );
    }
}
