//! The run state machine's vocabulary: statuses, phases and event levels.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a run is in its life. Final statuses never change again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    AwaitingApproval,
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Rejected,
}

impl RunStatus {
    pub const ALL: [RunStatus; 7] = [
        RunStatus::AwaitingApproval,
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Cancelled,
        RunStatus::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::AwaitingApproval => "awaiting_approval",
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Rejected => "rejected",
        }
    }

    /// A final run is done: it will not be claimed, cancelled or written again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled | RunStatus::Rejected
        )
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for text that names no known variant.
#[derive(Debug, thiserror::Error)]
#[error("unknown {kind} `{value}`; expected one of: {expected}")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
    pub expected: String,
}

impl FromStr for RunStatus {
    type Err = UnknownVariant;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownVariant {
                kind: "status",
                value: s.to_string(),
                expected: RunStatus::ALL.map(|v| v.as_str()).join(", "),
            })
    }
}

/// The five phases every run goes through, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Validate,
    Preflight,
    Action,
    Verify,
    Summarize,
}

impl Phase {
    pub const ALL: [Phase; 5] = [
        Phase::Validate,
        Phase::Preflight,
        Phase::Action,
        Phase::Verify,
        Phase::Summarize,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Validate => "validate",
            Phase::Preflight => "preflight",
            Phase::Action => "action",
            Phase::Verify => "verify",
            Phase::Summarize => "summarize",
        }
    }

    /// 0-based position in the pipeline.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Phase {
    type Err = UnknownVariant;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phase::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownVariant {
                kind: "phase",
                value: s.to_string(),
                expected: Phase::ALL.map(|v| v.as_str()).join(", "),
            })
    }
}

/// Severity of a run event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventLevel {
    Debug,
    Info,
    Warn,
    Error,
}

impl EventLevel {
    pub const ALL: [EventLevel; 4] = [
        EventLevel::Debug,
        EventLevel::Info,
        EventLevel::Warn,
        EventLevel::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventLevel::Debug => "debug",
            EventLevel::Info => "info",
            EventLevel::Warn => "warn",
            EventLevel::Error => "error",
        }
    }
}

impl fmt::Display for EventLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventLevel {
    type Err = UnknownVariant;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventLevel::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownVariant {
                kind: "level",
                value: s.to_string(),
                expected: EventLevel::ALL.map(|v| v.as_str()).join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_text() {
        for s in RunStatus::ALL {
            assert_eq!(s.as_str().parse::<RunStatus>().unwrap(), s);
        }
        let err = "done".parse::<RunStatus>().unwrap_err().to_string();
        assert!(err.contains("unknown status `done`"), "{err}");
    }

    #[test]
    fn only_terminal_statuses_are_final() {
        let finals: Vec<_> = RunStatus::ALL
            .into_iter()
            .filter(|s| s.is_final())
            .collect();
        assert_eq!(
            finals,
            [
                RunStatus::Succeeded,
                RunStatus::Failed,
                RunStatus::Cancelled,
                RunStatus::Rejected
            ]
        );
    }
}
