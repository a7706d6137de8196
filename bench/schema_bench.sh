#!/usr/bin/env bash
# Schema diff speed: opsroom-schema against migra on the same pair of
# databases of 2,000 tables (10 columns, 3 indexes besides the primary key,
# 2 foreign keys each). DESIRED differs from CURRENT in 1 table of 10 (a
# column added, an index changed), so both tools have real work.
#
#   bench/schema_bench.sh [postgres://postgres@127.0.0.1:5432]
#
# migra runs from a venv under /tmp (pip install migra psycopg2-binary),
# made on first use; the databases are dropped at the end.
set -euo pipefail
server="${1:-postgres://postgres@127.0.0.1:5432}"
tables="${TABLES:-2000}"
cur="opsroom_bench_schema_cur_$$"
des="opsroom_bench_schema_des_$$"
cd "$(dirname "$0")/.."

cleanup() {
  psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS $cur WITH (FORCE)" -c "DROP DATABASE IF EXISTS $des WITH (FORCE)" >/dev/null
}
trap cleanup EXIT

gen() { # $1 = database, $2 = 1 for DESIRED; batches of 200 tables (lock table size)
  local from to
  for ((from = 1; from <= tables; from += 200)); do
    to=$((from + 199 < tables ? from + 199 : tables))
    psql -q "$server/$1" -v ON_ERROR_STOP=1 <<SQL
DO \$\$
DECLARE i int; d bool := $2 = 1;
BEGIN
  FOR i IN $from..$to LOOP
    EXECUTE format('CREATE TABLE t%s (id bigint PRIMARY KEY, a_id bigint, b_id bigint, name text NOT NULL, email varchar(200), score int DEFAULT 0, price numeric(10,2), created_at timestamptz NOT NULL DEFAULT now(), active boolean DEFAULT true, note text %s)',
                   i, CASE WHEN d AND i % 10 = 0 THEN ', extra int' ELSE '' END);
    EXECUTE format('CREATE INDEX t%s_name ON t%s (name)', i, i);
    EXECUTE format('CREATE INDEX t%s_email ON t%s (lower(email))', i, i);
    EXECUTE format('CREATE INDEX t%s_active ON t%s (created_at) WHERE %s', i, i, CASE WHEN d AND i % 10 = 0 THEN 'active AND score > 0' ELSE 'active' END);
  END LOOP;
END \$\$;
SQL
  done
  for ((from = 1; from <= tables; from += 200)); do
    to=$((from + 199 < tables ? from + 199 : tables))
    psql -q "$server/$1" -v ON_ERROR_STOP=1 <<SQL
DO \$\$
DECLARE i int;
BEGIN
  FOR i IN $from..$to LOOP
    EXECUTE format('ALTER TABLE t%s ADD CONSTRAINT t%s_a FOREIGN KEY (a_id) REFERENCES t%s (id)', i, i, ((i * 7) % $tables) + 1);
    EXECUTE format('ALTER TABLE t%s ADD CONSTRAINT t%s_b FOREIGN KEY (b_id) REFERENCES t%s (id)', i, i, ((i * 13) % $tables) + 1);
  END LOOP;
END \$\$;
SQL
  done
  psql -q "$server/$1" -c ANALYZE
}

echo "creating $tables tables in each of $cur and $des ..."
psql -q "$server/postgres" -c "CREATE DATABASE $cur" -c "CREATE DATABASE $des" >/dev/null
gen "$cur" 0
gen "$des" 1

cargo build -q --release -p opsroom-schema --example schema_bench
echo "== opsroom-schema (introspect both + diff, 5 rounds)"
./target/release/examples/schema_bench "$server/$cur" "$server/$des" 5

venv=/tmp/migra-venv
if [ ! -x "$venv/bin/migra" ]; then
  python3 -m venv "$venv" && "$venv/bin/pip" install -q migra psycopg2-binary
fi
echo "== migra $("$venv/bin/pip" show migra 2>/dev/null | sed -n 's/^Version: //p') (--unsafe, 3 rounds)"
for round in 1 2 3; do
  start=$(date +%s.%N)
  # migra (SQLAlchemy) wants the psycopg2 driver named in the scheme.
  mserver="postgresql+psycopg2://${server#*://}"
  "$venv/bin/migra" --unsafe "$mserver/$cur" "$mserver/$des" > /tmp/migra_out_$$.sql || [ $? -eq 2 ]
  end=$(date +%s.%N)
  echo "round $round: total $(echo "$end - $start" | bc) s; $(grep -c ';' /tmp/migra_out_$$.sql) statements"
done
rm -f /tmp/migra_out_$$.sql
