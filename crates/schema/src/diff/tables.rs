//! Tables and their columns: created (parents before partitions and
//! inheriting tables), altered column by column, re-created when their
//! partitioning changes, dropped last. Column changes that dependents
//! cannot survive (type, drop, re-added generated expression) are recorded
//! as disruptions. A parent's column changes recurse into the tables that
//! inherit from it, so those are compared with what the parent leaves.

use super::objects::{comment, identity_options};
use super::privileges::{column_grants, grants, owner};
use super::{Disruption, Phase, Plan, Statement};
use crate::model::*;
use crate::sql::ident;
use std::collections::BTreeSet;

/// Tables whose partitioning changes: they cannot be altered into shape.
pub(crate) fn recreated(current: &Schema, desired: &Schema) -> BTreeSet<QName> {
    current
        .tables
        .iter()
        .filter_map(|(name, c)| {
            let d = desired.tables.get(name)?;
            let parent = |t: &Table| t.partition_of.as_ref().map(|p| p.0.clone());
            let differs =
                c.kind != d.kind || c.partition_key != d.partition_key || parent(c) != parent(d);
            differs.then(|| name.clone())
        })
        .collect()
}

fn column_sql(c: &Column) -> String {
    let mut sql = format!("{} {}", ident(&c.name), c.type_name);
    if let Some(coll) = &c.collation {
        sql += &format!(" COLLATE {}", ident(coll));
    }
    if let Some(expr) = &c.generated {
        sql += &format!(" GENERATED ALWAYS AS ({expr}) STORED");
    } else if let Some(id) = &c.identity {
        let when = if id.always { "ALWAYS" } else { "BY DEFAULT" };
        sql += &format!(
            " GENERATED {when} AS IDENTITY ({})",
            identity_options(&id.options)
        );
    } else if let Some(def) = &c.default {
        sql += &format!(" DEFAULT {def}");
    }
    if c.not_null {
        sql += " NOT NULL";
    }
    sql
}

/// Depth of a table below its partition parent or inheritance parents
/// (parents are created first and dropped last).
fn depth(schema: &Schema, name: &QName) -> usize {
    fn below(schema: &Schema, name: &QName, guard: usize) -> usize {
        let Some(t) = schema.tables.get(name).filter(|_| guard < 64) else {
            return 0;
        };
        let partition_parent = t.partition_of.as_ref().map(|(p, _)| p);
        partition_parent
            .into_iter()
            .chain(&t.inherits)
            .map(|p| 1 + below(schema, p, guard + 1))
            .max()
            .unwrap_or(0)
    }
    below(schema, name, 0)
}

/// A parent's column as a table that inherits it gets it: same type,
/// default, nullability and expression, nothing of its own.
fn inherited_copy(c: &Column) -> Column {
    Column {
        identity: None,
        comment: None,
        grants: Default::default(),
        inherited: true,
        ..c.clone()
    }
}

/// A new table as `CREATE TABLE` leaves it: its own columns without
/// comments or grants, and what it inherits as DESIRED's parents have it.
fn as_created(desired: &Schema, t: &Table) -> Table {
    let mut created = t.clone();
    for c in created.columns.iter_mut() {
        let parent_column = t
            .inherits
            .iter()
            .filter(|_| c.inherited)
            .find_map(|p| desired.tables.get(p)?.column(&c.name));
        *c = match parent_column {
            Some(pc) => inherited_copy(pc),
            None => Column {
                comment: None,
                grants: Default::default(),
                ..c.clone()
            },
        };
    }
    created
}

/// `cur`'s columns once the `ALTER TABLE`s of the parents it keeps have
/// recursed into it: columns added to a parent appear, dropped ones go
/// (unless declared here too), and type, default and nullability follow.
fn after_parents(
    disruption: &mut Disruption,
    current: &Schema,
    desired: &Schema,
    name: &QName,
    cur: &Table,
    t: &Table,
) -> Table {
    let mut projected = cur.clone();
    for p in cur.inherits.iter().filter(|p| t.inherits.contains(p)) {
        let (Some(pc), Some(pd)) = (current.tables.get(p), desired.tables.get(p)) else {
            continue;
        };
        for dcol in &pd.columns {
            let Some(ccol) = pc.column(&dcol.name) else {
                if projected.column(&dcol.name).is_none() {
                    projected.columns.push(inherited_copy(dcol));
                }
                continue;
            };
            let Some(x) = projected.columns.iter_mut().find(|c| c.name == dcol.name) else {
                continue;
            };
            if ccol.type_name != dcol.type_name
                || ccol.collation != dcol.collation
                || readd(ccol, dcol)
            {
                disruption.columns.insert((name.clone(), x.name.clone()));
            }
            if readd(ccol, dcol) {
                *x = Column {
                    comment: None,
                    grants: Default::default(),
                    ..inherited_copy(dcol)
                };
                continue;
            }
            x.type_name = dcol.type_name.clone();
            x.collation = dcol.collation.clone();
            if ccol.default != dcol.default {
                x.default = dcol.default.clone();
            }
            if ccol.not_null != dcol.not_null {
                x.not_null = dcol.not_null;
            }
            if dcol.generated.is_none() {
                x.generated = None;
            }
        }
        for ccol in &pc.columns {
            if pd.column(&ccol.name).is_none() {
                projected
                    .columns
                    .retain(|c| !(c.name == ccol.name && c.inherited));
            }
        }
    }
    projected
}

fn create_table(name: &QName, t: &Table) -> String {
    let unlogged = if t.unlogged { "UNLOGGED " } else { "" };
    let mut sql = match &t.partition_of {
        Some((parent, bound)) => {
            format!("CREATE {unlogged}TABLE {name} PARTITION OF {parent} {bound}")
        }
        None => {
            let cols: Vec<String> = t
                .columns
                .iter()
                .filter(|c| !c.inherited)
                .map(|c| format!("    {}", column_sql(c)))
                .collect();
            let mut sql = format!("CREATE {unlogged}TABLE {name} (\n{}\n)", cols.join(",\n"));
            if !t.inherits.is_empty() {
                let parents: Vec<String> = t.inherits.iter().map(|p| p.to_string()).collect();
                sql += &format!(" INHERITS ({})", parents.join(", "));
            }
            sql
        }
    };
    if let Some(key) = &t.partition_key {
        sql += &format!(" PARTITION BY {key}");
    }
    if !t.options.is_empty() {
        sql += &format!(" WITH ({})", t.options.join(", "));
    }
    sql
}

/// Defaults PostgreSQL computes per row when a column is added, which
/// rewrites the table (a constant default does not, since PostgreSQL 11).
fn volatile_default(def: &str) -> bool {
    [
        "nextval(",
        "random()",
        "clock_timestamp()",
        "gen_random_uuid()",
        "uuid_generate",
        "timeofday()",
    ]
    .iter()
    .any(|f| def.contains(f))
}

/// A type change PostgreSQL makes without rewriting the table.
fn binary_compatible(from: &str, to: &str) -> bool {
    fn varchar_len(t: &str) -> Option<Option<u32>> {
        if t == "text" || t == "character varying" {
            return Some(None);
        }
        t.strip_prefix("character varying(")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|n| n.parse().ok())
            .map(Some)
    }
    fn numeric(t: &str) -> Option<Option<(u32, u32)>> {
        if t == "numeric" {
            return Some(None);
        }
        let inner = t.strip_prefix("numeric(")?.strip_suffix(')')?;
        let (p, s) = inner.split_once(',')?;
        Some(Some((p.trim().parse().ok()?, s.trim().parse().ok()?)))
    }
    match (varchar_len(from), varchar_len(to)) {
        (Some(_), Some(None)) => return true,
        (Some(Some(a)), Some(Some(b))) => return b >= a,
        _ => {}
    }
    match (numeric(from), numeric(to)) {
        (Some(_), Some(None)) => true,
        (Some(Some((p1, s1))), Some(Some((p2, s2)))) => s1 == s2 && p2 >= p1,
        _ => false,
    }
}

fn same_identity_options(a: &SequenceOptions, b: &SequenceOptions) -> bool {
    a.increment == b.increment
        && a.min == b.min
        && a.max == b.max
        && a.start == b.start
        && a.cache == b.cache
        && a.cycle == b.cycle
}

pub(crate) fn tables(
    plan: &mut Plan,
    disruption: &mut Disruption,
    current: &Schema,
    desired: &Schema,
    recreated: &BTreeSet<QName>,
) {
    for name in recreated {
        plan.push(
            Phase::DropRecreatedTables,
            Statement::new(format!("DROP TABLE {name}")).hazard(
                "data_loss",
                format!("{name} changes its partitioning, which cannot be altered: it is dropped with its rows and created again"),
            ),
        );
    }
    let mut new_tables: Vec<&QName> = desired
        .tables
        .keys()
        .filter(|n| !current.tables.contains_key(*n) || recreated.contains(*n))
        .collect();
    new_tables.sort_by_key(|n| depth(desired, n));
    for name in new_tables {
        let t = &desired.tables[name];
        plan.push(Phase::CreateTables, Statement::new(create_table(name, t)));
        table_settings(plan, name, None, t);
        if t.partition_of.is_none() {
            columns(plan, disruption, desired, name, &as_created(desired, t), t);
        }
    }
    // Parents first: their column changes recurse into what inherits them.
    let mut kept: Vec<(&QName, &Table)> = desired
        .tables
        .iter()
        .filter(|(n, _)| current.tables.contains_key(*n) && !recreated.contains(*n))
        .collect();
    kept.sort_by_key(|(n, _)| depth(desired, n));
    for (name, t) in kept {
        let cur = &current.tables[name];
        table_settings(plan, name, Some(cur), t);
        for parent in cur.inherits.iter().filter(|p| !t.inherits.contains(p)) {
            plan.push(
                Phase::AlterTables,
                Statement::new(format!("ALTER TABLE {name} NO INHERIT {parent}")),
            );
        }
        for parent in t.inherits.iter().filter(|p| !cur.inherits.contains(p)) {
            // A new child must already hold its parent's checks.
            let checks = desired.tables.get(parent).into_iter().flat_map(|p| {
                p.constraints.iter().filter(|(n, c)| {
                    c.kind == ConstraintKind::Check
                        && !c.definition.contains("NO INHERIT")
                        && !cur.constraints.contains_key(*n)
                })
            });
            for (cname, c) in checks {
                plan.push(
                    Phase::Inherit,
                    Statement::new(format!(
                        "ALTER TABLE {name} ADD CONSTRAINT {} {}",
                        ident(cname),
                        c.definition
                    ))
                    .hazard(
                        "long_lock",
                        format!("{cname} checks every row of {name} before it inherits {parent}"),
                    ),
                );
            }
            plan.push(
                Phase::Inherit,
                Statement::new(format!("ALTER TABLE {name} INHERIT {parent}")),
            );
        }
        let cur = &after_parents(disruption, current, desired, name, cur, t);
        if let (Some((parent, old_bound)), Some((_, new_bound))) =
            (&cur.partition_of, &t.partition_of)
        {
            if old_bound != new_bound {
                plan.push(
                    Phase::AlterTables,
                    Statement::new(format!("ALTER TABLE {parent} DETACH PARTITION {name}")),
                );
                plan.push(
                    Phase::AlterTables,
                    Statement::new(format!(
                        "ALTER TABLE {parent} ATTACH PARTITION {name} {new_bound}"
                    ))
                    .hazard(
                        "long_lock",
                        format!("attaching {name} scans it to check its rows fit {new_bound}"),
                    ),
                );
            }
        }
        if t.partition_of.is_none() {
            columns(plan, disruption, desired, name, cur, t);
        }
    }
    let mut dropped: Vec<&QName> = current
        .tables
        .keys()
        .filter(|n| !desired.tables.contains_key(*n))
        .collect();
    dropped.sort_by_key(|n| std::cmp::Reverse(depth(current, n)));
    for name in dropped {
        let parent_dropped = current.tables[name]
            .partition_of
            .as_ref()
            .is_some_and(|(p, _)| !desired.tables.contains_key(p) || recreated.contains(p));
        disruption.relations.insert(name.clone());
        if parent_dropped {
            continue;
        }
        plan.push(
            Phase::DropTables,
            Statement::new(format!("DROP TABLE {name}")).hazard(
                "data_loss",
                format!("drops table {name} and every row in it"),
            ),
        );
    }
}

fn column_what(table: &QName, column: &str) -> String {
    format!("COLUMN {table}.{}", ident(column))
}

/// Row-level security, storage options, logging, comment and grants.
fn table_settings(plan: &mut Plan, name: &QName, cur: Option<&Table>, t: &Table) {
    let alter = |s: String| Statement::new(format!("ALTER TABLE {name} {s}"));
    if cur.is_some_and(|c| c.rls_enabled) != t.rls_enabled {
        let verb = if t.rls_enabled { "ENABLE" } else { "DISABLE" };
        plan.push(
            Phase::AlterTables,
            alter(format!("{verb} ROW LEVEL SECURITY")),
        );
    }
    if cur.is_some_and(|c| c.rls_forced) != t.rls_forced {
        let verb = if t.rls_forced { "FORCE" } else { "NO FORCE" };
        plan.push(
            Phase::AlterTables,
            alter(format!("{verb} ROW LEVEL SECURITY")),
        );
    }
    if let Some(cur) = cur {
        if cur.unlogged != t.unlogged {
            let verb = if t.unlogged { "UNLOGGED" } else { "LOGGED" };
            plan.push(
                Phase::AlterTables,
                alter(format!("SET {verb}"))
                    .hazard("table_rewrite", format!("SET {verb} rewrites {name}")),
            );
        }
        if cur.options != t.options {
            let key = |o: &String| o.split('=').next().unwrap_or_default().to_string();
            let keep: BTreeSet<String> = t.options.iter().map(key).collect();
            let gone: Vec<String> = cur
                .options
                .iter()
                .map(key)
                .filter(|k| !keep.contains(k))
                .collect();
            if !gone.is_empty() {
                plan.push(
                    Phase::AlterTables,
                    alter(format!("RESET ({})", gone.join(", "))),
                );
            }
            if !t.options.is_empty() {
                plan.push(
                    Phase::AlterTables,
                    alter(format!("SET ({})", t.options.join(", "))),
                );
            }
        }
    }
    let what = format!("TABLE {name}");
    comment(
        plan,
        &what,
        Some(&cur.and_then(|c| c.comment.clone())),
        &t.comment,
    );
    owner(plan, &what, cur.map(|c| c.owner.as_str()), &t.owner);
    let base = cur.map_or_else(
        || plan.created_grants("TABLES", Some(&name.schema)),
        |c| c.grants.clone(),
    );
    grants(plan, &what, &base, &t.grants);
}

/// Whether a column's generated expression changes in a way that needs the
/// column dropped and added again.
fn readd(cur: &Column, des: &Column) -> bool {
    des.generated.is_some() && cur.generated != des.generated
}

fn columns(
    plan: &mut Plan,
    disruption: &mut Disruption,
    desired: &Schema,
    name: &QName,
    cur: &Table,
    t: &Table,
) {
    let alter = |s: String| Statement::new(format!("ALTER TABLE {name} {s}"));
    // Revoking a privilege on the table revokes it on every column too.
    let revoked: BTreeSet<(&str, &str)> = cur
        .grants
        .difference(&t.grants)
        .map(|g| (g.grantee.as_str(), g.privilege.as_str()))
        .collect();
    let column_grants_left = |c: &Column| -> BTreeSet<Grant> {
        c.grants
            .iter()
            .filter(|g| !revoked.contains(&(g.grantee.as_str(), g.privilege.as_str())))
            .cloned()
            .collect()
    };
    let no_grants = BTreeSet::new();
    let added: Vec<&Column> = t
        .columns
        .iter()
        .filter(|c| cur.column(&c.name).is_none())
        .collect();
    for c in t.columns.iter() {
        let Some(old) = cur.column(&c.name) else {
            let mut st = alter(format!("ADD COLUMN {}", column_sql(c)));
            if c.generated.is_some()
                || c.identity.is_some()
                || c.default.as_deref().is_some_and(volatile_default)
            {
                st = st.hazard(
                    "table_rewrite",
                    format!(
                        "adding {} computes a value for every row of {name}",
                        ident(&c.name)
                    ),
                );
            }
            plan.push(Phase::AlterTables, st);
            comment(plan, &column_what(name, &c.name), None, &c.comment);
            column_grants(plan, name, &c.name, &no_grants, &c.grants);
            continue;
        };
        let col = ident(&c.name);
        let key = (name.clone(), c.name.clone());
        if readd(old, c) {
            let mut drop = alter(format!("DROP COLUMN {col}"));
            if old.generated.is_none() {
                drop = drop.hazard("data_loss", format!("{col} of {name} becomes a generated column: its stored values are replaced by the expression"));
            }
            plan.push(Phase::AlterTables, drop);
            plan.push(
                Phase::AlterTables,
                alter(format!("ADD COLUMN {}", column_sql(c))).hazard(
                    "table_rewrite",
                    format!("the generated column {col} is computed again for every row of {name}"),
                ),
            );
            disruption.columns.insert(key);
            comment(plan, &column_what(name, &c.name), None, &c.comment);
            column_grants(plan, name, &c.name, &no_grants, &c.grants);
            continue;
        }
        let mut steps: Vec<Statement> = vec![];
        if old.identity.is_some() && c.identity.is_none() {
            steps.push(alter(format!("ALTER COLUMN {col} DROP IDENTITY")));
        }
        if old.generated.is_some() && c.generated.is_none() {
            steps.push(alter(format!("ALTER COLUMN {col} DROP EXPRESSION")));
        }
        let swapped = desired.enums.keys().any(|e| {
            disruption.types.contains(e)
                && (old.type_name == e.to_string() || old.type_name == format!("{e}[]"))
        });
        // An inherited column's type is its parent's business.
        let retype = !c.inherited
            && (old.type_name != c.type_name || old.collation != c.collation || swapped);
        let default_hit = {
            let hit = old.default_depends_on.iter().any(|d| match d {
                Dependency::Function(f) => disruption.functions.contains(f),
                Dependency::Type(t) => disruption.types.contains(t),
                _ => false,
            });
            hit || (retype && old.default.is_some())
        };
        if old.default.is_some() && (old.default != c.default || default_hit) {
            let phase = if default_hit {
                Phase::DropDefaults
            } else {
                Phase::AlterTables
            };
            plan.push(phase, alter(format!("ALTER COLUMN {col} DROP DEFAULT")));
        }
        if retype {
            let collate = c
                .collation
                .as_ref()
                .map(|x| format!(" COLLATE {}", ident(x)))
                .unwrap_or_default();
            let using = if swapped {
                let text = if c.type_name.ends_with("[]") {
                    "text[]"
                } else {
                    "text"
                };
                format!("{col}::{text}::{}", c.type_name)
            } else {
                format!("{col}::{}", c.type_name)
            };
            let mut st = alter(format!(
                "ALTER COLUMN {col} TYPE {}{collate} USING {using}",
                c.type_name
            ));
            if swapped
                || !binary_compatible(&old.type_name, &c.type_name)
                || old.collation != c.collation
            {
                st = st.hazard(
                    "table_rewrite",
                    format!("changing {col} of {name} from {} to {} rewrites the table and its indexes under an ACCESS EXCLUSIVE lock; values that do not cast fail the migration", old.type_name, c.type_name),
                );
            }
            let phase = if swapped {
                Phase::SwapColumns
            } else {
                Phase::AlterTables
            };
            plan.push(phase, st);
            for s in steps.drain(..) {
                plan.push(Phase::AlterTables, s);
            }
            disruption.columns.insert(key.clone());
            if let Some(def) = &c.default {
                plan.push(
                    phase,
                    alter(format!("ALTER COLUMN {col} SET DEFAULT {def}")),
                );
            }
        } else {
            for s in steps.drain(..) {
                plan.push(Phase::AlterTables, s);
            }
            if let Some(def) = &c.default {
                if old.default.as_ref() != Some(def) || default_hit {
                    plan.push(
                        Phase::AlterTables,
                        alter(format!("ALTER COLUMN {col} SET DEFAULT {def}")),
                    );
                }
            }
        }
        if c.not_null && !old.not_null {
            plan.push(
                Phase::AlterTables,
                alter(format!("ALTER COLUMN {col} SET NOT NULL")).hazard(
                    "long_lock",
                    format!("SET NOT NULL scans every row of {name} under an ACCESS EXCLUSIVE lock, and fails if {col} holds a NULL"),
                ),
            );
        }
        if !c.not_null && old.not_null && c.identity.is_none() {
            plan.push(
                Phase::AlterTables,
                alter(format!("ALTER COLUMN {col} DROP NOT NULL")),
            );
        }
        match (&old.identity, &c.identity) {
            (None, Some(id)) => {
                let when = if id.always { "ALWAYS" } else { "BY DEFAULT" };
                plan.push(
                    Phase::AlterTables,
                    alter(format!(
                        "ALTER COLUMN {col} ADD GENERATED {when} AS IDENTITY ({})",
                        identity_options(&id.options)
                    )),
                );
            }
            (Some(a), Some(b)) => {
                let mut sets = vec![];
                if a.always != b.always {
                    sets.push(format!(
                        "SET GENERATED {}",
                        if b.always { "ALWAYS" } else { "BY DEFAULT" }
                    ));
                }
                if !same_identity_options(&a.options, &b.options) {
                    let o = &b.options;
                    sets.push(format!(
                        "SET INCREMENT BY {} SET MINVALUE {} SET MAXVALUE {} SET START WITH {} SET CACHE {} SET {}",
                        o.increment, o.min, o.max, o.start, o.cache, if o.cycle { "CYCLE" } else { "NO CYCLE" }
                    ));
                }
                if !sets.is_empty() {
                    plan.push(
                        Phase::AlterTables,
                        alter(format!("ALTER COLUMN {col} {}", sets.join(" "))),
                    );
                }
            }
            _ => {}
        }
        comment(
            plan,
            &column_what(name, &c.name),
            Some(&old.comment),
            &c.comment,
        );
        column_grants(plan, name, &c.name, &column_grants_left(old), &c.grants);
    }
    for old in &cur.columns {
        if t.column(&old.name).is_some() {
            continue;
        }
        let col = ident(&old.name);
        let mut st = alter(format!("DROP COLUMN {col}")).hazard(
            "data_loss",
            format!("drops column {col} of {name} and its values"),
        );
        for new in added.iter().filter(|n| n.type_name == old.type_name) {
            st = st.hazard(
                "probable_rename",
                format!(
                    "{col} is dropped and {} added with the same type ({}): if this is a rename, replace both statements with ALTER TABLE {name} RENAME COLUMN {col} TO {}",
                    ident(&new.name),
                    old.type_name,
                    ident(&new.name)
                ),
            );
        }
        plan.push(Phase::AlterTables, st);
        disruption.columns.insert((name.clone(), old.name.clone()));
    }
}
