//! `noop`: writes events and sleeps; for tests and benchmarks.

use crate::pipeline::{Execution, PhaseError, RunContext};
use opsroom_core::{EventLevel, Phase};
use serde_json::{json, Map, Value};
use std::time::Duration;

pub struct Noop {
    events: i64,
    sleep: Duration,
    fail_phase: Option<String>,
}

impl Noop {
    pub fn new(params: &Map<String, Value>) -> Self {
        Noop {
            events: params.get("events").and_then(Value::as_i64).unwrap_or(1),
            sleep: Duration::from_millis(
                params.get("sleep_ms").and_then(Value::as_u64).unwrap_or(0),
            ),
            fail_phase: params
                .get("fail_phase")
                .and_then(Value::as_str)
                .map(String::from),
        }
    }
}

#[async_trait::async_trait]
impl Execution for Noop {
    async fn phase(&mut self, phase: Phase, ctx: &mut RunContext) -> Result<(), PhaseError> {
        if phase == Phase::Action {
            for i in 1..=self.events {
                ctx.log_data(
                    EventLevel::Info,
                    format!("noop event {i} of {}", self.events),
                    json!({"i": i}),
                );
                ctx.flush_if_due().await;
            }
            if !self.sleep.is_zero() {
                // Show what happened so far before going quiet.
                ctx.flush().await;
                tokio::time::sleep(self.sleep).await;
            }
        }
        if self.fail_phase.as_deref() == Some(phase.as_str()) {
            return Err(PhaseError::retryable(format!(
                "noop was asked to fail in {phase}"
            )));
        }
        Ok(())
    }

    fn wants_summary_artifact(&self) -> bool {
        false
    }
}
