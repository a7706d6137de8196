#!/usr/bin/env python3
"""Correctness beside migra: for each pair of schemas, the migration of each
tool is applied to CURRENT in one transaction, then `opsroom schema diff`
says whether any difference is left. Prints one row per case:
`applies` (the SQL ran) and `equal` (nothing left to change).

    /tmp/migra-venv/bin/python bench/schema_vs_migra.py [OPSROOM_BINARY] [SERVER_URL]

Needs migra and psycopg2 in the Python that runs it (bench/schema_bench.sh
makes /tmp/migra-venv); the databases are made and dropped here.
"""
import os
import subprocess
import sys

import psycopg2

OPSROOM = sys.argv[1] if len(sys.argv) > 1 else "target/debug/opsroom"
SERVER = sys.argv[2] if len(sys.argv) > 2 else "postgres://postgres@127.0.0.1:5432"
MIGRA = os.path.join(os.path.dirname(sys.executable), "migra")

CASES = {
    "type change under a view": (
        "CREATE TABLE t (id int PRIMARY KEY, n numeric(6,2)); CREATE VIEW v AS SELECT id, n FROM t; INSERT INTO t VALUES (1, 2.5);",
        "CREATE TABLE t (id int PRIMARY KEY, n numeric(12,4)); CREATE VIEW v AS SELECT id, n FROM t;",
    ),
    "generated column expression": (
        "CREATE TABLE t (id int PRIMARY KEY, a int, b int GENERATED ALWAYS AS (a * 2) STORED);",
        "CREATE TABLE t (id int PRIMARY KEY, a int, b int GENERATED ALWAYS AS (a * 3) STORED);",
    ),
    "function return type": (
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$; CREATE VIEW v AS SELECT f() AS x;",
        "CREATE FUNCTION f() RETURNS bigint LANGUAGE sql AS $$ SELECT 1::bigint $$; CREATE VIEW v AS SELECT f() AS x;",
    ),
    "enum value used by an index": (
        "CREATE TYPE s AS ENUM ('a', 'c'); CREATE TABLE t (id int, st s); CREATE INDEX t_c ON t (id) WHERE st = 'c';",
        "CREATE TYPE s AS ENUM ('a', 'b', 'c'); CREATE TABLE t (id int, st s); CREATE INDEX t_c ON t (id) WHERE st = 'c';",
    ),
    "sequence options": (
        "CREATE SEQUENCE q INCREMENT BY 1 MAXVALUE 1000;",
        "CREATE SEQUENCE q INCREMENT BY 5 MAXVALUE 100000 CACHE 10 CYCLE;",
    ),
    "FORCE row level security": (
        "CREATE TABLE t (id int); ALTER TABLE t ENABLE ROW LEVEL SECURITY;",
        "CREATE TABLE t (id int); ALTER TABLE t ENABLE ROW LEVEL SECURITY; ALTER TABLE t FORCE ROW LEVEL SECURITY;",
    ),
    "comments": (
        "CREATE TABLE t (id int); CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;",
        "CREATE TABLE t (id int); COMMENT ON TABLE t IS 'things'; COMMENT ON COLUMN t.id IS 'key'; "
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$; COMMENT ON FUNCTION f() IS 'one';",
    ),
    "new table referenced by a foreign key": (
        "CREATE TABLE a (id int PRIMARY KEY);",
        "CREATE TABLE a (id int PRIMARY KEY, b_id int); CREATE TABLE b (id int PRIMARY KEY); "
        "ALTER TABLE a ADD CONSTRAINT a_b FOREIGN KEY (b_id) REFERENCES b (id);",
    ),
}


def admin(sql):
    conn = psycopg2.connect(f"{SERVER}/postgres")
    conn.autocommit = True
    conn.cursor().execute(sql)
    conn.close()


def make(name, sql):
    admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin(f"CREATE DATABASE {name} TEMPLATE template0")
    conn = psycopg2.connect(f"{SERVER}/{name}")
    conn.autocommit = True
    conn.cursor().execute(sql)
    conn.close()


def apply(name, sql):
    if not sql.strip():
        return True
    conn = psycopg2.connect(f"{SERVER}/{name}")
    try:
        with conn:
            conn.cursor().execute(sql)
        return True
    except psycopg2.Error as e:
        print(f"    ({name}: {str(e).splitlines()[0]})")
        return False
    finally:
        conn.close()


def left(cur, des):
    out = subprocess.run([OPSROOM, "schema", "diff", f"{SERVER}/{cur}", f"{SERVER}/{des}"],
                         capture_output=True, text=True, check=True).stdout
    return len([l for l in out.splitlines() if l.strip() and not l.startswith("--")])


def tool_sql(tool, cur, des):
    if tool == "migra":
        # SQLAlchemy wants the psycopg2 driver named in the scheme.
        m = "postgresql+psycopg2://" + SERVER.split("://", 1)[1]
        r = subprocess.run([MIGRA, "--unsafe", f"{m}/{cur}", f"{m}/{des}"], capture_output=True, text=True)
        if r.returncode not in (0, 2):
            print(f"    (migra failed: {r.stderr.strip().splitlines()[-1]})")
            return None
        return r.stdout
    return subprocess.run([OPSROOM, "schema", "diff", f"{SERVER}/{cur}", f"{SERVER}/{des}"],
                          capture_output=True, text=True, check=True).stdout


print(f"| case | migra applies | migra equal after | opsroom applies | opsroom equal after |")
print(f"|---|---|---|---|---|")
pid = os.getpid()
for i, (case, (current, desired)) in enumerate(CASES.items()):
    row = [case]
    des = f"opsroom_cmp_des_{pid}_{i}"
    make(des, desired)
    for tool in ("migra", "opsroom"):
        cur = f"opsroom_cmp_cur_{pid}_{i}_{tool}"
        make(cur, current)
        sql = tool_sql(tool, cur, des)
        ok = sql is not None and apply(cur, sql)
        remaining = left(cur, des) if ok else None
        row += ["yes" if ok else "**no**", "yes" if remaining == 0 else ("**no**" if ok else "–")]
        admin(f"DROP DATABASE {cur} WITH (FORCE)")
    admin(f"DROP DATABASE {des} WITH (FORCE)")
    print("| " + " | ".join(row) + " |")
