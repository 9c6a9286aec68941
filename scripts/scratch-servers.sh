#!/usr/bin/env bash
# Throwaway PostgreSQL and MariaDB servers for the pool's outage tests, which stop and restart a database in the
# middle of a test. The shared servers (5432, 3306) serve other suites at the same time and are never touched.
#
#   bash scripts/scratch-servers.sh start  pg|mysql PORT   start a private server on 127.0.0.1:PORT (idempotent)
#   bash scripts/scratch-servers.sh stop   pg|mysql PORT   stop it, waiting until the port is closed (idempotent)
#   bash scripts/scratch-servers.sh status pg|mysql PORT   print "up" or "down"
#   bash scripts/scratch-servers.sh remove pg|mysql PORT   stop it and delete its data directory
#
# Each kind is initialised once into a template directory (initdb / mariadb-install-db take seconds); every PORT
# gets a copy of the template, so parallel test runs on different ports never share a server. PostgreSQL trusts
# local logins as `postgres`; MariaDB lets `root` in without a password. Both listen on 127.0.0.1 only.
# Environment: DBPERF_SCRATCH_DIR (default /tmp/dbperf-scratch), PG_BIN (default: the newest
# /usr/lib/postgresql/*/bin), MARIADBD (default /usr/sbin/mariadbd).
set -uo pipefail

BASE=${DBPERF_SCRATCH_DIR:-/tmp/dbperf-scratch}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
MARIADBD=${MARIADBD:-/usr/sbin/mariadbd}

die() { echo "scratch-servers: $*" >&2; exit 1; }

kind=${2:-}
port=${3:-}
[[ "$port" =~ ^[0-9]+$ ]] || die "usage: $0 start|stop|status|remove pg|mysql PORT"
mkdir -p "$BASE" && chmod 755 "$BASE"

# shellcheck source=lib/server-user.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/server-user.sh"

# Runs "$@" under an exclusive lock, so two test runs never initialise the same template at once.
locked() { (flock -w 120 9 || die "timed out waiting for $BASE/.lock"; "$@") 9>"$BASE/.lock"; }

# --- PostgreSQL ---------------------------------------------------------------------------------------------
pg_template() {
  [ -f "$BASE/template-pg/PG_VERSION" ] && return 0
  [ -x "$PG_BIN/initdb" ] || die "PostgreSQL binaries not found (set PG_BIN; looked in ${PG_BIN:-/usr/lib/postgresql/*/bin})"
  rm -rf "$BASE/template-pg" && mkdir -p "$BASE/template-pg" && own postgres "$BASE/template-pg"
  as_pg "$PG_BIN/initdb" -D "$BASE/template-pg" -A trust -U postgres --no-sync >"$BASE/template-pg.log" 2>&1 ||
    die "initdb failed, see $BASE/template-pg.log"
}

pg_dir() { echo "$BASE/pg-$port"; }

pg_up() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1 >/dev/null 2>&1; }

pg_start() {
  pg_up && return 0
  port_open "$port" && die "port $port is taken by something that is not a scratch PostgreSQL"
  locked pg_template || exit 1
  local dir; dir=$(pg_dir)
  if [ ! -f "$dir/PG_VERSION" ]; then rm -rf "$dir"; cp -a "$BASE/template-pg" "$dir" || die "could not copy the template to $dir"; fi
  local try
  # Two tries: once, under a loaded CI run, the postmaster exited at start and the log went with the test's cleanup.
  for try in 1 2; do
    rm -f "$dir/postmaster.pid"
    as_pg "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 30 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=16MB -c max_connections=60" \
      start >/dev/null && return 0
    echo "scratch-servers: PostgreSQL on port $port did not start (try $try); its log ends with:" >&2
    tail -n 15 "$dir/server.log" >&2 2>/dev/null
    pg_up && return 0
    sleep 1
  done
  die "PostgreSQL on port $port did not start, see $dir/server.log"
}

pg_stop() {
  local dir; dir=$(pg_dir)
  if [ -f "$dir/postmaster.pid" ]; then
    # fast: running sessions get "terminating connection due to administrator command", as in a real restart.
    as_pg "$PG_BIN/pg_ctl" -D "$dir" -m fast -w -t 30 stop >/dev/null 2>&1 || true
  fi
  pg_up && die "PostgreSQL on port $port is still up"
  return 0
}

# --- MariaDB ------------------------------------------------------------------------------------------------
my_template() {
  [ -d "$BASE/template-mysql/mysql" ] && return 0
  [ -x "$MARIADBD" ] || die "mariadbd not found (set MARIADBD)"
  rm -rf "$BASE/template-mysql" && mkdir -p "$BASE/template-mysql" && own mysql "$BASE/template-mysql"
  mariadb-install-db --no-defaults --datadir="$BASE/template-mysql" "${my_user[@]}" --auth-root-authentication-method=normal \
    --skip-test-db --skip-name-resolve --innodb-log-file-size=8M >"$BASE/template-mysql.log" 2>&1 ||
    die "mariadb-install-db failed, see $BASE/template-mysql.log"
}

my_dir() { echo "$BASE/mysql-$port"; }

my_up() { mysqladmin --no-defaults --connect-timeout=1 -h 127.0.0.1 -P "$port" -uroot ping >/dev/null 2>&1; }

my_start() {
  my_up && return 0
  port_open "$port" && die "port $port is taken by something that is not a scratch MariaDB"
  locked my_template || exit 1
  local dir i; dir=$(my_dir)
  if [ ! -d "$dir/mysql" ]; then rm -rf "$dir"; cp -a "$BASE/template-mysql" "$dir" || die "could not copy the template to $dir"; fi
  # --no-defaults must come first: the system's my.cnf names the shared server's port and socket.
  setsid "$MARIADBD" --no-defaults --datadir="$dir" --port="$port" --bind-address=127.0.0.1 --socket="$dir/mysqld.sock" \
    --pid-file="$dir/mysqld.pid" --log-error="$dir/error.log" "${my_user[@]}" --skip-name-resolve --skip-log-bin \
    --innodb-buffer-pool-size=16M --innodb-log-file-size=8M --innodb-flush-log-at-trx-commit=0 --max-connections=60 \
    </dev/null >/dev/null 2>&1 &
  for ((i = 0; i < 120; i++)); do my_up && return 0; sleep 0.25; done
  die "MariaDB on port $port did not start, see $dir/error.log"
}

my_stop() {
  local dir pid i; dir=$(my_dir)
  pid=$(cat "$dir/mysqld.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for ((i = 0; i < 120; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  fi
  my_up && die "MariaDB on port $port is still up"
  return 0
}

case "$kind" in
  pg | postgres) up=pg_up start=pg_start stop=pg_stop dir=$(pg_dir) ;;
  mysql | mariadb) up=my_up start=my_start stop=my_stop dir=$(my_dir) ;;
  *) die "unknown server kind '$kind'; expected pg or mysql" ;;
esac

case "${1:-}" in
  start) $start ;;
  stop) $stop ;;
  status) if $up; then echo up; else echo down; fi ;;
  remove) $stop && rm -rf "$dir" ;;
  *) die "usage: $0 start|stop|status|remove pg|mysql PORT" ;;
esac
