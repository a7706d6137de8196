//! Statements for everything but tables' own columns and functions:
//! schemas, extensions, types, sequences, and the objects that hang on
//! tables (constraints, indexes, views, triggers, policies), with comments,
//! owners and grants.

use super::privileges::{grantee, grants, owner};
use super::{Disruption, Phase, Plan, Statement};
use crate::model::*;
use crate::sql::{ident, literal};
use std::collections::{BTreeMap, BTreeSet};

/// `COMMENT ON …` when the comment differs.
pub(crate) fn comment(
    plan: &mut Plan,
    what: &str,
    current: Option<&Option<String>>,
    desired: &Option<String>,
) {
    let current = current.cloned().flatten();
    if &current != desired {
        let value = desired.as_deref().map_or("NULL".to_string(), literal);
        plan.push(
            Phase::Comments,
            Statement::new(format!("COMMENT ON {what} IS {value}")),
        );
    }
}

pub(crate) fn schemas_and_extensions(plan: &mut Plan, current: &Schema, desired: &Schema) {
    for (name, ns) in &desired.schemas {
        let what = format!("SCHEMA {}", ident(name));
        let existing = current.schemas.get(name);
        if existing.is_none() {
            plan.push(
                Phase::CreateSchemas,
                Statement::new(format!("CREATE SCHEMA {}", ident(name))),
            );
        }
        comment(
            plan,
            &what,
            Some(&existing.and_then(|n| n.comment.clone())),
            &ns.comment,
        );
        owner(plan, &what, existing.map(|n| n.owner.as_str()), &ns.owner);
        let base = existing.map_or_else(
            || plan.created_grants("SCHEMAS", None),
            |n| n.grants.clone(),
        );
        grants(plan, &what, &base, &ns.grants);
    }
    for name in current.schemas.keys() {
        if !desired.schemas.contains_key(name) {
            plan.push(
                Phase::DropSchemas,
                Statement::new(format!("DROP SCHEMA {}", ident(name))).hazard(
                    "data_loss",
                    format!("drops schema {}; it must be empty by now", ident(name)),
                ),
            );
        }
    }
    for (name, ext) in &desired.extensions {
        match current.extensions.get(name) {
            None => plan.push(
                Phase::Extensions,
                Statement::new(format!(
                    "CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {} VERSION {}",
                    ident(name),
                    ident(&ext.schema),
                    literal(&ext.version)
                )),
            ),
            Some(cur) => {
                if cur.version != ext.version {
                    plan.push(
                        Phase::Extensions,
                        Statement::new(format!(
                            "ALTER EXTENSION {} UPDATE TO {}",
                            ident(name),
                            literal(&ext.version)
                        )),
                    );
                }
                if cur.schema != ext.schema {
                    plan.push(
                        Phase::Extensions,
                        Statement::new(format!(
                            "ALTER EXTENSION {} SET SCHEMA {}",
                            ident(name),
                            ident(&ext.schema)
                        )),
                    );
                }
            }
        }
        let what = format!("EXTENSION {}", ident(name));
        comment(
            plan,
            &what,
            Some(&current.extensions.get(name).and_then(|e| e.comment.clone())),
            &ext.comment,
        );
    }
    for name in current.extensions.keys() {
        if !desired.extensions.contains_key(name) {
            plan.push(
                Phase::DropExtensions,
                Statement::new(format!("DROP EXTENSION {}", ident(name))).hazard(
                    "data_loss",
                    format!("drops extension {} and what it provides", ident(name)),
                ),
            );
        }
    }
}

/// Whether `old` appears, in order, within `new` (so only additions).
fn is_subsequence(old: &[String], new: &[String]) -> bool {
    let mut it = new.iter();
    old.iter().all(|o| it.any(|n| n == o))
}

fn enum_create(name: &QName, e: &Enum) -> String {
    let labels: Vec<String> = e.labels.iter().map(|l| literal(l)).collect();
    format!("CREATE TYPE {name} AS ENUM ({})", labels.join(", "))
}

fn domain_create(name: &QName, d: &Domain) -> String {
    let mut sql = format!("CREATE DOMAIN {name} AS {}", d.base_type);
    if let Some(c) = &d.collation {
        sql += &format!(" COLLATE {}", ident(c));
    }
    if let Some(def) = &d.default {
        sql += &format!(" DEFAULT {def}");
    }
    if d.not_null {
        sql += " NOT NULL";
    }
    for (cname, def) in &d.constraints {
        sql += &format!(" CONSTRAINT {} {def}", ident(cname));
    }
    sql
}

fn composite_create(name: &QName, c: &Composite) -> String {
    let attrs: Vec<String> = c
        .attributes
        .iter()
        .map(|(n, t)| format!("{} {t}", ident(n)))
        .collect();
    format!("CREATE TYPE {name} AS ({})", attrs.join(", "))
}

/// A type's comment, owner and privileges.
type TypeSettings<'a> = (&'a Option<String>, &'a str, &'a BTreeSet<Grant>);

/// Comment, owner and grants of the type `name`; a new one (`kept` is
/// `None`) starts with the default privileges of types.
fn type_settings(
    plan: &mut Plan,
    (what, name): (&str, &QName),
    kept: Option<TypeSettings<'_>>,
    desired: TypeSettings<'_>,
) {
    let (comment_, owner_, grants_) = desired;
    comment(plan, what, Some(&kept.and_then(|k| k.0.clone())), comment_);
    owner(plan, what, kept.map(|k| k.1), owner_);
    let base = kept.map_or_else(
        || plan.created_grants("TYPES", Some(&name.schema)),
        |k| k.2.clone(),
    );
    grants(plan, what, &base, grants_);
}

/// Enums, domains and composite types. Enum values are added in place
/// (`ADD VALUE … BEFORE/AFTER`); only a removed or reordered value swaps the
/// type for a new one, and that marks it disrupted so the columns, indexes
/// and policies using it follow.
pub(crate) fn types(
    plan: &mut Plan,
    disruption: &mut Disruption,
    current: &Schema,
    desired: &Schema,
) {
    for (name, e) in &desired.enums {
        match current.enums.get(name) {
            None => plan.push(Phase::Types, Statement::new(enum_create(name, e))),
            Some(cur) if cur.labels == e.labels => {}
            Some(cur) if is_subsequence(&cur.labels, &e.labels) => {
                for (i, label) in e.labels.iter().enumerate() {
                    if cur.labels.contains(label) {
                        continue;
                    }
                    let position = match i {
                        0 => match e.labels.get(1) {
                            Some(next) => format!(" BEFORE {}", literal(next)),
                            None => String::new(),
                        },
                        _ => format!(" AFTER {}", literal(&e.labels[i - 1])),
                    };
                    plan.push(
                        Phase::Types,
                        Statement::new(format!(
                            "ALTER TYPE {name} ADD VALUE {}{position}",
                            literal(label)
                        )),
                    );
                }
            }
            Some(cur) => {
                let old = QName::new(name.schema.clone(), format!("{}__opsroom_old", name.name));
                let removed: Vec<&String> = cur
                    .labels
                    .iter()
                    .filter(|l| !e.labels.contains(l))
                    .collect();
                plan.push(
                    Phase::SwapTypes,
                    Statement::new(format!("ALTER TYPE {name} RENAME TO {}", ident(&old.name)))
                        .hazard(
                            "table_rewrite",
                            format!(
                                "enum {name} loses or reorders values ({}): the type is replaced and every column using it is rewritten; rows holding a removed value make the cast fail",
                                removed.iter().map(|l| literal(l)).collect::<Vec<_>>().join(", ")
                            ),
                        ),
                );
                plan.push(Phase::SwapTypes, Statement::new(enum_create(name, e)));
                plan.push(
                    Phase::DropOldTypes,
                    Statement::new(format!("DROP TYPE {old}")),
                );
                disruption.types.insert(name.clone());
            }
        }
        let kept = current
            .enums
            .get(name)
            .filter(|_| !disruption.types.contains(name));
        type_settings(
            plan,
            (&format!("TYPE {name}"), name),
            kept.map(|k| (&k.comment, k.owner.as_str(), &k.grants)),
            (&e.comment, &e.owner, &e.grants),
        );
    }
    for (name, d) in &desired.domains {
        match current.domains.get(name) {
            None => plan.push(Phase::Types, Statement::new(domain_create(name, d))),
            Some(cur) if cur.base_type != d.base_type || cur.collation != d.collation => {
                plan.push(
                    Phase::SwapTypes,
                    Statement::new(format!("DROP DOMAIN {name}")).hazard(
                        "data_loss",
                        format!("domain {name} changes its base type: it is dropped and created again, which fails while columns use it"),
                    ),
                );
                plan.push(Phase::SwapTypes, Statement::new(domain_create(name, d)));
            }
            Some(cur) => {
                if cur.default != d.default {
                    let sql = match &d.default {
                        Some(def) => format!("ALTER DOMAIN {name} SET DEFAULT {def}"),
                        None => format!("ALTER DOMAIN {name} DROP DEFAULT"),
                    };
                    plan.push(Phase::Types, Statement::new(sql));
                }
                if cur.not_null != d.not_null {
                    let verb = if d.not_null { "SET" } else { "DROP" };
                    plan.push(
                        Phase::Types,
                        Statement::new(format!("ALTER DOMAIN {name} {verb} NOT NULL")),
                    );
                }
                for (cname, def) in &cur.constraints {
                    if d.constraints.get(cname) != Some(def) {
                        plan.push(
                            Phase::Types,
                            Statement::new(format!(
                                "ALTER DOMAIN {name} DROP CONSTRAINT {}",
                                ident(cname)
                            )),
                        );
                    }
                }
                for (cname, def) in &d.constraints {
                    if cur.constraints.get(cname) != Some(def) {
                        plan.push(
                            Phase::Types,
                            Statement::new(format!(
                                "ALTER DOMAIN {name} ADD CONSTRAINT {} {def}",
                                ident(cname)
                            ))
                            .hazard(
                                "long_lock",
                                format!("checks every column of domain {name} against the new constraint"),
                            ),
                        );
                    }
                }
            }
        }
        let kept = current
            .domains
            .get(name)
            .filter(|k| k.base_type == d.base_type && k.collation == d.collation);
        type_settings(
            plan,
            (&format!("DOMAIN {name}"), name),
            kept.map(|k| (&k.comment, k.owner.as_str(), &k.grants)),
            (&d.comment, &d.owner, &d.grants),
        );
    }
    for (name, c) in &desired.composites {
        match current.composites.get(name) {
            None => plan.push(Phase::Types, Statement::new(composite_create(name, c))),
            Some(cur) => {
                let cur_attrs: BTreeMap<_, _> = cur.attributes.iter().cloned().collect();
                let new_attrs: BTreeMap<_, _> = c.attributes.iter().cloned().collect();
                for (attr, t) in &cur_attrs {
                    match new_attrs.get(attr) {
                        None => plan.push(
                            Phase::Types,
                            Statement::new(format!(
                                "ALTER TYPE {name} DROP ATTRIBUTE {}",
                                ident(attr)
                            ))
                            .hazard(
                                "data_loss",
                                format!("drops attribute {attr} of type {name}"),
                            ),
                        ),
                        Some(nt) if nt != t => plan.push(
                            Phase::Types,
                            Statement::new(format!(
                                "ALTER TYPE {name} ALTER ATTRIBUTE {} TYPE {nt}",
                                ident(attr)
                            )),
                        ),
                        Some(_) => {}
                    }
                }
                for (attr, t) in &c.attributes {
                    if !cur_attrs.contains_key(attr) {
                        plan.push(
                            Phase::Types,
                            Statement::new(format!(
                                "ALTER TYPE {name} ADD ATTRIBUTE {} {t}",
                                ident(attr)
                            )),
                        );
                    }
                }
            }
        }
        let kept = current.composites.get(name);
        type_settings(
            plan,
            (&format!("TYPE {name}"), name),
            kept.map(|k| (&k.comment, k.owner.as_str(), &k.grants)),
            (&c.comment, &c.owner, &c.grants),
        );
    }
    for name in current.enums.keys().chain(current.composites.keys()) {
        if !desired.enums.contains_key(name) && !desired.composites.contains_key(name) {
            plan.push(
                Phase::DropTypes,
                Statement::new(format!("DROP TYPE {name}")),
            );
        }
    }
    for name in current.domains.keys() {
        if !desired.domains.contains_key(name) {
            plan.push(
                Phase::DropTypes,
                Statement::new(format!("DROP DOMAIN {name}")),
            );
        }
    }
}

fn sequence_options_sql(o: &SequenceOptions) -> String {
    let cycle = if o.cycle { "CYCLE" } else { "NO CYCLE" };
    format!(
        "AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {} {cycle}",
        o.data_type, o.increment, o.min, o.max, o.start, o.cache
    )
}

/// Identity column options, as `ALTER COLUMN … SET …` clauses or inside
/// `GENERATED … AS IDENTITY (…)`.
pub(crate) fn identity_options(o: &SequenceOptions) -> String {
    let cycle = if o.cycle { "CYCLE" } else { "NO CYCLE" };
    format!(
        "INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {} {cycle}",
        o.increment, o.min, o.max, o.start, o.cache
    )
}

/// Standalone sequences: created before the tables whose defaults use them,
/// altered in place (never restarted: they keep their current value), owned
/// by their column once the tables exist, dropped last.
pub(crate) fn sequences(plan: &mut Plan, current: &Schema, desired: &Schema) {
    for (name, s) in &desired.sequences {
        let cur = current.sequences.get(name);
        match cur {
            None => plan.push(
                Phase::Sequences,
                Statement::new(format!(
                    "CREATE SEQUENCE {name} {}",
                    sequence_options_sql(&s.options)
                )),
            ),
            Some(c) if c.options != s.options => plan.push(
                Phase::Sequences,
                Statement::new(format!(
                    "ALTER SEQUENCE {name} {}",
                    sequence_options_sql(&s.options)
                )),
            ),
            Some(_) => {}
        }
        if cur.map(|c| &c.owned_by) != Some(&s.owned_by) {
            let owner = match &s.owned_by {
                Some((t, c)) => format!("{t}.{}", ident(c)),
                None => "NONE".into(),
            };
            if cur.is_some() || s.owned_by.is_some() {
                plan.push(
                    Phase::SequenceOwners,
                    Statement::new(format!("ALTER SEQUENCE {name} OWNED BY {owner}")),
                );
            }
        }
        let what = format!("SEQUENCE {name}");
        comment(
            plan,
            &what,
            Some(&cur.and_then(|c| c.comment.clone())),
            &s.comment,
        );
        // A sequence owned by a column belongs to that column's table's owner.
        if s.owned_by.is_none() {
            owner(plan, &what, cur.map(|c| c.owner.as_str()), &s.owner);
        }
        let base = cur.map_or_else(
            || plan.created_grants("SEQUENCES", Some(&name.schema)),
            |c| c.grants.clone(),
        );
        grants(plan, &what, &base, &s.grants);
    }
    for (name, s) in &current.sequences {
        if desired.sequences.contains_key(name) {
            continue;
        }
        // A sequence owned by a dropped column or table goes with it.
        let goes_with_owner = s.owned_by.as_ref().is_some_and(|(t, c)| {
            desired
                .tables
                .get(t)
                .is_none_or(|table| table.column(c).is_none())
        });
        if !goes_with_owner {
            plan.push(
                Phase::DropSequences,
                Statement::new(format!("DROP SEQUENCE {name}")),
            );
        }
    }
}

/// A relation of the current schema, after this migration: whether it is
/// dropped or re-created.
fn view_order(views: &BTreeMap<QName, View>) -> Vec<QName> {
    fn visit(
        name: &QName,
        views: &BTreeMap<QName, View>,
        seen: &mut BTreeSet<QName>,
        out: &mut Vec<QName>,
    ) {
        if !seen.insert(name.clone()) {
            return;
        }
        if let Some(v) = views.get(name) {
            for d in &v.depends_on {
                let target = match d {
                    Dependency::Relation(r) | Dependency::Column(r, _) => r,
                    _ => continue,
                };
                if target != name && views.contains_key(target) {
                    visit(target, views, seen, out);
                }
            }
        }
        out.push(name.clone());
    }
    let mut seen = BTreeSet::new();
    let mut out = vec![];
    for name in views.keys() {
        visit(name, views, &mut seen, &mut out);
    }
    out
}

fn view_create(name: &QName, v: &View) -> String {
    let body = v.definition.trim().trim_end_matches(';');
    let options = if v.options.is_empty() {
        String::new()
    } else {
        format!(" WITH ({})", v.options.join(", "))
    };
    if v.materialized {
        format!("CREATE MATERIALIZED VIEW {name}{options} AS\n{body}\nWITH DATA")
    } else {
        format!("CREATE VIEW {name}{options} AS\n{body}")
    }
}

fn policy_create(table: &QName, name: &str, p: &Policy) -> String {
    let kind = if p.permissive {
        "PERMISSIVE"
    } else {
        "RESTRICTIVE"
    };
    let roles: Vec<String> = p.roles.iter().map(|r| grantee(r)).collect();
    let mut sql = format!(
        "CREATE POLICY {} ON {table} AS {kind} FOR {} TO {}",
        ident(name),
        p.command,
        roles.join(", ")
    );
    if let Some(u) = &p.using {
        sql += &format!(" USING ({u})");
    }
    if let Some(w) = &p.with_check {
        sql += &format!(" WITH CHECK ({w})");
    }
    sql
}

fn policy_same(a: &Policy, b: &Policy) -> bool {
    a.permissive == b.permissive
        && a.command == b.command
        && a.roles == b.roles
        && a.using == b.using
        && a.with_check == b.with_check
}

fn trigger_state(table: &QName, name: &str, enabled: &str) -> Option<String> {
    let verb = match enabled {
        "D" => "DISABLE TRIGGER",
        "R" => "ENABLE REPLICA TRIGGER",
        "A" => "ENABLE ALWAYS TRIGGER",
        _ => return None,
    };
    Some(format!("ALTER TABLE {table} {verb} {}", ident(name)))
}

/// Strips a trailing ` NOT VALID` so a constraint that only becomes valid
/// is validated in place rather than dropped and added.
fn without_not_valid(def: &str) -> &str {
    def.strip_suffix(" NOT VALID").unwrap_or(def)
}

/// Views, indexes, constraints, triggers and policies: each dropped when it
/// goes away, changes or is hit by a disruption, and created when new,
/// changed or hit — dependents first out, last in.
pub(crate) fn dependents(
    plan: &mut Plan,
    disruption: &mut Disruption,
    current: &Schema,
    desired: &Schema,
    recreated_tables: &BTreeSet<QName>,
) {
    // Tables that exist before and after (not dropped, not re-created):
    // only their objects are dropped one by one.
    let kept = |t: &QName| desired.tables.contains_key(t) && !recreated_tables.contains(t);
    let existed = |t: &QName| current.tables.contains_key(t) && !recreated_tables.contains(t);

    // Views: changed ones and those on something disrupted, to a fixpoint.
    let mut views_out: BTreeSet<QName> = BTreeSet::new();
    loop {
        let mut grew = false;
        for (name, v) in &current.views {
            if views_out.contains(name) {
                continue;
            }
            let changed = match desired.views.get(name) {
                None => true,
                Some(d) => {
                    d.definition != v.definition
                        || d.materialized != v.materialized
                        || d.options != v.options
                        || d.columns != v.columns
                }
            };
            if changed || disruption.hits(&v.depends_on) {
                views_out.insert(name.clone());
                disruption.relations.insert(name.clone());
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    for name in view_order(&current.views).iter().rev() {
        if views_out.contains(name) {
            let v = &current.views[name];
            let word = if v.materialized {
                "MATERIALIZED VIEW"
            } else {
                "VIEW"
            };
            plan.push(
                Phase::DropViews,
                Statement::new(format!("DROP {word} {name}")),
            );
        }
    }
    for name in view_order(&desired.views) {
        let v = &desired.views[&name];
        let fresh = views_out.contains(&name) || !current.views.contains_key(&name);
        let word = if v.materialized {
            "MATERIALIZED VIEW"
        } else {
            "VIEW"
        };
        if fresh {
            let mut st = Statement::new(view_create(&name, v));
            if v.materialized {
                st = st.hazard(
                    "long_lock",
                    format!("materialized view {name} runs its query to fill itself"),
                );
            }
            plan.push(Phase::Views, st);
        }
        let cur = current.views.get(&name).filter(|_| !fresh);
        let what = format!("{word} {name}");
        comment(
            plan,
            &what,
            Some(&cur.and_then(|c| c.comment.clone())),
            &v.comment,
        );
        owner(plan, &what, cur.map(|c| c.owner.as_str()), &v.owner);
        let base = cur.map_or_else(
            || plan.created_grants("TABLES", Some(&name.schema)),
            |c| c.grants.clone(),
        );
        grants(plan, &what, &base, &v.grants);
    }

    // Constraints: unique keys first, so foreign keys on them know.
    let constraint_out = |table: &QName, name: &str, c: &Constraint, disruption: &Disruption| {
        let desired_c = desired
            .tables
            .get(table)
            .and_then(|t| t.constraints.get(name));
        match desired_c {
            None => true,
            Some(d) => {
                let same = d.definition == c.definition
                    || without_not_valid(&c.definition) == d.definition;
                !same
                    || disruption.hits(&c.depends_on)
                    || (c.kind == ConstraintKind::ForeignKey
                        && c.references
                            .as_ref()
                            .is_some_and(|(r, _)| disruption.keys_of.contains(r)))
            }
        }
    };
    let mut dropped_constraints: BTreeSet<(QName, String)> = BTreeSet::new();
    for pass in [false, true] {
        for (tname, t) in &current.tables {
            for (cname, c) in &t.constraints {
                let is_fk = c.kind == ConstraintKind::ForeignKey;
                if is_fk != pass {
                    continue;
                }
                // A dropped or re-created table takes its constraints along,
                // but its foreign keys go first so tables can drop in any order.
                let out =
                    !existed(tname) || !kept(tname) || constraint_out(tname, cname, c, disruption);
                if !out {
                    continue;
                }
                dropped_constraints.insert((tname.clone(), cname.clone()));
                if matches!(c.kind, ConstraintKind::PrimaryKey | ConstraintKind::Unique) {
                    disruption.keys_of.insert(tname.clone());
                }
                if existed(tname) && kept(tname) || is_fk {
                    let phase = if is_fk {
                        Phase::DropForeignKeys
                    } else {
                        Phase::DropConstraintsIndexes
                    };
                    plan.push(
                        phase,
                        Statement::new(format!(
                            "ALTER TABLE {tname} DROP CONSTRAINT {}",
                            ident(cname)
                        )),
                    );
                }
            }
        }
    }
    for (tname, t) in &desired.tables {
        let table_existed = existed(tname);
        for (cname, c) in &t.constraints {
            let cur = current
                .tables
                .get(tname)
                .and_then(|ct| ct.constraints.get(cname))
                .filter(|_| {
                    !dropped_constraints.contains(&(tname.clone(), cname.clone())) && table_existed
                });
            let what = format!("CONSTRAINT {} ON {tname}", ident(cname));
            match cur {
                Some(cc) => {
                    if cc.definition != c.definition {
                        // Only the NOT VALID mark differs: validate in place.
                        plan.push(
                            Phase::Constraints,
                            Statement::new(format!(
                                "ALTER TABLE {tname} VALIDATE CONSTRAINT {}",
                                ident(cname)
                            ))
                            .hazard(
                                "long_lock",
                                format!("validating {cname} reads every row of {tname}"),
                            ),
                        );
                    }
                }
                None => {
                    let is_fk = c.kind == ConstraintKind::ForeignKey;
                    let mut st = Statement::new(format!(
                        "ALTER TABLE {tname} ADD CONSTRAINT {} {}",
                        ident(cname),
                        c.definition
                    ));
                    if table_existed {
                        st = match c.kind {
                            ConstraintKind::ForeignKey | ConstraintKind::Check
                                if !c.definition.ends_with("NOT VALID") =>
                            {
                                st.hazard("long_lock", format!(
                                    "{cname} checks every row of {tname} while it holds a lock that blocks writes; to avoid it, add it NOT VALID and VALIDATE CONSTRAINT {cname} in a later transaction"
                                ))
                            }
                            ConstraintKind::ForeignKey | ConstraintKind::Check => st,
                            _ => st.hazard("long_lock", format!(
                                "{cname} builds a unique index on {tname} while blocking its writes; to avoid it, build the index CONCURRENTLY first and add the constraint USING INDEX"
                            )),
                        };
                    }
                    plan.push(
                        if is_fk {
                            Phase::ForeignKeys
                        } else {
                            Phase::Constraints
                        },
                        st,
                    );
                }
            }
            let cur_comment = cur.and_then(|c| c.comment.clone());
            comment(plan, &what, Some(&cur_comment), &c.comment);
        }
    }

    // Indexes.
    let mut indexes_out: BTreeSet<QName> = BTreeSet::new();
    for (name, i) in &current.indexes {
        let on_kept_table = kept(&i.table) && existed(&i.table);
        let on_kept_view =
            current.views.contains_key(&i.table) && !disruption.relations.contains(&i.table);
        if !(on_kept_table || on_kept_view) {
            indexes_out.insert(name.clone());
            continue;
        }
        let changed = desired
            .indexes
            .get(name)
            .is_none_or(|d| d.definition != i.definition)
            || disruption.hits(&i.depends_on);
        if changed {
            indexes_out.insert(name.clone());
            plan.push(
                Phase::DropConstraintsIndexes,
                Statement::new(format!("DROP INDEX {name}")),
            );
        }
    }
    for (name, i) in &desired.indexes {
        let fresh = indexes_out.contains(name) || !current.indexes.contains_key(name);
        if fresh {
            let mut st = Statement::new(i.definition.clone());
            let table_exists = (existed(&i.table) && kept(&i.table))
                || (current.views.contains_key(&i.table)
                    && !disruption.relations.contains(&i.table));
            let partitioned = desired
                .tables
                .get(&i.table)
                .is_some_and(|t| t.kind == TableKind::Partitioned);
            if table_exists {
                st = st.hazard(
                    "long_lock",
                    format!(
                        "building {} blocks writes to {} until it is done",
                        ident(&name.name),
                        i.table
                    ),
                );
                if !partitioned {
                    st.concurrently = Some(concurrently(&i.definition));
                }
            }
            let phase = if desired.views.contains_key(&i.table) {
                Phase::ViewIndexes
            } else {
                Phase::Indexes
            };
            plan.push(phase, st);
        }
        let cur = current.indexes.get(name).filter(|_| !fresh);
        comment(
            plan,
            &format!("INDEX {name}"),
            Some(&cur.and_then(|c| c.comment.clone())),
            &i.comment,
        );
    }

    view_triggers(plan, disruption, current, desired, &views_out);

    // Triggers and policies.
    for (tname, t) in &current.tables {
        if !(existed(tname) && kept(tname)) {
            continue;
        }
        let dt = &desired.tables[tname];
        for (name, tr) in &t.triggers {
            let out = dt
                .triggers
                .get(name)
                .is_none_or(|d| d.definition != tr.definition)
                || disruption.hits(&tr.depends_on);
            if out {
                plan.push(
                    Phase::DropTriggersPolicies,
                    Statement::new(format!("DROP TRIGGER {} ON {tname}", ident(name))),
                );
            }
        }
        for (name, p) in &t.policies {
            let out = dt.policies.get(name).is_none_or(|d| !policy_same(d, p))
                || disruption.hits(&p.depends_on);
            if out {
                plan.push(
                    Phase::DropTriggersPolicies,
                    Statement::new(format!("DROP POLICY {} ON {tname}", ident(name))),
                );
            }
        }
    }
    for (tname, t) in &desired.tables {
        let ct = current.tables.get(tname).filter(|_| existed(tname));
        for (name, tr) in &t.triggers {
            let cur = ct
                .and_then(|c| c.triggers.get(name))
                .filter(|c| c.definition == tr.definition && !disruption.hits(&c.depends_on));
            if cur.is_none() {
                plan.push(
                    Phase::TriggersPolicies,
                    Statement::new(tr.definition.clone()),
                );
            }
            if cur.map_or("O", |c| c.enabled.as_str()) != tr.enabled {
                let sql = trigger_state(tname, name, &tr.enabled).unwrap_or_else(|| {
                    format!("ALTER TABLE {tname} ENABLE TRIGGER {}", ident(name))
                });
                plan.push(Phase::TriggersPolicies, Statement::new(sql));
            }
            comment(
                plan,
                &format!("TRIGGER {} ON {tname}", ident(name)),
                Some(&cur.and_then(|c| c.comment.clone())),
                &tr.comment,
            );
        }
        for (name, p) in &t.policies {
            let cur = ct
                .and_then(|c| c.policies.get(name))
                .filter(|c| policy_same(c, p) && !disruption.hits(&c.depends_on));
            if cur.is_none() {
                plan.push_naming(
                    Phase::TriggersPolicies,
                    Statement::new(policy_create(tname, name, p)),
                    p.roles.iter().map(String::as_str),
                );
            }
            comment(
                plan,
                &format!("POLICY {} ON {tname}", ident(name)),
                Some(&cur.and_then(|c| c.comment.clone())),
                &p.comment,
            );
        }
    }
}

/// `INSTEAD OF` triggers on views: a view dropped (for good or to be
/// created again) takes its triggers along, and a re-created one gets them
/// back once it exists; a changed trigger or one whose function is
/// re-created is dropped and created again.
fn view_triggers(
    plan: &mut Plan,
    disruption: &Disruption,
    current: &Schema,
    desired: &Schema,
    views_out: &BTreeSet<QName>,
) {
    let unchanged =
        |c: &Trigger, d: &Trigger| c.definition == d.definition && !disruption.hits(&c.depends_on);
    for (vname, v) in &current.views {
        let Some(dv) = desired
            .views
            .get(vname)
            .filter(|_| !views_out.contains(vname))
        else {
            continue;
        };
        for (name, tr) in &v.triggers {
            if !dv.triggers.get(name).is_some_and(|d| unchanged(tr, d)) {
                plan.push(
                    Phase::DropTriggersPolicies,
                    Statement::new(format!("DROP TRIGGER {} ON {vname}", ident(name))),
                );
            }
        }
    }
    for (vname, v) in &desired.views {
        let cv = current
            .views
            .get(vname)
            .filter(|_| !views_out.contains(vname));
        for (name, tr) in &v.triggers {
            let cur = cv
                .and_then(|c| c.triggers.get(name))
                .filter(|c| unchanged(c, tr));
            if cur.is_none() {
                plan.push(
                    Phase::TriggersPolicies,
                    Statement::new(tr.definition.clone()),
                );
            }
            comment(
                plan,
                &format!("TRIGGER {} ON {vname}", ident(name)),
                Some(&cur.and_then(|c| c.comment.clone())),
                &tr.comment,
            );
        }
    }
}

/// `CREATE [UNIQUE] INDEX CONCURRENTLY …` for an index definition.
fn concurrently(definition: &str) -> String {
    for prefix in ["CREATE UNIQUE INDEX ", "CREATE INDEX "] {
        if let Some(rest) = definition.strip_prefix(prefix) {
            return format!("{prefix}CONCURRENTLY {rest}");
        }
    }
    definition.to_string()
}
