//! opsroom's domain: run statuses and phases, the runbook catalog and the
//! command parser. Pure code: no IO, no async runtime, no database.

pub mod catalog;
pub mod cron;
pub mod ids;
pub mod new_run;
pub mod parser;
pub mod redact;
pub mod run;

pub use catalog::{Catalog, Risk, RunbookSpec, StepAction};
pub use ids::{RunId, Seq};
pub use new_run::{NewRun, NewRunError, NewRunInput};
pub use run::{ArtifactKind, EventLevel, Lane, Phase, PhaseStatus, RunStatus, WorkerState};
