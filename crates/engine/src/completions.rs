//! Group commit for the ends of attempts: runs that finish while a
//! completion is being written are written together in the next
//! transaction, so a busy process pays one commit for many runs and an idle
//! one pays nothing extra.

use crate::Engine;
use opsroom_store::{Run, RunCompleteParams, StoreError, StoreResult};
use std::sync::Mutex;
use std::time::Instant;
use tokio::sync::oneshot;

/// The most completions written in one transaction.
const MAX_BATCH: usize = 256;

type Waiting = (RunCompleteParams, oneshot::Sender<StoreResult<Run>>);

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiting>,
    /// Whether a writer task is running; it takes whatever is waiting.
    writing: bool,
}

/// The process's completion queue (one per [`crate::Engine`]).
#[derive(Default)]
pub struct Completions {
    queue: Mutex<Queue>,
}

impl Completions {
    /// Ends one attempt, in a transaction shared with the other runs that
    /// end meanwhile.
    pub async fn complete(engine: &Engine, params: RunCompleteParams) -> StoreResult<Run> {
        let me = &engine.completions;
        let run_id = params.run_id;
        let (tx, rx) = oneshot::channel();
        let start_writer = {
            let mut q = me.queue.lock().unwrap();
            q.waiting.push((params, tx));
            !std::mem::replace(&mut q.writing, true)
        };
        if start_writer {
            // A task, not this future: a caller that is dropped mid-write
            // must not leave the queue without a writer.
            let engine = engine.clone();
            tokio::spawn(async move { engine.completions.write_all(&engine).await });
        }
        rx.await.unwrap_or(Err(StoreError::LeaseLost { run_id }))
    }

    async fn write_all(&self, engine: &Engine) {
        loop {
            let batch: Vec<Waiting> = {
                let mut q = self.queue.lock().unwrap();
                if q.waiting.is_empty() {
                    q.writing = false;
                    return;
                }
                let n = q.waiting.len().min(MAX_BATCH);
                q.waiting.drain(..n).collect()
            };
            let started = Instant::now();
            write(engine, batch).await;
            engine.metrics.record_completion_write(started.elapsed());
        }
    }
}

async fn write(engine: &Engine, batch: Vec<Waiting>) {
    let store = &engine.store;
    let (params, senders): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
    if params.len() > 1 {
        match store.runs_complete(params.clone()).await {
            Ok(results) => {
                for (tx, result) in senders.into_iter().zip(results) {
                    let _ = tx.send(result);
                }
                return;
            }
            // One bad item (or a deadlock) must not fail the others: write
            // them one by one.
            Err(e) => {
                tracing::warn!(runs = params.len(), error = %e, "batch completion failed; completing runs one by one")
            }
        }
    }
    for (p, tx) in params.into_iter().zip(senders) {
        let _ = tx.send(store.run_complete(p).await);
    }
}
