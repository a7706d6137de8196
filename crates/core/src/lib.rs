//! opsroom's domain: run statuses and phases, the runbook catalog and the
//! command parser. Pure code: no IO, no async runtime, no database.

pub mod catalog;
pub mod ids;
pub mod parser;
pub mod redact;
pub mod run;

pub use catalog::{Catalog, Risk, RunbookSpec, StepAction};
pub use ids::{RunId, Seq};
pub use run::{EventLevel, Phase, RunStatus};
