//! Catalog rows into the model: one reader per query of [`super::steps`],
//! OIDs resolved to names through the [`Reader`].

use super::Reader;
use crate::model::*;
use crate::sql::literal;
use sqlx::postgres::PgRow;
use sqlx::Row;
use std::collections::BTreeSet;

fn json_grants(row: &PgRow) -> Result<BTreeSet<Grant>, sqlx::Error> {
    let text: String = row.try_get("grants")?;
    let raw: Vec<(String, String, bool)> =
        serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(raw
        .into_iter()
        .map(|(grantee, privilege, grantable)| Grant {
            grantee,
            privilege,
            grantable,
        })
        .collect())
}

fn json<T: serde::de::DeserializeOwned>(row: &PgRow, column: &str) -> Result<T, sqlx::Error> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn sequence_options(row: &PgRow) -> Result<Option<SequenceOptions>, sqlx::Error> {
    let data_type: Option<String> = row.try_get("seqtype")?;
    let Some(data_type) = data_type else {
        return Ok(None);
    };
    Ok(Some(SequenceOptions {
        data_type,
        start: row.try_get("seqstart")?,
        increment: row.try_get("seqincrement")?,
        min: row.try_get("seqmin")?,
        max: row.try_get("seqmax")?,
        cache: row.try_get("seqcache")?,
        cycle: row.try_get("seqcycle")?,
    }))
}

pub(super) fn read_role(_: &mut Reader, s: &mut Schema, row: &PgRow) -> Result<(), sqlx::Error> {
    let name: String = row.try_get("rolname")?;
    if row.try_get::<bool, _>("me")? {
        s.user = name.clone();
    }
    s.roles.insert(name);
    Ok(())
}

pub(super) fn read_schema(_: &mut Reader, s: &mut Schema, row: &PgRow) -> Result<(), sqlx::Error> {
    s.schemas.insert(
        row.try_get("nspname")?,
        Namespace {
            owner: row.try_get("owner")?,
            comment: row.try_get("comment")?,
            grants: json_grants(row)?,
        },
    );
    Ok(())
}

pub(super) fn read_extension(
    _: &mut Reader,
    s: &mut Schema,
    row: &PgRow,
) -> Result<(), sqlx::Error> {
    s.extensions.insert(
        row.try_get("extname")?,
        Extension {
            schema: row.try_get("nspname")?,
            version: row.try_get("extversion")?,
            comment: row.try_get("comment")?,
        },
    );
    Ok(())
}

pub(super) fn read_type(r: &mut Reader, s: &mut Schema, row: &PgRow) -> Result<(), sqlx::Error> {
    let name = QName::new(
        row.try_get::<String, _>("nspname")?,
        row.try_get::<String, _>("typname")?,
    );
    r.types.insert(row.try_get("oid")?, name.clone());
    let comment: Option<String> = row.try_get("comment")?;
    let owner: String = row.try_get("owner")?;
    let grants = json_grants(row)?;
    match row.try_get::<String, _>("typtype")?.as_str() {
        "e" => {
            s.enums.insert(
                name,
                Enum {
                    labels: json(row, "labels")?,
                    owner,
                    comment,
                    grants,
                },
            );
        }
        "d" => {
            s.domains.insert(
                name,
                Domain {
                    base_type: row.try_get("base_type")?,
                    not_null: row.try_get("typnotnull")?,
                    default: row.try_get("typdefault")?,
                    collation: row.try_get("collation")?,
                    constraints: json(row, "checks")?,
                    owner,
                    comment,
                    grants,
                },
            );
        }
        _ => {
            s.composites.insert(
                name,
                Composite {
                    attributes: json(row, "attributes")?,
                    owner,
                    comment,
                    grants,
                },
            );
        }
    }
    Ok(())
}

pub(super) fn read_function(
    r: &mut Reader,
    s: &mut Schema,
    row: &PgRow,
) -> Result<(), sqlx::Error> {
    let name = QName::new(
        row.try_get::<String, _>("nspname")?,
        row.try_get::<String, _>("proname")?,
    );
    let identity_arguments: String = row.try_get("identity_args")?;
    let key = format!("{name}({identity_arguments})");
    r.functions.insert(row.try_get("oid")?, key.clone());
    s.functions.insert(
        key,
        Function {
            name,
            kind: row.try_get("prokind")?,
            identity_arguments,
            arguments: row.try_get("args")?,
            result: row.try_get("result")?,
            definition: row.try_get("def")?,
            sql_body: row.try_get("sql_body")?,
            owner: row.try_get("owner")?,
            comment: row.try_get("comment")?,
            grants: json_grants(row)?,
            depends_on: vec![],
        },
    );
    Ok(())
}

/// The parts of a `CREATE AGGREGATE` that are not its name and arguments.
struct AggregateParts {
    kind: String,
    sfunc: String,
    stype: String,
    sspace: i32,
    finalfunc: Option<String>,
    finalextra: bool,
    finalmodify: String,
    combinefunc: Option<String>,
    serialfunc: Option<String>,
    deserialfunc: Option<String>,
    initcond: Option<String>,
    msfunc: Option<String>,
    minvfunc: Option<String>,
    mstype: Option<String>,
    msspace: i32,
    mfinalfunc: Option<String>,
    mfinalextra: bool,
    mfinalmodify: String,
    minitcond: Option<String>,
    sortop: Option<String>,
    parallel: String,
}

fn modify_word(code: &str) -> &'static str {
    match code {
        "s" => "SHAREABLE",
        "w" => "READ_WRITE",
        _ => "READ_ONLY",
    }
}

/// `CREATE AGGREGATE name(args) (…)` from `pg_aggregate`'s columns:
/// PostgreSQL has no `pg_get_functiondef` for aggregates.
fn aggregate_definition(name: &QName, arguments: &str, a: &AggregateParts) -> String {
    let args = if arguments.is_empty() { "*" } else { arguments };
    let mut parts = vec![
        format!("SFUNC = {}", a.sfunc),
        format!("STYPE = {}", a.stype),
    ];
    if a.sspace != 0 {
        parts.push(format!("SSPACE = {}", a.sspace));
    }
    if let Some(f) = &a.finalfunc {
        parts.push(format!("FINALFUNC = {f}"));
        if a.finalextra {
            parts.push("FINALFUNC_EXTRA".into());
        }
        parts.push(format!(
            "FINALFUNC_MODIFY = {}",
            modify_word(&a.finalmodify)
        ));
    }
    for (key, value) in [
        ("COMBINEFUNC", &a.combinefunc),
        ("SERIALFUNC", &a.serialfunc),
        ("DESERIALFUNC", &a.deserialfunc),
    ] {
        if let Some(v) = value {
            parts.push(format!("{key} = {v}"));
        }
    }
    if let Some(init) = &a.initcond {
        parts.push(format!("INITCOND = {}", literal(init)));
    }
    if let (Some(msfunc), Some(minvfunc), Some(mstype)) = (&a.msfunc, &a.minvfunc, &a.mstype) {
        parts.push(format!("MSFUNC = {msfunc}"));
        parts.push(format!("MINVFUNC = {minvfunc}"));
        parts.push(format!("MSTYPE = {mstype}"));
        if a.msspace != 0 {
            parts.push(format!("MSSPACE = {}", a.msspace));
        }
        if let Some(f) = &a.mfinalfunc {
            parts.push(format!("MFINALFUNC = {f}"));
            if a.mfinalextra {
                parts.push("MFINALFUNC_EXTRA".into());
            }
            parts.push(format!(
                "MFINALFUNC_MODIFY = {}",
                modify_word(&a.mfinalmodify)
            ));
        }
        if let Some(init) = &a.minitcond {
            parts.push(format!("MINITCOND = {}", literal(init)));
        }
    }
    if let Some(op) = &a.sortop {
        // A qualified operator is only understood inside OPERATOR(…).
        if op.contains('.') {
            parts.push(format!("SORTOP = OPERATOR({op})"));
        } else {
            parts.push(format!("SORTOP = {op}"));
        }
    }
    parts.push(format!(
        "PARALLEL = {}",
        match a.parallel.as_str() {
            "s" => "SAFE",
            "r" => "RESTRICTED",
            _ => "UNSAFE",
        }
    ));
    if a.kind == "h" {
        parts.push("HYPOTHETICAL".into());
    }
    format!(
        "CREATE AGGREGATE {name}({args}) (\n    {}\n)",
        parts.join(",\n    ")
    )
}

pub(super) fn read_aggregate(
    r: &mut Reader,
    s: &mut Schema,
    row: &PgRow,
) -> Result<(), sqlx::Error> {
    let name = QName::new(
        row.try_get::<String, _>("nspname")?,
        row.try_get::<String, _>("proname")?,
    );
    let identity_arguments: String = row.try_get("identity_args")?;
    let arguments: String = row.try_get("args")?;
    // An aggregate of no argument is named `name(*)` in DROP, ALTER and COMMENT.
    let key = match identity_arguments.as_str() {
        "" => format!("{name}(*)"),
        args => format!("{name}({args})"),
    };
    r.functions.insert(row.try_get("oid")?, key.clone());
    let parts = AggregateParts {
        kind: row.try_get("aggkind")?,
        sfunc: row.try_get("sfunc")?,
        stype: row.try_get("stype")?,
        sspace: row.try_get("aggtransspace")?,
        finalfunc: row.try_get("finalfunc")?,
        finalextra: row.try_get("aggfinalextra")?,
        finalmodify: row.try_get("finalmodify")?,
        combinefunc: row.try_get("combinefunc")?,
        serialfunc: row.try_get("serialfunc")?,
        deserialfunc: row.try_get("deserialfunc")?,
        initcond: row.try_get("agginitval")?,
        msfunc: row.try_get("msfunc")?,
        minvfunc: row.try_get("minvfunc")?,
        mstype: row.try_get("mstype")?,
        msspace: row.try_get("aggmtransspace")?,
        mfinalfunc: row.try_get("mfinalfunc")?,
        mfinalextra: row.try_get("aggmfinalextra")?,
        mfinalmodify: row.try_get("mfinalmodify")?,
        minitcond: row.try_get("aggminitval")?,
        sortop: row.try_get("sortop")?,
        parallel: row.try_get("parallel")?,
    };
    let support: Vec<i64> = row.try_get("support")?;
    let depends_on = support
        .iter()
        .filter_map(|oid| r.functions.get(oid))
        .map(|f| Dependency::Function(f.clone()))
        .collect();
    s.functions.insert(
        key,
        Function {
            definition: aggregate_definition(&name, &arguments, &parts),
            name,
            kind: "a".into(),
            identity_arguments,
            arguments,
            result: row.try_get("result")?,
            sql_body: false,
            owner: row.try_get("owner")?,
            comment: row.try_get("comment")?,
            grants: json_grants(row)?,
            depends_on,
        },
    );
    Ok(())
}

pub(super) fn read_event_trigger(
    r: &mut Reader,
    s: &mut Schema,
    row: &PgRow,
) -> Result<(), sqlx::Error> {
    let function = QName::new(
        row.try_get::<String, _>("nspname")?,
        row.try_get::<String, _>("proname")?,
    );
    let foid: i64 = row.try_get("foid")?;
    let function_key = r
        .functions
        .get(&foid)
        .cloned()
        .unwrap_or_else(|| format!("{function}()"));
    s.event_triggers.insert(
        row.try_get("evtname")?,
        EventTrigger {
            event: row.try_get("evtevent")?,
            tags: row.try_get("tags")?,
            function,
            function_key,
            enabled: row.try_get("enabled")?,
            owner: row.try_get("owner")?,
            comment: row.try_get("comment")?,
        },
    );
    Ok(())
}

pub(super) fn read_default_privileges(
    _: &mut Reader,
    s: &mut Schema,
    row: &PgRow,
) -> Result<(), sqlx::Error> {
    let object_type = match row.try_get::<String, _>("objtype")?.as_str() {
        "r" => "TABLES",
        "S" => "SEQUENCES",
        "f" => "FUNCTIONS",
        "T" => "TYPES",
        "n" => "SCHEMAS",
        other => {
            return Err(sqlx::Error::Protocol(format!(
                "default privileges for an unknown kind of object {other:?}"
            )))
        }
    };
    s.default_privileges.insert(
        DefaultPrivilegeKey {
            role: row.try_get("role")?,
            schema: row.try_get("nspname")?,
            object_type: object_type.into(),
        },
        json_grants(row)?,
    );
    Ok(())
}

pub(super) fn read_inheritance(
    r: &mut Reader,
    s: &mut Schema,
    row: &PgRow,
) -> Result<(), sqlx::Error> {
    let rel: i64 = row.try_get("rel")?;
    let parent: i64 = row.try_get("parent")?;
    let (Some(child), Some(parent)) = (r.relations.get(&rel), r.relations.get(&parent)) else {
        return Ok(());
    };
    if let Some(table) = s.tables.get_mut(child) {
        table.inherits.push(parent.clone());
    }
    Ok(())
}

pub(super) fn read_relation(
    r: &mut Reader,
    s: &mut Schema,
    row: &PgRow,
) -> Result<(), sqlx::Error> {
    let oid: i64 = row.try_get("oid")?;
    let name = QName::new(
        row.try_get::<String, _>("nspname")?,
        row.try_get::<String, _>("relname")?,
    );
    r.relations.insert(oid, name.clone());
    let comment: Option<String> = row.try_get("comment")?;
    let options: Vec<String> = row.try_get("options")?;
    let grants = json_grants(row)?;
    let owner: String = row.try_get("owner")?;
    match row.try_get::<String, _>("relkind")?.as_str() {
        kind @ ("r" | "p") => {
            let parent: Option<i64> = row.try_get("parent")?;
            let partition_of = match parent {
                Some(parent) => Some((
                    r.relations.get(&parent).cloned().ok_or_else(|| {
                        sqlx::Error::Protocol(format!("partition {name} of an unknown table"))
                    })?,
                    row.try_get::<String, _>("bound")?,
                )),
                None => None,
            };
            s.tables.insert(
                name,
                Table {
                    kind: if kind == "p" {
                        TableKind::Partitioned
                    } else {
                        TableKind::Regular
                    },
                    unlogged: row.try_get("unlogged")?,
                    columns: vec![],
                    constraints: Default::default(),
                    triggers: Default::default(),
                    policies: Default::default(),
                    rls_enabled: row.try_get("relrowsecurity")?,
                    rls_forced: row.try_get("relforcerowsecurity")?,
                    partition_key: row.try_get("partkey")?,
                    partition_of,
                    inherits: vec![],
                    options,
                    owner,
                    comment,
                    grants,
                },
            );
        }
        kind @ ("v" | "m") => {
            s.views.insert(
                name,
                View {
                    materialized: kind == "m",
                    definition: row.try_get("viewdef")?,
                    options,
                    columns: vec![],
                    triggers: Default::default(),
                    owner,
                    comment,
                    grants,
                    depends_on: vec![],
                },
            );
        }
        _ => {
            if row.try_get::<bool, _>("identity_seq")? {
                return Ok(());
            }
            let owner_rel: Option<i64> = row.try_get("owner_rel")?;
            let owner_col: Option<i16> = row.try_get("owner_col")?;
            let options = sequence_options(row)?.ok_or_else(|| {
                sqlx::Error::Protocol(format!("sequence {name} without pg_sequence row"))
            })?;
            s.sequences.insert(
                name,
                Sequence {
                    options,
                    // Resolved once the columns are read.
                    owned_by: owner_rel
                        .zip(owner_col)
                        .map(|(rel, col)| (QName::new(rel.to_string(), ""), col.to_string())),
                    owner,
                    comment,
                    grants,
                },
            );
        }
    }
    Ok(())
}

pub(super) fn read_column(r: &mut Reader, s: &mut Schema, row: &PgRow) -> Result<(), sqlx::Error> {
    let rel: i64 = row.try_get("rel")?;
    let Some(name) = r.relations.get(&rel).cloned() else {
        return Ok(());
    };
    let attnum: i16 = row.try_get("attnum")?;
    let column_name: String = row.try_get("attname")?;
    r.columns.insert((rel, attnum), column_name.clone());
    let type_name: String = row.try_get("type_name")?;
    if let Some(view) = s.views.get_mut(&name) {
        view.columns.push((column_name, type_name));
        return Ok(());
    }
    let Some(table) = s.tables.get_mut(&name) else {
        return Ok(());
    };
    if let Some(default_oid) = row.try_get::<Option<i64>, _>("default_oid")? {
        r.defaults
            .insert(default_oid, (name.clone(), column_name.clone()));
    }
    let identity: String = row.try_get("identity")?;
    let generated: String = row.try_get("generated")?;
    let default: Option<String> = row.try_get("default_expr")?;
    let (default, generated) = if generated == "s" {
        (None, default)
    } else {
        (default, None)
    };
    let identity = match identity.as_str() {
        "a" | "d" => Some(Identity {
            always: identity == "a",
            options: sequence_options(row)?.ok_or_else(|| {
                sqlx::Error::Protocol(format!(
                    "identity column {name}.{column_name} without sequence"
                ))
            })?,
        }),
        _ => None,
    };
    table.columns.push(Column {
        name: column_name,
        type_name,
        not_null: row.try_get("attnotnull")?,
        default,
        identity,
        generated,
        collation: row.try_get("collation")?,
        comment: row.try_get("comment")?,
        default_depends_on: vec![],
        grants: json_grants(row)?,
        inherited: row.try_get("inherited")?,
    });
    Ok(())
}

pub(super) fn read_constraint(
    r: &mut Reader,
    s: &mut Schema,
    row: &PgRow,
) -> Result<(), sqlx::Error> {
    let rel: i64 = row.try_get("rel")?;
    let Some(table_name) = r.relations.get(&rel).cloned() else {
        return Ok(());
    };
    let Some(table) = s.tables.get_mut(&table_name) else {
        return Ok(());
    };
    let name: String = row.try_get("conname")?;
    r.constraints
        .insert(row.try_get("oid")?, (table_name.clone(), name.clone()));
    let kind = match row.try_get::<String, _>("contype")?.as_str() {
        "p" => ConstraintKind::PrimaryKey,
        "u" => ConstraintKind::Unique,
        "f" => ConstraintKind::ForeignKey,
        "c" => ConstraintKind::Check,
        _ => ConstraintKind::Exclusion,
    };
    let frel: i64 = row.try_get("frel")?;
    let references = match kind {
        ConstraintKind::ForeignKey => r
            .relations
            .get(&frel)
            .cloned()
            .map(|t| Ok::<_, sqlx::Error>((t, json(row, "fcols")?)))
            .transpose()?,
        _ => None,
    };
    table.constraints.insert(
        name,
        Constraint {
            kind,
            definition: row.try_get("def")?,
            columns: json(row, "cols")?,
            references,
            comment: row.try_get("comment")?,
            depends_on: vec![],
        },
    );
    Ok(())
}

/// Turns the OIDs parked in `owned_by` by [`read_relation`] into names.
pub(super) fn resolve_sequence_owners(r: &Reader, s: &mut Schema) {
    for sequence in s.sequences.values_mut() {
        let Some((rel, col)) = &sequence.owned_by else {
            continue;
        };
        if !rel.name.is_empty() {
            continue;
        }
        let oid: i64 = rel.schema.parse().unwrap_or_default();
        let attnum: i16 = col.parse().unwrap_or_default();
        sequence.owned_by = match (r.relations.get(&oid), r.columns.get(&(oid, attnum))) {
            (Some(table), Some(column)) => Some((table.clone(), column.clone())),
            _ => None,
        };
    }
}

pub(super) fn read_index(r: &mut Reader, s: &mut Schema, row: &PgRow) -> Result<(), sqlx::Error> {
    let rel: i64 = row.try_get("rel")?;
    let Some(table) = r.relations.get(&rel).cloned() else {
        return Ok(());
    };
    let name = QName::new(table.schema.clone(), row.try_get::<String, _>("relname")?);
    r.indexes.insert(row.try_get("oid")?, name.clone());
    s.indexes.insert(
        name,
        Index {
            table,
            definition: row.try_get("def")?,
            comment: row.try_get("comment")?,
            depends_on: vec![],
        },
    );
    Ok(())
}

pub(super) fn read_trigger(r: &mut Reader, s: &mut Schema, row: &PgRow) -> Result<(), sqlx::Error> {
    let rel: i64 = row.try_get("rel")?;
    let Some(table_name) = r.relations.get(&rel).cloned() else {
        return Ok(());
    };
    let name: String = row.try_get("tgname")?;
    r.triggers
        .insert(row.try_get("oid")?, (table_name.clone(), name.clone()));
    let trigger = Trigger {
        definition: row.try_get("def")?,
        enabled: row.try_get("enabled")?,
        comment: row.try_get("comment")?,
        depends_on: vec![],
    };
    if let Some(table) = s.tables.get_mut(&table_name) {
        table.triggers.insert(name, trigger);
    } else if let Some(view) = s.views.get_mut(&table_name) {
        view.triggers.insert(name, trigger);
    }
    Ok(())
}

pub(super) fn read_policy(r: &mut Reader, s: &mut Schema, row: &PgRow) -> Result<(), sqlx::Error> {
    let rel: i64 = row.try_get("rel")?;
    let Some(table_name) = r.relations.get(&rel).cloned() else {
        return Ok(());
    };
    let Some(table) = s.tables.get_mut(&table_name) else {
        return Ok(());
    };
    let name: String = row.try_get("polname")?;
    r.policies
        .insert(row.try_get("oid")?, (table_name.clone(), name.clone()));
    let command = match row.try_get::<String, _>("cmd")?.as_str() {
        "r" => "SELECT",
        "a" => "INSERT",
        "w" => "UPDATE",
        "d" => "DELETE",
        _ => "ALL",
    };
    table.policies.insert(
        name,
        Policy {
            permissive: row.try_get("polpermissive")?,
            command: command.into(),
            roles: json(row, "roles")?,
            using: row.try_get("qual")?,
            with_check: row.try_get("with_check")?,
            comment: row.try_get("comment")?,
            depends_on: vec![],
        },
    );
    Ok(())
}

pub(super) fn read_dependency(
    r: &mut Reader,
    s: &mut Schema,
    row: &PgRow,
) -> Result<(), sqlx::Error> {
    let class: String = row.try_get("class")?;
    let objid: i64 = row.try_get("objid")?;
    let refclass: String = row.try_get("refclass")?;
    let refobjid: i64 = row.try_get("refobjid")?;
    let refobjsubid: i16 = row.try_get("refobjsubid")?;
    let dependency = match refclass.as_str() {
        "pg_class" => {
            let Some(rel) = r.relations.get(&refobjid) else {
                return Ok(());
            };
            match r.columns.get(&(refobjid, refobjsubid)) {
                Some(column) if refobjsubid > 0 => Dependency::Column(rel.clone(), column.clone()),
                _ => Dependency::Relation(rel.clone()),
            }
        }
        "pg_proc" => match r.functions.get(&refobjid) {
            Some(f) => Dependency::Function(f.clone()),
            None => return Ok(()),
        },
        _ => match r.types.get(&refobjid) {
            Some(t) => Dependency::Type(t.clone()),
            None => return Ok(()),
        },
    };
    let list = match class.as_str() {
        "pg_rewrite" => match r.relations.get(&objid).and_then(|v| s.views.get_mut(v)) {
            Some(view) => &mut view.depends_on,
            None => return Ok(()),
        },
        "pg_class" => match r.indexes.get(&objid).and_then(|i| s.indexes.get_mut(i)) {
            Some(index) => &mut index.depends_on,
            None => return Ok(()),
        },
        "pg_constraint" => match r
            .constraints
            .get(&objid)
            .and_then(|(t, c)| s.tables.get_mut(t).and_then(|t| t.constraints.get_mut(c)))
        {
            Some(c) => &mut c.depends_on,
            None => return Ok(()),
        },
        "pg_trigger" => match r.triggers.get(&objid).and_then(|(t, n)| {
            let triggers = match s.tables.get_mut(t) {
                Some(table) => &mut table.triggers,
                None => &mut s.views.get_mut(t)?.triggers,
            };
            triggers.get_mut(n)
        }) {
            Some(t) => &mut t.depends_on,
            None => return Ok(()),
        },
        "pg_policy" => match r
            .policies
            .get(&objid)
            .and_then(|(t, n)| s.tables.get_mut(t).and_then(|t| t.policies.get_mut(n)))
        {
            Some(p) => &mut p.depends_on,
            None => return Ok(()),
        },
        _ => match r.defaults.get(&objid).and_then(|(t, c)| {
            s.tables
                .get_mut(t)
                .and_then(|t| t.columns.iter_mut().find(|col| &col.name == c))
        }) {
            Some(column) => &mut column.default_depends_on,
            None => return Ok(()),
        },
    };
    if !list.contains(&dependency) {
        list.push(dependency);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_are_written_back_as_create_aggregate() {
        let parts = AggregateParts {
            kind: "n".into(),
            sfunc: "public.add".into(),
            stype: "integer".into(),
            sspace: 0,
            finalfunc: Some("public.fin".into()),
            finalextra: false,
            finalmodify: "r".into(),
            combinefunc: None,
            serialfunc: None,
            deserialfunc: None,
            initcond: Some("0".into()),
            msfunc: None,
            minvfunc: None,
            mstype: None,
            msspace: 0,
            mfinalfunc: None,
            mfinalextra: false,
            mfinalmodify: "r".into(),
            minitcond: None,
            sortop: Some("pg_catalog.>".into()),
            parallel: "s".into(),
        };
        let sql = aggregate_definition(&QName::new("public", "total"), "integer", &parts);
        assert_eq!(
            sql,
            "CREATE AGGREGATE public.total(integer) (\n    SFUNC = public.add,\n    STYPE = integer,\n    \
             FINALFUNC = public.fin,\n    FINALFUNC_MODIFY = READ_ONLY,\n    INITCOND = '0',\n    \
             SORTOP = OPERATOR(pg_catalog.>),\n    PARALLEL = SAFE\n)"
        );
    }
}
