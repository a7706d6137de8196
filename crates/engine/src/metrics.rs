//! Counters the workers of this process keep, for `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Claim and completion counters of this process's workers.
#[derive(Debug, Default)]
pub struct EngineMetrics {
    claims: AtomicU64,
    claim_micros: AtomicU64,
    claimed_runs: AtomicU64,
    completed_runs: AtomicU64,
    lost_leases: AtomicU64,
    abandoned_runs: AtomicU64,
    completion_writes: AtomicU64,
    completion_micros: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricsSnapshot {
    pub claims: u64,
    pub claim_seconds: f64,
    pub claimed_runs: u64,
    pub completed_runs: u64,
    pub lost_leases: u64,
    /// Runs whose end could not be recorded, left to the rescuer.
    pub abandoned_runs: u64,
    /// Transactions that ended attempts (several attempts each when busy).
    pub completion_writes: u64,
    pub completion_seconds: f64,
}

impl EngineMetrics {
    pub fn record_claim(&self, took: Duration, runs: usize) {
        self.claims.fetch_add(1, Ordering::Relaxed);
        self.claim_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        self.claimed_runs.fetch_add(runs as u64, Ordering::Relaxed);
    }

    pub fn record_completion_write(&self, took: Duration) {
        self.completion_writes.fetch_add(1, Ordering::Relaxed);
        self.completion_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn record_completed(&self) {
        self.completed_runs.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_lost_lease(&self) {
        self.lost_leases.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_abandoned(&self) {
        self.abandoned_runs.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            claims: self.claims.load(Ordering::Relaxed),
            claim_seconds: self.claim_micros.load(Ordering::Relaxed) as f64 / 1e6,
            claimed_runs: self.claimed_runs.load(Ordering::Relaxed),
            completed_runs: self.completed_runs.load(Ordering::Relaxed),
            lost_leases: self.lost_leases.load(Ordering::Relaxed),
            abandoned_runs: self.abandoned_runs.load(Ordering::Relaxed),
            completion_writes: self.completion_writes.load(Ordering::Relaxed),
            completion_seconds: self.completion_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}
