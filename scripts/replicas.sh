#!/usr/bin/env bash
# Two private replication pairs for the read-replica tests: a PostgreSQL primary with a hot standby (streaming
# replication, made with pg_basebackup -R) and a MariaDB primary with a GTID replica. Created from nothing on
# 127.0.0.1 and ports of their own; the shared servers (5432, 3306) are never touched.
#
#   bash scripts/replicas.sh start                    create what is missing, start what is down, resume replay
#                                                     and wait until both replicas have caught up (idempotent);
#                                                     prints the four URLs as KEY=URL lines (progress: stderr)
#   bash scripts/replicas.sh status                   each server up or down, and how far each replica is behind;
#                                                     exits 1 unless all four servers answer
#   bash scripts/replicas.sh stop                     stop all four servers and delete everything (idempotent)
#   bash scripts/replicas.sh pause-replay  pg|mariadb the replica keeps receiving but stops applying (lag on purpose)
#   bash scripts/replicas.sh resume-replay pg|mariadb apply again (returns at once; does not wait to catch up)
#   bash scripts/replicas.sh stop-replica  pg|mariadb shut the replica down (clean shutdown, data kept)
#   bash scripts/replicas.sh start-replica pg|mariadb start it again and wait until it has caught up
#   bash scripts/replicas.sh start-second             a second replica of each primary (PostgreSQL standby on the
#                                                     primary's port + 2, MariaDB replica on its port + 2), for
#                                                     bench/replicas.ts; `start` leaves them out, `stop` removes them
#
# PostgreSQL trusts every login as `postgres` (replication included). MariaDB lets `root` in without a password;
# the replica runs with read_only=1 and both servers have `dbperf_app` (no password, all rights on `test` only,
# no SUPER / READ ONLY ADMIN), the user a test connects as to see the replica refuse a write. Never write on the
# replica as root: read_only lets it through, and with gtid_strict_mode that local transaction stops replication.
# Each primary has a database `test`, created on the primary and replicated.
#
# Environment: DBPERF_REPLICAS_DIR (default /tmp/dbperf-replicas; it holds the data directories, log/ and
# replicas.env, the URLs the tests read), DBPERF_REPLICAS_PG_PORT (default 55432; the standby gets the next
# port), DBPERF_REPLICAS_MYSQL_PORT (default 33906; the replica gets the next port), DBPERF_REPLICAS_TIMEOUT
# (seconds to wait for a server or for replication, default 30), PG_BIN, MARIADBD (as in scratch-servers.sh).
# The default ports sit outside scratch-servers.sh's ranges (55000-55399, 33500-33899).
set -uo pipefail

BASE=${DBPERF_REPLICAS_DIR:-/tmp/dbperf-replicas}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
MARIADBD=${MARIADBD:-/usr/sbin/mariadbd}
PG_PRIMARY_PORT=${DBPERF_REPLICAS_PG_PORT:-55432}
PG_STANDBY_PORT=$((PG_PRIMARY_PORT + 1))
MY_PRIMARY_PORT=${DBPERF_REPLICAS_MYSQL_PORT:-33906}
MY_REPLICA_PORT=$((MY_PRIMARY_PORT + 1))
TIMEOUT=${DBPERF_REPLICAS_TIMEOUT:-30}
SLOT=dbperf_standby
APP_USER=dbperf_app
ENV_FILE=$BASE/replicas.env
LOG=$BASE/log

die() { echo "replicas: $*" >&2; exit 1; }
say() { echo "replicas: $*" >&2; }

[[ "$PG_PRIMARY_PORT" =~ ^[0-9]+$ && "$MY_PRIMARY_PORT" =~ ^[0-9]+$ && "$TIMEOUT" =~ ^[0-9]+$ ]] ||
  die "DBPERF_REPLICAS_PG_PORT, DBPERF_REPLICAS_MYSQL_PORT and DBPERF_REPLICAS_TIMEOUT must be whole numbers"

# shellcheck source=lib/server-user.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/server-user.sh"

# Polls "$@" every 0.2 s for up to TIMEOUT seconds.
wait_until() {
  local i
  for ((i = 0; i < TIMEOUT * 5; i++)); do "$@" && return 0; sleep 0.2; done
  return 1
}

# Runs "$@" under an exclusive lock beside BASE (stop deletes BASE), so two callers never build the same pair.
# The servers are started with fd 9 closed: a server that inherited it would hold the lock for its lifetime.
locked() { (flock -w 120 9 || die "timed out waiting for $BASE.lock"; "$@") 9>"$BASE.lock"; }

base_dirs() {
  mkdir -p "$BASE" "$LOG" && chmod 755 "$BASE" && chmod 1777 "$LOG" || die "cannot create $BASE"
}

# --- PostgreSQL ---------------------------------------------------------------------------------------------
PG_PRIMARY=$BASE/pg-primary
PG_STANDBY=$BASE/pg-standby

# psql PORT SQL: one value per line, no headers; never reads ~/.psqlrc.
pg_q() { PGCONNECT_TIMEOUT=3 "$PG_BIN/psql" -X -qtA -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "$2" 2>&1; }
pg_up() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$1" -t 1 >/dev/null 2>&1; }

pg_run() { # DIR PORT LOGNAME: start the server in DIR on PORT
  local dir=$1 port=$2 name=$3
  pg_up "$port" && return 0
  port_open "$port" && die "port $port is taken by something that is not this script's PostgreSQL"
  rm -f "$dir/postmaster.pid"
  as_pg "$PG_BIN/pg_ctl" -D "$dir" -l "$LOG/$name.log" -w -t "$TIMEOUT" -o "-p $port -k $dir" start >/dev/null 9>&- ||
    die "PostgreSQL $name on port $port did not start, see $LOG/$name.log"
}

pg_halt() { # DIR MODE
  [ -f "$1/postmaster.pid" ] || return 0
  as_pg "$PG_BIN/pg_ctl" -D "$1" -m "$2" -w -t "$TIMEOUT" stop >/dev/null 2>&1
}

pg_primary() {
  [ -x "$PG_BIN/initdb" ] || die "PostgreSQL binaries not found (set PG_BIN; looked in ${PG_BIN:-/usr/lib/postgresql/*/bin})"
  if [ ! -f "$PG_PRIMARY/PG_VERSION" ]; then
    say "initdb PostgreSQL primary in $PG_PRIMARY"
    # A standby of an earlier primary cannot follow a new one (another system identifier): it goes too.
    rm -rf "$PG_STANDBY" "$PG_PRIMARY" && mkdir -p "$PG_PRIMARY" && chmod 700 "$PG_PRIMARY" && own postgres "$PG_PRIMARY"
    as_pg "$PG_BIN/initdb" -D "$PG_PRIMARY" -A trust -U postgres --no-sync >"$LOG/pg-initdb.log" 2>&1 ||
      die "initdb failed, see $LOG/pg-initdb.log"
    # pg_basebackup copies both files, so the standby gets the same settings; its port is given at start.
    cat >>"$PG_PRIMARY/postgresql.conf" <<'EOF'

# scripts/replicas.sh: a throwaway primary for the read-replica tests
listen_addresses = '127.0.0.1'
wal_level = replica
max_wal_senders = 5
max_replication_slots = 5
hot_standby = on
# The standby reports its replay position to the primary every second (pg_stat_replication), not every 10 s.
wal_receiver_status_interval = 1s
fsync = off
shared_buffers = 16MB
max_connections = 60
EOF
    cat >"$PG_PRIMARY/pg_hba.conf" <<'EOF'
local all         all                trust
host  all         all  127.0.0.1/32  trust
local replication all                trust
host  replication all  127.0.0.1/32  trust
EOF
  fi
  pg_run "$PG_PRIMARY" "$PG_PRIMARY_PORT" pg-primary
  [ "$(pg_q "$PG_PRIMARY_PORT" "select count(*) from pg_database where datname = 'test'")" = 1 ] ||
    pg_q "$PG_PRIMARY_PORT" 'create database test' >/dev/null || die "could not create database test on the PostgreSQL primary"
}

# pg_standby [DIR PORT SLOT NAME]: the standby (or, with arguments, another one) from a base backup of the primary.
pg_standby() {
  local dir=${1:-$PG_STANDBY} port=${2:-$PG_STANDBY_PORT} slot=${3:-$SLOT} name=${4:-pg-standby}
  if [ ! -f "$dir/standby.signal" ]; then
    say "pg_basebackup $name into $dir"
    rm -rf "$dir" && mkdir -p "$dir" && chmod 700 "$dir" && own postgres "$dir"
    # A slot keeps the primary's WAL while the standby is stopped (stop-replica), however long that is.
    pg_q "$PG_PRIMARY_PORT" "select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = '$slot'" >/dev/null
    as_pg "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PG_PRIMARY_PORT" -U postgres -D "$dir" -R -X stream -c fast \
      -C -S "$slot" --no-sync >"$LOG/$name-basebackup.log" 2>&1 || die "pg_basebackup failed, see $LOG/$name-basebackup.log"
  fi
  pg_run "$dir" "$port" "$name"
}

pg_streaming() { [ "$(pg_q "$1" 'select status from pg_stat_wal_receiver')" = streaming ]; }

# Caught up: the standby on port $1 has replayed everything the primary had written when we asked.
pg_caught_up() {
  local lsn; lsn=$(pg_q "$PG_PRIMARY_PORT" 'select pg_current_wal_flush_lsn()') || return 1
  [ "$(pg_q "$1" "select pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn")" = t ]
}

# pg_wait [PORT NAME]: streaming, replay running, caught up.
pg_wait() {
  local port=${1:-$PG_STANDBY_PORT} name=${2:-pg-standby}
  wait_until pg_streaming "$port" || die "PostgreSQL standby on port $port is not streaming from the primary after ${TIMEOUT}s (WAL receiver: $(pg_q "$port" "select coalesce((select status from pg_stat_wal_receiver), 'none')")), see $LOG/$name.log"
  [ "$(pg_q "$port" 'select pg_is_wal_replay_paused()')" = t ] && pg_q "$port" 'select pg_wal_replay_resume()' >/dev/null
  wait_until pg_caught_up "$port" || die "PostgreSQL standby on port $port has not caught up with the primary after ${TIMEOUT}s, see $LOG/$name.log"
}

# --- MariaDB ------------------------------------------------------------------------------------------------
MY_PRIMARY=$BASE/mariadb-primary
MY_REPLICA=$BASE/mariadb-replica

my_q() { mariadb --no-defaults --connect-timeout=3 -h 127.0.0.1 -P "$1" -uroot -NBe "$2" 2>&1; }
my_up() { mysqladmin --no-defaults --connect-timeout=1 -h 127.0.0.1 -P "$1" -uroot ping >/dev/null 2>&1; }
# my_field PORT NAME: one field of SHOW SLAVE STATUS (vertical output; -N would drop the names).
my_field() {
  mariadb --no-defaults --connect-timeout=3 -h 127.0.0.1 -P "$1" -uroot -Be 'show slave status\G' 2>/dev/null |
    awk -v f="$2" '{ name = $1; sub(/:$/, "", name) } name == f { sub(/^ *[^:]*: ?/, ""); print }'
}

my_run() { # DIR PORT LOGNAME SERVER-OPTIONS…
  local dir=$1 port=$2 name=$3; shift 3
  my_up "$port" && return 0
  port_open "$port" && die "port $port is taken by something that is not this script's MariaDB"
  # --no-defaults must come first: the system's my.cnf names the shared server's port and socket.
  setsid "$MARIADBD" --no-defaults --datadir="$dir" --port="$port" --bind-address=127.0.0.1 --socket="$dir/mysqld.sock" \
    --pid-file="$dir/mysqld.pid" --log-error="$LOG/$name.log" "${my_user[@]}" --skip-name-resolve \
    --innodb-buffer-pool-size=16M --innodb-log-file-size=8M --innodb-flush-log-at-trx-commit=0 --max-connections=60 \
    --binlog-format=ROW --gtid-strict-mode=1 --log-bin=mariadb-bin --relay-log=relay-bin "$@" \
    </dev/null >/dev/null 2>&1 9>&- &
  wait_until my_up "$port" || die "MariaDB $name on port $port did not start, see $LOG/$name.log"
}

# A server that has exited can stay a zombie for a while under an init that is slow to reap: that is gone too.
alive() { kill -0 "$1" 2>/dev/null && [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

my_halt() { # DIR SIGNAL
  local pid i; pid=$(cat "$1/mysqld.pid" 2>/dev/null || true)
  [ -n "$pid" ] && alive "$pid" || return 0
  kill "-$2" "$pid"
  for ((i = 0; i < TIMEOUT * 10; i++)); do alive "$pid" || return 0; sleep 0.1; done
  return 1
}

my_install() { # DIR
  [ -x "$MARIADBD" ] || die "mariadbd not found (set MARIADBD)"
  rm -rf "$1" && mkdir -p "$1" && own mysql "$1"
  mariadb-install-db --no-defaults --datadir="$1" "${my_user[@]}" --auth-root-authentication-method=normal \
    --skip-test-db --skip-name-resolve --innodb-log-file-size=8M >"$LOG/mariadb-install-db.log" 2>&1 ||
    die "mariadb-install-db failed, see $LOG/mariadb-install-db.log"
}

my_primary() {
  if [ ! -d "$MY_PRIMARY/mysql" ]; then
    say "mariadb-install-db MariaDB primary in $MY_PRIMARY"
    my_install "$MY_PRIMARY"
    # The replica starts from the same empty system tables and gets everything else through replication.
    rm -rf "$MY_REPLICA" && cp -a "$MY_PRIMARY" "$MY_REPLICA" || die "could not copy $MY_PRIMARY to $MY_REPLICA"
  fi
  my_run "$MY_PRIMARY" "$MY_PRIMARY_PORT" mariadb-primary --server-id=1
  # Binlogged on purpose, so the replica gets the same database and users. Only once: a second start must not
  # move the primary's GTID position.
  [ "$(my_q "$MY_PRIMARY_PORT" "select (select count(*) from mysql.user where user in ('repl', '$APP_USER'))
    + (select count(*) from information_schema.schemata where schema_name = 'test')")" = 3 ] && return 0
  my_q "$MY_PRIMARY_PORT" "create database if not exists test;
    create user if not exists repl@'127.0.0.1'; grant replication slave on *.* to repl@'127.0.0.1';
    create user if not exists $APP_USER@'%'; grant all on test.* to $APP_USER@'%'" >/dev/null ||
    die "could not create the database and users on the MariaDB primary: $(my_q "$MY_PRIMARY_PORT" 'select 1')"
}

# my_replica [DIR PORT SERVER-ID NAME]: the replica (or, with arguments, another one), replicating by GTID.
my_replica() {
  local dir=${1:-$MY_REPLICA} port=${2:-$MY_REPLICA_PORT} id=${3:-2} name=${4:-mariadb-replica}
  [ -d "$dir/mysql" ] || { say "mariadb-install-db $name in $dir"; my_install "$dir"; }
  # read_only stops every user but the replication thread and SUPER / READ ONLY ADMIN (root) from writing.
  my_run "$dir" "$port" "$name" --server-id="$id" --log-slave-updates --read-only=1
  if [ -z "$(my_q "$port" 'show slave status')" ]; then
    say "CHANGE MASTER TO 127.0.0.1:$MY_PRIMARY_PORT on $name"
    my_q "$port" "set global gtid_slave_pos = '';
      change master to master_host = '127.0.0.1', master_port = $MY_PRIMARY_PORT, master_user = 'repl',
        master_use_gtid = slave_pos, master_connect_retry = 1" >/dev/null || die "CHANGE MASTER failed on $name"
  fi
  # START SLAVE starts whichever thread is stopped (and is a no-op, with a note, when both run).
  my_q "$port" 'start slave' >/dev/null || die "START SLAVE failed on $name"
}

my_running() { [ "$(my_field "$1" Slave_IO_Running)" = Yes ] && [ "$(my_field "$1" Slave_SQL_Running)" = Yes ]; }

# my_wait [PORT NAME]: replicating, and at the primary's GTID position.
my_wait() {
  local port=${1:-$MY_REPLICA_PORT} name=${2:-mariadb-replica}
  wait_until my_running "$port" ||
    die "MariaDB replica on port $port is not replicating after ${TIMEOUT}s (IO: $(my_field "$port" Slave_IO_Running), SQL: $(my_field "$port" Slave_SQL_Running), $(my_field "$port" Last_IO_Error)$(my_field "$port" Last_SQL_Error)), see $LOG/$name.log"
  local pos; pos=$(my_q "$MY_PRIMARY_PORT" 'select @@gtid_binlog_pos')
  [ "$(my_q "$port" "select master_gtid_wait('$pos', $TIMEOUT)")" = 0 ] ||
    die "MariaDB replica on port $port has not reached the primary's GTID $pos after ${TIMEOUT}s, see $LOG/$name.log"
}

# --- commands -----------------------------------------------------------------------------------------------
urls() {
  cat <<EOF
DBPERF_REPLICA_PG_PRIMARY_URL=postgres://postgres@127.0.0.1:$PG_PRIMARY_PORT/test
DBPERF_REPLICA_PG_STANDBY_URL=postgres://postgres@127.0.0.1:$PG_STANDBY_PORT/test
DBPERF_REPLICA_MYSQL_PRIMARY_URL=mysql://root@127.0.0.1:$MY_PRIMARY_PORT/test
DBPERF_REPLICA_MYSQL_REPLICA_URL=mysql://root@127.0.0.1:$MY_REPLICA_PORT/test
DBPERF_REPLICA_MYSQL_APP_USER=$APP_USER
EOF
}

# --- a second replica of each primary (bench/replicas.ts only; not started by `start`) --------------------------
PG_STANDBY2=$BASE/pg-standby2
PG_STANDBY2_PORT=$((PG_PRIMARY_PORT + 2))
MY_REPLICA2=$BASE/mariadb-replica2
MY_REPLICA2_PORT=$((MY_PRIMARY_PORT + 2))

start_second() {
  [ -f "$ENV_FILE" ] || die "the pairs are not running: run 'bash scripts/replicas.sh start' first"
  need_up "PostgreSQL primary" "$PG_PRIMARY_PORT" pg_up
  need_up "MariaDB primary" "$MY_PRIMARY_PORT" my_up
  pg_standby "$PG_STANDBY2" "$PG_STANDBY2_PORT" "${SLOT}2" pg-standby2 && pg_wait "$PG_STANDBY2_PORT" pg-standby2 || exit 1
  my_replica "$MY_REPLICA2" "$MY_REPLICA2_PORT" 3 mariadb-replica2 && my_wait "$MY_REPLICA2_PORT" mariadb-replica2 || exit 1
  {
    grep -v '2_URL=' "$ENV_FILE"
    echo "DBPERF_REPLICA_PG_STANDBY2_URL=postgres://postgres@127.0.0.1:$PG_STANDBY2_PORT/test"
    echo "DBPERF_REPLICA_MYSQL_REPLICA2_URL=mysql://root@127.0.0.1:$MY_REPLICA2_PORT/test"
  } >"$ENV_FILE.tmp" && mv "$ENV_FILE.tmp" "$ENV_FILE"
}

start_all() {
  base_dirs
  # The two pairs are independent: building them side by side halves the time from nothing (initdb and
  # mariadb-install-db take seconds each).
  (pg_primary && pg_standby && pg_wait) &
  local pg=$!
  (my_primary && my_replica && my_wait) &
  local my=$! failed=0
  wait "$pg" || failed=1
  wait "$my" || failed=1
  [ "$failed" = 0 ] || exit 1
  # Written once all four replicate, and never removed before stop: a test file that starts while another file
  # runs `start` must still find it.
  urls >"$ENV_FILE.tmp" && mv "$ENV_FILE.tmp" "$ENV_FILE"
}

stop_all() {
  # Everything is deleted, so there is nothing to shut down cleanly: immediate for PostgreSQL, SIGKILL for
  # MariaDB (a clean shutdown takes it 1.7 s).
  pg_halt "$PG_STANDBY" immediate & pg_halt "$PG_STANDBY2" immediate & pg_halt "$PG_PRIMARY" immediate &
  my_halt "$MY_REPLICA" KILL & my_halt "$MY_REPLICA2" KILL & my_halt "$MY_PRIMARY" KILL & wait
  local p
  for p in "$PG_STANDBY_PORT" "$PG_STANDBY2_PORT" "$PG_PRIMARY_PORT"; do pg_up "$p" && die "PostgreSQL on port $p is still up"; done
  for p in "$MY_REPLICA_PORT" "$MY_REPLICA2_PORT" "$MY_PRIMARY_PORT"; do my_up "$p" && die "MariaDB on port $p is still up"; done
  rm -rf "$BASE"
}

# Proportional set size of the processes of one server, in MB (shared memory counted once across them).
pss_mb() {
  local total=0 pid kb
  for pid in "$@"; do
    kb=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null)
    total=$((total + ${kb:-0}))
  done
  echo "$((total / 1024)) MB"
}
pg_mem() { local pid; pid=$(head -n 1 "$1/postmaster.pid" 2>/dev/null) && pss_mb "$pid" $(pgrep -P "$pid"); }
my_mem() { local pid; pid=$(cat "$1/mysqld.pid" 2>/dev/null) && pss_mb "$pid"; }

status_all() {
  local ok=0 lsn
  if pg_up "$PG_PRIMARY_PORT"; then
    lsn=$(pg_q "$PG_PRIMARY_PORT" 'select pg_current_wal_insert_lsn()')
    echo "PostgreSQL primary  127.0.0.1:$PG_PRIMARY_PORT  up  memory $(pg_mem "$PG_PRIMARY")  insert_lsn $lsn"
  else echo "PostgreSQL primary  127.0.0.1:$PG_PRIMARY_PORT  down"; ok=1; lsn=; fi
  if pg_up "$PG_STANDBY_PORT"; then
    local behind=''
    [ -n "$lsn" ] && behind=", $(pg_q "$PG_STANDBY_PORT" "select pg_wal_lsn_diff('$lsn', pg_last_wal_replay_lsn())") bytes behind the primary"
    echo "PostgreSQL standby  127.0.0.1:$PG_STANDBY_PORT  up  memory $(pg_mem "$PG_STANDBY")  $(pg_q "$PG_STANDBY_PORT" "select concat_ws('  ',
      coalesce((select status from pg_stat_wal_receiver), 'not streaming'),
      'receive_lsn ' || pg_last_wal_receive_lsn(), 'replay_lsn ' || pg_last_wal_replay_lsn(),
      'replay ' || pg_get_wal_replay_pause_state(),
      'last replayed commit ' || round(extract(epoch from now() - pg_last_xact_replay_timestamp())::numeric, 1) || ' s ago')")$behind"
  else echo "PostgreSQL standby  127.0.0.1:$PG_STANDBY_PORT  down"; ok=1; fi
  local gtid=
  if my_up "$MY_PRIMARY_PORT"; then
    gtid=$(my_q "$MY_PRIMARY_PORT" 'select @@gtid_binlog_pos')
    echo "MariaDB primary     127.0.0.1:$MY_PRIMARY_PORT  up  memory $(my_mem "$MY_PRIMARY")  gtid_binlog_pos ${gtid:-(empty)}"
  else echo "MariaDB primary     127.0.0.1:$MY_PRIMARY_PORT  down"; ok=1; fi
  if my_up "$MY_REPLICA_PORT"; then
    local f=$MY_REPLICA_PORT
    echo "MariaDB replica     127.0.0.1:$f  up  memory $(my_mem "$MY_REPLICA")  IO $(my_field "$f" Slave_IO_Running)  SQL $(my_field "$f" Slave_SQL_Running)  Seconds_Behind_Master $(my_field "$f" Seconds_Behind_Master)  gtid_slave_pos $(my_q "$f" 'select @@gtid_slave_pos')  Gtid_IO_Pos $(my_field "$f" Gtid_IO_Pos)$( [ -n "$gtid" ] && [ "$(my_q "$f" "select master_gtid_wait('$gtid', 0)")" = 0 ] && echo '  caught up')"
    local err; err="$(my_field "$f" Last_IO_Error)$(my_field "$f" Last_SQL_Error)"
    [ -n "$err" ] && echo "  last error: $err"
  else echo "MariaDB replica     127.0.0.1:$MY_REPLICA_PORT  down"; ok=1; fi
  return $ok
}

kind_of() {
  case "${1:-}" in
    pg | postgres) echo pg ;;
    mysql | mariadb) echo mariadb ;;
    *) die "expected pg or mariadb after '$2', got '${1:-}'" ;;
  esac
}

need_up() { # what port check
  $3 "$2" || die "the $1 on port $2 is down: run 'bash scripts/replicas.sh start' first"
}

pause_replay() {
  case $1 in
    pg)
      need_up "PostgreSQL standby" "$PG_STANDBY_PORT" pg_up
      pg_q "$PG_STANDBY_PORT" 'select pg_wal_replay_pause()' >/dev/null || die "pg_wal_replay_pause() failed"
      # pg_wal_replay_pause() only requests the pause; it takes effect at the next record.
      wait_until test "$(pg_q "$PG_STANDBY_PORT" 'select pg_get_wal_replay_pause_state()')" != 'pause requested' ||
        die "PostgreSQL standby did not pause replay within ${TIMEOUT}s" ;;
    mariadb)
      need_up "MariaDB replica" "$MY_REPLICA_PORT" my_up
      my_q "$MY_REPLICA_PORT" 'stop slave sql_thread' >/dev/null || die "STOP SLAVE SQL_THREAD failed" ;;
  esac
}

resume_replay() {
  case $1 in
    pg)
      need_up "PostgreSQL standby" "$PG_STANDBY_PORT" pg_up
      pg_q "$PG_STANDBY_PORT" 'select pg_wal_replay_resume()' >/dev/null || die "pg_wal_replay_resume() failed" ;;
    mariadb)
      need_up "MariaDB replica" "$MY_REPLICA_PORT" my_up
      my_q "$MY_REPLICA_PORT" 'start slave sql_thread' >/dev/null || die "START SLAVE SQL_THREAD failed" ;;
  esac
}

stop_replica() {
  case $1 in
    pg) pg_halt "$PG_STANDBY" fast; ! pg_up "$PG_STANDBY_PORT" || die "PostgreSQL standby on port $PG_STANDBY_PORT is still up" ;;
    mariadb) my_halt "$MY_REPLICA" TERM; ! my_up "$MY_REPLICA_PORT" || die "MariaDB replica on port $MY_REPLICA_PORT is still up" ;;
  esac
}

start_replica() {
  case $1 in
    pg) need_up "PostgreSQL primary" "$PG_PRIMARY_PORT" pg_up; pg_standby && pg_wait ;;
    mariadb) need_up "MariaDB primary" "$MY_PRIMARY_PORT" my_up; my_replica && my_wait ;;
  esac
}

usage="usage: $0 start|status|stop|start-second | pause-replay|resume-replay|stop-replica|start-replica pg|mariadb"
case "${1:-}" in
  start) locked start_all || exit 1; cat "$ENV_FILE" ;;
  start-second) locked start_second || exit 1; cat "$ENV_FILE" ;;
  status) status_all ;;
  stop) locked stop_all ;;
  pause-replay) k=$(kind_of "${2:-}" "$1") || exit 1; pause_replay "$k" ;;
  resume-replay) k=$(kind_of "${2:-}" "$1") || exit 1; resume_replay "$k" ;;
  stop-replica) k=$(kind_of "${2:-}" "$1") || exit 1; locked stop_replica "$k" ;;
  start-replica) k=$(kind_of "${2:-}" "$1") || exit 1; locked start_replica "$k" ;;
  *) die "$usage" ;;
esac
