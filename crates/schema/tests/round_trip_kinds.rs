//! Round trips of the kinds of object that hang on others: INSTEAD OF
//! triggers on views, aggregates on their functions, event triggers, and
//! tables that inherit from others.

mod support;

use support::*;

#[tokio::test]
async fn instead_of_triggers_follow_their_views_out_and_back_in() {
    let base = "CREATE TABLE t (id int PRIMARY KEY, v text, n int); \
                CREATE FUNCTION ins_t() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO t (id, v) VALUES (NEW.id, NEW.v); RETURN NEW; END $$; \
                CREATE VIEW w AS SELECT id FROM t; CREATE VIEW gone AS SELECT id, v FROM t; \
                INSERT INTO t VALUES (1, 'a', 1);";
    let current = format!(
        "{base} CREATE VIEW v AS SELECT id, v FROM t; \
         CREATE TRIGGER v_ins INSTEAD OF INSERT ON v FOR EACH ROW EXECUTE FUNCTION ins_t(); \
         CREATE TRIGGER gone_ins INSTEAD OF INSERT ON gone FOR EACH ROW EXECUTE FUNCTION ins_t();"
    );
    let desired = format!(
        "{base} CREATE VIEW v AS SELECT id, v, n FROM t; \
         CREATE TRIGGER v_ins INSTEAD OF INSERT ON v FOR EACH ROW EXECUTE FUNCTION ins_t(); \
         COMMENT ON TRIGGER v_ins ON v IS 'writes through'; \
         CREATE FUNCTION upd_t() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE t SET id = NEW.id WHERE id = OLD.id; RETURN NEW; END $$; \
         CREATE TRIGGER w_upd INSTEAD OF UPDATE ON w FOR EACH ROW EXECUTE FUNCTION upd_t();"
    );
    let m = round_trip(
        "insteadof",
        Scenario {
            current: &current,
            desired: &desired,
            keep: &["SELECT string_agg(id || v, ',') FROM t"],
        },
    )
    .await;
    // v changes its columns: dropped (its trigger with it) and created again.
    assert!(position(&m, "DROP VIEW public.v") < position(&m, "CREATE VIEW public.v"));
    assert!(position(&m, "CREATE VIEW public.v") < position(&m, "CREATE TRIGGER v_ins"));
    assert_absent(&m, "DROP TRIGGER v_ins");
    assert!(m
        .to_string()
        .contains("COMMENT ON TRIGGER v_ins ON public.v IS 'writes through'"));
    assert!(
        position(&m, "CREATE OR REPLACE FUNCTION public.upd_t()")
            < position(&m, "CREATE TRIGGER w_upd")
    );
    assert_safe(&m, "DROP TRIGGER gone_ins ON public.gone");
}

#[tokio::test]
async fn aggregates_come_after_their_functions_and_take_their_views_along() {
    let current = "CREATE FUNCTION add_int(int, int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 + $2'; \
                   CREATE AGGREGATE total(int) (SFUNC = add_int, STYPE = int, INITCOND = '0'); \
                   CREATE AGGREGATE old_total(int) (SFUNC = add_int, STYPE = int); \
                   CREATE FUNCTION acc(numeric, int) RETURNS numeric LANGUAGE sql AS 'SELECT $1 + $2'; \
                   CREATE AGGREGATE nsum(int) (SFUNC = acc, STYPE = numeric); \
                   CREATE TABLE t (id int, n int); INSERT INTO t VALUES (1, 2), (2, 3); \
                   CREATE VIEW sums AS SELECT total(n) AS s FROM t; \
                   CREATE FUNCTION tick(bigint) RETURNS bigint LANGUAGE sql AS 'SELECT $1 + 1'; \
                   CREATE AGGREGATE tally(*) (SFUNC = tick, STYPE = bigint, INITCOND = '0');";
    let desired = "CREATE FUNCTION add_int(int, int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 + $2 + 0'; \
                   CREATE FUNCTION fin(int) RETURNS text LANGUAGE sql AS 'SELECT $1::text'; \
                   CREATE AGGREGATE total(int) (SFUNC = add_int, STYPE = int, INITCOND = '0', FINALFUNC = fin); \
                   CREATE FUNCTION acc(bigint, int) RETURNS bigint LANGUAGE sql AS 'SELECT $1 + $2'; \
                   CREATE AGGREGATE nsum(int) (SFUNC = acc, STYPE = bigint, INITCOND = '0'); \
                   CREATE FUNCTION mul(bigint, int) RETURNS bigint LANGUAGE sql AS 'SELECT $1 * $2'; \
                   CREATE AGGREGATE product(int) (SFUNC = mul, STYPE = bigint, INITCOND = '1', PARALLEL = SAFE); \
                   COMMENT ON AGGREGATE product(int) IS 'multiplies'; REVOKE EXECUTE ON FUNCTION product(int) FROM PUBLIC; \
                   CREATE AGGREGATE pct(float8 ORDER BY float8) (SFUNC = ordered_set_transition, STYPE = internal, \
                       FINALFUNC = percentile_disc_final, FINALFUNC_EXTRA); \
                   GRANT EXECUTE ON FUNCTION pct(float8, float8) TO pg_monitor; \
                   CREATE TABLE t (id int, n int); \
                   CREATE VIEW sums AS SELECT total(n) AS s FROM t; \
                   CREATE FUNCTION tick(bigint) RETURNS bigint LANGUAGE sql AS 'SELECT $1 + 1'; \
                   CREATE AGGREGATE tally(*) (SFUNC = tick, STYPE = bigint, INITCOND = '1'); \
                   COMMENT ON AGGREGATE tally(*) IS 'counts from one';";
    let m = round_trip(
        "aggregates",
        Scenario {
            current,
            desired,
            keep: &["SELECT string_agg(id || ':' || n, ',') FROM t"],
        },
    )
    .await;
    // total's result type changes: drop and create, with the view using it.
    assert!(
        position(&m, "DROP VIEW public.sums")
            < position(&m, "DROP AGGREGATE public.total(integer)")
    );
    assert!(
        position(&m, "CREATE AGGREGATE public.total(integer)")
            < position(&m, "CREATE VIEW public.sums")
    );
    assert!(position(&m, "public.fin(") < position(&m, "CREATE AGGREGATE public.total(integer)"));
    // nsum's state function is replaced by another: the aggregate goes
    // before it and comes back after the new one.
    assert!(
        position(&m, "DROP AGGREGATE public.nsum(integer)")
            < position(&m, "DROP FUNCTION public.acc(numeric, integer)")
    );
    assert!(
        position(&m, "CREATE OR REPLACE FUNCTION public.acc(bigint, integer)")
            < position(&m, "CREATE AGGREGATE public.nsum(integer)")
    );
    assert!(
        position(&m, "CREATE OR REPLACE FUNCTION public.mul(")
            < position(&m, "CREATE AGGREGATE public.product(integer)")
    );
    assert!(
        position(&m, "DROP AGGREGATE public.old_total(integer)")
            < position(&m, "DROP FUNCTION public.acc")
    );
    // An aggregate of no argument is written `(*)`.
    assert!(
        position(&m, "DROP AGGREGATE public.tally(*)")
            < position(&m, "CREATE AGGREGATE public.tally(*)")
    );
    let text = m.to_string();
    assert!(
        text.contains("COMMENT ON AGGREGATE public.tally(*) IS 'counts from one'"),
        "{text}"
    );
    assert!(
        text.contains("COMMENT ON AGGREGATE public.product(integer) IS 'multiplies'"),
        "{text}"
    );
    assert!(
        text.contains("REVOKE EXECUTE ON FUNCTION public.product(integer) FROM PUBLIC"),
        "{text}"
    );
    assert!(
        text.contains("GRANT EXECUTE ON FUNCTION public.pct(double precision, double precision) TO pg_monitor"),
        "{text}"
    );
}

#[tokio::test]
async fn event_triggers_created_changed_disabled_and_dropped() {
    let function = "CREATE FUNCTION public.log_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'ddl'; END $$;";
    let current = format!(
        "{function} CREATE EVENT TRIGGER log_start ON ddl_command_start EXECUTE FUNCTION public.log_ddl(); \
         CREATE EVENT TRIGGER gone ON sql_drop EXECUTE FUNCTION public.log_ddl(); \
         CREATE EVENT TRIGGER quiet ON ddl_command_end EXECUTE FUNCTION public.log_ddl(); ALTER EVENT TRIGGER quiet DISABLE;"
    );
    let desired = format!(
        "{function} CREATE EVENT TRIGGER log_start ON ddl_command_start WHEN TAG IN ('CREATE TABLE', 'DROP TABLE') \
         EXECUTE FUNCTION public.log_ddl(); \
         CREATE EVENT TRIGGER log_end ON ddl_command_end EXECUTE FUNCTION public.log_ddl(); \
         ALTER EVENT TRIGGER log_end ENABLE ALWAYS; COMMENT ON EVENT TRIGGER log_end IS 'audit'; \
         CREATE EVENT TRIGGER quiet ON ddl_command_end EXECUTE FUNCTION public.log_ddl();"
    );
    let m = round_trip(
        "evttrig",
        Scenario {
            current: &current,
            desired: &desired,
            keep: &[],
        },
    )
    .await;
    let text = m.to_string();
    assert!(
        position(&m, "DROP EVENT TRIGGER log_start")
            < position(&m, "CREATE EVENT TRIGGER log_start")
    );
    assert!(
        text.contains("CREATE EVENT TRIGGER log_start ON ddl_command_start WHEN TAG IN ('CREATE TABLE', 'DROP TABLE') EXECUTE FUNCTION public.log_ddl()"),
        "{text}"
    );
    assert!(text.contains("DROP EVENT TRIGGER gone"), "{text}");
    assert!(
        text.contains("ALTER EVENT TRIGGER log_end ENABLE ALWAYS"),
        "{text}"
    );
    assert!(text.contains("ALTER EVENT TRIGGER quiet ENABLE"), "{text}");
    assert!(
        text.contains("COMMENT ON EVENT TRIGGER log_end IS 'audit'"),
        "{text}"
    );
}

#[tokio::test]
async fn inheriting_tables_follow_their_parents_and_change_parents() {
    let current = "CREATE TABLE base (id int NOT NULL CONSTRAINT base_id_positive CHECK (id > 0), created timestamptz DEFAULT now(), note text); \
                   CREATE TABLE cats (lives int DEFAULT 9) INHERITS (base); \
                   CREATE TABLE dogs (good bool) INHERITS (base); \
                   CREATE TABLE loner (id int NOT NULL, created timestamptz, note text); \
                   CREATE TABLE old_parent (x int); CREATE TABLE orphan (y int) INHERITS (old_parent); \
                   INSERT INTO cats (id, note, lives) VALUES (1, 'tom', 7); INSERT INTO dogs (id, note, good) VALUES (2, 'rex', true); \
                   INSERT INTO loner VALUES (3, now(), 'solo'); INSERT INTO orphan VALUES (4, 5);";
    let desired = "CREATE TABLE base (id bigint NOT NULL CONSTRAINT base_id_positive CHECK (id > 0), created timestamptz DEFAULT now(), note text, tag text DEFAULT 'pet'); \
                   CREATE TABLE cats (lives int DEFAULT 9) INHERITS (base); ALTER TABLE cats ALTER COLUMN tag SET DEFAULT 'cat'; \
                   COMMENT ON COLUMN cats.tag IS 'kind of pet'; \
                   CREATE TABLE dogs (good bool) INHERITS (base); \
                   CREATE TABLE birds (wings int DEFAULT 2) INHERITS (base); \
                   CREATE TABLE loner (id bigint NOT NULL, created timestamptz, note text, tag text); ALTER TABLE loner ADD CONSTRAINT base_id_positive CHECK (id > 0); ALTER TABLE loner INHERIT base; \
                   CREATE TABLE orphan (x int, y int);";
    let m = round_trip(
        "inherits",
        Scenario {
            current,
            desired,
            keep: &[
                "SELECT string_agg(id || ':' || note, ',' ORDER BY id) FROM base WHERE id < 3",
                "SELECT (SELECT string_agg(lives::text, ',') FROM cats) || (SELECT string_agg(x || ':' || y, ',') FROM orphan)",
            ],
        },
    )
    .await;
    let text = m.to_string();
    assert!(
        text.contains(
            "CREATE TABLE public.birds (\n    wings integer DEFAULT 2\n) INHERITS (public.base)"
        ),
        "{text}"
    );
    // The parent's changes recurse: the children get no statement of their own for them.
    assert!(
        text.contains("ALTER TABLE public.base ADD COLUMN tag text DEFAULT 'pet'"),
        "{text}"
    );
    assert_absent(&m, "ALTER TABLE public.cats ADD COLUMN");
    assert_absent(&m, "ALTER TABLE public.dogs ALTER COLUMN id");
    assert!(
        position(&m, "ALTER TABLE public.base ADD COLUMN tag")
            < position(
                &m,
                "ALTER TABLE public.cats ALTER COLUMN tag SET DEFAULT 'cat'"
            )
    );
    // loner gets the parent's columns and checks, then becomes its child.
    assert!(
        position(
            &m,
            "ALTER TABLE public.loner ADD CONSTRAINT base_id_positive"
        ) < position(&m, "ALTER TABLE public.loner INHERIT public.base")
    );
    assert!(
        position(&m, "ALTER TABLE public.loner ADD COLUMN tag")
            < position(&m, "ALTER TABLE public.loner INHERIT public.base")
    );
    // orphan keeps x (now its own) while its parent is dropped.
    assert!(
        position(&m, "ALTER TABLE public.orphan NO INHERIT public.old_parent")
            < position(&m, "DROP TABLE public.old_parent")
    );
}
