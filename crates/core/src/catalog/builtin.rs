//! The built-in runbooks, described as data.

use super::{Cue, ParamKind, ParamSpec, Risk, RunbookSpec};
use crate::run::Phase;
use serde_json::Value;

/// Every built-in runbook, in the order the catalog lists them.
pub(super) fn all() -> Vec<RunbookSpec> {
    vec![
        noop(),
        healthcheck(),
        deploy(),
        rollback(),
        spec(),
        incident(),
        incident_pr(),
        schema_sync(),
    ]
}

fn steps(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    steps(items)
}

fn cues(items: &[(&str, u8)]) -> Vec<Cue> {
    items.iter().map(|(p, w)| Cue::new(p, *w)).collect()
}

fn param(name: &str, description: &str, kind: ParamKind, default: Option<Value>) -> ParamSpec {
    ParamSpec {
        name: name.into(),
        description: description.into(),
        kind,
        required: false,
        default,
    }
}

fn git_ref_param(description: &str) -> ParamSpec {
    param("ref", description, ParamKind::String, None)
}

fn noop() -> RunbookSpec {
    RunbookSpec {
        name: "noop".into(),
        description: "Does nothing but write events; for tests and benchmarks.".into(),
        triggers: vec!["noop".into()],
        cues: cues(&[("noop", 5), ("no op", 5), ("no-op", 5)]),
        params: vec![
            param(
                "events",
                "How many events the action phase writes.",
                ParamKind::Integer {
                    min: 0,
                    max: 100_000,
                },
                Some(Value::from(1)),
            ),
            param(
                "sleep_ms",
                "How long the action phase sleeps, in milliseconds.",
                ParamKind::Integer {
                    min: 0,
                    max: 3_600_000,
                },
                Some(Value::from(0)),
            ),
            param(
                "fail_phase",
                "Make this phase fail (for tests).",
                ParamKind::Enum {
                    values: Phase::ALL.iter().map(|p| p.as_str().to_string()).collect(),
                },
                None,
            ),
        ],
        risk: Risk::Read,
        needs_env: false,
        takes_target: false,
        phases: [
            steps(&["check params"]),
            steps(&["nothing to check"]),
            steps(&["write events", "sleep"]),
            steps(&["nothing to verify"]),
            steps(&["write summary"]),
        ],
        custom: false,
        actions: None,
    }
}

fn healthcheck() -> RunbookSpec {
    RunbookSpec {
        name: "healthcheck".into(),
        description: "Probes every service configured for the environment. Read-only.".into(),
        triggers: strings(&[
            "check {env} status",
            "is {env} up",
            "is {env} down",
            "is {env} ok",
            "health of {env}",
            "how is {env} doing",
            "how is {env} looking",
        ]),
        cues: cues(&[
            ("healthcheck", 5),
            ("health", 4),
            ("status", 4),
            ("ping", 4),
            ("uptime", 4),
            ("probe", 4),
            ("alive", 3),
            ("responding", 3),
            ("reachable", 3),
            ("up", 2),
            ("down", 2),
            ("green", 3),
            ("check", 2),
            ("looking", 2),
            ("how", 1),
            ("ok", 1),
            ("okay", 1),
            ("doing", 1),
        ]),
        params: vec![],
        risk: Risk::Read,
        needs_env: true,
        takes_target: true,
        phases: [
            steps(&["check environment {env} is configured"]),
            steps(&["list services of {env}"]),
            steps(&["probe each service of {env} (HTTP status, latency, TLS expiry; PostgreSQL connect + select 1; Vercel, DigitalOcean and Supabase status through their APIs)"]),
            steps(&["every probe passed"]),
            steps(&["write report artifact"]),
        ],
        custom: false,
        actions: None,
    }
}

fn deploy() -> RunbookSpec {
    RunbookSpec {
        name: "deploy".into(),
        description: "Deploys a service (or a git ref) to an environment through its provider, \
                      runs pending migrations and verifies health; rolls back when verify fails."
            .into(),
        triggers: strings(&[
            "deploy {service} to {env}",
            "ship {ref} to {env}",
            "roll out {service} to {env}",
        ]),
        cues: cues(&[
            ("deploy", 4),
            ("redeploy", 4),
            ("ship", 4),
            ("release", 4),
            ("roll out", 4),
            ("rollout", 4),
            ("promote", 4),
            ("upgrade", 3),
            ("push", 3),
            ("go live", 3),
            ("publish", 3),
            ("launch", 3),
        ]),
        params: vec![
            git_ref_param(
                "Git branch, tag or commit to deploy; the provider's default when unset.",
            ),
            param(
                "run_migrations",
                "Run pending database migrations after the deployment is ready.",
                ParamKind::Boolean,
                Some(Value::from(true)),
            ),
            param(
                "rollback_on_failure",
                "Redeploy the previous deployment when verification fails.",
                ParamKind::Boolean,
                Some(Value::from(true)),
            ),
        ],
        risk: Risk::Write,
        needs_env: true,
        takes_target: true,
        phases: [
            steps(&["check params and permission to deploy {target} to {env}"]),
            steps(&[
                "check provider credentials for {env}",
                "check {target} exists in {env}",
                "check the {env} lock for {target} is free",
            ]),
            steps(&[
                "trigger deployment of {target} on {env}'s provider",
                "wait for the deployment to be ready, streaming its status",
                "run pending migrations",
            ]),
            steps(&[
                "probe {target} health on {env}",
                "on failure, redeploy the previous deployment",
            ]),
            steps(&["write deployment summary (links, duration, migrations)"]),
        ],
        custom: false,
        actions: None,
    }
}

fn rollback() -> RunbookSpec {
    RunbookSpec {
        name: "rollback".into(),
        description: "Redeploys the last successful deployment of a service (or a given ref)."
            .into(),
        triggers: strings(&[
            "roll back {env}",
            "rollback {service} on {env}",
            "revert {service} in {env}",
        ]),
        cues: cues(&[
            ("rollback", 5),
            ("roll back", 5),
            ("revert", 5),
            ("undo", 5),
            ("go back", 4),
            ("back out", 4),
            ("downgrade", 4),
            ("previous version", 5),
            ("previous release", 5),
            ("previous deploy", 5),
            ("last good", 5),
            ("last known good", 5),
            ("last working", 5),
        ]),
        params: vec![git_ref_param(
            "Deployment or git ref to return to; the last successful one when unset.",
        )],
        risk: Risk::Write,
        needs_env: true,
        takes_target: true,
        phases: [
            steps(&["check params and permission to roll back {target} on {env}"]),
            steps(&[
                "find the last successful deployment of {target} on {env}",
                "check the {env} lock for {target} is free",
            ]),
            steps(&["redeploy it on {env}'s provider", "wait for it to be ready"]),
            steps(&["probe {target} health on {env}"]),
            steps(&["write rollback summary"]),
        ],
        custom: false,
        actions: None,
    }
}

fn spec() -> RunbookSpec {
    RunbookSpec {
        name: "spec".into(),
        description: "Writes constitution.md, prd.md, plan.md and tasks.md for a feature, \
                      commits them on a new branch and opens a pull request."
            .into(),
        triggers: strings(&["generate spec for {feature}", "write a spec for {feature}"]),
        cues: cues(&[
            ("spec", 5),
            ("specification", 5),
            ("prd", 5),
            ("design doc", 4),
            ("requirements", 3),
            ("constitution", 4),
        ]),
        params: vec![
            ParamSpec {
                name: "feature".into(),
                description: "The feature the spec describes, in a few words.".into(),
                kind: ParamKind::String,
                required: true,
                default: None,
            },
            param(
                "base_branch",
                "Branch the pull request targets.",
                ParamKind::String,
                Some(Value::from("main")),
            ),
        ],
        risk: Risk::Write,
        needs_env: false,
        takes_target: false,
        phases: [
            steps(&["check the feature name and repository access"]),
            steps(&["check the base branch exists and the new branch does not"]),
            steps(&[
                "write constitution.md, prd.md, plan.md and tasks.md from templates",
                "commit them on a new branch",
                "open a pull request",
            ]),
            steps(&["check the pull request is open with the four files"]),
            steps(&["link the pull request and files as artifacts"]),
        ],
        custom: false,
        actions: None,
    }
}

fn incident() -> RunbookSpec {
    RunbookSpec {
        name: "incident".into(),
        description: "Fetches recent logs, mines error patterns, correlates them with recent \
                      deployments and writes a triage report with a proposed remediation."
            .into(),
        triggers: strings(&[
            "fix {env} error in {service}",
            "triage {service} on {env}",
            "why is {service} failing",
        ]),
        cues: cues(&[
            ("incident", 5),
            ("triage", 5),
            ("outage", 5),
            ("on fire", 5),
            ("investigate", 4),
            ("debug", 4),
            ("fail", 4),
            ("failure", 4),
            ("broken", 4),
            ("broke", 4),
            ("crash", 4),
            ("crashloop", 4),
            ("root cause", 4),
            ("error", 3),
            ("500", 3),
            ("5xx", 3),
            ("502", 3),
            ("503", 3),
            ("timeout", 3),
            ("time out", 3),
            ("exception", 3),
            ("wrong", 3),
            ("issue", 3),
            ("problem", 3),
            ("going on", 3),
            ("look into", 3),
            ("spike", 3),
            ("slow", 3),
            ("degraded", 3),
            ("oom", 3),
            ("bug", 3),
            ("alert", 3),
            ("page", 2),
            ("fix", 2),
            ("logs", 2),
            ("why", 2),
            ("down", 3),
        ]),
        params: vec![
            param(
                "since_minutes",
                "How far back to read logs, in minutes.",
                ParamKind::Integer {
                    min: 1,
                    max: 10_080,
                },
                Some(Value::from(60)),
            ),
            param(
                "log_source",
                "Which services' logs are read: `auto` every configured source, else only \
                 the sources of that kind.",
                ParamKind::Enum {
                    values: strings(&["auto", "vercel", "file", "http", "command"]),
                },
                Some(Value::from("auto")),
            ),
            param(
                "max_lines",
                "Stop reading after this many lines of the window and its baseline.",
                ParamKind::Integer {
                    min: 1,
                    max: 100_000_000,
                },
                Some(Value::from(5_000_000)),
            ),
        ],
        risk: Risk::Read,
        needs_env: false,
        takes_target: true,
        phases: [
            steps(&["check params and log source for {target} on {env}"]),
            steps(&["check log source credentials"]),
            steps(&[
                "fetch recent logs of {target} on {env}",
                "mine error templates and rank them by count and first seen",
                "correlate patterns with recent deployments",
            ]),
            steps(&["check the report covers every error pattern"]),
            steps(&["write triage report with proposed remediation"]),
        ],
        custom: false,
        actions: None,
    }
}

fn incident_pr() -> RunbookSpec {
    RunbookSpec {
        name: "incident_pr".into(),
        description: "Proposes the fix an incident run found: a pull request reverting the \
                      commits of the suspect deploy, with the triage report as its body, or \
                      without a suspect an issue with the report."
            .into(),
        triggers: strings(&["open a revert pull request"]),
        cues: cues(&[("revert pull request", 6), ("revert pr", 6)]),
        params: vec![
            ParamSpec {
                name: "incident_run".into(),
                description: "The incident run whose triage.md the pull request or issue carries."
                    .into(),
                kind: ParamKind::Integer {
                    min: 1,
                    max: i64::MAX,
                },
                required: true,
                default: None,
            },
            param(
                "from",
                "The commit the deploy before the suspect made live; the revert goes back to it.",
                ParamKind::String,
                None,
            ),
            param(
                "to",
                "The commit the suspect deploy made live; `from..to` is reverted. Without \
                 `from` and `to` an issue is opened.",
                ParamKind::String,
                None,
            ),
        ],
        risk: Risk::Write,
        needs_env: true,
        takes_target: true,
        phases: [
            steps(&["check params and the [incident] repository for {env}"]),
            steps(&[
                "read the incident's triage report",
                "check the base branch exists and the fix branch does not",
            ]),
            steps(&[
                "revert the suspect deploy's commits on branch fix/…, reporting conflicts",
                "open a pull request with the report (or an issue without a suspect)",
            ]),
            steps(&["check the branch holds the revert"]),
            steps(&["link the pull request or issue"]),
        ],
        custom: false,
        actions: None,
    }
}

fn schema_sync() -> RunbookSpec {
    RunbookSpec {
        name: "schema_sync".into(),
        description: "Compares the schemas of two PostgreSQL databases, writes the migration \
                      SQL that makes the target match the source and a Mermaid ERD; applying \
                      it is a write."
            .into(),
        triggers: strings(&[
            "sync database schema",
            "sync schema from {source_env} to {target_env}",
            "compare schemas",
        ]),
        cues: cues(&[
            ("schema", 4),
            ("erd", 5),
            ("drift", 4),
            ("entity relationship", 4),
            ("database diagram", 4),
            ("db diagram", 4),
            ("db diff", 4),
            ("database diff", 4),
            ("migration sql", 3),
            ("diff", 2),
            ("compare", 2),
            ("sync", 2),
        ]),
        params: vec![
            param(
                "source_env",
                "Environment whose schema is the reference.",
                ParamKind::String,
                Some(Value::from("dev")),
            ),
            param(
                "target_env",
                "Environment whose schema is changed to match.",
                ParamKind::String,
                Some(Value::from("prod")),
            ),
            param(
                "apply",
                "Apply the migration (a write that needs approval on prod).",
                ParamKind::Boolean,
                Some(Value::from(false)),
            ),
            param(
                "fingerprint",
                "With apply: the fingerprint of the reviewed diff; the apply is refused when the migration differs.",
                ParamKind::String,
                None,
            ),
        ],
        risk: Risk::Write,
        needs_env: false,
        takes_target: false,
        phases: [
            steps(&["check both environments have a PostgreSQL database"]),
            steps(&["connect to the source and target databases (read-only)"]),
            steps(&[
                "introspect both schemas",
                "write the migration SQL that makes the target match the source",
                "draw the Mermaid ERD",
                "apply the migration when `apply` is set",
            ]),
            steps(&["re-introspect the target and confirm no drift remains"]),
            steps(&["attach diff, migration SQL and ERD as artifacts"]),
        ],
        custom: false,
        actions: None,
    }
}
