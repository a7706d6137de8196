//! In-process fan-out of "something changed" signals. The PostgreSQL backend
//! feeds it from one LISTEN connection per process; SQLite feeds it directly.
//! Signals carry ids only: receivers read the data from the store.

use tokio::sync::broadcast;

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wakeup {
    /// New events (or a status change) on this run.
    Run(opsroom_core::RunId),
    /// Runs may be ready to claim.
    RunsAvailable,
    /// Signals may have been lost: everyone re-reads.
    Everything,
}

/// A broadcast of [`Wakeup`]s.
#[derive(Debug, Clone)]
pub struct Wakeups {
    tx: broadcast::Sender<Wakeup>,
}

impl Default for Wakeups {
    fn default() -> Self {
        Self::new()
    }
}

impl Wakeups {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(8192);
        Wakeups { tx }
    }

    pub fn send(&self, wakeup: Wakeup) {
        // No receivers is fine: nobody is waiting.
        let _ = self.tx.send(wakeup);
    }

    pub fn subscribe(&self) -> WakeupReceiver {
        WakeupReceiver {
            rx: self.tx.subscribe(),
        }
    }
}

/// One subscriber's end. A receiver that fell behind gets
/// [`Wakeup::Everything`] instead of an error.
#[derive(Debug)]
pub struct WakeupReceiver {
    rx: broadcast::Receiver<Wakeup>,
}

impl WakeupReceiver {
    /// The next wakeup; `None` once the store is gone.
    pub async fn recv(&mut self) -> Option<Wakeup> {
        match self.rx.recv().await {
            Ok(w) => Some(w),
            Err(broadcast::error::RecvError::Lagged(_)) => Some(Wakeup::Everything),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}
