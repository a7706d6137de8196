//! The incident runbook's arithmetic, without IO: lines of one service
//! taken into a window ([`Intake`]), mined into patterns, each pattern
//! counted before and inside the window, ranked most urgent first, tied to
//! the deploy that finished just before its first line, and written as
//! `triage.json` and `triage.md`.

use crate::logs::{parse_line, LineSink, LogLine, RawLines};
use chrono::{DateTime, Datelike, Utc};
use opsroom_patterns::{Level, LineMeta, Miner};
use opsroom_store::RunId;

use super::suspects::same_target;
pub use super::suspects::{merge_deploys, suspect_for, Suspect, FROM_OPSROOM};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::ops::ControlFlow;

/// The time read: the window triaged and the baseline before it, as long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub baseline_from: DateTime<Utc>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Window {
    /// The last `minutes` up to `to`, and as many minutes before them.
    pub fn last(to: DateTime<Utc>, minutes: i64) -> Window {
        let span = chrono::Duration::minutes(minutes);
        Window {
            baseline_from: to - span - span,
            from: to - span,
            to,
        }
    }
}

/// What one pattern saw.
#[derive(Debug, Default, Clone)]
struct Counts {
    window: u64,
    baseline: u64,
    /// Lines before the cutoff (the window's start, or the last deploy in it).
    before_cutoff: u64,
    first_seen: Option<DateTime<Utc>>,
    last_seen: Option<DateTime<Utc>>,
    level: Option<Level>,
    /// The first line inside the window, and when it came.
    example: Option<(Option<DateTime<Utc>>, String)>,
}

impl Counts {
    fn merge(&mut self, other: &Counts) {
        self.window += other.window;
        self.baseline += other.baseline;
        self.before_cutoff += other.before_cutoff;
        self.first_seen = min_time(self.first_seen, other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        self.level = self.level.max(other.level);
        match (&self.example, &other.example) {
            (None, Some(_)) => self.example.clone_from(&other.example),
            (Some((a, _)), Some((b, _))) if min_time(*a, *b) != *a => {
                self.example.clone_from(&other.example)
            }
            _ => {}
        }
    }
}

fn min_time(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// How much of an example line is kept.
const EXAMPLE_BYTES: usize = 500;

/// One service's lines, taken as its sources read them: lines outside the
/// baseline and window are passed over, the rest mined. Memory grows with
/// the number of patterns, not of lines.
pub struct Intake {
    window: Window,
    /// Lines at or after it count as after the last deploy.
    cutoff: DateTime<Utc>,
    year: i32,
    miner: Miner,
    counts: HashMap<u32, Counts>,
    last_time: Option<DateTime<Utc>>,
    max_lines: u64,
    /// Lines of the window mined.
    pub lines: u64,
    /// Lines of the baseline mined.
    pub baseline_lines: u64,
    /// Lines not read: not UTF-8, or too long.
    pub skipped: u64,
    /// Lines whose time is outside the baseline and window.
    pub outside: u64,
    /// Whether reading stopped at the line limit.
    pub truncated: bool,
}

impl Intake {
    /// Takes lines of `window`, reading at most `max_lines` of them;
    /// `cutoff` is where "new" starts (the window's start, or the last
    /// deploy in it).
    pub fn new(window: Window, cutoff: DateTime<Utc>, max_lines: u64) -> Intake {
        Intake {
            window,
            cutoff: cutoff.clamp(window.from, window.to),
            year: window.to.year(),
            miner: Miner::new(),
            counts: HashMap::new(),
            last_time: None,
            max_lines,
            lines: 0,
            baseline_lines: 0,
            skipped: 0,
            outside: 0,
            truncated: false,
        }
    }

    fn take(&mut self, line: LogLine<'_>) -> ControlFlow<()> {
        let message = line.message.trim();
        if message.is_empty() {
            return ControlFlow::Continue(());
        }
        // A line without a time has the time of the line before it.
        let time = match line.time {
            Some(t) => {
                self.last_time = Some(t);
                Some(t)
            }
            None => self.last_time,
        };
        if time.is_some_and(|t| t < self.window.baseline_from || t > self.window.to) {
            self.outside += 1;
            return ControlFlow::Continue(());
        }
        if self.lines + self.baseline_lines >= self.max_lines {
            self.truncated = true;
            return ControlFlow::Break(());
        }
        // Lines without any time at all are taken as the window's.
        let in_window = time.is_none_or(|t| t >= self.window.from);
        let id = self.miner.add(
            message,
            LineMeta {
                time,
                level: line.level,
            },
        );
        let counts = self.counts.entry(id.0).or_default();
        if in_window {
            self.lines += 1;
            counts.window += 1;
            counts.level = counts.level.max(line.level);
            if counts.example.is_none() {
                let mut cut = EXAMPLE_BYTES.min(message.len());
                while !message.is_char_boundary(cut) {
                    cut -= 1;
                }
                counts.example = Some((time, message[..cut].to_string()));
            }
        } else {
            self.baseline_lines += 1;
            counts.baseline += 1;
        }
        if time.is_some_and(|t| t < self.cutoff) {
            counts.before_cutoff += 1;
        }
        counts.first_seen = min_time(counts.first_seen, time);
        counts.last_seen = counts.last_seen.max(time);
        ControlFlow::Continue(())
    }

    /// The patterns with lines in the window, of `service`, with ids from
    /// `first_id` on (so several services' ids stay apart); returns them
    /// and the next free id.
    pub fn patterns(&self, service: &str, first_id: u32) -> (Vec<TriagePattern>, u32) {
        let mut merged: HashMap<u32, Counts> = HashMap::new();
        for (id, counts) in &self.counts {
            let root = self.miner.resolve(opsroom_patterns::PatternId(*id)).0;
            merged.entry(root).or_default().merge(counts);
        }
        let window_minutes = minutes(self.window.to - self.window.from);
        let baseline_minutes = minutes(self.window.from - self.window.baseline_from);
        let mut out = Vec::new();
        let mut next = first_id;
        for (root, c) in merged {
            if c.window == 0 {
                continue;
            }
            let rate_now = c.window as f64 / window_minutes;
            let rate_before = c.baseline.max(1) as f64 / baseline_minutes;
            let id = first_id + root;
            next = next.max(id + 1);
            out.push(TriagePattern {
                id,
                service: service.to_string(),
                template: self.miner.template(opsroom_patterns::PatternId(root)),
                count: c.window,
                baseline_count: c.baseline,
                level: c.level,
                first_seen: c.first_seen,
                last_seen: c.last_seen,
                new: c.before_cutoff == 0,
                spike: (rate_now / rate_before * 10.0).round() / 10.0,
                example: c.example.map(|(_, e)| e).unwrap_or_default(),
                suspect: None,
            });
        }
        (out, next)
    }
}

fn minutes(d: chrono::Duration) -> f64 {
    (d.num_milliseconds() as f64 / 60_000.0).max(1.0 / 60.0)
}

impl RawLines for Intake {
    fn raw(&mut self, bytes: &[u8]) -> ControlFlow<()> {
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                let year = self.year;
                self.take(parse_line(text, year))
            }
            Err(_) => {
                self.skipped += 1;
                ControlFlow::Continue(())
            }
        }
    }

    fn too_long(&mut self, _bytes: usize) {
        self.skipped += 1;
    }
}

impl LineSink for Intake {
    fn parsed(&mut self, line: LogLine<'_>) -> ControlFlow<()> {
        self.take(line)
    }
}

/// One pattern as `triage.json` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TriagePattern {
    pub id: u32,
    /// The service whose logs it came from.
    pub service: String,
    pub template: String,
    /// Lines in the window.
    pub count: u64,
    /// Lines in the baseline before the window.
    pub baseline_count: u64,
    /// The most severe level of its lines in the window.
    pub level: Option<Level>,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    /// No line of it before the window, nor before the last deploy in it.
    pub new: bool,
    /// Its rate in the window over its rate in the baseline (a baseline
    /// without it counted as one line).
    pub spike: f64,
    pub example: String,
    pub suspect: Option<Suspect>,
}

impl TriagePattern {
    fn is_error(&self) -> bool {
        self.level.is_some_and(|l| l >= Level::Error)
    }

    /// Worth acting on: an error that is new or at least twice as frequent.
    pub fn is_urgent(&self) -> bool {
        self.is_error() && (self.new || self.spike >= 2.0)
    }
}

/// Most urgent first: errors before the rest; among them, new before
/// known, then by spike, level, count; ties by id.
pub fn rank(patterns: &mut [TriagePattern]) {
    patterns.sort_by(|a, b| {
        b.is_error()
            .cmp(&a.is_error())
            .then(b.new.cmp(&a.new))
            .then(b.spike.total_cmp(&a.spike))
            .then(b.level.cmp(&a.level))
            .then(b.count.cmp(&a.count))
            .then(a.id.cmp(&b.id))
    });
}

/// The run to propose: a rollback of the suspect of the most urgent
/// pattern, when that pattern has one. Rolling back to "the one before the
/// live one" undoes the suspect when it is the last deploy; after a later
/// deploy the rollback names the deployment before the suspect. It rolls
/// back the suspect's target, else the incident's (`target`).
pub fn remediation(
    env: &str,
    target: Option<&str>,
    patterns: &[TriagePattern],
    deploys: &[Suspect],
) -> Value {
    let Some(top) = patterns.iter().find(|p| p.is_urgent()) else {
        return Value::Null;
    };
    let Some(suspect) = &top.suspect else {
        return Value::Null;
    };
    let same_target = |d: &&Suspect| same_target(&d.target, &suspect.target);
    let newest = deploys
        .iter()
        .filter(same_target)
        .max_by_key(|d| (d.finished_at, d.run_id));
    let mut params = serde_json::Map::new();
    if newest.is_some_and(|n| !n.is_same(suspect)) {
        let before = deploys
            .iter()
            .filter(same_target)
            .filter(|d| d.finished_at < suspect.finished_at)
            .max_by_key(|d| (d.finished_at, d.run_id));
        match before.and_then(|d| d.deployment.clone().or(d.git_ref.clone())) {
            Some(to) => {
                params.insert("ref".into(), Value::from(to));
            }
            None => return Value::Null,
        }
    }
    json!({
        "runbook": "rollback",
        "env": env,
        "target": suspect.target.as_deref().or(target),
        "params": params,
    })
}

/// Where fixes can be proposed (`[incident]`).
#[derive(Debug, Clone, Copy)]
pub struct FixRepo {
    /// Whether it is on GitHub (issues can be opened).
    pub github: bool,
}

/// Every run the operator can start from the report, as bodies for
/// `POST /api/v1/runs`: the rollback ([`remediation`]); with `[incident]`,
/// a pull request reverting the commits between the deploy before the
/// suspect and the suspect (`incident_pr` with `from` and `to`), or,
/// without a suspect whose commits are known, an issue with the report on
/// GitHub (`incident_pr` without them).
pub fn remediations(
    env: &str,
    incident: RunId,
    target: Option<&str>,
    patterns: &[TriagePattern],
    deploys: &[Suspect],
    repo: Option<FixRepo>,
) -> Vec<Value> {
    let mut out = Vec::new();
    let rollback = remediation(env, target, patterns, deploys);
    if !rollback.is_null() {
        out.push(rollback);
    }
    let Some(repo) = repo else {
        return out;
    };
    let suspect = patterns
        .iter()
        .find(|p| p.is_urgent())
        .and_then(|p| p.suspect.as_ref());
    let range = suspect.and_then(|suspect| {
        let before = deploys
            .iter()
            .filter(|d| same_target(&d.target, &suspect.target))
            .filter(|d| d.finished_at < suspect.finished_at)
            .max_by_key(|d| (d.finished_at, d.run_id))?;
        let (from, to) = (before.revision()?, suspect.revision()?);
        (from != to).then(|| (from.to_string(), to.to_string(), suspect.target.clone()))
    });
    match range {
        Some((from, to, suspect_target)) => out.push(json!({
            "runbook": "incident_pr",
            "env": env,
            "target": suspect_target.as_deref().or(target),
            "params": {"incident_run": incident.0, "from": from, "to": to},
        })),
        None if repo.github => out.push(json!({
            "runbook": "incident_pr",
            "env": env,
            "target": target,
            "params": {"incident_run": incident.0},
        })),
        None => {}
    }
    out
}

/// How one source went, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    pub service: String,
    pub kind: &'static str,
    /// Lines of the window read.
    pub lines: u64,
    pub skipped: u64,
    /// Whether reading stopped at the line limit.
    pub truncated: bool,
    /// Why it could not be read, if it could not.
    pub error: Option<String>,
}

/// The whole report, as `triage.json` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Triage {
    pub window: WindowView,
    pub env: String,
    pub target: Option<String>,
    pub lines: u64,
    pub skipped: u64,
    pub patterns: Vec<TriagePattern>,
    pub remediation: Value,
    /// Every run the operator can start from the report ([`remediations`]).
    pub remediations: Vec<Value>,
    pub sources: Vec<SourceReport>,
    /// What the triage could not use and went on without (a provider's
    /// deployment list that could not be read).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WindowView {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Triage {
    /// `triage.md`: the window, the sources, the ranked patterns and what
    /// to do next.
    pub fn markdown(&self) -> String {
        let mut md = format!(
            "# Triage of {} on {}\n\n",
            self.target.as_deref().unwrap_or("every service"),
            self.env
        );
        md.push_str(&format!(
            "Window: {} → {} · {} lines · {} skipped · {} patterns\n\n",
            self.window.from.format("%Y-%m-%d %H:%M:%S UTC"),
            self.window.to.format("%Y-%m-%d %H:%M:%S UTC"),
            self.lines,
            self.skipped,
            self.patterns.len()
        ));
        md.push_str(
            "## Sources\n\n| service | kind | lines | skipped | note |\n|---|---|---|---|---|\n",
        );
        for s in &self.sources {
            let note = match (&s.error, s.truncated) {
                (Some(e), _) => format!("❌ {}", cell(e)),
                (None, true) => "stopped at the line limit".into(),
                (None, false) => String::new(),
            };
            md.push_str(&format!(
                "| {} | {} | {} | {} | {note} |\n",
                cell(&s.service),
                s.kind,
                s.lines,
                s.skipped
            ));
        }
        md.push_str("\n## Patterns, most urgent first\n\n");
        if self.patterns.is_empty() {
            md.push_str("No log lines in the window.\n");
        } else {
            md.push_str("| # | level | count | new | spike | first seen | template | suspect |\n|---|---|---|---|---|---|---|---|\n");
            for p in self.patterns.iter().take(50) {
                md.push_str(&format!(
                    "| {} | {} | {} | {} | ×{} | {} | `{}` | {} |\n",
                    p.id,
                    p.level.map(Level::as_str).unwrap_or("-"),
                    p.count,
                    if p.new { "🆕 yes" } else { "no" },
                    p.spike,
                    p.first_seen
                        .map(|t| t.format("%H:%M:%S").to_string())
                        .unwrap_or_else(|| "-".into()),
                    cell(&p.template).replace('`', "'"),
                    p.suspect
                        .as_ref()
                        .map(|s| cell(&s.label()))
                        .unwrap_or_else(|| "-".into())
                ));
            }
            if self.patterns.len() > 50 {
                md.push_str(&format!(
                    "\n… and {} more in triage.json.\n",
                    self.patterns.len() - 50
                ));
            }
            if let Some(top) = self.patterns.first() {
                md.push_str(&format!(
                    "\nExample of #{}:\n\n```\n{}\n```\n",
                    top.id,
                    top.example.replace("```", "'''")
                ));
            }
        }
        md.push_str("\n## Proposed remediation\n\n");
        match self.remediation.as_object() {
            Some(body) => {
                let suspect = self.patterns.iter().find(|p| p.is_urgent()).and_then(|p| p.suspect.as_ref());
                if let Some(s) = suspect {
                    md.push_str(&format!(
                        "The most urgent error began after {} (ref {}{}) went live at {}.\n\n",
                        s.label(),
                        s.git_ref.as_deref().unwrap_or("-"),
                        s.commit
                            .as_deref()
                            .filter(|c| Some(*c) != s.git_ref.as_deref())
                            .map(|c| format!(", commit {c}"))
                            .unwrap_or_default(),
                        s.finished_at.format("%Y-%m-%d %H:%M:%S UTC")
                    ));
                }
                md.push_str(&format!(
                    "Roll it back (a write run: it goes through approval where the env needs it):\n\n```json\n{}\n```\n",
                    serde_json::to_string_pretty(&Value::Object(body.clone())).unwrap_or_default()
                ));
            }
            None => md.push_str(
                "None: no new or spiking error follows a known deploy (opsroom's runs and the provider's deployment list). Look at the patterns above.\n",
            ),
        }
        for body in self
            .remediations
            .iter()
            .filter(|b| b["runbook"] == "incident_pr")
        {
            let params = &body["params"];
            match (params["from"].as_str(), params["to"].as_str()) {
                (Some(from), Some(to)) => md.push_str(&format!(
                    "\nOr propose a pull request reverting the suspect deploy's commits `{from}..{to}`, with this report as its body:\n\n"
                )),
                _ => md.push_str("\nOr open an issue with this report:\n\n"),
            }
            md.push_str(&format!(
                "```json\n{}\n```\n",
                serde_json::to_string_pretty(body).unwrap_or_default()
            ));
        }
        if !self.notes.is_empty() {
            md.push_str("\n## Notes\n\n");
            for note in &self.notes {
                md.push_str(&format!("- ⚠️ {}\n", note.replace('\n', " ")));
            }
        }
        md
    }
}

/// Text safe in a markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
pub(super) mod tests {
    //! Its fixtures (`at`, `feed`, `deploy`) serve the suspects' tests too.
    use super::*;
    use chrono::TimeZone;

    pub(in crate::runbooks::incident) fn at(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap() + chrono::Duration::minutes(min)
    }

    pub(in crate::runbooks::incident) fn feed(intake: &mut Intake, text: &str) {
        let _ = intake.raw(text.as_bytes());
    }

    pub(in crate::runbooks::incident) fn deploy(run: i64, min: i64) -> Suspect {
        Suspect {
            run_id: Some(RunId(run)),
            deployment: Some(format!("dpl_{run}")),
            git_ref: Some("main".into()),
            finished_at: at(min),
            source: FROM_OPSROOM.into(),
            commit: Some(format!("c0ffee{run}")),
            url: None,
            target: Some("payments".into()),
            started_at: Some(at(min - 2)),
        }
    }

    #[test]
    fn a_new_error_after_a_deploy_ranks_first_and_is_tied_to_it() {
        // Window 10:00–11:00, baseline 09:00–10:00; deploy at 10:30.
        let window = Window::last(at(60), 60);
        let deploys = vec![deploy(3, -200), deploy(7, 30)];
        let mut intake = Intake::new(window, at(30), 1000);
        for m in (-55..60).step_by(5) {
            feed(
                &mut intake,
                &format!(
                    "{} ERROR db pool exhausted after {} ms",
                    at(m).to_rfc3339(),
                    100 + m
                ),
            );
            feed(
                &mut intake,
                &format!(
                    "{} INFO request served in {} ms",
                    at(m).to_rfc3339(),
                    m + 70
                ),
            );
        }
        for m in [31, 40, 50] {
            feed(
                &mut intake,
                &format!(
                    "{} ERROR PaymentIntent pi_{m} failed: card_declined",
                    at(m).to_rfc3339()
                ),
            );
        }
        feed(
            &mut intake,
            &format!("{} ERROR too old", at(-200).to_rfc3339()),
        );
        let _ = intake.raw(b"\xff\xfe not utf-8");
        assert_eq!((intake.outside, intake.skipped), (1, 1));
        let (mut patterns, _) = intake.patterns("payments", 0);
        rank(&mut patterns);
        for p in &mut patterns {
            p.suspect = suspect_for(&deploys, &p.service, p.first_seen);
        }
        let top = &patterns[0];
        assert_eq!(
            top.template,
            "ERROR PaymentIntent pi_<*> failed: card_declined"
        );
        assert!(top.new && top.count == 3 && top.level == Some(Level::Error));
        assert_eq!(top.suspect.as_ref().unwrap().run_id, Some(RunId(7)));
        let old = &patterns[1];
        assert!(
            old.template.starts_with("ERROR db pool exhausted"),
            "{patterns:?}"
        );
        assert!(!old.new && old.count == 12 && old.baseline_count == 11);
        assert_eq!(old.suspect.as_ref().unwrap().run_id, Some(RunId(3)));
        assert_eq!(patterns[2].level, Some(Level::Info));
        assert_eq!(intake.lines, 27);
        let body = remediation("prod", None, &patterns, &deploys);
        assert_eq!(
            body,
            json!({"runbook": "rollback", "env": "prod", "target": "payments", "params": {}})
        );
        // After a later deploy, the rollback names the one before the suspect.
        let later = [deploys.clone(), vec![deploy(9, 55)]].concat();
        let body = remediation("prod", None, &patterns, &later);
        assert_eq!(body["params"], json!({"ref": "dpl_3"}));
        // With a repository, a revert of the suspect's commits follows it.
        let all = remediations(
            "prod",
            RunId(11),
            Some("payments"),
            &patterns,
            &deploys,
            Some(FixRepo { github: false }),
        );
        assert_eq!(all.len(), 2, "{all:?}");
        assert_eq!(all[0]["runbook"], "rollback");
        assert_eq!(
            all[1],
            json!({"runbook": "incident_pr", "env": "prod", "target": "payments",
                   "params": {"incident_run": 11, "from": "c0ffee3", "to": "c0ffee7"}})
        );
        assert_eq!(
            remediations("prod", RunId(11), None, &patterns, &deploys, None).len(),
            1,
            "no repository, no pull request"
        );
    }

    #[test]
    fn without_a_deploy_there_is_no_suspect_and_no_remediation() {
        let window = Window::last(at(60), 60);
        let mut intake = Intake::new(window, window.from, 1000);
        feed(&mut intake, &format!("{} ERROR boom", at(10).to_rfc3339()));
        feed(&mut intake, "    at handler (pay.js:12)");
        let (mut patterns, _) = intake.patterns("payments", 0);
        rank(&mut patterns);
        for p in &mut patterns {
            p.suspect = suspect_for(&[], &p.service, p.first_seen);
        }
        assert!(patterns.iter().all(|p| p.suspect.is_none()));
        assert_eq!(
            patterns.len(),
            2,
            "the untimed line takes the time before it"
        );
        assert!(patterns.iter().all(|p| p.first_seen == Some(at(10))));
        assert_eq!(remediation("prod", None, &patterns, &[]), Value::Null);
        // No suspect: an issue on GitHub, nothing with a plain git remote.
        let github = Some(FixRepo { github: true });
        assert_eq!(
            remediations("prod", RunId(5), Some("payments"), &patterns, &[], github),
            vec![
                json!({"runbook": "incident_pr", "env": "prod", "target": "payments",
                        "params": {"incident_run": 5}})
            ]
        );
        let git = Some(FixRepo { github: false });
        assert!(remediations("prod", RunId(5), None, &patterns, &[], git).is_empty());
    }

    #[test]
    fn the_line_limit_stops_reading() {
        let window = Window::last(at(60), 60);
        let mut intake = Intake::new(window, window.from, 2);
        for _ in 0..2 {
            assert!(intake.raw(b"line").is_continue());
        }
        assert!(intake.raw(b"line").is_break());
        assert!(intake.truncated && intake.lines == 2);
    }
}
