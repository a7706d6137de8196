//! A request for a new run, parsed once: each field is checked where it is
//! read, and a bad one is refused with an error that names it. What needs
//! the server's config and catalog (the text's meaning, the runbook, the env,
//! the params) is checked later, when the run is resolved.

use crate::run::Lane;
use serde_json::{Map, Value};
use std::fmt;

/// The fields of a run request as a client sent them.
#[derive(Debug, Clone, Default)]
pub struct NewRunInput {
    pub text: Option<String>,
    pub runbook: Option<String>,
    pub env: Option<String>,
    pub target: Option<String>,
    pub params: Map<String, Value>,
    pub session_id: Option<i64>,
    pub lane: Option<String>,
    pub idempotency_key: Option<String>,
    pub priority: Option<i32>,
    pub max_attempts: Option<i32>,
    pub timeout_secs: Option<i64>,
}

/// What the run does: command text to understand, or a runbook by name.
#[derive(Debug, Clone, PartialEq)]
pub enum RunWhat {
    Text(String),
    Runbook(String),
}

/// A checked request for a run.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    pub what: RunWhat,
    /// Explicit env; wins over what the text says.
    pub env: Option<String>,
    /// Explicit target; wins over what the text says.
    pub target: Option<Target>,
    pub params: Map<String, Value>,
    /// The session lane the run waits its turn in.
    pub lane: Option<SessionLane>,
    pub idempotency_key: Option<IdempotencyKey>,
    pub priority: Priority,
    /// None: the runbook's default (read-only runs retry, writes do not).
    pub max_attempts: Option<MaxAttempts>,
    pub timeout: TimeoutSecs,
}

/// A field of a run request that is not acceptable: which one, a stable
/// code for clients and a message that says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct NewRunError {
    pub field: &'static str,
    pub code: &'static str,
    pub message: String,
}

impl NewRunError {
    fn new(field: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        NewRunError {
            field,
            code,
            message: message.into(),
        }
    }
}

impl NewRun {
    /// Checks every field; the first bad one is the error.
    pub fn parse(input: NewRunInput) -> Result<NewRun, NewRunError> {
        let what =
            match (input.text, input.runbook) {
                (Some(_), Some(_)) => {
                    return Err(NewRunError::new(
                        "text",
                        "invalid_body",
                        "give either `text` or `runbook`, not both",
                    ))
                }
                (None, None) => return Err(NewRunError::new(
                    "text",
                    "invalid_body",
                    "give `text` (a command such as \"check prod status\") or `runbook` with `env`",
                )),
                (Some(text), None) => RunWhat::Text(text),
                (None, Some(runbook)) => RunWhat::Runbook(runbook),
            };
        Ok(NewRun {
            what,
            env: input.env,
            target: input.target.map(Target::parse).transpose()?,
            params: input.params,
            idempotency_key: input
                .idempotency_key
                .map(IdempotencyKey::parse)
                .transpose()?,
            lane: SessionLane::parse(input.session_id, input.lane)?,
            max_attempts: input.max_attempts.map(MaxAttempts::parse).transpose()?,
            timeout: TimeoutSecs::parse(input.timeout_secs.unwrap_or(TimeoutSecs::DEFAULT))?,
            priority: Priority::parse(input.priority.unwrap_or(0))?,
        })
    }
}

/// A run's target (a service or a git ref): 1 to 200 printable characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target(String);

impl Target {
    pub fn parse(target: String) -> Result<Target, NewRunError> {
        if target.is_empty() || target.chars().count() > 200 || target.chars().any(char::is_control)
        {
            return Err(NewRunError::new(
                "target",
                "invalid_target",
                "target must be 1 to 200 printable characters",
            ));
        }
        Ok(Target(target))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A client's key that makes creating the same run twice return the first:
/// 1 to 200 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(key: String) -> Result<IdempotencyKey, NewRunError> {
        if key.is_empty() || key.chars().count() > 200 {
            return Err(NewRunError::new(
                "idempotency_key",
                "invalid_idempotency_key",
                "idempotency_key must be 1 to 200 characters",
            ));
        }
        Ok(IdempotencyKey(key))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A session and one of its lanes (A to D), given together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionLane {
    pub session_id: i64,
    pub lane: Lane,
}

impl SessionLane {
    /// Both or neither: a lane means nothing without its session.
    pub fn parse(
        session_id: Option<i64>,
        lane: Option<String>,
    ) -> Result<Option<SessionLane>, NewRunError> {
        match (session_id, lane) {
            (None, None) => Ok(None),
            (Some(_), None) | (None, Some(_)) => Err(NewRunError::new(
                "lane",
                "invalid_lane",
                "give both `session_id` and `lane`, or neither",
            )),
            (Some(session_id), Some(lane)) => {
                let lane = lane.parse::<Lane>().map_err(|_| {
                    let all = Lane::ALL.map(Lane::as_str).join(", ");
                    NewRunError::new(
                        "lane",
                        "invalid_lane",
                        format!("unknown lane `{lane}`; lanes are {all}"),
                    )
                })?;
                Ok(Some(SessionLane { session_id, lane }))
            }
        }
    }
}

/// An integer field with an allowed range, named in its error.
macro_rules! ranged {
    ($(#[$doc:meta])* $name:ident($ty:ty), $field:literal, $code:literal, $min:expr, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name($ty);

        impl $name {
            pub const MIN: $ty = $min;
            pub const MAX: $ty = $max;

            pub fn parse(value: $ty) -> Result<$name, NewRunError> {
                if !(Self::MIN..=Self::MAX).contains(&value) {
                    return Err(NewRunError::new(
                        $field,
                        $code,
                        format!("{} must be from {} to {}", $field, Self::MIN, Self::MAX),
                    ));
                }
                Ok($name(value))
            }

            pub fn get(self) -> $ty {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

ranged!(
    /// How many times a run may be tried: 1 to 20.
    MaxAttempts(i32), "max_attempts", "invalid_max_attempts", 1, 20
);
ranged!(
    /// How long one attempt may take, in seconds: 1 s to a day.
    TimeoutSecs(i64), "timeout_secs", "invalid_timeout", 1, 86_400
);
ranged!(
    /// Claim order: higher first, -100 to 100.
    Priority(i32), "priority", "invalid_priority", -100, 100
);

impl TimeoutSecs {
    /// An hour, unless the request says otherwise.
    pub const DEFAULT: i64 = 3600;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runbook(f: impl FnOnce(&mut NewRunInput)) -> Result<NewRun, NewRunError> {
        let mut input = NewRunInput {
            runbook: Some("noop".into()),
            ..Default::default()
        };
        f(&mut input);
        NewRun::parse(input)
    }

    #[test]
    fn a_runbook_alone_gets_the_defaults() {
        let run = runbook(|_| {}).unwrap();
        assert_eq!(run.what, RunWhat::Runbook("noop".into()));
        assert_eq!((run.priority.get(), run.timeout.get()), (0, 3600));
        assert_eq!((run.max_attempts, run.lane, run.target), (None, None, None));
    }

    #[test]
    fn each_bad_field_is_named_with_its_code() {
        type Change = Box<dyn FnOnce(&mut NewRunInput)>;
        let cases: Vec<(Change, &str, &str, &str)> = vec![
            (
                Box::new(|i| i.text = Some("check prod status".into())),
                "text",
                "invalid_body",
                "not both",
            ),
            (
                Box::new(|i| i.runbook = None),
                "text",
                "invalid_body",
                "give `text`",
            ),
            (
                Box::new(|i| i.target = Some("".into())),
                "target",
                "invalid_target",
                "1 to 200 printable",
            ),
            (
                Box::new(|i| i.target = Some("web\u{7}".into())),
                "target",
                "invalid_target",
                "printable",
            ),
            (
                Box::new(|i| i.idempotency_key = Some("k".repeat(201))),
                "idempotency_key",
                "invalid_idempotency_key",
                "1 to 200",
            ),
            (
                Box::new(|i| i.lane = Some("A".into())),
                "lane",
                "invalid_lane",
                "session_id",
            ),
            (
                Box::new(|i| {
                    i.session_id = Some(1);
                    i.lane = Some("E".into())
                }),
                "lane",
                "invalid_lane",
                "unknown lane `E`; lanes are A, B, C, D",
            ),
            (
                Box::new(|i| i.max_attempts = Some(0)),
                "max_attempts",
                "invalid_max_attempts",
                "max_attempts must be from 1 to 20",
            ),
            (
                Box::new(|i| i.timeout_secs = Some(86_401)),
                "timeout_secs",
                "invalid_timeout",
                "timeout_secs must be from 1 to 86400",
            ),
            (
                Box::new(|i| i.priority = Some(-101)),
                "priority",
                "invalid_priority",
                "priority must be from -100 to 100",
            ),
        ];
        for (change, field, code, needle) in cases {
            let err = runbook(change).unwrap_err();
            assert_eq!((err.field, err.code), (field, code), "{err}");
            assert!(err.message.contains(needle), "{err} should say {needle:?}");
        }
    }

    #[test]
    fn ranges_include_their_bounds() {
        let run = runbook(|i| {
            i.max_attempts = Some(20);
            i.timeout_secs = Some(1);
            i.priority = Some(100);
            i.session_id = Some(7);
            i.lane = Some("D".into());
        })
        .unwrap();
        assert_eq!(run.max_attempts.map(MaxAttempts::get), Some(20));
        assert_eq!(
            run.lane,
            Some(SessionLane {
                session_id: 7,
                lane: Lane::D
            })
        );
    }
}
