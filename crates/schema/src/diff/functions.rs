//! Functions, procedures, aggregates and event triggers. Aggregates come
//! after the functions they are made of and go before them; event triggers
//! follow their function out and back in.

use super::objects::comment;
use super::privileges::{grants, owner};
use super::{Disruption, Phase, Plan, Statement};
use crate::model::*;
use crate::sql::{ident, literal};

fn function_word(f: &Function) -> &'static str {
    match f.kind.as_str() {
        "p" => "PROCEDURE",
        "a" => "AGGREGATE",
        _ => "FUNCTION",
    }
}

/// What `GRANT … ON` names: an ordered-set aggregate's arguments are
/// written without `ORDER BY` there.
fn grant_target(f: &Function, key: &str) -> String {
    match f.kind.as_str() {
        "a" => format!(
            "FUNCTION {}({})",
            f.name,
            f.identity_arguments.replace(" ORDER BY ", ", ")
        ),
        _ => format!("{} {key}", function_word(f)),
    }
}

/// Functions whose result type, arguments or kind change cannot be
/// replaced in place: they are dropped (after their dependents) and created
/// again. The others are created or replaced. Aggregates are compared once
/// every function is: one is dropped and created again when it changes or
/// when a function it is made of is re-created.
pub(crate) fn function_changes(
    plan: &mut Plan,
    disruption: &mut Disruption,
    current: &Schema,
    desired: &Schema,
) {
    let (aggregates, functions): (Vec<_>, Vec<_>) =
        desired.functions.iter().partition(|(_, f)| f.kind == "a");
    for (key, f) in functions {
        let phase = if f.sql_body {
            Phase::AtomicFunctions
        } else {
            Phase::Functions
        };
        let cur = current.functions.get(key);
        match cur {
            Some(c) if c.definition == f.definition => {}
            Some(c) if c.result != f.result || c.arguments != f.arguments || c.kind != f.kind => {
                drop(plan, key, c);
                disruption.functions.insert(key.clone());
                plan.push(phase, Statement::new(f.definition.clone()));
            }
            _ => plan.push(phase, Statement::new(f.definition.clone())),
        }
        settings(plan, disruption, key, cur, f);
    }
    for (key, f) in aggregates {
        let cur = current.functions.get(key);
        match cur {
            Some(c) if c.definition == f.definition && !disruption.hits(&c.depends_on) => {}
            Some(c) => {
                drop(plan, key, c);
                disruption.functions.insert(key.clone());
                plan.push(Phase::Aggregates, Statement::new(f.definition.clone()));
            }
            None => plan.push(Phase::Aggregates, Statement::new(f.definition.clone())),
        }
        settings(plan, disruption, key, cur, f);
    }
    for (key, f) in &current.functions {
        if !desired.functions.contains_key(key) {
            let phase = if f.kind == "a" {
                Phase::DropAggregates
            } else {
                Phase::DropFunctionsForGood
            };
            plan.push(
                phase,
                Statement::new(format!("DROP {} {key}", function_word(f))),
            );
            disruption.functions.insert(key.clone());
        }
    }
}

/// Drops `c` to create it again: aggregates before the functions they use.
fn drop(plan: &mut Plan, key: &str, c: &Function) {
    let phase = if c.kind == "a" {
        Phase::DropAggregates
    } else {
        Phase::DropFunctions
    };
    plan.push(
        phase,
        Statement::new(format!("DROP {} {key}", function_word(c))),
    );
}

/// Comment, owner and grants of a function in DESIRED.
fn settings(
    plan: &mut Plan,
    disruption: &Disruption,
    key: &str,
    cur: Option<&Function>,
    f: &Function,
) {
    let what = format!("{} {key}", function_word(f));
    let kept = cur.filter(|_| !disruption.functions.contains(key));
    let base = kept.map_or_else(
        || plan.created_grants("FUNCTIONS", Some(&f.name.schema)),
        |c| c.grants.clone(),
    );
    comment(
        plan,
        &what,
        Some(&kept.and_then(|c| c.comment.clone())),
        &f.comment,
    );
    owner(plan, &what, kept.map(|c| c.owner.as_str()), &f.owner);
    grants(plan, &grant_target(f, key), &base, &f.grants);
}

fn event_trigger_create(name: &str, e: &EventTrigger) -> String {
    let mut sql = format!("CREATE EVENT TRIGGER {} ON {}", ident(name), e.event);
    if !e.tags.is_empty() {
        let tags: Vec<String> = e.tags.iter().map(|t| literal(t)).collect();
        sql += &format!(" WHEN TAG IN ({})", tags.join(", "));
    }
    sql + &format!(" EXECUTE FUNCTION {}()", e.function)
}

/// Event triggers: dropped when they change or their function is
/// re-created, created once the functions exist, then enabled as DESIRED
/// says.
pub(crate) fn event_triggers(
    plan: &mut Plan,
    disruption: &Disruption,
    current: &Schema,
    desired: &Schema,
) {
    let kept = |name: &String| {
        let c = current.event_triggers.get(name)?;
        let d = desired.event_triggers.get(name)?;
        let same = c.event == d.event && c.tags == d.tags && c.function_key == d.function_key;
        (same && !disruption.functions.contains(&c.function_key)).then_some(c)
    };
    for name in current.event_triggers.keys() {
        if kept(name).is_none() {
            plan.push(
                Phase::DropTriggersPolicies,
                Statement::new(format!("DROP EVENT TRIGGER {}", ident(name))),
            );
        }
    }
    for (name, e) in &desired.event_triggers {
        let cur = kept(name);
        if cur.is_none() {
            plan.push(
                Phase::TriggersPolicies,
                Statement::new(event_trigger_create(name, e)),
            );
        }
        if cur.map_or("O", |c| c.enabled.as_str()) != e.enabled {
            let state = match e.enabled.as_str() {
                "D" => "DISABLE",
                "R" => "ENABLE REPLICA",
                "A" => "ENABLE ALWAYS",
                _ => "ENABLE",
            };
            plan.push(
                Phase::TriggersPolicies,
                Statement::new(format!("ALTER EVENT TRIGGER {} {state}", ident(name))),
            );
        }
        let what = format!("EVENT TRIGGER {}", ident(name));
        comment(
            plan,
            &what,
            Some(&cur.and_then(|c| c.comment.clone())),
            &e.comment,
        );
        owner(plan, &what, cur.map(|c| c.owner.as_str()), &e.owner);
    }
}
