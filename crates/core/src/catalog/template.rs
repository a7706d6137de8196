//! Custom runbook files (TOML): parsing and checking, with errors that name
//! the file, the line and what is wrong. IO stays with the caller.
//!
//! ```toml
//! name = "restart_service"
//! description = "Restarts a service."
//! risk = "write"                      # or "read"
//! triggers = ["restart {service} on {env}"]
//! keywords = ["restart", "bounce"]    # optional extra words that ask for it
//!
//! [[params]]
//! name = "grace_seconds"
//! type = "integer"                    # string | integer | boolean | enum
//! min = 0
//! max = 600
//! default = 10
//!
//! [[steps.action]]
//! title = "restart {target}"
//! shell = { argv = ["systemctl", "restart", "{target}"] }
//!
//! [[steps.action]]
//! title = "tell the status page"
//! # Programs start from a clean environment (PATH, HOME, LANG, the run's
//! # OPSROOM_* variables): give them what they need, credentials by name.
//! shell = { argv = ["notify-status", "{target}"], env = { STATUS_TOKEN = "secret:status_page", REGION = "{env}" } }
//! ```

use super::{check_kind, Cue, ParamKind, ParamSpec, Risk, RunbookSpec, StepAction};
use crate::run::Phase;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use toml::Spanned;

/// A custom runbook file that cannot be loaded: which file, which line (when
/// known) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct CustomRunbookError {
    /// The file name given by the caller.
    pub file: String,
    /// 1-based line of the problem, when it has one.
    pub line: Option<usize>,
    /// What is wrong and, where it helps, how to fix it.
    pub message: String,
}

/// Slot and placeholder names every runbook may use besides its params.
const BUILTIN_SLOTS: [&str; 4] = ["env", "service", "target", "ref"];

/// Programs that would run their argument as a shell script.
const SHELLS: [&str; 10] = [
    "sh",
    "bash",
    "zsh",
    "dash",
    "ksh",
    "fish",
    "csh",
    "cmd",
    "powershell",
    "pwsh",
];

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRunbook {
    name: Spanned<String>,
    description: Spanned<String>,
    #[serde(default)]
    triggers: Vec<Spanned<String>>,
    #[serde(default)]
    keywords: Vec<Spanned<String>>,
    risk: Spanned<String>,
    needs_env: Option<bool>,
    #[serde(default)]
    params: Vec<Spanned<RawParam>>,
    #[serde(default)]
    steps: RawSteps,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSteps {
    #[serde(default)]
    validate: Vec<Spanned<RawStep>>,
    #[serde(default)]
    preflight: Vec<Spanned<RawStep>>,
    #[serde(default)]
    action: Vec<Spanned<RawStep>>,
    #[serde(default)]
    verify: Vec<Spanned<RawStep>>,
    #[serde(default)]
    summarize: Vec<Spanned<RawStep>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParam {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    required: bool,
    default: Option<toml::Value>,
    min: Option<i64>,
    max: Option<i64>,
    values: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    title: Option<String>,
    http: Option<RawHttp>,
    shell: Option<RawShell>,
    sql: Option<RawSql>,
    wait: Option<RawWait>,
    poll: Option<RawPoll>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    #[serde(default = "get")]
    method: String,
    url: String,
    expect_status: Option<u16>,
    body: Option<String>,
}

fn get() -> String {
    "GET".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShell {
    argv: Option<Vec<String>>,
    /// Accepted only to explain why it is refused.
    command: Option<String>,
    cwd: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    timeout_seconds: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSql {
    database: String,
    query: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWait {
    seconds: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPoll {
    url: String,
    expect_status: Option<u16>,
    interval_seconds: Option<u64>,
    timeout_seconds: u64,
}

/// Reads one custom runbook file. `file_name` only labels errors.
pub fn parse_custom_runbook(
    file_name: &str,
    text: &str,
) -> Result<RunbookSpec, CustomRunbookError> {
    let checker = Checker {
        file: file_name,
        text,
    };
    let raw: RawRunbook = toml::from_str(text)
        .map_err(|e| checker.error(e.span(), e.message().trim_end().to_string()))?;
    checker.build(raw)
}

/// Reads many custom runbook files given as `(file name, contents)`; a bad
/// file does not stop the others. Files whose name does not end in `.toml`
/// are skipped. A name already used by a built-in or an earlier file is an
/// error for the later file.
pub fn load_custom_dir_entries(
    entries: Vec<(String, String)>,
) -> (Vec<RunbookSpec>, Vec<CustomRunbookError>) {
    let builtin = super::Catalog::builtin();
    let mut specs: Vec<RunbookSpec> = Vec::new();
    let mut errors = Vec::new();
    for (file, text) in entries {
        if !file.ends_with(".toml") {
            continue;
        }
        match parse_custom_runbook(&file, &text) {
            Ok(spec) if builtin.get(&spec.name).is_some() || specs.iter().any(|s| s.name == spec.name) => {
                errors.push(CustomRunbookError {
                    file,
                    line: None,
                    message: format!(
                        "runbook name `{}` is already taken by a built-in or an earlier file; choose another name",
                        spec.name
                    ),
                })
            }
            Ok(spec) => specs.push(spec),
            Err(e) => errors.push(e),
        }
    }
    (specs, errors)
}

struct Checker<'a> {
    file: &'a str,
    text: &'a str,
}

impl Checker<'_> {
    fn error(&self, span: Option<Range<usize>>, message: String) -> CustomRunbookError {
        let line = span.map(|s| {
            let end = s.start.min(self.text.len());
            self.text.as_bytes()[..end]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1
        });
        CustomRunbookError {
            file: self.file.to_string(),
            line,
            message,
        }
    }

    fn at<T>(&self, spanned: &Spanned<T>, message: String) -> CustomRunbookError {
        self.error(Some(spanned.span()), message)
    }

    fn build(&self, raw: RawRunbook) -> Result<RunbookSpec, CustomRunbookError> {
        let name = raw.name.get_ref();
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(self.at(
                &raw.name,
                format!("name `{name}` must be 1 to 64 characters of a-z, 0-9 and _"),
            ));
        }
        if raw.description.get_ref().trim().is_empty() {
            return Err(self.at(&raw.description, "description must not be empty".into()));
        }
        let risk = match raw.risk.get_ref().parse::<Risk>() {
            Ok(risk) => risk,
            Err(e) => return Err(self.at(&raw.risk, e.to_string())),
        };
        let params = self.params(&raw.params)?;
        let mut slots: HashSet<String> = BUILTIN_SLOTS.iter().map(|s| s.to_string()).collect();
        slots.extend(params.iter().map(|p| p.name.clone()));

        if raw.triggers.is_empty() {
            return Err(self.error(
                None,
                "at least one trigger phrase is needed, e.g. triggers = [\"restart {service} on {env}\"]".into(),
            ));
        }
        let mut uses_env = false;
        let mut uses_target = false;
        for trigger in &raw.triggers {
            let names = placeholders(trigger.get_ref())
                .map_err(|m| self.at(trigger, format!("trigger \"{}\": {m}", trigger.get_ref())))?;
            if names.is_empty() && trigger.get_ref().trim().is_empty() {
                return Err(self.at(trigger, "trigger phrases must not be empty".into()));
            }
            for n in names {
                if !slots.contains(&n) {
                    return Err(self.at(
                        trigger,
                        format!("trigger slot `{{{n}}}` is neither env, service, target, ref nor a declared param"),
                    ));
                }
                uses_env |= n == "env";
                uses_target |= n == "service" || n == "target";
            }
        }
        let mut cues = Vec::new();
        for keyword in &raw.keywords {
            let phrase = keyword.get_ref().trim().to_lowercase();
            if phrase.is_empty() {
                return Err(self.at(keyword, "keywords must not be empty".into()));
            }
            cues.push(Cue { phrase, weight: 4 });
        }

        let raw_phases = [
            &raw.steps.validate,
            &raw.steps.preflight,
            &raw.steps.action,
            &raw.steps.verify,
            &raw.steps.summarize,
        ];
        let mut phases: [Vec<String>; 5] = Default::default();
        let mut actions: [Vec<StepAction>; 5] = Default::default();
        for (i, raw_steps) in raw_phases.iter().enumerate() {
            for step in raw_steps.iter() {
                let action = self.action(step, Phase::ALL[i])?;
                for s in action.templated_strings() {
                    for n in placeholders(s).map_err(|m| self.at(step, format!("`{s}`: {m}")))? {
                        if !slots.contains(&n) {
                            return Err(self.at(
                                step,
                                format!("placeholder `{{{n}}}` in `{s}` is neither env, target, ref nor a declared param"),
                            ));
                        }
                        uses_target |= n == "target";
                    }
                }
                let title = step
                    .get_ref()
                    .title
                    .clone()
                    .unwrap_or_else(|| action.describe());
                phases[i].push(title);
                actions[i].push(action);
            }
        }
        if actions[Phase::Action.index()].is_empty() {
            return Err(self.error(
                None,
                "the action phase has no steps; add at least one [[steps.action]]".into(),
            ));
        }
        Ok(RunbookSpec {
            name: name.clone(),
            description: raw.description.into_inner(),
            triggers: raw.triggers.into_iter().map(Spanned::into_inner).collect(),
            cues,
            params,
            risk,
            needs_env: raw.needs_env.unwrap_or(uses_env),
            takes_target: uses_target,
            phases,
            custom: true,
            actions: Some(actions),
        })
    }

    fn params(&self, raw: &[Spanned<RawParam>]) -> Result<Vec<ParamSpec>, CustomRunbookError> {
        let mut out: Vec<ParamSpec> = Vec::new();
        for spanned in raw {
            let p = spanned.get_ref();
            let fail = |m: String| self.at(spanned, format!("param `{}`: {m}", p.name));
            if p.name.is_empty()
                || !p
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(fail("the name must be a-z, 0-9 and _".into()));
            }
            if BUILTIN_SLOTS.contains(&p.name.as_str()) && p.name != "ref" {
                return Err(fail(
                    "this name is reserved for the run's env and target".into(),
                ));
            }
            if out.iter().any(|o| o.name == p.name) {
                return Err(fail("declared twice".into()));
            }
            let kind = match p.kind.as_str() {
                "string" => ParamKind::String,
                "boolean" => ParamKind::Boolean,
                "integer" => {
                    let (min, max) = (p.min.unwrap_or(i64::MIN), p.max.unwrap_or(i64::MAX));
                    if min > max {
                        return Err(fail(format!("min {min} is greater than max {max}")));
                    }
                    ParamKind::Integer { min, max }
                }
                "enum" => match &p.values {
                    Some(v) if !v.is_empty() => ParamKind::Enum { values: v.clone() },
                    _ => return Err(fail("an enum needs `values = [\"a\", \"b\"]`".into())),
                },
                other => {
                    return Err(fail(format!(
                        "type `{other}` is not known; use string, integer, boolean or enum"
                    )))
                }
            };
            let default = match &p.default {
                None => None,
                Some(v) => {
                    let json = serde_json::to_value(v).unwrap_or(Value::Null);
                    check_kind(&p.name, &kind, &json).map_err(|e| fail(format!("default: {e}")))?;
                    Some(json)
                }
            };
            out.push(ParamSpec {
                name: p.name.clone(),
                description: p.description.clone(),
                kind,
                required: p.required && default.is_none(),
                default,
            });
        }
        Ok(out)
    }

    fn action(
        &self,
        step: &Spanned<RawStep>,
        phase: Phase,
    ) -> Result<StepAction, CustomRunbookError> {
        let s = step.get_ref();
        let fail = |m: String| self.at(step, format!("{} step: {m}", phase.as_str()));
        let given = [
            s.http.is_some(),
            s.shell.is_some(),
            s.sql.is_some(),
            s.wait.is_some(),
            s.poll.is_some(),
        ]
        .iter()
        .filter(|&&g| g)
        .count();
        if given != 1 {
            return Err(fail(format!(
                "needs exactly one action of http, shell, sql, wait or poll (found {given})"
            )));
        }
        if let Some(h) = &s.http {
            let method = h.method.to_ascii_uppercase();
            if !METHODS.contains(&method.as_str()) {
                return Err(fail(format!(
                    "http method `{}` is not one of {}",
                    h.method,
                    METHODS.join(", ")
                )));
            }
            check_url(&h.url).map_err(fail)?;
            if let Some(code) = h.expect_status {
                check_status(code).map_err(fail)?;
            }
            return Ok(StepAction::Http {
                method,
                url: h.url.clone(),
                expect_status: h.expect_status,
                body: h.body.clone(),
            });
        }
        if let Some(sh) = &s.shell {
            if sh.command.is_some() {
                return Err(fail(
                    "shell steps take `argv = [\"program\", \"arg\", ...]`, not a `command` string: \
                     opsroom runs programs directly, never through a shell"
                        .into(),
                ));
            }
            let argv = match &sh.argv {
                Some(a) if !a.is_empty() && !a[0].trim().is_empty() => a.clone(),
                _ => return Err(fail("`argv` must list the program and its arguments, e.g. argv = [\"systemctl\", \"status\"]".into())),
            };
            let program = argv[0].rsplit('/').next().unwrap_or(&argv[0]);
            if SHELLS.contains(&program)
                && argv
                    .iter()
                    .skip(1)
                    .any(|a| a.starts_with('-') && a.contains('c'))
            {
                return Err(fail(format!(
                    "`{program} -c` runs a string through a shell; call the program directly with its arguments in argv"
                )));
            }
            check_env(&sh.env).map_err(fail)?;
            return Ok(StepAction::Shell {
                argv,
                env: sh.env.clone(),
                cwd: sh.cwd.clone(),
                timeout_seconds: sh.timeout_seconds,
            });
        }
        if let Some(q) = &s.sql {
            if q.database.trim().is_empty() || q.query.trim().is_empty() {
                return Err(fail("sql needs a `database` name and a `query`".into()));
            }
            return Ok(StepAction::Sql {
                database: q.database.clone(),
                query: q.query.clone(),
            });
        }
        if let Some(w) = &s.wait {
            if w.seconds == 0 || w.seconds > 86_400 {
                return Err(fail("wait `seconds` must be from 1 to 86400".into()));
            }
            return Ok(StepAction::Wait { seconds: w.seconds });
        }
        let p = s.poll.as_ref().expect("exactly one action is set");
        check_url(&p.url).map_err(fail)?;
        let expect_status = p.expect_status.unwrap_or(200);
        check_status(expect_status).map_err(fail)?;
        let interval_seconds = p.interval_seconds.unwrap_or(5);
        if interval_seconds == 0 || p.timeout_seconds < interval_seconds {
            return Err(fail(
                "poll needs interval_seconds >= 1 and timeout_seconds >= interval_seconds".into(),
            ));
        }
        Ok(StepAction::Poll {
            url: p.url.clone(),
            expect_status,
            interval_seconds,
            timeout_seconds: p.timeout_seconds,
        })
    }
}

fn check_url(url: &str) -> Result<(), String> {
    if url.starts_with("http://") || url.starts_with("https://") || url.starts_with('{') {
        Ok(())
    } else {
        Err(format!("url `{url}` must start with http:// or https://"))
    }
}

/// A shell step's variables: names a program can read, none of the run's
/// own `OPSROOM_*` ones, and `secret:` values that name an entry.
fn check_env(env: &BTreeMap<String, String>) -> Result<(), String> {
    for (name, value) in env {
        let well_formed = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !well_formed {
            return Err(format!(
                "env variable name `{name}` must be letters, digits and `_`, not starting with a digit"
            ));
        }
        if name.starts_with("OPSROOM_") {
            return Err(format!(
                "env variable `{name}`: names starting with OPSROOM_ are the run's own (OPSROOM_RUN_ID, OPSROOM_ENV, OPSROOM_TARGET, OPSROOM_PARAM_<NAME>)"
            ));
        }
        if super::action::secret_name(value).is_some_and(|n| n.trim().is_empty()) {
            return Err(format!(
                "env variable `{name}`: `secret:` needs the name of a [secrets] entry, e.g. \"secret:api_token\""
            ));
        }
    }
    Ok(())
}

fn check_status(code: u16) -> Result<(), String> {
    if (100..=599).contains(&code) {
        Ok(())
    } else {
        Err(format!(
            "expect_status {code} is not an HTTP status (100 to 599)"
        ))
    }
}

/// The `{name}` placeholders of a template, or what is malformed about it.
fn placeholders(template: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest.as_bytes()[open] == b'}' {
            return Err("has a `}` without its `{`".into());
        }
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or("has a `{` without its `}`")?;
        let name = &after[..close];
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(format!("`{{{name}}}` is not a slot name (a-z, 0-9, _)"));
        }
        out.push(name.to_string());
        rest = &after[close + 1..];
    }
    Ok(out)
}
