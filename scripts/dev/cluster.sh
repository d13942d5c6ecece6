# shellcheck shell=bash
# Local Redis Clusters: six nodes on ports first..first+5 (three primaries, each with one
# replica), every node with its append-only file on, in .dev/cluster-<first port>/. Which first
# port is a caller's choice: CLUSTER_PORT, TEST_CLUSTER_PORT or BENCH_CLUSTER_PORT.

cluster_ports() { seq "$1" $(($1 + CLUSTER_NODES - 1)); }

# REDIS_CLUSTER_NODES for a command's processes: the caller's, or the local cluster's nodes.
cluster_nodes_for() { # first-port
  if [[ -n $CALLER_CLUSTER_NODES ]]; then
    echo "$CALLER_CLUSTER_NODES"
  else
    cluster_ports "$1" | sed 's/^/127.0.0.1:/' | paste -sd, -
  fi
}

ensure_cluster() { # first-port setting-that-moves-it
  local first=$1 setting=$2 port dir="$STATE/cluster-$1" nodes=() to_start=()
  if [[ -n $CALLER_CLUSTER_NODES ]]; then
    step "Redis Cluster: using REDIS_CLUSTER_NODES"
    return
  fi
  step "Redis Cluster (project-local, ports $first-$((first + CLUSTER_NODES - 1)): 3 primaries, 3 replicas)"
  have redis-server || apt_install redis-server
  # Every port is checked before any node starts: a taken one stops the run with half a cluster.
  for port in $(cluster_ports "$first"); do
    nodes+=("127.0.0.1:$port")
    mkdir -p "$dir/$port"
    already_ours "$port" "node $port of the Redis Cluster on $first-$((first + CLUSTER_NODES - 1))" \
      "stop it, or set $setting" redis_is_ours "$port" "$dir/$port/redis.pid" || to_start+=("$port")
  done
  for port in "${to_start[@]}"; do
    # A short node timeout: a primary that stops answering is failed over within seconds.
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir/$port" \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
      --appendonly yes --appendfsync everysec --maxmemory-policy noeviction --save "" \
      --daemonize yes --pidfile "$dir/$port/redis.pid" --logfile "$dir/$port/redis.log"
  done
  for port in $(cluster_ports "$first"); do
    wait_for "Redis Cluster node $port" 20 redis-cli -p "$port" ping >/dev/null
  done
  if ! cluster_state_ok "$first"; then
    if redis-cli -p "$first" cluster info | tr -d '\r' | grep -q '^cluster_known_nodes:1$'; then
      step "creating the cluster"
      redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log"
    fi
    wait_for "the Redis Cluster to be ready" 60 cluster_ready "$first"
    skip "cluster ready (logs: $dir/<port>/redis.log)"
  else
    skip "already running"
  fi
}

cluster_state_ok() { redis-cli -p "$1" cluster info 2>/dev/null | tr -d '\r' | grep -q '^cluster_state:ok$'; }

# Every node says the cluster is ok and three of them are primaries with replicas attached.
cluster_ready() {
  local port
  for port in $(cluster_ports "$1"); do
    cluster_state_ok "$port" || return 1
  done
  [[ $(redis-cli -p "$1" cluster nodes | grep -c ' slave ') -eq 3 ]]
}

# Empties every primary of the cluster (the replicas follow).
flush_cluster() { # first-port
  redis-cli --cluster call "127.0.0.1:$1" flushall >/dev/null
}

stop_cluster() { # first-port
  local port stopped=0
  for port in $(cluster_ports "$1"); do
    if redis_is_ours "$port" "$STATE/cluster-$1/$port/redis.pid"; then
      redis-cli -p "$port" shutdown >/dev/null 2>&1 || true
      stopped=1
    fi
  done
  if ((stopped)); then skip "Redis Cluster on $1-$(($1 + CLUSTER_NODES - 1)) stopped"; fi
}
