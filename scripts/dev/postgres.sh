# shellcheck shell=bash
# The project-local PostgreSQL on PG_PORT (data, socket and log under .dev/postgres/), and the
# databases the commands keep on it: coupon (serve), coupon_test and coupon_test_cluster
# (tests), coupon_e2e (browser tests), coupon_bench, coupon_chaos, coupon_demo_check.

pg_bin() {
  local found
  found=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)
  [[ -n $found ]] && echo "$found"
}

# The DATABASE_URL a command's processes get: the caller's, or the local database's.
pg_url_for() { # database
  echo "${CALLER_DATABASE_URL:-postgres://postgres@127.0.0.1:$PG_PORT/$1}"
}

# psql on the project-local server, as its superuser, quiet and stopping at the first error.
local_psql() { # psql arguments...
  "$(pg_bin)/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"
}

# Runs a PostgreSQL server command; PostgreSQL refuses to run as root, so root runs it as the
# postgres user.
as_pg() {
  if is_root; then
    su postgres -s /bin/bash -c "$(printf '%q ' "$@")"
  else
    "$@"
  fi
}

# PostgreSQL's home for this project: data/, socket/ and postgres.log.
pg_home() {
  local home="$STATE/postgres"
  # The postgres user must be able to reach the project directory; if it cannot (a checkout
  # under a private home), keep the cluster in a per-project directory it can reach.
  if is_root && ! su postgres -s /bin/sh -c "test -x '$STATE'" 2>/dev/null; then
    home="/var/tmp/coupon-dev-$(printf '%s' "$ROOT" | md5sum | cut -c1-12)"
  fi
  echo "$home"
}

# This checkout's server is running (its lock file names a live process). On another port than
# PG_PORT it is of no use, and a second one cannot start on the same data: say so.
pg_is_ours() { # data-dir
  local lock="$1/postmaster.pid" pid port
  [[ -s $lock ]] || return 1
  pid=$(sed -n 1p "$lock")
  port=$(sed -n 4p "$lock")
  kill -0 "$pid" 2>/dev/null || return 1
  [[ $port == "$PG_PORT" ]] ||
    die "this checkout's PostgreSQL already runs on port $port, not $PG_PORT (DEV_PG_PORT): ./dev stop first"
}

pg_ready() { "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }

# Starts the server if needed and creates `database` if missing. A database created now gets
# fresh Redis state to match: the local Redis's `redis-index` and the local cluster at
# `cluster-port` (either may be empty: none).
ensure_postgres() { # database [redis-index] [cluster-port]
  local database=$1 redis_index=${2:-} cluster_port=${3:-}
  if [[ -n $CALLER_DATABASE_URL ]]; then
    step "PostgreSQL: using DATABASE_URL"
    return
  fi
  step "PostgreSQL (project-local, port $PG_PORT)"
  local bin
  bin=$(pg_bin) || true
  if [[ -z $bin ]]; then
    apt_install postgresql
    bin=$(pg_bin) || die "PostgreSQL was installed but its binaries were not found"
  fi
  mkdir -p "$STATE"
  chmod 755 "$STATE"
  local home
  home=$(pg_home)
  mkdir -p "$home/data" "$home/socket"
  if is_root; then chown -R postgres: "$home"; fi
  chmod 700 "$home/data"
  if [[ ! -f $home/data/PG_VERSION ]]; then
    step "initialising a database cluster in $home/data"
    as_pg "$bin/initdb" -D "$home/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if already_ours "$PG_PORT" "the project-local PostgreSQL" "stop it, or set DEV_PG_PORT" \
    pg_is_ours "$home/data"; then
    wait_for "PostgreSQL" 30 pg_ready
    skip "already running"
  else
    # Sized for a write-heavy load rather than PostgreSQL's defaults for tiny machines: the
    # indexes of a few million coupons fit in shared buffers, and a backlog drain does not
    # force a checkpoint every gigabyte of WAL (each one makes every index page touched next
    # go to the WAL whole again).
    as_pg "$bin/pg_ctl" -D "$home/data" -l "$home/postgres.log" -w -t 30 \
      -o "-p $PG_PORT -k $home/socket -c listen_addresses=127.0.0.1 -c max_connections=200 \
          -c shared_buffers=512MB -c max_wal_size=4GB -c checkpoint_timeout=15min" start >/dev/null
    skip "started (log: $home/postgres.log)"
  fi
  if [[ -z $(local_psql -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$database'") ]]; then
    local_psql -d postgres -c "CREATE DATABASE $database" >/dev/null
    skip "created database $database"
    # Redis state is keyed by campaign id and belongs to one database: a new database reuses
    # ids, so state left over from an earlier one would answer for the wrong campaigns.
    if [[ -n $redis_index && -z $CALLER_REDIS_URL ]]; then
      redis-cli -p "$REDIS_PORT" -n "$redis_index" flushdb >/dev/null
      skip "emptied Redis database $redis_index to match the new database"
    fi
    if [[ -n $cluster_port && -z $CALLER_CLUSTER_NODES ]]; then
      flush_cluster "$cluster_port"
      skip "emptied the Redis Cluster to match the new database"
    fi
  fi
  # Migrations are embedded in the engine and applied by the server at start-up and by the
  # test harness, so the schema always matches the code that runs against it.
}

stop_postgres() {
  local bin data
  bin=$(pg_bin) || true
  data="$(pg_home)/data"
  if [[ -n $bin && -f $data/postmaster.pid ]]; then
    as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    skip "PostgreSQL stopped"
  else
    skip "PostgreSQL was not running"
  fi
}

# Empties (drops and recreates) a local database and Redis index for a run that must start from
# nothing: the browser tests (their server creates the first admin; pages show only their own
# campaigns), the demo data check and the benchmark. Only ever on the project-local servers.
fresh_local_stores() { # database redis-index
  local_psql -d postgres -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null
  redis-cli -p "$REDIS_PORT" -n "$2" flushdb >/dev/null
}

# A fault test drops its own database when it passes; one that failed leaves it for a look. The
# next run clears them (on the project-local server only, before any test starts).
drop_leftover_fault_databases() {
  [[ -z $CALLER_DATABASE_URL ]] || return 0
  local leftovers name
  leftovers=$(local_psql -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE 'fault\_%'")
  [[ -n $leftovers ]] || return 0
  step "dropping databases left by earlier failed fault tests"
  for name in $leftovers; do
    local_psql -d postgres -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null
    skip "dropped $name"
  done
}
