//! Reads a database's schema from `pg_catalog` in one read-only,
//! repeatable-read transaction: a handful of set-based queries (one per kind
//! of object), never one query per table, so 2,000 tables take well under a
//! second. `search_path` is emptied first so every name that PostgreSQL
//! prints (in definitions, defaults, types) is schema-qualified and two
//! databases print the same object the same way.

mod rows;

use crate::model::*;
use rows::*;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow};
use sqlx::{ConnectOptions, Connection, Executor, Row};
use std::collections::HashMap;
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
    let version: i32 = (&mut *tx)
        .fetch_one(sqlx::query(
            "SELECT current_setting('server_version_num')::int4",
        ))
        .await
        .and_then(|row| row.try_get(0))
        .map_err(query_error(CHECKING_VERSION))?;
    if version < OLDEST_SUPPORTED {
        return Err(IntrospectError::Query {
            doing: CHECKING_VERSION,
            cause: format!(
                "PostgreSQL {} is not supported: schema sync reads PostgreSQL 13 or newer",
                version / 10000
            ),
        });
    }
    let mut reader = Reader::default();
    let mut schema = Schema::default();
    for (doing, sql, read) in steps(version) {
        let rows = (&mut *tx)
            .fetch_all(sqlx::query(&sql))
            .await
            .map_err(query_error(doing))?;
        for row in &rows {
            read(&mut reader, &mut schema, row).map_err(query_error(doing))?;
        }
    }
    resolve_sequence_owners(&reader, &mut schema);
    for f in schema.functions.values_mut() {
        f.depends_on.sort();
        f.depends_on.dedup();
    }
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

const CHECKING_VERSION: &str = "checking the server version";

/// `server_version_num` of the oldest PostgreSQL read (13).
const OLDEST_SUPPORTED: i32 = 130000;

/// `pg_proc.prosqlbody` (`BEGIN ATOMIC` bodies) exists from PostgreSQL 14.
const SQL_BODY_SINCE: i32 = 140000;

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

/// What a step is doing (for errors), its query, and how it reads a row.
type Step = (&'static str, String, ReadRow);

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

/// Grants of an ACL column, the owner's left out, as JSON text.
macro_rules! acl_json {
    ($acl:literal, $kind:literal, $owner:literal) => {
        concat!(
            "coalesce((SELECT json_agg(json_build_array(CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END, x.privilege_type, x.is_grantable) ORDER BY 1) FROM aclexplode(coalesce(",
            $acl, ", acldefault(", $kind, ", ", $owner,
            "))) x WHERE x.grantee <> ",
            $owner,
            "), '[]')::text"
        )
    };
}

/// The `grants` column of a kind of object whose default privileges are
/// PUBLIC's as well as the owner's (functions, types).
macro_rules! grants {
    ($acl:literal, $kind:literal, $owner:literal) => {
        concat!(acl_json!($acl, $kind, $owner), " AS grants")
    };
}

/// The `grants` column of a kind of object whose default privileges are
/// only the owner's (relations, schemas, columns): a NULL ACL, the common
/// case, is none without exploding it (20,000 columns add up).
macro_rules! owner_only_grants {
    ($acl:literal, $kind:literal, $owner:literal) => {
        concat!(
            "CASE WHEN ",
            $acl,
            " IS NULL THEN '[]' ELSE ",
            acl_json!($acl, $kind, $owner),
            " END AS grants"
        )
    };
}

/// The catalog queries for a server of `version` (`server_version_num`):
/// only columns that version has are named.
fn steps(version: i32) -> Vec<Step> {
    let sql_body = if version >= SQL_BODY_SINCE {
        "(p.prosqlbody IS NOT NULL)"
    } else {
        "false"
    };
    let functions = FUNCTIONS.replace("{sql_body}", sql_body);
    let mut steps: Vec<Step> = STEPS
        .iter()
        .map(|(doing, sql, read)| (*doing, sql.to_string(), *read))
        .collect();
    let at = steps
        .iter()
        .position(|(doing, _, _)| *doing == READING_AGGREGATES)
        .unwrap_or(steps.len());
    steps.insert(at, ("reading functions", functions, read_function));
    steps
}

const READING_AGGREGATES: &str = "reading aggregates";

/// Functions and procedures; `{sql_body}` is replaced per version.
const FUNCTIONS: &str = concat!(
    "SELECT p.oid::int8 AS oid, n.nspname, p.proname, p.prokind::text AS prokind, ",
    "pg_get_function_identity_arguments(p.oid) AS identity_args, pg_get_function_arguments(p.oid) AS args, ",
    "pg_get_function_result(p.oid) AS result, pg_get_functiondef(p.oid) AS def, ",
    "{sql_body} AS sql_body, obj_description(p.oid, 'pg_proc') AS comment, ",
    "pg_get_userbyid(p.proowner) AS owner, ",
    grants!("p.proacl", "'f'", "p.proowner"),
    " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace ",
    "WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' AND p.prokind IN ('f', 'p', 'w') AND ",
    not_ext!("pg_proc", "p.oid")
);

/// The queries that are the same on every supported version.
const STEPS: &[(&str, &str, ReadRow)] = &[
    (
        "reading roles",
        "SELECT r.rolname, r.rolname = current_user AS me FROM pg_roles r",
        read_role,
    ),
    (
        "reading schemas",
        concat!(
            "SELECT n.nspname, obj_description(n.oid, 'pg_namespace') AS comment, pg_get_userbyid(n.nspowner) AS owner, ",
            owner_only_grants!("n.nspacl", "'n'", "n.nspowner"),
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
            "obj_description(t.oid, 'pg_type') AS comment, pg_get_userbyid(t.typowner) AS owner, ",
            grants!("t.typacl", "'T'", "t.typowner"),
            ", ",
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
        READING_AGGREGATES,
        concat!(
            "SELECT p.oid::int8 AS oid, n.nspname, p.proname, ",
            "pg_get_function_identity_arguments(p.oid) AS identity_args, pg_get_function_arguments(p.oid) AS args, ",
            "pg_get_function_result(p.oid) AS result, obj_description(p.oid, 'pg_proc') AS comment, ",
            "pg_get_userbyid(p.proowner) AS owner, p.proparallel::text AS parallel, ",
            grants!("p.proacl", "'f'", "p.proowner"),
            ", a.aggkind::text AS aggkind, a.aggtransfn::text AS sfunc, format_type(a.aggtranstype, NULL) AS stype, a.aggtransspace, ",
            "CASE WHEN a.aggfinalfn::oid <> 0 THEN a.aggfinalfn::text END AS finalfunc, a.aggfinalextra, a.aggfinalmodify::text AS finalmodify, ",
            "CASE WHEN a.aggcombinefn::oid <> 0 THEN a.aggcombinefn::text END AS combinefunc, ",
            "CASE WHEN a.aggserialfn::oid <> 0 THEN a.aggserialfn::text END AS serialfunc, ",
            "CASE WHEN a.aggdeserialfn::oid <> 0 THEN a.aggdeserialfn::text END AS deserialfunc, a.agginitval, ",
            "CASE WHEN a.aggmtransfn::oid <> 0 THEN a.aggmtransfn::text END AS msfunc, ",
            "CASE WHEN a.aggminvtransfn::oid <> 0 THEN a.aggminvtransfn::text END AS minvfunc, ",
            "CASE WHEN a.aggmtranstype <> 0 THEN format_type(a.aggmtranstype, NULL) END AS mstype, a.aggmtransspace, ",
            "CASE WHEN a.aggmfinalfn::oid <> 0 THEN a.aggmfinalfn::text END AS mfinalfunc, a.aggmfinalextra, a.aggmfinalmodify::text AS mfinalmodify, a.aggminitval, ",
            "CASE WHEN a.aggsortop <> 0 THEN a.aggsortop::regoper::text END AS sortop, ",
            "ARRAY[a.aggtransfn::oid, a.aggfinalfn::oid, a.aggcombinefn::oid, a.aggserialfn::oid, a.aggdeserialfn::oid, a.aggmtransfn::oid, a.aggminvtransfn::oid, a.aggmfinalfn::oid]::int8[] AS support ",
            "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_aggregate a ON a.aggfnoid = p.oid ",
            "WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' AND ",
            not_ext!("pg_proc", "p.oid")
        ),
        read_aggregate,
    ),
    (
        "reading event triggers",
        concat!(
            "SELECT et.evtname, et.evtevent, pg_get_userbyid(et.evtowner) AS owner, et.evtfoid::int8 AS foid, ",
            "et.evtenabled::text AS enabled, coalesce(et.evttags, '{}') AS tags, ",
            "obj_description(et.oid, 'pg_event_trigger') AS comment, n.nspname, p.proname ",
            "FROM pg_event_trigger et JOIN pg_proc p ON p.oid = et.evtfoid JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ",
            not_ext!("pg_event_trigger", "et.oid")
        ),
        read_event_trigger,
    ),
    (
        "reading default privileges",
        concat!(
            "SELECT pg_get_userbyid(d.defaclrole) AS role, n.nspname, d.defaclobjtype::text AS objtype, ",
            grants!("d.defaclacl", "'r'", "d.defaclrole"),
            " FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace AND d.defaclnamespace <> 0"
        ),
        read_default_privileges,
    ),
    (
        "reading tables, views and sequences",
        concat!(
            "SELECT c.oid::int8 AS oid, n.nspname, c.relname, c.relkind::text AS relkind, c.relpersistence = 'u' AS unlogged, ",
            "c.relrowsecurity, c.relforcerowsecurity, ",
            "CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partkey, ",
            "CASE WHEN c.relispartition THEN (SELECT i.inhparent::int8 FROM pg_inherits i WHERE i.inhrelid = c.oid) END AS parent, ",
            "CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS bound, ",
            "coalesce(c.reloptions, '{}') AS options, obj_description(c.oid, 'pg_class') AS comment, pg_get_userbyid(c.relowner) AS owner, ",
            "CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END AS viewdef, ",
            owner_only_grants!("c.relacl", "CASE WHEN c.relkind = 'S' THEN 's'::\"char\" ELSE 'r'::\"char\" END", "c.relowner"),
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
            "col_description(a.attrelid, a.attnum) AS comment, a.attinhcount > 0 AND NOT a.attislocal AS inherited, ",
            owner_only_grants!("a.attacl", "'c'", "c.relowner"),
            ", ",
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
        "reading table inheritance",
        "SELECT i.inhrelid::int8 AS rel, i.inhparent::int8 AS parent FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid WHERE NOT c.relispartition AND c.relkind IN ('r', 'p') \
         ORDER BY i.inhrelid, i.inhseqno",
        read_inheritance,
    ),
    (
        "reading constraints",
        "SELECT c.oid::int8 AS oid, c.conrelid::int8 AS rel, c.conname, c.contype::text AS contype, \
         pg_get_constraintdef(c.oid) AS def, obj_description(c.oid, 'pg_constraint') AS comment, \
         c.confrelid::int8 AS frel, \
         (SELECT coalesce(json_agg(a.attname ORDER BY k.i), '[]') FROM unnest(c.conkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n)::text AS cols, \
         (SELECT coalesce(json_agg(a.attname ORDER BY k.i), '[]') FROM unnest(c.confkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n)::text AS fcols \
         FROM pg_constraint c WHERE c.conrelid <> 0 AND c.contype IN ('p', 'u', 'f', 'c', 'x') AND c.conislocal AND c.coninhcount = 0 AND c.conparentid = 0",
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Catalog columns and functions that appeared after PostgreSQL 13.
    const NEWER_THAN_13: &[&str] = &[
        "prosqlbody",
        "pg_get_function_sqlbody",
        "attcompression",
        "indnullsnotdistinct",
        "datlocprovider",
    ];

    fn all_sql(version: i32) -> String {
        steps(version)
            .into_iter()
            .map(|(_, sql, _)| sql)
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_postgresql_13_queries_name_no_newer_catalog_column() {
        let sql = all_sql(130012);
        for newer in NEWER_THAN_13 {
            assert!(!sql.contains(newer), "PostgreSQL 13 has no {newer}");
        }
        assert!(sql.contains("false AS sql_body"), "{sql}");
    }

    #[test]
    fn from_postgresql_14_begin_atomic_bodies_are_read() {
        for version in [140000, 150020, 170002] {
            assert!(all_sql(version).contains("(p.prosqlbody IS NOT NULL) AS sql_body"));
        }
    }

    #[test]
    fn every_version_reads_the_same_kinds_of_object_in_the_same_order() {
        let doing = |v| steps(v).into_iter().map(|(d, _, _)| d).collect::<Vec<_>>();
        assert_eq!(doing(130000), doing(170000));
        let order = doing(150000);
        let at = |what| order.iter().position(|d| *d == what).unwrap();
        // Aggregates and event triggers name functions read before them.
        assert!(at("reading functions") < at(READING_AGGREGATES));
        assert!(at(READING_AGGREGATES) < at("reading event triggers"));
    }
}
