//! Round trips against real PostgreSQL: for each pair of schemas, the
//! migration applied to CURRENT in one transaction leaves no difference
//! with DESIRED, rows in untouched columns survive, and the risky
//! statements carry the right hazards.

mod support;

use support::*;

const SHOP: &str = r#"
CREATE TYPE status AS ENUM ('new', 'paid', 'shipped');
CREATE TABLE customers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL UNIQUE,
    name varchar(80),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    state status NOT NULL DEFAULT 'new',
    total numeric(10,2) NOT NULL CHECK (total >= 0),
    note text
);
CREATE INDEX orders_open ON orders (customer_id) WHERE state <> 'shipped';
CREATE VIEW open_orders AS SELECT o.id, c.email, o.total FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.state <> 'shipped';
COMMENT ON TABLE orders IS 'Orders placed by customers';
INSERT INTO customers (email, name) VALUES ('a@x', 'Ann'), ('b@x', 'Bob');
INSERT INTO orders (customer_id, total, note) VALUES (1, 10, 'first'), (2, 20.5, NULL);
"#;

const ORDERS_ROWS: &str = "SELECT string_agg(id || ':' || customer_id || ':' || total::float8, ',' ORDER BY id) FROM orders";

#[tokio::test]
async fn equal_schemas_give_an_empty_migration() {
    let m = round_trip(
        "equal",
        Scenario {
            current: SHOP,
            desired: SHOP,
            keep: &[ORDERS_ROWS],
        },
    )
    .await;
    assert!(m.is_empty(), "{m}");
    assert_eq!(m.to_string(), "");
}

#[tokio::test]
async fn new_tables_exist_before_the_foreign_keys_that_reference_them() {
    let desired = format!(
        "{SHOP}\nCREATE TABLE addresses (id int PRIMARY KEY, zone_id int NOT NULL);\n\
         CREATE TABLE zones (id int PRIMARY KEY, name text);\n\
         ALTER TABLE addresses ADD CONSTRAINT addresses_zone FOREIGN KEY (zone_id) REFERENCES zones (id);"
    );
    let m = round_trip(
        "newfk",
        Scenario {
            current: SHOP,
            desired: &desired,
            keep: &[ORDERS_ROWS],
        },
    )
    .await;
    assert!(
        position(&m, "CREATE TABLE public.zones") < position(&m, "ADD CONSTRAINT addresses_zone")
    );
    assert_safe(&m, "ADD CONSTRAINT addresses_zone");
    assert_safe(&m, "CREATE TABLE public.addresses");
}

#[tokio::test]
async fn a_column_type_change_drops_and_recreates_the_views_on_it() {
    let desired = SHOP.replace("total numeric(10,2)", "total numeric(14,4)");
    let m = round_trip(
        "retype",
        Scenario {
            current: SHOP,
            desired: &desired,
            keep: &[ORDERS_ROWS],
        },
    )
    .await;
    assert!(position(&m, "DROP VIEW public.open_orders") < position(&m, "ALTER COLUMN total TYPE"));
    assert!(
        position(&m, "ALTER COLUMN total TYPE") < position(&m, "CREATE VIEW public.open_orders")
    );
    assert_hazard(&m, "ALTER COLUMN total TYPE", "table_rewrite");
}

#[tokio::test]
async fn widening_a_varchar_is_no_rewrite_but_text_to_int_is() {
    let current = "CREATE TABLE t (id int PRIMARY KEY, a varchar(10), b text); INSERT INTO t VALUES (1, 'x', '42');";
    let desired = "CREATE TABLE t (id int PRIMARY KEY, a varchar(50), b integer);";
    let m = round_trip(
        "widen",
        Scenario {
            current,
            desired,
            keep: &["SELECT string_agg(id || a, ',') FROM t"],
        },
    )
    .await;
    assert_safe(&m, "ALTER COLUMN a TYPE character varying(50)");
    assert_hazard(
        &m,
        "ALTER COLUMN b TYPE integer USING b::integer",
        "table_rewrite",
    );
}

#[tokio::test]
async fn dropped_columns_lose_data_and_a_same_typed_new_one_is_a_probable_rename() {
    let current = "CREATE TABLE people (id int PRIMARY KEY, full_name text, age int); INSERT INTO people VALUES (1, 'Ann', 30);";
    let desired = "CREATE TABLE people (id int PRIMARY KEY, display_name text, age int, score int DEFAULT 0);";
    let m = round_trip(
        "rename",
        Scenario {
            current,
            desired,
            keep: &["SELECT string_agg(id || ':' || age, ',') FROM people"],
        },
    )
    .await;
    assert_hazard(&m, "DROP COLUMN full_name", "data_loss");
    assert_hazard(&m, "DROP COLUMN full_name", "probable_rename");
    let text = m.to_string();
    assert!(
        text.contains("RENAME COLUMN full_name TO display_name"),
        "{text}"
    );
    assert_safe(&m, "ADD COLUMN score integer DEFAULT 0");
}

#[tokio::test]
async fn nullability_and_defaults() {
    let current = "CREATE TABLE t (id int PRIMARY KEY, a int, b int NOT NULL, c text DEFAULT 'x', d text); INSERT INTO t VALUES (1, 1, 2, 'c', 'd');";
    let desired = "CREATE TABLE t (id int PRIMARY KEY, a int NOT NULL, b int, c text DEFAULT 'y', d text DEFAULT 'z');";
    let m = round_trip(
        "nulls",
        Scenario {
            current,
            desired,
            keep: &["SELECT string_agg(id || ':' || a || ':' || b || c || d, ',') FROM t"],
        },
    )
    .await;
    assert_hazard(&m, "ALTER COLUMN a SET NOT NULL", "long_lock");
    assert_safe(&m, "ALTER COLUMN b DROP NOT NULL");
    assert_safe(&m, "ALTER COLUMN c SET DEFAULT 'y'");
}

#[tokio::test]
async fn identity_columns_and_their_sequence_options() {
    let current = "CREATE TABLE a (id int NOT NULL, v text); CREATE TABLE b (id int GENERATED BY DEFAULT AS IDENTITY, v text); \
                   CREATE TABLE c (id bigint GENERATED ALWAYS AS IDENTITY (START WITH 10 INCREMENT BY 1), v text); \
                   INSERT INTO a VALUES (1, 'x'); INSERT INTO b (v) VALUES ('y'); INSERT INTO c (v) VALUES ('z');";
    let desired = "CREATE TABLE a (id int GENERATED ALWAYS AS IDENTITY (START WITH 100), v text); CREATE TABLE b (id int, v text); \
                   CREATE TABLE c (id bigint GENERATED BY DEFAULT AS IDENTITY (START WITH 10 INCREMENT BY 5 CACHE 20 CYCLE), v text);";
    let m = round_trip("identity", Scenario {
        current,
        desired,
        keep: &["SELECT (SELECT string_agg(id || v, ',') FROM a) || (SELECT string_agg(id || v, ',') FROM b) || (SELECT string_agg(id || v, ',') FROM c)"],
    })
    .await;
    assert!(m.to_string().contains("ADD GENERATED ALWAYS AS IDENTITY"));
    assert!(m.to_string().contains("DROP IDENTITY"));
    assert!(m.to_string().contains("SET GENERATED BY DEFAULT"));
}

#[tokio::test]
async fn generated_columns_changed_added_and_made_plain() {
    let current = "CREATE TABLE t (id int PRIMARY KEY, price int, qty int, total int GENERATED ALWAYS AS (price * qty) STORED, \
                   tax int GENERATED ALWAYS AS (price / 10) STORED, label text); INSERT INTO t (id, price, qty, label) VALUES (1, 100, 2, 'x');";
    let desired = "CREATE TABLE t (id int PRIMARY KEY, price int, qty int, total int GENERATED ALWAYS AS (price * qty + 1) STORED, \
                   tax int, label text GENERATED ALWAYS AS ('item ' || id) STORED);";
    let m = round_trip(
        "generated",
        Scenario {
            current,
            desired,
            keep: &["SELECT string_agg(id || ':' || price || ':' || qty, ',') FROM t"],
        },
    )
    .await;
    assert_hazard(
        &m,
        "ADD COLUMN total integer GENERATED ALWAYS AS",
        "table_rewrite",
    );
    assert_safe(&m, "ALTER COLUMN tax DROP EXPRESSION");
    assert_hazard(&m, "DROP COLUMN label", "data_loss");
}

#[tokio::test]
async fn collation_changes() {
    let current = "CREATE TABLE t (id int PRIMARY KEY, name text); CREATE INDEX t_name ON t (name); INSERT INTO t VALUES (1, 'a');";
    let desired = "CREATE TABLE t (id int PRIMARY KEY, name text COLLATE \"C\"); CREATE INDEX t_name ON t (name);";
    let m = round_trip(
        "collation",
        Scenario {
            current,
            desired,
            keep: &["SELECT string_agg(id || name, ',') FROM t"],
        },
    )
    .await;
    assert_hazard(&m, "COLLATE \"C\"", "table_rewrite");
}

#[tokio::test]
async fn primary_unique_check_and_exclusion_constraints() {
    let current = "CREATE TABLE r (id int, code text, during tsrange, qty int, CONSTRAINT r_qty CHECK (qty > 0)); INSERT INTO r VALUES (1, 'a', '[2020-01-01,2020-01-02)', 1);";
    let desired = "CREATE TABLE r (id int PRIMARY KEY, code text UNIQUE, during tsrange, qty int, CONSTRAINT r_qty CHECK (qty >= 0), \
                   CONSTRAINT r_no_overlap EXCLUDE USING gist (during WITH &&));";
    let m = round_trip(
        "constraints",
        Scenario {
            current,
            desired,
            keep: &["SELECT string_agg(id || code || qty, ',') FROM r"],
        },
    )
    .await;
    assert_hazard(&m, "ADD CONSTRAINT r_pkey PRIMARY KEY", "long_lock");
    assert_hazard(&m, "ADD CONSTRAINT r_qty CHECK", "long_lock");
    assert_hazard(&m, "ADD CONSTRAINT r_no_overlap EXCLUDE", "long_lock");
    assert!(position(&m, "DROP CONSTRAINT r_qty") < position(&m, "ADD CONSTRAINT r_qty"));
}

#[tokio::test]
async fn foreign_key_actions_deferrable_and_not_valid() {
    let current = "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (id int PRIMARY KEY, p_id int, q_id int, \
                   CONSTRAINT c_p FOREIGN KEY (p_id) REFERENCES p (id)); \
                   CREATE TABLE d (id int PRIMARY KEY, p_id int); ALTER TABLE d ADD CONSTRAINT d_p FOREIGN KEY (p_id) REFERENCES p (id) NOT VALID; \
                   INSERT INTO p VALUES (1); INSERT INTO c VALUES (1, 1, 1); INSERT INTO d VALUES (1, 1);";
    let desired = "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (id int PRIMARY KEY, p_id int, q_id int, \
                   CONSTRAINT c_p FOREIGN KEY (p_id) REFERENCES p (id) ON DELETE SET NULL ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED); \
                   CREATE TABLE d (id int PRIMARY KEY, p_id int, CONSTRAINT d_p FOREIGN KEY (p_id) REFERENCES p (id)); \
                   ALTER TABLE c ADD CONSTRAINT c_q FOREIGN KEY (q_id) REFERENCES p (id) NOT VALID;";
    let m = round_trip(
        "fk",
        Scenario {
            current,
            desired,
            keep: &["SELECT string_agg(id || ':' || p_id, ',') FROM c"],
        },
    )
    .await;
    assert_hazard(&m, "ADD CONSTRAINT c_p FOREIGN KEY", "long_lock");
    assert_hazard(&m, "VALIDATE CONSTRAINT d_p", "long_lock");
    assert_safe(
        &m,
        "ADD CONSTRAINT c_q FOREIGN KEY (q_id) REFERENCES public.p(id) NOT VALID",
    );
}

#[tokio::test]
async fn indexes_partial_expression_unique_method_and_include() {
    let current = "CREATE TABLE t (id int PRIMARY KEY, email text, tags text[], active bool, score int); \
                   CREATE INDEX t_active ON t (id) WHERE active; INSERT INTO t VALUES (1, 'A@x', '{a}', true, 3);";
    let desired = "CREATE TABLE t (id int PRIMARY KEY, email text, tags text[], active bool, score int); \
                   CREATE INDEX t_active ON t (id) WHERE active AND score > 0; \
                   CREATE UNIQUE INDEX t_email ON t (lower(email)); CREATE INDEX t_tags ON t USING gin (tags); \
                   CREATE INDEX t_score ON t USING btree (score DESC NULLS LAST) INCLUDE (email); CREATE INDEX t_hash ON t USING hash (email);";
    let m = round_trip(
        "indexes",
        Scenario {
            current,
            desired,
            keep: &["SELECT string_agg(id || email, ',') FROM t"],
        },
    )
    .await;
    assert_hazard(&m, "CREATE UNIQUE INDEX t_email", "long_lock");
    assert!(position(&m, "DROP INDEX public.t_active") < position(&m, "CREATE INDEX t_active"));
    let st = &m.statements[position(&m, "CREATE INDEX t_tags")];
    assert_eq!(
        st.concurrently.as_deref(),
        Some("CREATE INDEX CONCURRENTLY t_tags ON public.t USING gin (tags)")
    );
    assert!(m.to_string().contains(
        "-- concurrently (run outside the transaction instead): CREATE INDEX CONCURRENTLY t_tags"
    ));
}

#[tokio::test]
async fn views_on_views_and_materialized_views_with_indexes() {
    let base = "CREATE TABLE s (id int PRIMARY KEY, amount int, region text); INSERT INTO s VALUES (1, 5, 'eu');";
    let current = format!("{base} CREATE VIEW v1 AS SELECT id, amount FROM s; CREATE VIEW v2 AS SELECT id FROM v1 WHERE amount > 1; \
                           CREATE MATERIALIZED VIEW m AS SELECT region, sum(amount) AS total FROM s GROUP BY region; CREATE INDEX m_region ON m (region);");
    let desired = format!("{base} CREATE VIEW v1 AS SELECT id, amount, region FROM s; CREATE VIEW v2 AS SELECT id FROM v1 WHERE amount > 1; \
                           CREATE MATERIALIZED VIEW m AS SELECT region, sum(amount) AS total, count(*) AS n FROM s GROUP BY region; CREATE UNIQUE INDEX m_region ON m (region); \
                           CREATE VIEW v3 AS SELECT v2.id FROM v2 JOIN m ON true; COMMENT ON VIEW v3 IS 'joined';");
    let m = round_trip(
        "views",
        Scenario {
            current: &current,
            desired: &desired,
            keep: &["SELECT string_agg(id || ':' || amount, ',') FROM s"],
        },
    )
    .await;
    assert!(position(&m, "DROP VIEW public.v2") < position(&m, "DROP VIEW public.v1"));
    assert!(position(&m, "CREATE VIEW public.v1") < position(&m, "CREATE VIEW public.v2"));
    assert!(
        position(&m, "CREATE MATERIALIZED VIEW public.m")
            < position(&m, "CREATE UNIQUE INDEX m_region")
    );
}

#[tokio::test]
async fn enum_values_are_added_in_place_even_when_indexes_and_policies_use_the_enum() {
    let current = "CREATE TYPE mood AS ENUM ('sad', 'happy'); CREATE TABLE p (id int PRIMARY KEY, m mood NOT NULL DEFAULT 'happy', ms mood[]); \
                   CREATE INDEX p_happy ON p (id) WHERE m = 'happy'; ALTER TABLE p ENABLE ROW LEVEL SECURITY; \
                   CREATE POLICY p_sel ON p FOR SELECT USING (m <> 'sad'); INSERT INTO p VALUES (1, 'sad', '{happy}');";
    let desired = "CREATE TYPE mood AS ENUM ('angry', 'sad', 'ok', 'happy', 'elated'); CREATE TABLE p (id int PRIMARY KEY, m mood NOT NULL DEFAULT 'happy', ms mood[]); \
                   CREATE INDEX p_happy ON p (id) WHERE m = 'happy'; ALTER TABLE p ENABLE ROW LEVEL SECURITY; \
                   CREATE POLICY p_sel ON p FOR SELECT USING (m <> 'sad');";
    let m = round_trip(
        "enumadd",
        Scenario {
            current,
            desired,
            keep: &["SELECT string_agg(id || ':' || m || ms::text, ',') FROM p"],
        },
    )
    .await;
    let text = m.to_string();
    assert!(
        text.contains("ALTER TYPE public.mood ADD VALUE 'angry' BEFORE 'sad'"),
        "{text}"
    );
    assert!(
        text.contains("ALTER TYPE public.mood ADD VALUE 'ok' AFTER 'sad'"),
        "{text}"
    );
    assert!(
        text.contains("ALTER TYPE public.mood ADD VALUE 'elated' AFTER 'happy'"),
        "{text}"
    );
    assert_absent(&m, "DROP TYPE");
    assert_absent(&m, "DROP INDEX");
    assert_absent(&m, "DROP POLICY");
}

#[tokio::test]
async fn a_removed_enum_value_swaps_the_type_around_its_indexes_policies_and_defaults() {
    let current = "CREATE TYPE mood AS ENUM ('sad', 'meh', 'happy'); CREATE TABLE p (id int PRIMARY KEY, m mood NOT NULL DEFAULT 'happy', ms mood[]); \
                   CREATE INDEX p_happy ON p (id) WHERE m = 'happy'; CREATE INDEX p_m ON p (m); ALTER TABLE p ENABLE ROW LEVEL SECURITY; \
                   CREATE POLICY p_sel ON p FOR SELECT USING (m <> 'sad'); CREATE VIEW happy AS SELECT id FROM p WHERE m = 'happy'; \
                   INSERT INTO p VALUES (1, 'sad', '{happy}'), (2, 'happy', NULL);";
    let desired = "CREATE TYPE mood AS ENUM ('happy', 'sad'); CREATE TABLE p (id int PRIMARY KEY, m mood NOT NULL DEFAULT 'happy', ms mood[]); \
                   CREATE INDEX p_happy ON p (id) WHERE m = 'happy'; CREATE INDEX p_m ON p (m); ALTER TABLE p ENABLE ROW LEVEL SECURITY; \
                   CREATE POLICY p_sel ON p FOR SELECT USING (m <> 'sad'); CREATE VIEW happy AS SELECT id FROM p WHERE m = 'happy';";
    let m = round_trip("enumswap", Scenario { current, desired, keep: &["SELECT string_agg(id || ':' || m || coalesce(ms::text, ''), ',' ORDER BY id) FROM p"] }).await;
    assert_hazard(&m, "ALTER TYPE public.mood RENAME TO", "table_rewrite");
    assert!(
        position(&m, "DROP INDEX public.p_happy") < position(&m, "ALTER COLUMN m TYPE public.mood")
    );
    assert!(position(&m, "DROP POLICY p_sel") < position(&m, "ALTER COLUMN m TYPE public.mood"));
}

#[tokio::test]
async fn sequences_keep_their_value_when_their_options_change() {
    let current = "CREATE SEQUENCE counter INCREMENT BY 1 MAXVALUE 1000; SELECT setval('counter', 500); CREATE SEQUENCE old_one;";
    let desired = "CREATE SEQUENCE counter AS integer INCREMENT BY 10 MINVALUE 5 MAXVALUE 100000 START WITH 7 CACHE 4 CYCLE; \
                   CREATE SEQUENCE fresh AS smallint START WITH 3; COMMENT ON SEQUENCE fresh IS 'new one';";
    let m = round_trip(
        "sequences",
        Scenario {
            current,
            desired,
            keep: &["SELECT last_value::text FROM counter"],
        },
    )
    .await;
    assert_absent(&m, "RESTART");
    assert!(m.to_string().contains("DROP SEQUENCE public.old_one"));
}

#[tokio::test]
async fn serial_columns_of_new_tables_own_their_sequences() {
    let current = "CREATE TABLE keep (id int PRIMARY KEY);";
    let desired = "CREATE TABLE keep (id int PRIMARY KEY); CREATE TABLE items (id serial PRIMARY KEY, code bigserial);";
    let m = round_trip(
        "serial",
        Scenario {
            current,
            desired,
            keep: &[],
        },
    )
    .await;
    assert!(
        position(&m, "CREATE SEQUENCE public.items_id_seq")
            < position(&m, "CREATE TABLE public.items")
    );
    assert!(position(&m, "CREATE TABLE public.items") < position(&m, "OWNED BY public.items.id"));
}

const FUNCS: &str = r#"
CREATE TABLE acct (id int PRIMARY KEY, balance int NOT NULL DEFAULT 0, updated_at timestamptz);
INSERT INTO acct VALUES (1, 10, NULL);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
CREATE TRIGGER acct_touch BEFORE UPDATE ON acct FOR EACH ROW EXECUTE FUNCTION touch();
CREATE FUNCTION rich(min int) RETURNS SETOF int LANGUAGE sql STABLE AS $$ SELECT id FROM acct WHERE balance >= min $$;
CREATE VIEW rich_ones AS SELECT * FROM rich(5) AS r(id);
CREATE FUNCTION double_it(x int) RETURNS int LANGUAGE sql IMMUTABLE RETURN x * 2;
CREATE PROCEDURE reset_all() LANGUAGE sql BEGIN ATOMIC UPDATE acct SET balance = 0; END;
"#;

#[tokio::test]
async fn functions_replaced_in_place_or_dropped_and_created_with_their_dependents() {
    let desired = r#"
CREATE TABLE acct (id int PRIMARY KEY, balance int NOT NULL DEFAULT 0, updated_at timestamptz);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$ BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$;
CREATE TRIGGER acct_touch BEFORE UPDATE ON acct FOR EACH ROW EXECUTE FUNCTION touch();
CREATE FUNCTION rich(min int) RETURNS SETOF bigint LANGUAGE sql STABLE AS $$ SELECT id::bigint FROM acct WHERE balance >= min $$;
CREATE VIEW rich_ones AS SELECT * FROM rich(5) AS r(id);
CREATE FUNCTION double_it(x int) RETURNS int LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN x + x;
CREATE PROCEDURE reset_all() LANGUAGE sql BEGIN ATOMIC UPDATE acct SET balance = 1; END;
CREATE FUNCTION fresh(a int, b int DEFAULT 2) RETURNS int LANGUAGE sql VOLATILE AS $$ SELECT a + b $$;
REVOKE EXECUTE ON FUNCTION fresh(int, int) FROM PUBLIC;
"#;
    let m = round_trip(
        "functions",
        Scenario {
            current: FUNCS,
            desired,
            keep: &["SELECT string_agg(id || ':' || balance, ',') FROM acct"],
        },
    )
    .await;
    assert!(position(&m, "DROP VIEW public.rich_ones") < position(&m, "DROP FUNCTION public.rich"));
    assert!(position(&m, "DROP FUNCTION public.rich") < position(&m, "RETURNS SETOF bigint"));
    assert!(m
        .to_string()
        .contains("CREATE OR REPLACE FUNCTION public.touch()"));
    assert_absent(&m, "DROP FUNCTION public.touch");
    assert!(m
        .to_string()
        .contains("REVOKE EXECUTE ON FUNCTION public.fresh(a integer, b integer) FROM PUBLIC"));
}

#[tokio::test]
async fn a_function_whose_return_type_changes_takes_the_defaults_and_checks_using_it_along() {
    let current = "CREATE FUNCTION next_code() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$; \
                   CREATE FUNCTION ok(x int) RETURNS bool LANGUAGE sql IMMUTABLE AS $$ SELECT x > 0 $$; \
                   CREATE TABLE t (id int PRIMARY KEY, code int DEFAULT next_code(), n int CHECK (ok(n))); INSERT INTO t VALUES (1, 1, 1);";
    let desired = "CREATE FUNCTION next_code() RETURNS bigint LANGUAGE sql AS $$ SELECT 2::bigint $$; \
                   CREATE FUNCTION ok(x int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT x $$; \
                   CREATE TABLE t (id int PRIMARY KEY, code int DEFAULT next_code(), n int CHECK (ok(n) > 0));";
    let m = round_trip(
        "funcdeps",
        Scenario {
            current,
            desired,
            keep: &["SELECT string_agg(id || ':' || code || n, ',') FROM t"],
        },
    )
    .await;
    assert!(
        position(&m, "ALTER COLUMN code DROP DEFAULT")
            < position(&m, "DROP FUNCTION public.next_code()")
    );
}

#[tokio::test]
async fn triggers_added_changed_and_disabled() {
    let current = "CREATE TABLE t (id int PRIMARY KEY, v int); CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$; \
                   CREATE TRIGGER t_a BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f(); CREATE TRIGGER t_b AFTER DELETE ON t FOR EACH ROW EXECUTE FUNCTION f();";
    let desired = "CREATE TABLE t (id int PRIMARY KEY, v int); CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$; \
                   CREATE TRIGGER t_a BEFORE INSERT OR UPDATE OF v ON t FOR EACH ROW WHEN (NEW.v > 0) EXECUTE FUNCTION f(); \
                   CREATE TRIGGER t_c AFTER TRUNCATE ON t FOR EACH STATEMENT EXECUTE FUNCTION f(); ALTER TABLE t DISABLE TRIGGER t_c; \
                   COMMENT ON TRIGGER t_a ON t IS 'checks v';";
    let m = round_trip(
        "triggers",
        Scenario {
            current,
            desired,
            keep: &[],
        },
    )
    .await;
    assert!(m.to_string().contains("DISABLE TRIGGER t_c"));
    assert!(position(&m, "DROP TRIGGER t_a") < position(&m, "CREATE TRIGGER t_a"));
}

#[tokio::test]
async fn row_level_security_enabled_forced_and_policies() {
    let current = "CREATE TABLE docs (id int PRIMARY KEY, owner text, public bool); ALTER TABLE docs ENABLE ROW LEVEL SECURITY; \
                   CREATE POLICY docs_read ON docs FOR SELECT USING (public); CREATE POLICY docs_gone ON docs FOR DELETE USING (false); \
                   CREATE TABLE notes (id int PRIMARY KEY); ALTER TABLE notes ENABLE ROW LEVEL SECURITY; ALTER TABLE notes FORCE ROW LEVEL SECURITY;";
    let desired = "CREATE TABLE docs (id int PRIMARY KEY, owner text, public bool); ALTER TABLE docs ENABLE ROW LEVEL SECURITY; ALTER TABLE docs FORCE ROW LEVEL SECURITY; \
                   CREATE POLICY docs_read ON docs AS RESTRICTIVE FOR SELECT TO pg_monitor USING (public OR owner = current_user); \
                   CREATE POLICY docs_write ON docs FOR INSERT WITH CHECK (owner = current_user); \
                   CREATE TABLE notes (id int PRIMARY KEY);";
    let m = round_trip(
        "rls",
        Scenario {
            current,
            desired,
            keep: &[],
        },
    )
    .await;
    let text = m.to_string();
    assert!(
        text.contains("ALTER TABLE public.docs FORCE ROW LEVEL SECURITY"),
        "{text}"
    );
    assert!(
        text.contains("ALTER TABLE public.notes NO FORCE ROW LEVEL SECURITY"),
        "{text}"
    );
    assert!(
        text.contains("ALTER TABLE public.notes DISABLE ROW LEVEL SECURITY"),
        "{text}"
    );
    assert!(text.contains("DROP POLICY docs_gone"), "{text}");
}

#[tokio::test]
async fn comments_on_every_kind_of_object() {
    let current = "CREATE SCHEMA app; CREATE TYPE app.kind AS ENUM ('a'); CREATE TABLE app.t (id int CONSTRAINT t_pk PRIMARY KEY, k app.kind); \
                   CREATE INDEX t_k ON app.t (k); CREATE VIEW app.v AS SELECT id FROM app.t; CREATE SEQUENCE app.s; \
                   CREATE FUNCTION app.f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$; \
                   CREATE TRIGGER tr BEFORE INSERT ON app.t FOR EACH ROW EXECUTE FUNCTION app.f(); CREATE POLICY pol ON app.t USING (true); \
                   CREATE DOMAIN app.pos AS int CHECK (VALUE > 0); COMMENT ON TABLE app.t IS 'old';";
    let desired = format!(
        "{current} COMMENT ON SCHEMA app IS 'the app'; COMMENT ON TYPE app.kind IS 'kinds'; COMMENT ON TABLE app.t IS 'things'; \
         COMMENT ON COLUMN app.t.k IS 'its kind'; COMMENT ON CONSTRAINT t_pk ON app.t IS 'key'; COMMENT ON INDEX app.t_k IS 'by kind'; \
         COMMENT ON VIEW app.v IS 'view'; COMMENT ON SEQUENCE app.s IS 'seq'; COMMENT ON FUNCTION app.f() IS 'fn'; \
         COMMENT ON TRIGGER tr ON app.t IS 'trg'; COMMENT ON POLICY pol ON app.t IS 'pol'; COMMENT ON DOMAIN app.pos IS 'positive';"
    );
    let m = round_trip(
        "comments",
        Scenario {
            current,
            desired: &desired,
            keep: &[],
        },
    )
    .await;
    assert_eq!(m.statements.len(), 12, "{m}");
    let back = round_trip(
        "comments_back",
        Scenario {
            current: &desired,
            desired: current,
            keep: &[],
        },
    )
    .await;
    assert!(
        back.to_string().contains("COMMENT ON TABLE app.t IS 'old'"),
        "{back}"
    );
}

#[tokio::test]
async fn extensions_added_with_their_version_and_used_by_an_index() {
    let current = "CREATE TABLE w (id int PRIMARY KEY, word text);";
    let desired = "CREATE EXTENSION pg_trgm; CREATE TABLE w (id int PRIMARY KEY, word text); \
                   CREATE INDEX w_trgm ON w USING gin (word public.gin_trgm_ops);";
    let m = round_trip(
        "extensions",
        Scenario {
            current,
            desired,
            keep: &[],
        },
    )
    .await;
    assert!(
        position(&m, "CREATE EXTENSION IF NOT EXISTS pg_trgm")
            < position(&m, "CREATE INDEX w_trgm")
    );
    let back = round_trip(
        "extensions_back",
        Scenario {
            current: desired,
            desired: current,
            keep: &[],
        },
    )
    .await;
    assert_hazard(&back, "DROP EXTENSION pg_trgm", "data_loss");
}

#[tokio::test]
async fn schemas_created_and_dropped_with_their_tables() {
    let current = "CREATE SCHEMA legacy; CREATE TABLE legacy.old (id int PRIMARY KEY); CREATE TABLE public.keep (id int PRIMARY KEY, old_id int REFERENCES legacy.old (id));";
    let desired = "CREATE SCHEMA billing; CREATE TABLE billing.invoice (id int PRIMARY KEY); CREATE TABLE public.keep (id int PRIMARY KEY, old_id int);";
    let m = round_trip(
        "schemas",
        Scenario {
            current,
            desired,
            keep: &[],
        },
    )
    .await;
    assert!(
        position(&m, "DROP CONSTRAINT keep_old_id_fkey") < position(&m, "DROP TABLE legacy.old")
    );
    assert!(position(&m, "DROP TABLE legacy.old") < position(&m, "DROP SCHEMA legacy"));
    assert_hazard(&m, "DROP TABLE legacy.old", "data_loss");
}

#[tokio::test]
async fn grants_on_tables_sequences_functions_and_schemas() {
    let current = "CREATE SCHEMA api; CREATE TABLE api.t (id int PRIMARY KEY); CREATE SEQUENCE api.s; \
                   CREATE FUNCTION api.f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$; GRANT SELECT, INSERT ON api.t TO pg_monitor;";
    let desired = "CREATE SCHEMA api; CREATE TABLE api.t (id int PRIMARY KEY); CREATE SEQUENCE api.s; \
                   CREATE FUNCTION api.f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$; GRANT SELECT ON api.t TO pg_monitor WITH GRANT OPTION; \
                   GRANT USAGE ON SCHEMA api TO pg_read_all_data; GRANT USAGE ON SEQUENCE api.s TO pg_monitor; REVOKE EXECUTE ON FUNCTION api.f() FROM PUBLIC; \
                   GRANT EXECUTE ON FUNCTION api.f() TO pg_monitor;";
    let m = round_trip(
        "grants",
        Scenario {
            current,
            desired,
            keep: &[],
        },
    )
    .await;
    let text = m.to_string();
    assert!(
        text.contains("REVOKE INSERT ON TABLE api.t FROM pg_monitor"),
        "{text}"
    );
    assert!(
        text.contains("GRANT SELECT ON TABLE api.t TO pg_monitor WITH GRANT OPTION"),
        "{text}"
    );
}

const PARTS: &str = "CREATE TABLE ev (id bigint NOT NULL, at date NOT NULL, body text) PARTITION BY RANGE (at); \
                     CREATE TABLE ev_2024 PARTITION OF ev FOR VALUES FROM ('2024-01-01') TO ('2025-01-01'); \
                     CREATE INDEX ev_at ON ev (at); INSERT INTO ev VALUES (1, '2024-05-01', 'x');";

#[tokio::test]
async fn partitioned_tables_and_their_partitions() {
    let desired = "CREATE TABLE ev (id bigint NOT NULL, at date NOT NULL, body text, kind text) PARTITION BY RANGE (at); \
                   CREATE TABLE ev_2024 PARTITION OF ev FOR VALUES FROM ('2024-01-01') TO ('2025-06-01'); \
                   CREATE TABLE ev_rest PARTITION OF ev DEFAULT; CREATE INDEX ev_at ON ev (at); CREATE INDEX ev_kind ON ev (kind); \
                   CREATE TABLE logs (id int, at date) PARTITION BY LIST (id); CREATE TABLE logs_1 PARTITION OF logs FOR VALUES IN (1);";
    let m = round_trip(
        "partitions",
        Scenario {
            current: PARTS,
            desired,
            keep: &["SELECT string_agg(id || ':' || at || body, ',') FROM ev"],
        },
    )
    .await;
    assert!(position(&m, "CREATE TABLE public.logs ") < position(&m, "CREATE TABLE public.logs_1"));
    assert_hazard(&m, "ATTACH PARTITION public.ev_2024", "long_lock");
}

#[tokio::test]
async fn a_changed_partition_key_recreates_the_table_as_a_data_loss() {
    let desired = "CREATE TABLE ev (id bigint NOT NULL, at date NOT NULL, body text) PARTITION BY LIST (id); \
                   CREATE TABLE ev_1 PARTITION OF ev FOR VALUES IN (1);";
    let m = round_trip(
        "partkey",
        Scenario {
            current: PARTS,
            desired,
            keep: &[],
        },
    )
    .await;
    assert_hazard(&m, "DROP TABLE public.ev", "data_loss");
}

#[tokio::test]
async fn domains_and_composite_types() {
    let current = "CREATE DOMAIN pos AS int CHECK (VALUE > 0); CREATE TYPE pair AS (a int, b text); CREATE DOMAIN gone AS text; \
                   CREATE TABLE t (id int PRIMARY KEY, p pos, q pair); INSERT INTO t VALUES (1, 3, ROW(1, 'x'));";
    let desired = "CREATE DOMAIN pos AS int DEFAULT 1 NOT NULL CONSTRAINT pos_small CHECK (VALUE < 1000) CHECK (VALUE > 0); \
                   CREATE TYPE pair AS (a int, b text, c date); CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%'); \
                   CREATE TABLE t (id int PRIMARY KEY, p pos, q pair, e email);";
    let m = round_trip(
        "domains",
        Scenario {
            current,
            desired,
            keep: &["SELECT string_agg(id || ':' || p, ',') FROM t"],
        },
    )
    .await;
    assert!(position(&m, "CREATE DOMAIN public.email") < position(&m, "ADD COLUMN e public.email"));
}

#[tokio::test]
async fn tables_that_reference_each_other_are_dropped_together() {
    let current = "CREATE TABLE a (id int PRIMARY KEY, b_id int); CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a (id)); \
                   ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b (id); CREATE TABLE keep (id int);";
    let desired = "CREATE TABLE keep (id int);";
    let m = round_trip(
        "mutual",
        Scenario {
            current,
            desired,
            keep: &[],
        },
    )
    .await;
    assert_hazard(&m, "DROP TABLE public.a", "data_loss");
    assert_hazard(&m, "DROP TABLE public.b", "data_loss");
}

#[tokio::test]
async fn unlogged_tables_and_storage_options() {
    let current = "CREATE UNLOGGED TABLE cache (k text PRIMARY KEY, v text) WITH (fillfactor = 70, autovacuum_enabled = false);";
    let desired = "CREATE TABLE cache (k text PRIMARY KEY, v text) WITH (fillfactor = 90);";
    let m = round_trip(
        "storage",
        Scenario {
            current,
            desired,
            keep: &[],
        },
    )
    .await;
    assert_hazard(&m, "SET LOGGED", "table_rewrite");
}

#[tokio::test]
async fn quoted_identifiers_and_reserved_words() {
    let current = "CREATE TABLE \"user\" (id int PRIMARY KEY, \"Order\" int);";
    let desired = "CREATE SCHEMA \"Sales Dept\"; CREATE TABLE \"user\" (id int PRIMARY KEY, \"Order\" bigint, \"select\" text); \
                   CREATE TABLE \"Sales Dept\".\"Line\" (id int PRIMARY KEY, user_id int REFERENCES \"user\" (id)); \
                   CREATE INDEX \"Odd Index\" ON \"user\" (\"Order\");";
    let m = round_trip(
        "quoting",
        Scenario {
            current,
            desired,
            keep: &[],
        },
    )
    .await;
    assert!(
        m.to_string()
            .contains("CREATE TABLE \"Sales Dept\".\"Line\""),
        "{m}"
    );
}

#[tokio::test]
async fn a_release_with_many_changes_at_once() {
    let desired = r#"
CREATE EXTENSION IF NOT EXISTS citext;
CREATE TYPE status AS ENUM ('new', 'paid', 'refunded', 'shipped');
CREATE TABLE customers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email public.citext NOT NULL UNIQUE,
    display_name varchar(80),
    created_at timestamptz NOT NULL DEFAULT now(),
    tier int NOT NULL DEFAULT 1
);
CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    state status NOT NULL DEFAULT 'new',
    total numeric(12,2) NOT NULL CHECK (total >= 0),
    total_cents bigint GENERATED ALWAYS AS ((total * 100)::bigint) STORED,
    note text
);
CREATE TABLE refunds (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, order_id bigint NOT NULL REFERENCES orders (id), amount numeric(12,2));
CREATE INDEX orders_open ON orders (customer_id) WHERE state <> 'shipped';
CREATE INDEX refunds_order ON refunds (order_id);
CREATE VIEW open_orders AS SELECT o.id, c.email, o.total FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.state <> 'shipped';
CREATE MATERIALIZED VIEW revenue AS SELECT customer_id, sum(total) AS total FROM orders GROUP BY customer_id;
COMMENT ON TABLE orders IS 'Orders placed by customers, with refunds';
ALTER TABLE refunds ENABLE ROW LEVEL SECURITY;
CREATE POLICY refunds_all ON refunds USING (amount > 0);
"#;
    let m = round_trip(
        "release",
        Scenario {
            current: SHOP,
            desired,
            keep: &[
                ORDERS_ROWS,
                "SELECT string_agg(id || ':' || email::text, ',' ORDER BY id) FROM customers",
            ],
        },
    )
    .await;
    assert_hazard(&m, "DROP COLUMN name", "probable_rename");
    assert_hazard(&m, "ALTER COLUMN email TYPE public.citext", "table_rewrite");
    assert!(
        position(&m, "CREATE TABLE public.refunds")
            < position(&m, "ADD CONSTRAINT refunds_order_id_fkey")
    );
}
