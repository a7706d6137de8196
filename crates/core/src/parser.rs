//! The command parser: plain chat text to a runbook (intent), environment,
//! target and params, with a confidence. It never guesses silently: text it
//! cannot place gets intent `none` with questions or "did you mean"
//! alternatives, and missing or unknown names get a question.
//!
//! Pure and fast: no IO, no allocation beyond a few small vectors.

mod entities;
mod fuzzy;
mod intent;
mod lexicon;
mod slots;
mod text;
mod words;

pub(crate) use lexicon::Lexicon;
pub use text::MAX_TEXT_CHARS;

use crate::catalog::Catalog;
use entities::EntityKind;
use intent::Decision;
use serde::Serialize;
use serde_json::{Map, Value};

/// An environment the parser may name, with the other words people use for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvInfo {
    /// Canonical name, as runs record it (`prod`).
    pub name: String,
    /// Other names (`production`, `live`, `prd`), lowercase.
    pub aliases: Vec<String>,
}

impl EnvInfo {
    /// An environment with its aliases.
    pub fn new(name: &str, aliases: &[&str]) -> EnvInfo {
        EnvInfo {
            name: name.to_string(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// The usual four: dev, staging, prod and preview, with common aliases.
    pub fn defaults() -> Vec<EnvInfo> {
        vec![
            EnvInfo::new("dev", &["development", "devel"]),
            EnvInfo::new("staging", &["stage", "stg"]),
            EnvInfo::new("prod", &["production", "live", "prd"]),
            EnvInfo::new("preview", &["previews"]),
        ]
    }
}

/// What the parser knows about the workspace.
#[derive(Debug, Clone, Copy)]
pub struct ParseContext<'a> {
    /// Runbooks the text may ask for.
    pub catalog: &'a Catalog,
    /// Environments of the workspace.
    pub envs: &'a [EnvInfo],
    /// Service names, lowercase.
    pub services: &'a [String],
    /// Environment used when a runbook needs one and the text names none.
    pub default_env: Option<&'a str>,
}

/// What the text asks for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parsed {
    /// A runbook name, or `none` when the text asks for no runbook clearly.
    pub intent: String,
    /// The environment, by its canonical name.
    pub env: Option<String>,
    /// A service, or a git ref when no service is named.
    pub target: Option<String>,
    /// Params read from the text; only ones the runbook declares.
    pub params: Map<String, Value>,
    /// 0 to 1: how sure the parser is of intent, env and target together.
    pub confidence: f64,
    /// What the operator should answer before this can run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub questions: Vec<String>,
    /// Runbooks the text might have meant ("did you mean").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<String>,
}

/// Text the parser refuses to read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseInputError {
    /// Nothing but whitespace.
    #[error("the command text is empty; type what you want done, e.g. `check prod status`")]
    Empty,
    #[error(
        "the command text is {chars} characters long; the limit is {max}: send one short command"
    )]
    TooLong { chars: usize, max: usize },
    /// A control character other than tab, line feed or carriage return;
    /// `index` counts characters from 0.
    #[error("the command text contains a control character (U+{code:04X}) at character {index}; remove it and send plain text")]
    ControlCharacter { code: u32, index: usize },
}

/// Name of the intent that is no runbook.
pub const NO_INTENT: &str = "none";

/// Reads one command.
pub fn parse(text: &str, ctx: &ParseContext) -> Result<Parsed, ParseInputError> {
    text::check_input(text)?;
    let normalized = text::normalize(text);
    let tokens = text::tokenize(&normalized);
    let vocabulary = |w: &str| words::is_filler(w) || intent::in_vocabulary(ctx.catalog, w);
    let entities = entities::recognise(&tokens, ctx, &vocabulary);
    let names = entities
        .iter()
        .filter(|e| !e.corrected && e.pos < 64)
        .filter(|e| matches!(e.kind, EntityKind::Env(_) | EntityKind::Service(_)))
        .fold(0u64, |m, e| m | 1 << e.pos);
    let decision = intent::decide(&tokens, ctx.catalog, names);
    let reading = slots::Reading {
        tokens: &tokens,
        entities: &entities,
        ctx,
    };
    Ok(match decision {
        Decision::Runbook { best, runner_up } => reading.runbook(best, runner_up),
        Decision::Ambiguous(specs) => {
            let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
            let question = format!(
                "This asks for more than one thing ({}); which one should run? Send one command at a time.",
                names.join(", ")
            );
            reading.nothing(vec![question], names, 0.3)
        }
        Decision::Destructive(word) => {
            let question = format!(
                "No runbook does `{word}`, and opsroom does not guess at destructive changes. Runbooks: {}.",
                runbook_list(ctx.catalog)
            );
            reading.nothing(vec![question], vec![], 0.0)
        }
        Decision::Unknown { suggestions } if !suggestions.is_empty() => {
            let names: Vec<String> = suggestions.iter().map(|s| s.name.clone()).collect();
            let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            let question = format!("Did you mean {}?", quoted.join(" or "));
            reading.nothing(vec![question], names, 0.2)
        }
        Decision::Unknown { .. } => {
            let question = format!(
                "I could not tell which runbook this asks for. Try e.g. `check prod status` or `deploy web to staging`. Runbooks: {}.",
                runbook_list(ctx.catalog)
            );
            reading.nothing(vec![question], vec![], 0.0)
        }
    })
}

fn runbook_list(catalog: &Catalog) -> String {
    catalog
        .iter()
        .filter(|s| s.name != "noop")
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
