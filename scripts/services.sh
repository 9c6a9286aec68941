#!/usr/bin/env bash
# The project's own control of the local database servers used by tests, benchmarks and CI.
#   bash scripts/services.sh start            start PostgreSQL, MariaDB and Redis if they are down, wait until ready
#   bash scripts/services.sh prepare          create the databases the tests use, install HypoPG and Chromium (idempotent)
#   bash scripts/services.sh stop pg|mysql    stop one server (the pool tests use it to simulate an outage)
#   bash scripts/services.sh status           say which servers answer
# Fails loudly (exit 1, with the reason) when a server cannot be brought up.
set -uo pipefail

PG_HOST=127.0.0.1 PG_PORT=5432 MY_HOST=127.0.0.1 MY_PORT=3306 REDIS_PORT=6379

pg_up() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2 >/dev/null 2>&1; }
my_up() { mysqladmin --connect-timeout=2 -h "$MY_HOST" -P "$MY_PORT" -uroot status >/dev/null 2>&1; }

wait_for() { # name check seconds
  local name=$1 check=$2 seconds=$3 i
  for ((i = 0; i < seconds * 2; i++)); do
    if $check; then return 0; fi
    sleep 0.5
  done
  echo "services: $name did not come up within ${seconds}s" >&2
  return 1
}

start_pg() {
  if pg_up; then echo "services: PostgreSQL is up on $PG_HOST:$PG_PORT"; return 0; fi
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$version" ]; then echo "services: PostgreSQL is not installed (no /etc/postgresql)" >&2; return 1; fi
  echo "services: starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for PostgreSQL pg_up 60 && echo "services: PostgreSQL is up on $PG_HOST:$PG_PORT"
}

start_my() {
  if my_up; then echo "services: MariaDB is up on $MY_HOST:$MY_PORT"; return 0; fi
  if [ ! -x /usr/sbin/mariadbd ]; then echo "services: MariaDB is not installed (no /usr/sbin/mariadbd)" >&2; return 1; fi
  echo "services: starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql || true
  wait_for MariaDB my_up 60 && echo "services: MariaDB is up on $MY_HOST:$MY_PORT"
}

redis_up() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

# Redis for the query cache's Redis store: nothing on disk, as on every machine of ours.
start_redis() {
  if redis_up; then echo "services: Redis is up on 127.0.0.1:$REDIS_PORT"; return 0; fi
  if ! command -v redis-server >/dev/null; then echo "services: Redis is not installed (no redis-server)" >&2; return 1; fi
  echo "services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  wait_for Redis redis_up 30 && echo "services: Redis is up on 127.0.0.1:$REDIS_PORT"
}

stop_pg() {
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main stop -m fast
}

stop_my() {
  mysqladmin -h "$MY_HOST" -P "$MY_PORT" -uroot shutdown 2>/dev/null || start-stop-daemon --stop --oknodo --exec /usr/sbin/mariadbd
  local i
  for ((i = 0; i < 60; i++)); do my_up || return 0; sleep 0.5; done
}

# HypoPG gives the index advisor hypothetical indexes on PostgreSQL; CI installs and tests that path.
ensure_hypopg() {
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  [ -f "/usr/share/postgresql/$version/extension/hypopg.control" ] && return 0
  echo "services: installing postgresql-$version-hypopg"
  (apt-get -o DPkg::Lock::Timeout=300 update -qq && apt-get -o DPkg::Lock::Timeout=300 install -y -qq "postgresql-$version-hypopg") >/dev/null ||
    { echo "services: could not install postgresql-$version-hypopg" >&2; return 1; }
}

# Debian's Chromium is the browser the plan view's test (test/explain/plan-view.browser.test.ts) drives through
# playwright-core; the package is enough, playwright's own browser download is not used.
ensure_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  echo "services: installing chromium"
  (apt-get -o DPkg::Lock::Timeout=300 update -qq && apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends chromium) >/dev/null ||
    { echo "services: could not install chromium" >&2; return 1; }
}

prepare() {
  ensure_hypopg || return 1
  ensure_chromium || return 1
  psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -tAc "select 1 from pg_database where datname = 'test'" | grep -q 1 ||
    psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -c 'create database test' || return 1
  psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d test -qc 'create extension if not exists hypopg' || return 1
  # pg_stat_statements (a workload source for the advisor) only collects when preloaded: enable it once.
  if ! psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d test -tAc 'show shared_preload_libraries' | grep -q pg_stat_statements; then
    echo "services: enabling pg_stat_statements (PostgreSQL restarts once)"
    psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d test -qc "alter system set shared_preload_libraries = 'pg_stat_statements'" || return 1
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main restart || return 1
    wait_for PostgreSQL pg_up 60 || return 1
  fi
  psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d test -qc 'create extension if not exists pg_stat_statements' || return 1
  mysql -h "$MY_HOST" -P "$MY_PORT" -uroot -e 'create database if not exists test' || return 1
  # LOAD DATA LOCAL INFILE (bulk writes) needs the server to allow it.
  mysql -h "$MY_HOST" -P "$MY_PORT" -uroot -e 'set global local_infile = 1' || return 1
  echo "services: databases ready"
}

case "${1:-start}" in
  start) start_pg && start_my && start_redis ;;
  prepare) prepare ;;
  stop)
    case "${2:-}" in
      pg | postgres) stop_pg ;;
      mysql | mariadb) stop_my ;;
      *) echo "usage: $0 stop pg|mysql" >&2; exit 2 ;;
    esac ;;
  status)
    pg_up && echo "PostgreSQL: up" || echo "PostgreSQL: down"
    my_up && echo "MariaDB: up" || echo "MariaDB: down" ;;
  *) echo "usage: $0 start|prepare|stop pg|mysql|status" >&2; exit 2 ;;
esac
