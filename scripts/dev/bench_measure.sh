# shellcheck shell=bash
# What both benchmark harnesses (bench.sh, bench_cluster.sh) measure with: wrk between two CPU
# snapshots, the release server and a Redis replica started and stopped around a line, and the
# stores settled before each line.

bench_value() { # file key
  sed -n "s/^$2=//p" "$1" | tail -n 1
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# "<part> <pid> <cpu ticks so far>" for the server (pid $1), each Redis (ports $2) and every
# PostgreSQL process, then the ticks the whole machine has been busy: two of these around a line
# say where its CPU went.
cpu_snapshot() { # server-pid redis-ports
  local postmaster part pid stat fields port
  postmaster=$(head -n 1 "$(pg_home)/data/postmaster.pid")
  {
    echo "server $1"
    for port in $2; do
      echo "redis $(redis-cli -p "$port" info server | tr -d '\r' | sed -n 's/^process_id://p')"
    done
    echo "postgres $postmaster"
    pgrep -P "$postmaster" | sed 's/^/postgres /'
  } | while read -r part pid; do
    # A PostgreSQL worker may have exited since it was listed: skip it.
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    # utime and stime: fields 14 and 15, the 12th and 13th after "pid (command) ".
    read -r -a fields <<<"${stat##*) }"
    echo "$part $pid $((fields[11] + fields[12]))"
  done
  awk '/^cpu / { print "machine 0", $2 + $3 + $4 + $7 + $8 }' /proc/stat
}

# CPU per claim between two snapshots, in microseconds: server, Redis, PostgreSQL (the sync's
# writes), everything else (the load generator, the kernel's share nobody is billed for); and
# how many cores were busy. A process that exited in between is not counted.
cpu_per_claim() { # before-file after-file claims seconds
  awk -v claims="$3" -v seconds="$4" -v hz="$(getconf CLK_TCK)" -v cores="$(nproc)" '
    NR == FNR { before[$1 " " $2] = $3; next }
    { used[$1] += $3 - before[$1 " " $2] }
    END {
      if (claims <= 0 || seconds <= 0) { print "n/a"; exit }
      us = 1e6 / hz / claims
      rest = used["machine"] - used["server"] - used["redis"] - used["postgres"]
      printf "%.1f, %.1f, %.1f, %.1f us; %.2f of %d cores busy", used["server"] * us,
        used["redis"] * us, used["postgres"] * us, rest * us, used["machine"] / hz / seconds, cores
    }' "$1" "$2"
}

# Runs wrk (arguments as given) between two CPU snapshots; `out` gets wrk's key=value lines and
# `cpu=` with the CPU per claim (the snapshots are kept beside it).
measured_wrk() { # out server-pid redis-ports wrk-arguments...
  local out=$1 server_pid=$2 redis_ports=$3 started ended
  shift 3
  cpu_snapshot "$server_pid" "$redis_ports" >"$out.cpu-before"
  started=$(date +%s.%N)
  wrk "$@" >"$out"
  ended=$(date +%s.%N)
  cpu_snapshot "$server_pid" "$redis_ports" >"$out.cpu-after"
  echo "cpu=$(cpu_per_claim "$out.cpu-before" "$out.cpu-after" "$(bench_value "$out" requests)" \
    "$(awk -v a="$started" -v b="$ended" 'BEGIN { print b - a }')")" >>"$out"
}

# Background work of the stores, left to chance, lands inside a 15-second line now and then and
# costs it up to a third of its throughput on two cores: Redis's snapshot (`save 60 10000`) and
# AOF rewrite each fork a child that takes a core for seconds, and PostgreSQL's autovacuum wakes
# up after the hundreds of thousands of rows the previous line's sync inserted. So each measured
# line starts right after all of that has run.
settle_stores() { # database [cluster-ports]
  redis-cli -p "$REDIS_PORT" bgsave >/dev/null 2>&1 || true
  wait_for "the Redis snapshot" 120 redis_snapshot_done
  redis-cli -p "$REDIS_PORT" bgrewriteaof >/dev/null 2>&1 || true
  wait_for "the Redis AOF rewrite" 120 redis_rewrite_done "$REDIS_PORT"
  local port
  for port in ${2:-}; do
    redis-cli -p "$port" bgrewriteaof >/dev/null 2>&1 || true
    wait_for "the AOF rewrite of cluster node $port" 120 redis_rewrite_done "$port"
  done
  "$(pg_bin)/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$1" -qtA \
    -c "VACUUM (ANALYZE) issued_coupons" -c "CHECKPOINT" >/dev/null
}

redis_snapshot_done() {
  redis-cli -p "$REDIS_PORT" info persistence | grep -q '^rdb_bgsave_in_progress:0'
}

redis_rewrite_done() { # port
  local info
  info=$(redis-cli -p "$1" info persistence)
  grep -q '^aof_rewrite_in_progress:0' <<<"$info" && grep -q '^aof_rewrite_scheduled:0' <<<"$info"
}

# "<bytes> bytes" as the server sends /pkg/coupon.wasm to a browser accepting only `$2`, or a
# note that it came uncompressed.
served_wasm() { # base-url encoding
  local headers bytes
  headers=$(mktemp)
  bytes=$(curl -sf -H "Accept-Encoding: $2" -D "$headers" "$1/pkg/coupon.wasm" | wc -c)
  if grep -qi "^content-encoding: *$2" "$headers"; then
    echo "$bytes bytes"
  else
    echo "$bytes bytes (sent uncompressed: no precompressed copy)"
  fi
  rm -f "$headers"
}

bench_server_up() { curl -sf "http://127.0.0.1:$BENCH_SERVER_PORT/healthz" >/dev/null 2>&1; }

# The release server of the benchmark, while one runs (set by bench_server_start only, cleared
# by bench_server_stop).
BENCH_SERVER_PID=

# Starts the release server for the benchmark in the background, with the environment given
# on top of the benchmark's own; BENCH_SERVER_PID is its process id.
bench_server_start() { # log-file [NAME=value...]
  local log=$1
  shift
  need_free_port "$BENCH_SERVER_PORT" "the benchmark's server" "stop it, or set BENCH_PORT"
  env LEPTOS_SITE_ADDR="127.0.0.1:$BENCH_SERVER_PORT" LEPTOS_SITE_ROOT=target/site RUST_LOG=warn \
    RATE_CLAIMS_PER_USER_PER_MINUTE=1000000 RATE_CLAIMS_PER_ADDRESS_PER_SECOND=100000000 \
    "$@" "${BENCH_BUILD_DIR:-target/release}/server" >"$log" 2>&1 &
  BENCH_SERVER_PID=$!
  trap 'kill "$BENCH_SERVER_PID" 2>/dev/null || true' EXIT
  wait_for "the server" 60 bench_server_up
}

bench_server_stop() {
  kill -TERM "$BENCH_SERVER_PID"
  wait "$BENCH_SERVER_PID" || true
  BENCH_SERVER_PID=
  trap - EXIT
}

# A replica of the project-local Redis on BENCH_REPLICA_PORT, for the replicated
# acknowledgments' lines; returns once it has caught up with the primary.
bench_replica_start() { # dir
  mkdir -p "$1"
  if ! already_ours "$BENCH_REPLICA_PORT" "the benchmark's Redis replica" \
    "stop it, or set DEV_BENCH_REPLICA_PORT" redis_is_ours "$BENCH_REPLICA_PORT" "$1/redis.pid"; then
    redis-server --port "$BENCH_REPLICA_PORT" --bind 127.0.0.1 --dir "$1" \
      --replicaof 127.0.0.1 "$REDIS_PORT" --appendonly yes --appendfsync everysec --save "" \
      --daemonize yes --pidfile "$1/redis.pid" --logfile "$1/redis.log"
  fi
  wait_for "the replica" 120 bench_replica_synced
}

bench_replica_synced() {
  redis-cli -p "$BENCH_REPLICA_PORT" info replication 2>/dev/null | tr -d '\r' |
    grep -q '^master_link_status:up'
}

bench_replica_stop() {
  redis-cli -p "$BENCH_REPLICA_PORT" shutdown nosave >/dev/null 2>&1 || true
}

# Where the benchmark's binaries are: the release build, or for a smoke run the debug one.
bench_build_dir() { # smoke
  if (($1)); then echo target/debug; else echo target/release; fi
}
