//! `/runbooks`: the runbook catalog as a page. Every built-in and custom
//! runbook with its description, example phrasings, params, risk and the
//! envs it can run in, decided by the worker's own validate phase (so
//! deploy shows only envs with a provider), and "try it" buttons that fill
//! the command bar.

use super::pages::{command_bar, Nav, Page};
use crate::AppState;
use axum::extract::State;
use maud::{html, Markup};
use opsroom_core::catalog::{ParamKind, ParamSpec};
use opsroom_core::{Risk, RunbookSpec};
use opsroom_engine::{runbooks, Engine};
use opsroom_store::RunInsertParams;
use serde_json::{Map, Value};

/// Where a runbook can run: the envs its validate phase accepts, or why
/// it cannot run at all.
struct Reach {
    envs: Vec<String>,
    /// The validate phase's answer when no env (or, without envs, the
    /// runbook itself) passes.
    refused: Option<String>,
}

/// A param value that passes the declaration: its default, else an example
/// of its type (params are asked per run; this only checks the rest).
fn example_value(p: &ParamSpec) -> Value {
    if let Some(d) = &p.default {
        return d.clone();
    }
    match &p.kind {
        ParamKind::String => Value::from("example"),
        ParamKind::Integer { min, .. } => Value::from(*min),
        ParamKind::Boolean => Value::from(false),
        ParamKind::Enum { values } => Value::from(values.first().cloned().unwrap_or_default()),
    }
}

/// Runs the validate phase's checks for `spec` in each env (or once
/// without an env, for runbooks that take none).
fn reach(engine: &Engine, spec: &RunbookSpec) -> Reach {
    let params: Map<String, Value> = spec
        .params
        .iter()
        .filter(|p| p.required || p.default.is_some())
        .map(|p| (p.name.clone(), example_value(p)))
        .collect();
    let check = |env: Option<&str>| {
        if !runbooks::is_implemented(&engine.catalog, &spec.name) {
            return Err("this server cannot execute it".to_string());
        }
        let mut p = RunInsertParams::new(&spec.name, engine.clock.now());
        p.env = env.map(String::from);
        p.params = Value::Object(params.clone());
        runbooks::validate(engine, &p.unsaved_run()).map_err(|e| e.message)
    };
    if !spec.needs_env {
        return Reach {
            envs: vec![],
            refused: check(None).err(),
        };
    }
    let mut envs = vec![];
    let mut refused = None;
    for name in engine.config.env_names() {
        match check(Some(name)) {
            Ok(()) => envs.push(name.to_string()),
            Err(e) => {
                refused.get_or_insert(e);
            }
        }
    }
    Reach {
        refused: envs.is_empty().then_some(refused).flatten(),
        envs,
    }
}

/// An example phrasing with its slots filled for `env`: `{env}`, `{service}`
/// (a service of that env), `{ref}` and params (their default or example).
fn fill(trigger: &str, spec: &RunbookSpec, engine: &Engine, env: Option<&str>) -> String {
    let service = env
        .and_then(|e| engine.config.env(e))
        .and_then(|(_, c)| {
            c.services.first().map(|s| s.name.clone()).or_else(|| {
                c.deploy
                    .as_ref()
                    .and_then(|d| d.deployable_name())
                    .map(String::from)
            })
        })
        .unwrap_or_else(|| "web".into());
    let mut text = trigger
        .replace("{env}", env.unwrap_or("dev"))
        .replace("{service}", &service)
        .replace("{ref}", "main");
    for p in &spec.params {
        let slot = format!("{{{}}}", p.name);
        if text.contains(&slot) {
            let v = match example_value(p) {
                Value::String(s) if s == "example" => p.name.replace('_', " "),
                Value::String(s) => s,
                v => v.to_string(),
            };
            text = text.replace(&slot, &v);
        }
    }
    text
}

/// A param's type as people read it.
fn kind_text(kind: &ParamKind) -> String {
    match kind {
        ParamKind::String => "text".into(),
        ParamKind::Integer { min, max } => format!("whole number {min} to {max}"),
        ParamKind::Boolean => "true or false".into(),
        ParamKind::Enum { values } => format!("one of {}", values.join(", ")),
    }
}

/// `GET /runbooks`: the catalog page.
pub async fn catalog(State(state): State<AppState>) -> Markup {
    let engine = &state.engine;
    let specs: Vec<&RunbookSpec> = engine.catalog.iter().collect();
    Page::new("Runbooks", Nav::Runbooks, "runbooks").render(html! {
        h1 { "Runbooks" }
        p.muted {
            (specs.len()) " runbooks: built-in and custom. “Try it” puts an example in the \
             command bar, where the card shows its plan before anything runs."
        }
        (command_bar(false))
        div.catalog {
            @for spec in &specs {
                @let reach = reach(engine, spec);
                @let example_env = reach.envs.first().map(String::as_str);
                article.card.runbook id={ "rb-" (spec.name) } data-runbook=(spec.name)
                    aria-labelledby={ "rb-" (spec.name) "-h" } {
                    header.card-head {
                        h2 id={ "rb-" (spec.name) "-h" } { (spec.name) }
                        div.badges {
                            span.badge data-risk=(spec.risk.as_str())
                                class={ "risk-" (spec.risk.as_str()) } {
                                @if spec.risk == Risk::Write { "write" } @else { "read-only" }
                            }
                            span.badge.kind { @if spec.custom { "custom" } @else { "built-in" } }
                        }
                    }
                    p { (spec.description) }
                    dl.facts.rb-facts {
                        dt { "Runs in" }
                        dd data-field="envs" {
                            @if !reach.envs.is_empty() {
                                @for env in &reach.envs { span.badge.env { (env) } " " }
                            } @else if let Some(why) = &reach.refused {
                                span.error { "not set up here: " (why) }
                            } @else {
                                "no env needed"
                            }
                        }
                    }
                    @if !spec.triggers.is_empty() {
                        h3 { "Say it like" }
                        ul.examples {
                            @for t in &spec.triggers {
                                @let text = fill(t, spec, engine, example_env);
                                li {
                                    code { (text) }
                                    " "
                                    button.ghost.try type="button" data-try=(text)
                                        aria-label={ "Try “" (text) "”" } { "Try it" }
                                }
                            }
                        }
                    }
                    @if spec.params.is_empty() {
                        p.muted { "No params." }
                    } @else {
                        table.params-table {
                            caption { "Params" }
                            thead { tr { th scope="col" { "Name" } th scope="col" { "Type" } th scope="col" { "Default" } th scope="col" { "What it is" } } }
                            tbody {
                                @for p in &spec.params {
                                    tr data-param=(p.name) {
                                        th scope="row" { code { (p.name) } @if p.required { " (required)" } }
                                        td { (kind_text(&p.kind)) }
                                        td { @if let Some(d) = &p.default { code { (d.to_string()) } } }
                                        td { (p.description) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    })
}
