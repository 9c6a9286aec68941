#!/usr/bin/env bash
# Records the server logs under test/fixtures/server-logs/ from real servers: a private PostgreSQL writing its
# log as stderr text, csvlog and jsonlog (log_min_duration_statement = 0, then auto_explain alone), and a private
# MariaDB writing its slow query log (long_query_time = 0). Both are created from nothing under BASE, run the
# workload in scripts/record-server-logs-workload.mjs (psql / mariadb for the simple protocol, pg / mysql2 for
# bound parameters and named prepared statements), and are stopped and deleted at the end. The shared servers
# (5432, 3306) are never touched.
#
#   bash scripts/record-server-logs.sh [OUT_DIR]    OUT_DIR defaults to test/fixtures/server-logs
#
# Environment: DBPERF_SERVER_LOGS_DIR (default /tmp/dbperf-server-logs), DBPERF_SERVER_LOGS_PG_PORT (default
# 55499), DBPERF_SERVER_LOGS_MYSQL_PORT (default 33999), PG_BIN, MARIADBD (as in scratch-servers.sh).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-$ROOT/test/fixtures/server-logs}
BASE=${DBPERF_SERVER_LOGS_DIR:-/tmp/dbperf-server-logs}
PG_PORT=${DBPERF_SERVER_LOGS_PG_PORT:-55499}
MY_PORT=${DBPERF_SERVER_LOGS_MYSQL_PORT:-33999}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
MARIADBD=${MARIADBD:-/usr/sbin/mariadbd}

die() { echo "record-server-logs: $*" >&2; exit 1; }
say() { echo "record-server-logs: $*" >&2; }

# shellcheck source=lib/server-user.sh
source "$ROOT/scripts/lib/server-user.sh"

port_open "$PG_PORT" && die "port $PG_PORT is taken"
port_open "$MY_PORT" && die "port $MY_PORT is taken"
# Whatever happens, the private servers are stopped on the way out.
cleanup() {
  [ -f "$BASE/pg/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$BASE/pg" -m fast -w -t 30 stop >/dev/null 2>&1
  local pid; pid=$(cat "$BASE/my/mysqld.pid" 2>/dev/null || true)
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
  return 0
}
trap cleanup EXIT

rm -rf "$BASE" && mkdir -p "$BASE/pg-log" "$BASE/my-log" "$OUT" && chmod 755 "$BASE"

# --- PostgreSQL -------------------------------------------------------------------------------------------
own postgres "$BASE/pg-log"
mkdir -p "$BASE/pg" && own postgres "$BASE/pg"
as_pg "$PG_BIN/initdb" -D "$BASE/pg" -A trust -U postgres --no-sync >"$BASE/initdb.log" 2>&1 || die "initdb failed, see $BASE/initdb.log"

# $1: a name for the run; the rest: extra -c settings.
pg_run() {
  local name=$1; shift
  rm -f "$BASE"/pg-log/*
  as_pg "$PG_BIN/pg_ctl" -D "$BASE/pg" -l "$BASE/pg/startup.log" -w -t 30 -o "-p $PG_PORT -k $BASE/pg -c listen_addresses=127.0.0.1 \
    -c fsync=off -c logging_collector=on -c log_directory=$BASE/pg-log -c log_filename=postgresql -c log_rotation_age=0 \
    -c log_destination=stderr,csvlog,jsonlog -c log_line_prefix='%m [%p] %q%u@%d ' $*" start >/dev/null ||
    die "PostgreSQL did not start, see $BASE/pg/startup.log"
  PGPORT=$PG_PORT DIALECT=postgres URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres" node "$ROOT/scripts/record-server-logs-workload.mjs" || die "the PostgreSQL workload failed"
  as_pg "$PG_BIN/pg_ctl" -D "$BASE/pg" -m fast -w -t 30 stop >/dev/null
  # The collector names the files after log_filename: postgresql (stderr), postgresql.csv, postgresql.json.
  cp "$BASE/pg-log/postgresql" "$OUT/postgres-$name.log"
  cp "$BASE/pg-log/postgresql.csv" "$OUT/postgres-$name.csv"
  cp "$BASE/pg-log/postgresql.json" "$OUT/postgres-$name.json"
  chmod 644 "$OUT/postgres-$name".*
  say "PostgreSQL ($name): $(wc -l <"$OUT/postgres-$name.log") stderr lines"
}
pg_run duration "-c log_min_duration_statement=0"
pg_run auto-explain "-c log_min_duration_statement=-1 -c shared_preload_libraries=auto_explain -c auto_explain.log_min_duration=0"
rm -rf "$BASE/pg"

# --- MariaDB ----------------------------------------------------------------------------------------------
mkdir -p "$BASE/my" && own mysql "$BASE/my" && own mysql "$BASE/my-log"
mariadb-install-db --no-defaults --datadir="$BASE/my" "${my_user[@]}" --auth-root-authentication-method=normal \
  --skip-test-db --skip-name-resolve >"$BASE/install-db.log" 2>&1 || die "mariadb-install-db failed, see $BASE/install-db.log"
setsid "$MARIADBD" --no-defaults --datadir="$BASE/my" --port="$MY_PORT" --bind-address=127.0.0.1 --socket="$BASE/my/mysqld.sock" \
  --pid-file="$BASE/my/mysqld.pid" --log-error="$BASE/my/error.log" "${my_user[@]}" --skip-name-resolve --skip-log-bin \
  --innodb-buffer-pool-size=16M --slow-query-log=1 --long-query-time=0 --slow-query-log-file="$BASE/my-log/slow.log" \
  </dev/null >/dev/null 2>&1 &
for ((i = 0; i < 120; i++)); do mysqladmin --no-defaults --connect-timeout=1 -h 127.0.0.1 -P "$MY_PORT" -uroot ping >/dev/null 2>&1 && break; sleep 0.25; done
mysqladmin --no-defaults -h 127.0.0.1 -P "$MY_PORT" -uroot ping >/dev/null 2>&1 || die "MariaDB did not start, see $BASE/my/error.log"
MYPORT=$MY_PORT DIALECT=mysql URL="mysql://root@127.0.0.1:$MY_PORT/mysql" node "$ROOT/scripts/record-server-logs-workload.mjs" || die "the MariaDB workload failed"
kill -TERM "$(cat "$BASE/my/mysqld.pid")"
for ((i = 0; i < 120; i++)); do port_open "$MY_PORT" || break; sleep 0.25; done
cp "$BASE/my-log/slow.log" "$OUT/mariadb-slow.log" && chmod 644 "$OUT/mariadb-slow.log"
say "MariaDB: $(grep -c '^# Query_time' "$OUT/mariadb-slow.log") slow log entries"
rm -rf "$BASE"
