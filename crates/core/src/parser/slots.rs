//! Filling in env, target and params once the runbook is known, and the
//! questions for whatever is missing or unknown.

use super::entities::{Entity, EntityKind};
use super::intent::{find_in_order, find_phrase, Score, TRIGGER_STOP};
use super::words::{is_filler, CONJUNCTIONS, DETERMINERS, ENV_PREPOSITIONS};
use super::{intent, ParseContext, Parsed, NO_INTENT};
use crate::catalog::{ParamKind, RunbookSpec};
use serde_json::{Map, Value};

/// Words before a feature name in a spec request ("a spec for the ...").
const FEATURE_LEAD: &[&str] = &[
    "for",
    "about",
    "on",
    "of",
    "a",
    "an",
    "the",
    "feature",
    "features",
    "called",
    "named",
    "out",
    "to",
    "describing",
    "covering",
    "re",
    "regarding",
];
/// Words after a feature name that are not part of it.
const FEATURE_TAIL: &[&str] = &[
    "please", "pls", "plz", "thanks", "thank", "you", "thx", "ty", "asap", "now", "today", "spec",
    "specs", "doc", "docs",
];
/// Verbs and filler before a spec keyword ("write up a spec").
const SPEC_VERBS: &[&str] = &[
    "generate", "write", "create", "draft", "make", "produce", "need", "want", "do", "can",
    "could", "you", "please", "i", "we", "a", "an", "the", "up", "new", "me", "us", "give",
];
/// Prepositions that point at a destination env.
const TOWARD: &[&str] = &["to", "into", "onto", "against"];

/// Everything read from the text, ready to fill a [`Parsed`].
pub(super) struct Reading<'r, 'a> {
    pub tokens: &'r [&'a str],
    pub entities: &'r [Entity<'a>],
    pub ctx: &'r ParseContext<'a>,
}

/// The parts of a [`Parsed`] being put together.
struct Draft {
    env: Option<String>,
    target: Option<String>,
    params: Map<String, Value>,
    questions: Vec<String>,
    penalty: f64,
}

impl<'a> Reading<'_, 'a> {
    /// A `none` result that still reports the env and target it saw.
    pub fn nothing(
        &self,
        questions: Vec<String>,
        alternatives: Vec<String>,
        confidence: f64,
    ) -> Parsed {
        // Names are reported only when they are unambiguous.
        let mut envs: Vec<&str> = self.envs(0).iter().map(|e| e.1).collect();
        envs.dedup();
        let services = self.services(0);
        Parsed {
            intent: NO_INTENT.to_string(),
            env: (envs.len() == 1).then(|| envs[0].to_string()),
            target: (services.len() == 1).then(|| services[0].to_string()),
            params: Map::new(),
            confidence,
            questions,
            alternatives,
        }
    }

    /// The result for a runbook that clearly won.
    pub fn runbook(&self, best: Score<'_>, runner_up: f32) -> Parsed {
        let spec = best.spec;
        let mut d = self.draft();
        match spec.name.as_str() {
            "spec" => self.read_feature(best.lead, best.consumed, &mut d),
            "schema_sync" => self.read_schema_envs(best.consumed, &mut d),
            _ => {
                d.env = self.choose_env(best.consumed, &mut d.questions);
                if spec.takes_target {
                    self.read_target(spec, best, &mut d);
                }
            }
        }
        if spec.custom {
            self.read_custom_slots(spec, &mut d);
        }
        if d.env.is_none()
            && spec.needs_env
            && !d.questions.iter().any(|q| q.contains("environment"))
        {
            match self.ctx.default_env {
                Some(env) => {
                    d.env = Some(env.to_string());
                    d.penalty += 0.05;
                }
                None => {
                    let question = match self.unknown_env_word() {
                        Some(word) => format!(
                            "I don't know the environment `{word}`. Known: {}.",
                            self.env_names()
                        ),
                        None => format!("Which environment? Known: {}.", self.env_names()),
                    };
                    d.questions.push(question);
                }
            }
        }
        let strength = f64::from(best.score.min(10.0)) / 10.0;
        let lead_gap = f64::from((best.score - runner_up).clamp(0.0, 4.0)) / 4.0;
        let confidence =
            0.45 + 0.3 * strength + 0.2 * lead_gap - d.penalty - 0.15 * d.questions.len() as f64;
        Parsed {
            intent: spec.name.clone(),
            env: d.env,
            target: d.target,
            params: d.params,
            confidence: (confidence.clamp(0.05, 0.99) * 100.0).round() / 100.0,
            questions: d.questions,
            alternatives: vec![],
        }
    }

    fn draft(&self) -> Draft {
        Draft {
            env: None,
            target: None,
            params: Map::new(),
            questions: vec![],
            penalty: 0.0,
        }
    }

    fn env_names(&self) -> String {
        self.ctx
            .envs
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn service_names(&self) -> String {
        self.ctx.services.join(", ")
    }

    /// Envs named in the text, in order, without words used by the intent.
    fn envs(&self, consumed: u64) -> Vec<(usize, &'a str, bool)> {
        self.entities
            .iter()
            .filter(|e| e.pos >= 64 || consumed & (1 << e.pos) == 0)
            .filter_map(|e| match e.kind {
                EntityKind::Env(name) => Some((e.pos, name, e.corrected)),
                _ => None,
            })
            .collect()
    }

    /// Distinct services named in the text, in order.
    fn services(&self, consumed: u64) -> Vec<&'a str> {
        let mut out: Vec<&'a str> = Vec::new();
        for e in self.entities {
            if let EntityKind::Service(name) = e.kind {
                if (e.pos >= 64 || consumed & (1 << e.pos) == 0) && !out.contains(&name) {
                    out.push(name);
                }
            }
        }
        out
    }

    fn corrected_any(&self, kind: fn(&EntityKind) -> bool) -> bool {
        self.entities.iter().any(|e| e.corrected && kind(&e.kind))
    }

    /// The word before `pos`, skipping one determiner.
    fn before(&self, pos: usize) -> Option<&'a str> {
        let prev = pos.checked_sub(1).map(|i| self.tokens[i])?;
        if DETERMINERS.contains(&prev) {
            pos.checked_sub(2).map(|i| self.tokens[i])
        } else {
            Some(prev)
        }
    }

    /// The one env the command acts on; a question when it names several
    /// and the words around them do not tell which.
    fn choose_env(&self, consumed: u64, questions: &mut Vec<String>) -> Option<String> {
        let envs = self.envs(consumed);
        let mut distinct: Vec<&str> = Vec::new();
        for (_, name, _) in &envs {
            if !distinct.contains(name) {
                distinct.push(name);
            }
        }
        // "to staging or prod": the operator has not chosen yet.
        let alternatives = envs.windows(2).any(|w| {
            w[0].1 != w[1].1
                && w[1].0 == w[0].0 + 2
                && CONJUNCTIONS.contains(&self.tokens[w[0].0 + 1])
        });
        match distinct.len() {
            0 => None,
            1 => Some(distinct[0].to_string()),
            _ if alternatives => {
                questions.push(format!("Which environment: {}?", distinct.join(" or ")));
                None
            }
            _ => {
                let pick = |set: &[&str]| -> Vec<&str> {
                    let mut out: Vec<&str> = Vec::new();
                    for (pos, name, _) in &envs {
                        if self.before(*pos).is_some_and(|w| set.contains(&w))
                            && !out.contains(name)
                        {
                            out.push(name);
                        }
                    }
                    out
                };
                let toward = pick(TOWARD);
                let located = pick(ENV_PREPOSITIONS);
                if toward.len() == 1 {
                    Some(toward[0].to_string())
                } else if located.len() == 1 {
                    Some(located[0].to_string())
                } else {
                    questions.push(format!("Which environment: {}?", distinct.join(" or ")));
                    None
                }
            }
        }
    }

    /// A word after "to"/"on"/"in" that names no known environment.
    fn unknown_env_word(&self) -> Option<&'a str> {
        let known = |w: &str| {
            is_filler(w)
                || intent::in_vocabulary(self.ctx.catalog, w)
                || self.entities.iter().any(|e| self.tokens[e.pos] == w)
        };
        self.tokens.windows(2).find_map(|pair| {
            let word = pair[1];
            let plausible = (2..=12).contains(&word.len())
                && word.bytes().all(|b| b.is_ascii_alphanumeric())
                && word.bytes().any(|b| b.is_ascii_alphabetic());
            (["to", "on", "in", "into", "onto", "at"].contains(&pair[0])
                && plausible
                && !known(word))
            .then_some(word)
        })
    }

    fn read_target(&self, spec: &RunbookSpec, best: Score<'_>, d: &mut Draft) {
        let services = self.services(best.consumed);
        let git_ref = self.entities.iter().find_map(|e| match e.kind {
            EntityKind::Ref(r) => Some(r),
            _ => None,
        });
        let takes_ref = spec.params.iter().any(|p| p.name == "ref");
        if let (Some(r), true) = (git_ref, takes_ref) {
            d.params.insert("ref".into(), Value::from(r));
        }
        match services.len() {
            0 => {
                if takes_ref {
                    d.target = git_ref.map(str::to_string);
                }
                if d.target.is_none() {
                    if let Some(word) = self.unknown_service_word(best) {
                        d.questions.push(format!(
                            "I don't know the service `{word}`. Known: {}.",
                            self.service_names()
                        ));
                    }
                }
            }
            1 => d.target = Some(services[0].to_string()),
            _ => d.questions.push(format!(
                "Which service: {}? One run acts on one service.",
                services.join(" or ")
            )),
        }
        if self.corrected_any(|k| matches!(k, EntityKind::Service(_))) {
            d.penalty += 0.1;
        }
        if self.corrected_any(|k| matches!(k, EntityKind::Env(_))) {
            d.penalty += 0.1;
        }
    }

    /// The word right after the request verb when it names nothing known
    /// ("deploy billing to prod").
    fn unknown_service_word(&self, best: Score<'_>) -> Option<&'a str> {
        let mut i = best.lead? + 1;
        while i < self.tokens.len() && (i < 64 && best.consumed & (1 << i) != 0) {
            i += 1;
        }
        while i < self.tokens.len() && DETERMINERS.contains(&self.tokens[i]) {
            i += 1;
        }
        let word = *self.tokens.get(i)?;
        let next = self.tokens.get(i + 1).copied();
        let known = is_filler(word)
            || intent::in_vocabulary(self.ctx.catalog, word)
            || self.entities.iter().any(|e| e.pos == i);
        let ends_phrase = next.is_none_or(|n| {
            ENV_PREPOSITIONS.contains(&n) || intent::in_vocabulary(self.ctx.catalog, n)
        });
        let wordlike = word.len() >= 2 && word.bytes().all(|b| b.is_ascii_lowercase());
        (!known && ends_phrase && wordlike).then_some(word)
    }

    /// The feature named in a spec request.
    fn read_feature(&self, lead: Option<usize>, consumed: u64, d: &mut Draft) {
        let tokens = self.tokens;
        let lead = lead.unwrap_or(0);
        let mut start = lead + 1;
        while start < tokens.len().min(64) && consumed & (1 << start) != 0 {
            start += 1;
        }
        let mut words: Vec<&str> = tokens[start.min(tokens.len())..].to_vec();
        let skip = words
            .iter()
            .take_while(|w| FEATURE_LEAD.contains(w))
            .count();
        words.drain(..skip);
        while words.last().is_some_and(|w| FEATURE_TAIL.contains(w)) {
            words.pop();
        }
        if words.is_empty() {
            // "user authentication spec please": the feature comes first.
            words = tokens[..lead.min(tokens.len())].to_vec();
            let skip = words.iter().take_while(|w| SPEC_VERBS.contains(w)).count();
            words.drain(..skip);
            while words.last().is_some_and(|w| FEATURE_LEAD.contains(w)) {
                words.pop();
            }
        }
        if words.is_empty() {
            d.questions.push(
                "Which feature should the spec describe? For example: `spec for user authentication`."
                    .into(),
            );
        } else {
            d.params
                .insert("feature".into(), Value::from(words.join(" ")));
        }
    }

    /// Source and target envs of a schema sync ("from dev to prod",
    /// "staging vs prod", "between dev and staging").
    fn read_schema_envs(&self, consumed: u64, d: &mut Draft) {
        let envs = self.envs(consumed);
        let mut distinct: Vec<(usize, &str)> = Vec::new();
        for (pos, name, _) in &envs {
            if !distinct.iter().any(|(_, n)| n == name) {
                distinct.push((*pos, name));
            }
        }
        let from = distinct
            .iter()
            // "from dev", or "sync prod with dev": the source.
            .find(|(p, _)| matches!(self.before(*p), Some("from" | "with")))
            .map(|e| e.1);
        let toward = distinct
            .iter()
            .find(|(p, _)| self.before(*p).is_some_and(|w| TOWARD.contains(&w)))
            .map(|e| e.1);
        let (source, target) = match distinct.len() {
            0 => (None, None),
            1 if from.is_some() => (from, None),
            1 => (None, Some(distinct[0].1)),
            _ => {
                let source =
                    from.or_else(|| distinct.iter().map(|e| e.1).find(|n| Some(*n) != toward));
                let target = toward.or_else(|| {
                    distinct
                        .iter()
                        .rev()
                        .map(|e| e.1)
                        .find(|n| Some(*n) != source)
                });
                (source, target)
            }
        };
        if let Some(s) = source {
            d.params.insert("source_env".into(), Value::from(s));
        }
        if let Some(t) = target {
            d.params.insert("target_env".into(), Value::from(t));
        }
        d.env = target.map(str::to_string);
        // Applying is asked for in words ("... and apply"); never assumed.
        if self.tokens.contains(&"apply") {
            d.params.insert("apply".into(), Value::from(true));
        }
    }

    /// Params of a custom runbook named by slots in its matched trigger
    /// ("scale {service} to {replicas}").
    fn read_custom_slots(&self, spec: &RunbookSpec, d: &mut Draft) {
        let tokens = self.tokens;
        for trigger in &spec.triggers {
            let words: Vec<&str> = trigger.split(' ').collect();
            let content = words
                .iter()
                .copied()
                .filter(|w| !w.starts_with('{') && !TRIGGER_STOP.contains(w));
            if find_in_order(tokens, content).is_none() {
                continue;
            }
            for (k, word) in words.iter().enumerate() {
                let Some(slot) = word.strip_prefix('{').and_then(|w| w.strip_suffix('}')) else {
                    continue;
                };
                let Some(param) = spec.params.iter().find(|p| p.name == slot) else {
                    continue;
                };
                // The slot's value is the word after the literal before it.
                let at = match k.checked_sub(1).map(|j| words[j]) {
                    Some(prev) if !prev.starts_with('{') => match find_phrase(tokens, &[prev], 0) {
                        Some((pos, _)) => pos + 1,
                        None => continue,
                    },
                    _ => continue,
                };
                let Some(raw) = tokens.get(at).copied() else {
                    continue;
                };
                let value = match &param.kind {
                    ParamKind::Integer { .. } => raw.parse::<i64>().ok().map(Value::from),
                    ParamKind::Boolean => match raw {
                        "true" | "yes" | "on" => Some(Value::from(true)),
                        "false" | "no" | "off" => Some(Value::from(false)),
                        _ => None,
                    },
                    ParamKind::Enum { values } => values
                        .iter()
                        .find(|v| v.as_str() == raw)
                        .map(|v| Value::from(v.as_str())),
                    ParamKind::String => Some(Value::from(raw)),
                };
                match value {
                    Some(v) => {
                        d.params.insert(param.name.clone(), v);
                    }
                    None => d.questions.push(format!(
                        "`{raw}` is not a valid {} for `{}`; what should it be?",
                        slot, spec.name
                    )),
                }
            }
            break;
        }
    }
}
