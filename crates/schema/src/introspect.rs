//! Reads a database's schema from `pg_catalog` in one read-only,
//! repeatable-read transaction: a handful of set-based queries (one per kind
//! of object), never one query per table, so 2,000 tables take well under a
//! second. `search_path` is emptied first so every name that PostgreSQL
//! prints (in definitions, defaults, types) is schema-qualified and two
//! databases print the same object the same way.

use crate::model::*;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow};
use sqlx::{ConnectOptions, Connection, Executor, Row};
use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;
use std::time::Duration;

/// Why a schema could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IntrospectError {
    /// The URL is not a PostgreSQL URL.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// Nothing answered at the URL's host and port.
    #[error("cannot reach the database: {0}")]
    Unreachable(String),
    /// The server answered but refused us (bad password, no such database).
    #[error("the database refused the connection: {0}")]
    Refused(String),
    /// A catalog query failed.
    #[error("reading the schema failed while {doing}: {cause}")]
    Query { doing: &'static str, cause: String },
}

/// How long to wait for a database to answer before calling it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to `url` (`postgres://…`), with errors a person can act on.
/// Messages never contain the URL (it may hold a password).
pub async fn connect(url: &str) -> Result<PgConnection, IntrospectError> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(IntrospectError::InvalidUrl(
            "expected a URL starting with postgres:// or postgresql://".into(),
        ));
    }
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| IntrospectError::InvalidUrl(e.to_string()))?
        .application_name("opsroom-schema");
    match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
        Err(_) => Err(IntrospectError::Unreachable(format!(
            "no answer within {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(sqlx::Error::Database(e))) => Err(IntrospectError::Refused(e.message().to_string())),
        Ok(Err(sqlx::Error::Configuration(e))) => Err(IntrospectError::InvalidUrl(e.to_string())),
        Ok(Err(e)) => Err(IntrospectError::Unreachable(e.to_string())),
    }
}

/// Reads the whole schema of the database `conn` is connected to.
pub async fn introspect(conn: &mut PgConnection) -> Result<Schema, IntrospectError> {
    let mut tx = conn
        .begin()
        .await
        .map_err(query_error("starting a read-only transaction"))?;
    // Executor's methods return boxed futures, which keep this one `Send`
    // for callers inside `async_trait` methods.
    (&mut *tx)
        .execute(sqlx::raw_sql(
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL search_path = ''",
        ))
        .await
    .map_err(query_error("starting a read-only transaction"))?;
    let mut reader = Reader::default();
    let mut schema = Schema::default();
    for (doing, sql, read) in STEPS {
        let rows = (&mut *tx)
            .fetch_all(sqlx::query(sql))
            .await
            .map_err(query_error(doing))?;
        for row in &rows {
            read(&mut reader, &mut schema, row).map_err(query_error(doing))?;
        }
    }
    resolve_sequence_owners(&reader, &mut schema);
    for table in schema.tables.values_mut() {
        for c in table.constraints.values_mut() {
            c.depends_on.sort();
        }
    }
    tx.rollback()
        .await
        .map_err(query_error("ending the read-only transaction"))?;
    Ok(schema)
}

fn query_error(doing: &'static str) -> impl Fn(sqlx::Error) -> IntrospectError {
    move |e| IntrospectError::Query {
        doing,
        cause: e.to_string(),
    }
}

type ReadRow = fn(&mut Reader, &mut Schema, &PgRow) -> Result<(), sqlx::Error>;

/// OIDs seen so far, to resolve `pg_depend` rows into names.
#[derive(Default)]
struct Reader {
    relations: HashMap<i64, QName>,
    /// Table OID and column number → column name.
    columns: HashMap<(i64, i16), String>,
    functions: HashMap<i64, String>,
    types: HashMap<i64, QName>,
    constraints: HashMap<i64, (QName, String)>,
    indexes: HashMap<i64, QName>,
    triggers: HashMap<i64, (QName, String)>,
    policies: HashMap<i64, (QName, String)>,
    /// `pg_attrdef` OID → table and column.
    defaults: HashMap<i64, (QName, String)>,
}

/// Not a member of an extension (those are the extension's business).
macro_rules! not_ext {
    ($class:literal, $oid:literal) => {
        concat!(
            " NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '",
            $class,
            "'::regclass AND e.objid = ",
            $oid,
            " AND e.deptype = 'e') "
        )
    };
}

/// Grants of an ACL column, the owner's left out, as JSON.
macro_rules! grants {
    ($acl:literal, $kind:literal, $owner:literal) => {
        concat!(
            "coalesce((SELECT json_agg(json_build_array(CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable) ORDER BY 1) FROM aclexplode(coalesce(",
            $acl, ", acldefault(", $kind, ", ", $owner,
            "))) a WHERE a.grantee <> ",
            $owner,
            "), '[]')::text AS grants"
        )
    };
}

const STEPS: &[(&str, &str, ReadRow)] = &[
    (
        "reading schemas",
        concat!(
            "SELECT n.nspname, obj_description(n.oid, 'pg_namespace') AS comment, ",
            grants!("n.nspacl", "'n'", "n.nspowner"),
            " FROM pg_namespace n WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' AND ",
            not_ext!("pg_namespace", "n.oid")
        ),
        read_schema,
    ),
    (
        "reading extensions",
        "SELECT x.extname, x.extversion, n.nspname, obj_description(x.oid, 'pg_extension') AS comment \
         FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace",
        read_extension,
    ),
    (
        "reading types",
        concat!(
            "SELECT t.oid::int8 AS oid, n.nspname, t.typname, t.typtype::text AS typtype, ",
            "obj_description(t.oid, 'pg_type') AS comment, ",
            "(SELECT coalesce(json_agg(e.enumlabel ORDER BY e.enumsortorder), '[]') FROM pg_enum e WHERE e.enumtypid = t.oid)::text AS labels, ",
            "CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base_type, t.typnotnull, t.typdefault, ",
            "(SELECT co.collname FROM pg_collation co WHERE co.oid = t.typcollation AND t.typcollation <> (SELECT bt.typcollation FROM pg_type bt WHERE bt.oid = t.typbasetype)) AS collation, ",
            "(SELECT coalesce(json_object_agg(c.conname, pg_get_constraintdef(c.oid)), '{}') FROM pg_constraint c WHERE c.contypid = t.oid)::text AS checks, ",
            "(SELECT coalesce(json_agg(json_build_array(a.attname, format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum), '[]') FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)::text AS attributes ",
            "FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace ",
            "WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' AND ",
            not_ext!("pg_type", "t.oid"),
            " AND (t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND (SELECT r.relkind FROM pg_class r WHERE r.oid = t.typrelid) = 'c'))"
        ),
        read_type,
    ),
    (
        "reading functions",
        concat!(
            "SELECT p.oid::int8 AS oid, n.nspname, p.proname, p.prokind::text AS prokind, ",
            "pg_get_function_identity_arguments(p.oid) AS identity_args, pg_get_function_arguments(p.oid) AS args, ",
            "pg_get_function_result(p.oid) AS result, pg_get_functiondef(p.oid) AS def, ",
            "(p.prosqlbody IS NOT NULL) AS sql_body, obj_description(p.oid, 'pg_proc') AS comment, ",
            grants!("p.proacl", "'f'", "p.proowner"),
            " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace ",
            "WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' AND p.prokind IN ('f', 'p', 'w') AND ",
            not_ext!("pg_proc", "p.oid")
        ),
        read_function,
    ),
    (
        "reading tables, views and sequences",
        concat!(
            "SELECT c.oid::int8 AS oid, n.nspname, c.relname, c.relkind::text AS relkind, c.relpersistence = 'u' AS unlogged, ",
            "c.relrowsecurity, c.relforcerowsecurity, ",
            "CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partkey, ",
            "CASE WHEN c.relispartition THEN (SELECT i.inhparent::int8 FROM pg_inherits i WHERE i.inhrelid = c.oid) END AS parent, ",
            "CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS bound, ",
            "coalesce(c.reloptions, '{}') AS options, obj_description(c.oid, 'pg_class') AS comment, ",
            "CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END AS viewdef, ",
            grants!("c.relacl", "CASE WHEN c.relkind = 'S' THEN 's'::\"char\" ELSE 'r'::\"char\" END", "c.relowner"),
            ", s.seqtypid::regtype::text AS seqtype, s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle, ",
            "(SELECT d.refobjid::int8 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a' AND d.refobjsubid > 0) AS owner_rel, ",
            "(SELECT d.refobjsubid::int2 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a' AND d.refobjsubid > 0) AS owner_col, ",
            "EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i') AS identity_seq ",
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_sequence s ON s.seqrelid = c.oid ",
            "WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND ",
            not_ext!("pg_class", "c.oid"),
            "ORDER BY c.relispartition, c.oid"
        ),
        read_relation,
    ),
    (
        "reading columns",
        concat!(
            "SELECT a.attrelid::int8 AS rel, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type_name, ",
            "a.attnotnull, a.attidentity::text AS identity, a.attgenerated::text AS generated, a.attislocal, ",
            "pg_get_expr(ad.adbin, ad.adrelid) AS default_expr, ad.oid::int8 AS default_oid, ",
            "CASE WHEN a.attcollation <> t.typcollation THEN (SELECT co.collname FROM pg_collation co WHERE co.oid = a.attcollation) END AS collation, ",
            "col_description(a.attrelid, a.attnum) AS comment, ",
            "s.seqtypid::regtype::text AS seqtype, s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle ",
            "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace ",
            "JOIN pg_type t ON t.oid = a.atttypid ",
            "LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum ",
            "LEFT JOIN pg_depend sd ON a.attidentity <> '' AND sd.refclassid = 'pg_class'::regclass AND sd.refobjid = a.attrelid AND sd.refobjsubid = a.attnum AND sd.classid = 'pg_class'::regclass AND sd.deptype = 'i' ",
            "LEFT JOIN pg_sequence s ON s.seqrelid = sd.objid ",
            "WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm') AND ",
            "n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' ",
            "ORDER BY a.attrelid, a.attnum"
        ),
        read_column,
    ),
    (
        "reading constraints",
        "SELECT c.oid::int8 AS oid, c.conrelid::int8 AS rel, c.conname, c.contype::text AS contype, \
         pg_get_constraintdef(c.oid) AS def, obj_description(c.oid, 'pg_constraint') AS comment, \
         c.confrelid::int8 AS frel, \
         (SELECT coalesce(json_agg(a.attname ORDER BY k.i), '[]') FROM unnest(c.conkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n)::text AS cols, \
         (SELECT coalesce(json_agg(a.attname ORDER BY k.i), '[]') FROM unnest(c.confkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n)::text AS fcols \
         FROM pg_constraint c WHERE c.conrelid <> 0 AND c.contype IN ('p', 'u', 'f', 'c', 'x') AND c.conislocal AND c.conparentid = 0",
        read_constraint,
    ),
    (
        "reading indexes",
        "SELECT i.indexrelid::int8 AS oid, i.indrelid::int8 AS rel, ic.relname, pg_get_indexdef(i.indexrelid) AS def, \
         obj_description(i.indexrelid, 'pg_class') AS comment \
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
         WHERE NOT ic.relispartition \
         AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x') AND c.conrelid = i.indrelid)",
        read_index,
    ),
    (
        "reading triggers",
        "SELECT t.oid::int8 AS oid, t.tgrelid::int8 AS rel, t.tgname, pg_get_triggerdef(t.oid) AS def, t.tgenabled::text AS enabled, \
         obj_description(t.oid, 'pg_trigger') AS comment \
         FROM pg_trigger t WHERE NOT t.tgisinternal AND t.tgparentid = 0",
        read_trigger,
    ),
    (
        "reading row-level security policies",
        "SELECT p.oid::int8 AS oid, p.polrelid::int8 AS rel, p.polname, p.polpermissive, p.polcmd::text AS cmd, \
         (SELECT coalesce(json_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r) END ORDER BY 1), '[]') FROM unnest(p.polroles) r)::text AS roles, \
         pg_get_expr(p.polqual, p.polrelid) AS qual, pg_get_expr(p.polwithcheck, p.polrelid) AS with_check, \
         obj_description(p.oid, 'pg_policy') AS comment FROM pg_policy p",
        read_policy,
    ),
    (
        "reading dependencies",
        "SELECT d.classid::regclass::text AS class, \
         (CASE WHEN d.classid = 'pg_rewrite'::regclass THEN (SELECT r.ev_class FROM pg_rewrite r WHERE r.oid = d.objid) ELSE d.objid END)::int8 AS objid, \
         d.refclassid::regclass::text AS refclass, d.refobjid::int8 AS refobjid, d.refobjsubid::int2 AS refobjsubid \
         FROM pg_depend d \
         WHERE d.deptype IN ('n', 'a') AND d.objid >= 16384 AND d.refobjid >= 16384 \
         AND d.refclassid IN ('pg_class'::regclass, 'pg_proc'::regclass, 'pg_type'::regclass) \
         AND d.classid IN ('pg_rewrite'::regclass, 'pg_class'::regclass, 'pg_constraint'::regclass, 'pg_trigger'::regclass, 'pg_policy'::regclass, 'pg_attrdef'::regclass)",
        read_dependency,
    ),
];

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

fn read_schema(_: &mut Reader, s: &mut Schema, row: &PgRow) -> Result<(), sqlx::Error> {
    s.schemas.insert(
        row.try_get("nspname")?,
        Namespace {
            comment: row.try_get("comment")?,
            grants: json_grants(row)?,
        },
    );
    Ok(())
}

fn read_extension(_: &mut Reader, s: &mut Schema, row: &PgRow) -> Result<(), sqlx::Error> {
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

fn read_type(r: &mut Reader, s: &mut Schema, row: &PgRow) -> Result<(), sqlx::Error> {
    let name = QName::new(
        row.try_get::<String, _>("nspname")?,
        row.try_get::<String, _>("typname")?,
    );
    r.types.insert(row.try_get("oid")?, name.clone());
    let comment: Option<String> = row.try_get("comment")?;
    match row.try_get::<String, _>("typtype")?.as_str() {
        "e" => {
            s.enums.insert(
                name,
                Enum {
                    labels: json(row, "labels")?,
                    comment,
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
                    comment,
                },
            );
        }
        _ => {
            s.composites.insert(
                name,
                Composite {
                    attributes: json(row, "attributes")?,
                    comment,
                },
            );
        }
    }
    Ok(())
}

fn read_function(r: &mut Reader, s: &mut Schema, row: &PgRow) -> Result<(), sqlx::Error> {
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
            comment: row.try_get("comment")?,
            grants: json_grants(row)?,
        },
    );
    Ok(())
}

fn read_relation(r: &mut Reader, s: &mut Schema, row: &PgRow) -> Result<(), sqlx::Error> {
    let oid: i64 = row.try_get("oid")?;
    let name = QName::new(
        row.try_get::<String, _>("nspname")?,
        row.try_get::<String, _>("relname")?,
    );
    r.relations.insert(oid, name.clone());
    let comment: Option<String> = row.try_get("comment")?;
    let options: Vec<String> = row.try_get("options")?;
    let grants = json_grants(row)?;
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
                    options,
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
                    comment,
                    grants,
                },
            );
        }
    }
    Ok(())
}

fn read_column(r: &mut Reader, s: &mut Schema, row: &PgRow) -> Result<(), sqlx::Error> {
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
    });
    Ok(())
}

fn read_constraint(r: &mut Reader, s: &mut Schema, row: &PgRow) -> Result<(), sqlx::Error> {
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
fn resolve_sequence_owners(r: &Reader, s: &mut Schema) {
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

fn read_index(r: &mut Reader, s: &mut Schema, row: &PgRow) -> Result<(), sqlx::Error> {
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

fn read_trigger(r: &mut Reader, s: &mut Schema, row: &PgRow) -> Result<(), sqlx::Error> {
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
    // Triggers of views (INSTEAD OF) are kept with tables of the same name
    // space: a view's triggers live in a table entry only if one exists.
    if let Some(table) = s.tables.get_mut(&table_name) {
        table.triggers.insert(name, trigger);
    }
    Ok(())
}

fn read_policy(r: &mut Reader, s: &mut Schema, row: &PgRow) -> Result<(), sqlx::Error> {
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

fn read_dependency(r: &mut Reader, s: &mut Schema, row: &PgRow) -> Result<(), sqlx::Error> {
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
        "pg_trigger" => match r
            .triggers
            .get(&objid)
            .and_then(|(t, n)| s.tables.get_mut(t).and_then(|t| t.triggers.get_mut(n)))
        {
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
