//! One module per resource, each with its own router.

pub mod approvals;
pub mod audit;
pub mod hooks;
pub mod identity;
pub mod meta;
pub mod notifications;
pub mod runs;
pub mod schedules;
pub mod secrets;
pub mod sessions;
pub mod slack;
