//! Round trips of who may do what: grants on types and columns, owners,
//! default privileges, and roles that CURRENT does not have.

mod support;

use opsroom_schema::diff;
use support::*;

#[tokio::test]
async fn grants_on_types_domains_and_columns() {
    let current = "CREATE TYPE mood AS ENUM ('ok', 'sad'); CREATE DOMAIN posint AS int CHECK (VALUE > 0); \
                   CREATE TYPE pair AS (x int, y int); \
                   CREATE TABLE t (id int PRIMARY KEY, secret text, visible text); \
                   GRANT SELECT (visible) ON t TO pg_monitor; GRANT UPDATE (secret, visible) ON t TO pg_monitor; \
                   CREATE TABLE wide (id int, a text); GRANT SELECT ON wide TO pg_monitor; GRANT SELECT (a) ON wide TO pg_monitor; \
                   INSERT INTO t VALUES (1, 's', 'v');";
    let desired = "CREATE TYPE mood AS ENUM ('ok', 'sad'); CREATE DOMAIN posint AS int CHECK (VALUE > 0); \
                   CREATE TYPE pair AS (x int, y int); \
                   REVOKE USAGE ON TYPE mood FROM PUBLIC; GRANT USAGE ON TYPE mood TO pg_monitor; \
                   GRANT USAGE ON DOMAIN posint TO pg_read_all_data WITH GRANT OPTION; \
                   CREATE TYPE fresh AS ENUM ('x'); REVOKE USAGE ON TYPE fresh FROM PUBLIC; \
                   CREATE TABLE t (id int PRIMARY KEY, secret text, visible text, extra int); \
                   GRANT SELECT (visible, id) ON t TO pg_monitor; GRANT UPDATE (visible) ON t TO pg_monitor; \
                   GRANT INSERT (secret, extra) ON t TO pg_read_all_data; \
                   CREATE TABLE wide (id int, a text); GRANT SELECT (a) ON wide TO pg_monitor; \
                   CREATE TABLE n (id int, b text); GRANT UPDATE (b) ON n TO pg_monitor;";
    let m = round_trip(
        "typegrants",
        Scenario {
            current,
            desired,
            keep: &["SELECT string_agg(id || secret || visible, ',') FROM t"],
        },
    )
    .await;
    let text = m.to_string();
    for expected in [
        "REVOKE USAGE ON TYPE public.mood FROM PUBLIC",
        "GRANT USAGE ON TYPE public.mood TO pg_monitor",
        "GRANT USAGE ON DOMAIN public.posint TO pg_read_all_data WITH GRANT OPTION",
        "REVOKE USAGE ON TYPE public.fresh FROM PUBLIC",
        "GRANT SELECT (id) ON TABLE public.t TO pg_monitor",
        "REVOKE UPDATE (secret) ON TABLE public.t FROM pg_monitor",
        "GRANT INSERT (extra) ON TABLE public.t TO pg_read_all_data",
        "GRANT UPDATE (b) ON TABLE public.n TO pg_monitor",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // Revoking SELECT on the table revokes it on its columns: the column
    // privilege that stays is granted again afterwards.
    assert!(
        position(&m, "REVOKE SELECT ON TABLE public.wide FROM pg_monitor")
            < position(&m, "GRANT SELECT (a) ON TABLE public.wide TO pg_monitor")
    );
}

#[tokio::test]
async fn owners_of_every_kind_of_object() {
    let role = TestRole::create("owner").await;
    let name = role.name.clone();
    let r = &name;
    let objects = "CREATE SCHEMA app; CREATE TABLE app.t (id serial PRIMARY KEY, v text); \
                   CREATE VIEW app.v AS SELECT id FROM app.t; CREATE MATERIALIZED VIEW app.m AS SELECT id FROM app.t; \
                   CREATE SEQUENCE app.s; CREATE FUNCTION app.f() RETURNS int LANGUAGE sql AS 'SELECT 1'; \
                   CREATE PROCEDURE app.p() LANGUAGE sql AS 'SELECT 1'; \
                   CREATE AGGREGATE app.agg(int) (SFUNC = int4pl, STYPE = int); \
                   CREATE TYPE app.e AS ENUM ('a'); CREATE DOMAIN app.d AS int; CREATE TYPE app.c AS (x int); \
                   CREATE TABLE app.back (id int); INSERT INTO app.t (v) VALUES ('kept');";
    let current = format!("{objects} ALTER TABLE app.back OWNER TO {r};");
    let desired = format!(
        "{objects} ALTER SCHEMA app OWNER TO {r}; ALTER TABLE app.t OWNER TO {r}; ALTER VIEW app.v OWNER TO {r}; \
         ALTER MATERIALIZED VIEW app.m OWNER TO {r}; ALTER SEQUENCE app.s OWNER TO {r}; ALTER FUNCTION app.f() OWNER TO {r}; \
         ALTER PROCEDURE app.p() OWNER TO {r}; ALTER AGGREGATE app.agg(int) OWNER TO {r}; \
         ALTER TYPE app.e OWNER TO {r}; ALTER DOMAIN app.d OWNER TO {r}; ALTER TYPE app.c OWNER TO {r}; \
         CREATE TABLE app.fresh (id int); ALTER TABLE app.fresh OWNER TO {r};"
    );
    let m = round_trip(
        "owners",
        Scenario {
            current: &current,
            desired: &desired,
            keep: &["SELECT string_agg(id || v, ',') FROM app.t"],
        },
    )
    .await;
    role.drop_now().await;
    let text = m.to_string();
    for what in [
        "SCHEMA app",
        "TABLE app.t",
        "VIEW app.v",
        "MATERIALIZED VIEW app.m",
        "SEQUENCE app.s",
        "FUNCTION app.f()",
        "PROCEDURE app.p()",
        "AGGREGATE app.agg(integer)",
        "TYPE app.e",
        "DOMAIN app.d",
        "TYPE app.c",
        "TABLE app.fresh",
    ] {
        let expected = format!("ALTER {what} OWNER TO {r}");
        assert!(text.contains(&expected), "missing {expected:?} in:\n{text}");
    }
    assert!(
        text.contains("ALTER TABLE app.back OWNER TO postgres"),
        "{text}"
    );
    // The serial's sequence follows its table: no statement of its own.
    assert_absent(&m, "ALTER SEQUENCE app.t_id_seq OWNER");
    assert!(position(&m, "CREATE TABLE app.fresh") < position(&m, "ALTER TABLE app.fresh OWNER"));
}

#[tokio::test]
async fn default_privileges_for_all_schemas_and_for_one() {
    let role = TestRole::create("defaults").await;
    let name = role.name.clone();
    let r = &name;
    let current = format!(
        "ALTER DEFAULT PRIVILEGES FOR ROLE {r} GRANT INSERT ON TABLES TO pg_monitor; \
         ALTER DEFAULT PRIVILEGES FOR ROLE {r} REVOKE USAGE ON TYPES FROM PUBLIC;"
    );
    // The migration's runner (postgres) also gets new defaults, before the
    // function and table it creates: they start with them.
    let desired = format!(
        "CREATE SCHEMA api; \
         ALTER DEFAULT PRIVILEGES FOR ROLE {r} GRANT SELECT ON TABLES TO pg_monitor WITH GRANT OPTION; \
         ALTER DEFAULT PRIVILEGES FOR ROLE {r} IN SCHEMA api GRANT USAGE ON SEQUENCES TO pg_monitor; \
         ALTER DEFAULT PRIVILEGES FOR ROLE {r} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC; \
         ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC; \
         ALTER DEFAULT PRIVILEGES IN SCHEMA api GRANT SELECT ON TABLES TO pg_read_all_data; \
         CREATE FUNCTION api.f() RETURNS int LANGUAGE sql AS 'SELECT 1'; \
         CREATE TABLE api.t (id int);"
    );
    let m = round_trip(
        "defaults",
        Scenario {
            current: &current,
            desired: &desired,
            keep: &[],
        },
    )
    .await;
    role.drop_now().await;
    let text = m.to_string();
    for expected in [
        format!("ALTER DEFAULT PRIVILEGES FOR ROLE {r} REVOKE INSERT ON TABLES FROM pg_monitor"),
        format!("ALTER DEFAULT PRIVILEGES FOR ROLE {r} GRANT SELECT ON TABLES TO pg_monitor WITH GRANT OPTION"),
        format!("ALTER DEFAULT PRIVILEGES FOR ROLE {r} IN SCHEMA api GRANT USAGE ON SEQUENCES TO pg_monitor"),
        format!("ALTER DEFAULT PRIVILEGES FOR ROLE {r} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC"),
        format!("ALTER DEFAULT PRIVILEGES FOR ROLE {r} GRANT USAGE ON TYPES TO PUBLIC"),
    ] {
        assert!(text.contains(&expected), "missing {expected:?} in:\n{text}");
    }
    assert!(
        position(
            &m,
            "ALTER DEFAULT PRIVILEGES FOR ROLE postgres REVOKE EXECUTE ON FUNCTIONS"
        ) < position(&m, "CREATE OR REPLACE FUNCTION api.f()")
    );
    assert!(position(&m, "CREATE SCHEMA api") < position(&m, "IN SCHEMA api GRANT USAGE"));
    assert!(position(&m, "IN SCHEMA api GRANT SELECT") < position(&m, "CREATE TABLE api.t"));
    // What the defaults already give is not granted again.
    assert_absent(&m, "ON FUNCTION api.f()");
    assert_absent(&m, "ON TABLE api.t");
}

/// CURRENT lives on another server than DESIRED, without DESIRED's role:
/// every statement naming it is skipped and said so, the rest applies,
/// and the migration is not empty (the schemas still differ).
#[tokio::test]
async fn statements_naming_a_role_current_lacks_are_skipped_and_named() {
    let role = TestRole::create("gone").await;
    let r = role.name.clone();
    let current = TempDb::create("gone").await;
    let desired = TempDb::create("gone").await;
    current
        .run("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);")
        .await
        .unwrap();
    desired
        .run(&format!(
            "CREATE TABLE t (id int PRIMARY KEY, note text); GRANT SELECT ON t TO {r}; GRANT SELECT ON t TO pg_monitor; \
             CREATE TABLE mine (id int); ALTER TABLE mine OWNER TO {r}; \
             CREATE POLICY own_rows ON t TO {r} USING (true); \
             ALTER DEFAULT PRIVILEGES FOR ROLE {r} GRANT SELECT ON TABLES TO pg_monitor;"
        ))
        .await
        .unwrap();
    let desired_schema = desired.schema().await.unwrap();
    desired.drop_now().await;
    role.drop_now().await;
    let current_schema = current.schema().await.unwrap();
    let m = diff(&current_schema, &desired_schema);
    let text = m.to_string();
    let skipped: Vec<&str> = m.skipped.iter().map(|s| s.sql.as_str()).collect();
    assert_eq!(skipped.len(), 4, "{text}");
    for s in &m.skipped {
        assert_eq!(s.hazards[0].kind, "missing_role");
        assert!(s.hazards[0].explanation.contains(&r), "{text}");
    }
    assert!(skipped
        .iter()
        .any(|s| s.starts_with(&format!("GRANT SELECT ON TABLE public.t TO {r}"))));
    assert!(skipped
        .iter()
        .any(|s| s.starts_with(&format!("ALTER TABLE public.mine OWNER TO {r}"))));
    assert!(skipped
        .iter()
        .any(|s| s.starts_with("CREATE POLICY own_rows")));
    assert!(skipped
        .iter()
        .any(|s| s.starts_with(&format!("ALTER DEFAULT PRIVILEGES FOR ROLE {r}"))));
    assert!(
        text.contains(&format!(
            "-- skipped: missing_role: role {r} does not exist on CURRENT"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("-- GRANT SELECT ON TABLE public.t TO {r};")),
        "{text}"
    );
    // The rest applies; what was skipped is still a difference.
    let applied = current.run(&format!("BEGIN;\n{text}\nCOMMIT;")).await;
    let again = diff(&current.schema().await.unwrap(), &desired_schema);
    current.drop_now().await;
    applied.unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(
        text.contains("GRANT SELECT ON TABLE public.t TO pg_monitor"),
        "{text}"
    );
    assert!(again.statements.is_empty(), "{again}");
    assert_eq!(again.skipped.len(), 4, "{again}");
    assert!(!again.is_empty());
}
