//! The run state machine's vocabulary: statuses, phases, event levels,
//! lanes, artifact kinds and worker states, each stored as text.

/// Declares a fieldless enum that is stored and shown as snake_case text,
/// with `ALL`, `as_str`, `Display`, serde, and a `FromStr` whose error
/// names the kind and the expected values.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($kind:literal) {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::run::UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| $crate::run::UnknownVariant {
                        kind: $kind,
                        value: s.to_string(),
                        expected: $name::ALL.map(|v| v.as_str()).join(", "),
                    })
            }
        }
    };
}
pub(crate) use text_enum;

/// Error for text that names no known variant.
#[derive(Debug, thiserror::Error)]
#[error("unknown {kind} `{value}`; expected one of: {expected}")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
    pub expected: String,
}

text_enum! {
    /// Where a run is in its life. Final statuses never change again.
    pub enum RunStatus ("status") {
        AwaitingApproval = "awaiting_approval",
        Queued = "queued",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        Cancelled = "cancelled",
        Rejected = "rejected",
    }
}

impl RunStatus {
    /// A final run is done: it will not be claimed, cancelled or written again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled | RunStatus::Rejected
        )
    }
}

text_enum! {
    /// The five phases every run goes through, in order.
    pub enum Phase ("phase") {
        Validate = "validate",
        Preflight = "preflight",
        Action = "action",
        Verify = "verify",
        Summarize = "summarize",
    }
}

impl Phase {
    /// 0-based position in the pipeline.
    pub fn index(self) -> usize {
        self as usize
    }
}

text_enum! {
    /// How one phase of a run went.
    pub enum PhaseStatus ("phase status") {
        Pending = "pending",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        Skipped = "skipped",
        Cancelled = "cancelled",
        TimedOut = "timed_out",
    }
}

text_enum! {
    /// Severity of a run event.
    pub enum EventLevel ("level") {
        Debug = "debug",
        Info = "info",
        Warn = "warn",
        Error = "error",
    }
}

text_enum! {
    /// The lanes every session has: a lane runs its runs one after another.
    pub enum Lane ("lane") {
        A = "A",
        B = "B",
        C = "C",
        D = "D",
    }
}

text_enum! {
    /// What an artifact holds, which decides how it is shown.
    pub enum ArtifactKind ("artifact kind") {
        Link = "link",
        Diff = "diff",
        Markdown = "markdown",
        File = "file",
        Mermaid = "mermaid",
        Json = "json",
    }
}

text_enum! {
    /// What a worker is doing, as its heartbeat says.
    pub enum WorkerState ("worker state") {
        Idle = "idle",
        Busy = "busy",
        Stopped = "stopped",
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

    /// The text a value is stored as, its serde name and its parse agree.
    fn agree<T>(all: &[T])
    where
        T: Copy + PartialEq + std::fmt::Debug + std::fmt::Display + std::str::FromStr,
        T: serde::Serialize + serde::de::DeserializeOwned,
    {
        for v in all {
            let text = v.to_string();
            assert_eq!(serde_json::to_value(v).unwrap(), serde_json::json!(text));
            assert_eq!(
                serde_json::from_value::<T>(serde_json::json!(text)).unwrap(),
                *v
            );
            assert!(text.parse::<T>().is_ok_and(|p| p == *v), "{text}");
        }
        assert!(serde_json::from_value::<T>(serde_json::json!("nope")).is_err());
    }

    #[test]
    fn every_text_enum_reads_back_what_it_writes() {
        agree(&RunStatus::ALL);
        agree(&Phase::ALL);
        agree(&PhaseStatus::ALL);
        agree(&EventLevel::ALL);
        agree(&Lane::ALL);
        agree(&ArtifactKind::ALL);
        agree(&WorkerState::ALL);
        agree(&crate::Risk::ALL);
        assert_eq!(PhaseStatus::TimedOut.as_str(), "timed_out");
        let err = "E".parse::<Lane>().unwrap_err().to_string();
        assert_eq!(err, "unknown lane `E`; expected one of: A, B, C, D");
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
