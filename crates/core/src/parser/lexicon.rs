//! The catalog's vocabulary compiled once (words split, keys computed) so
//! that a parse only compares words.

use super::intent::{head_key, TRIGGER_STOP};
use crate::catalog::RunbookSpec;

/// Compiled vocabulary of every runbook, in catalog order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lexicon {
    pub(super) runbooks: Vec<RunbookWords>,
}

/// One runbook's compiled cues and triggers.
#[derive(Debug, Clone)]
pub(super) struct RunbookWords {
    /// The runbook's name is one of its cues (so it is not counted twice).
    pub name_is_cue: bool,
    pub cues: Vec<CueWords>,
    pub triggers: Vec<TriggerWords>,
}

/// A cue split into words.
#[derive(Debug, Clone)]
pub(super) struct CueWords {
    pub words: Vec<String>,
    pub weight: f32,
    /// Head key of the first word.
    pub key: u16,
}

/// The identifying words of a trigger phrase.
#[derive(Debug, Clone)]
pub(super) struct TriggerWords {
    pub content: Vec<String>,
    /// Head keys of all content words: every one must be in the text.
    pub keys: Vec<u16>,
    /// A question form ("is {env} up") that only fits a question.
    pub question: bool,
}

impl Lexicon {
    /// Compiles the vocabulary of `runbooks`.
    pub(crate) fn build(runbooks: &[RunbookSpec]) -> Lexicon {
        Lexicon {
            runbooks: runbooks.iter().map(compile).collect(),
        }
    }
}

fn compile(spec: &RunbookSpec) -> RunbookWords {
    RunbookWords {
        name_is_cue: spec.cues.iter().any(|c| c.phrase == spec.name),
        cues: spec
            .cues
            .iter()
            .map(|c| CueWords {
                words: c.phrase.split_whitespace().map(str::to_string).collect(),
                weight: f32::from(c.weight),
                key: head_key(&c.phrase),
            })
            .filter(|c| !c.words.is_empty())
            .collect(),
        triggers: spec
            .triggers
            .iter()
            .map(|t| {
                let content: Vec<String> = t
                    .split_whitespace()
                    .filter(|w| !w.starts_with('{') && !TRIGGER_STOP.contains(w))
                    .map(str::to_string)
                    .collect();
                TriggerWords {
                    keys: content.iter().map(|w| head_key(w)).collect(),
                    question: t.starts_with("is ") || t.starts_with("are "),
                    content,
                }
            })
            .filter(|t| !t.content.is_empty())
            .collect(),
    }
}
