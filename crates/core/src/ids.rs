//! Typed ids: a run's id and an event's sequence number are not just any
//! integers. Both serialize as the bare number (serde-transparent), so JSON
//! and stored values stay as they were.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The id of a run, unique across workspaces.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct RunId(pub i64);

/// The position of an event in its run: 1 for the first, contiguous after.
/// `Seq(0)` means "before the first event".
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Seq(pub i64);

/// Text that is not a whole number where an id was expected.
#[derive(Debug, thiserror::Error)]
#[error("`{value}` is not a valid {what}: expected a whole number")]
pub struct BadId {
    what: &'static str,
    value: String,
}

macro_rules! integer_id {
    ($ty:ident, $what:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $ty {
            type Err = BadId;

            fn from_str(s: &str) -> Result<Self, BadId> {
                s.parse().map($ty).map_err(|_| BadId {
                    what: $what,
                    value: s.to_string(),
                })
            }
        }

        impl From<i64> for $ty {
            fn from(v: i64) -> Self {
                $ty(v)
            }
        }

        impl From<$ty> for i64 {
            fn from(v: $ty) -> i64 {
                v.0
            }
        }
    };
}

integer_id!(RunId, "run id");
integer_id!(Seq, "event seq");

impl Seq {
    /// The seq `n` events after this one.
    pub fn plus(self, n: i64) -> Seq {
        Seq(self.0 + n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_and_write_as_bare_numbers() {
        assert_eq!(serde_json::to_string(&RunId(42)).unwrap(), "42");
        assert_eq!(serde_json::from_str::<Seq>("7").unwrap(), Seq(7));
        assert_eq!("42".parse::<RunId>().unwrap(), RunId(42));
        assert_eq!(RunId(42).to_string(), "42");
        let err = "4x".parse::<RunId>().unwrap_err().to_string();
        assert_eq!(err, "`4x` is not a valid run id: expected a whole number");
    }
}
