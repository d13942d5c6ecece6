# shellcheck shell=bash
# The project-local Redis: one server on REDIS_PORT with its append-only file on, in .dev/redis/.
# Each command keeps its data in a database index of its own: serve and chaos 0, the tests 1,
# the browser tests 2, the benchmark 3, the demo data check 4.

# The Redis URL a command's processes get: the caller's REDIS_URL, or the local one at `index`.
redis_url_for() { # database-index
  echo "${CALLER_REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/$1}"
}

ensure_redis() {
  if [[ -n $CALLER_REDIS_URL ]]; then
    step "Redis: using REDIS_URL"
    return
  fi
  step "Redis (project-local, port $REDIS_PORT)"
  have redis-server || apt_install redis-server
  # Debian's package starts a system-wide Redis on 6379; ours is separate and needs none.
  local dir="$STATE/redis"
  mkdir -p "$dir"
  if already_ours "$REDIS_PORT" "the project-local Redis" "stop it, or set DEV_REDIS_PORT" \
    redis_is_ours "$REDIS_PORT" "$dir/redis.pid"; then
    # Ours answers INFO while it still loads its files; PING says when it is done.
    wait_for "Redis" 20 redis_ready
    skip "already running"
  else
    # Append-only file on: a restart keeps every acknowledged claim that reached Redis.
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$dir" \
      --appendonly yes --appendfsync everysec --maxmemory-policy noeviction \
      --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
    wait_for "Redis" 20 redis_ready
    skip "started (log: $dir/redis.log)"
  fi
}

redis_ready() { redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

# The Redis answering on the port is the one whose pid file this script keeps: it reports the
# process id written there.
redis_is_ours() { # port pid-file
  [[ -s $2 ]] || return 1
  local pid
  pid=$(redis-cli -p "$1" info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p')
  [[ -n $pid && $pid == "$(<"$2")" ]]
}

stop_redis() {
  if redis_is_ours "$REDIS_PORT" "$STATE/redis/redis.pid"; then
    redis-cli -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true
    skip "Redis stopped"
  elif redis_ready; then
    skip "the Redis on port $REDIS_PORT is not the one this checkout started: left running"
  else
    skip "Redis was not running"
  fi
}
