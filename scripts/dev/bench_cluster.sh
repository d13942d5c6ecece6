# shellcheck shell=bash
# ./dev bench --cluster: lines 2 and 6 on the local benchmark cluster (3 primaries, 3 replicas:
# six Redis processes on the same two cores), beside line 2 on the single node in the same run.

cmd_bench_cluster() { # smoke
  local seconds=${BENCH_SECONDS:-15} backlog=${BENCH_BACKLOG:-1000000} spread=30
  if (($1)); then seconds=2 backlog=3000; fi
  local port=$BENCH_SERVER_PORT dir="$STATE/bench-cluster"
  [[ -z $CALLER_REDIS_URL$CALLER_DATABASE_URL$CALLER_CLUSTER_NODES ]] ||
    die "./dev bench runs on the project-local stores: unset REDIS_URL, DATABASE_URL and REDIS_CLUSTER_NODES"
  ensure_rust_tools
  ensure_redis
  ensure_postgres coupon_bench 3
  ensure_cluster "$BENCH_CLUSTER_PORT" DEV_BENCH_CLUSTER_PORT
  local nodes cluster_ports
  nodes=$(cluster_nodes_for "$BENCH_CLUSTER_PORT")
  cluster_ports=$(cluster_ports "$BENCH_CLUSTER_PORT" | tr '\n' ' ')
  have wrk || apt_install wrk
  mkdir -p "$dir"
  if (($1)); then
    step "smoke run: the debug server and benchmark helper (figures mean nothing)"
    cargo build -p server --bins
  else
    step "building the release server and the benchmark helper"
    cargo build --release -p server --bins
  fi
  local -x BENCH_BUILD_DIR
  BENCH_BUILD_DIR=$(bench_build_dir "$1")
  local helper="$BENCH_BUILD_DIR/bench"
  step "fresh benchmark stores (database coupon_bench, Redis database 3, the benchmark cluster)"
  fresh_local_stores coupon_bench 3
  flush_cluster "$BENCH_CLUSTER_PORT"
  # What the helper and the servers of every line are given; a line on the cluster adds
  # REDIS_CLUSTER_NODES to it.
  local -x REDIS_URL DATABASE_URL API_KEY=bench-api-key
  REDIS_URL=$(redis_url_for 3)
  DATABASE_URL=$(pg_url_for coupon_bench)
  # single-spread-replicated: the single node with a replica applying its writes, as each of
  # the cluster's primaries has one; the cluster's spread line against it is what routing and
  # three primaries cost, apart from what replication costs on these shared cores.
  local lines=(single-one single-spread single-spread-replicated cluster-one cluster-spread)
  local line ids=() campaigns
  for line in "${lines[@]}"; do
    local where=() count=1
    [[ $line == cluster-* ]] && where=(REDIS_CLUSTER_NODES="$nodes")
    [[ $line == *-spread* ]] && count=$spread
    campaigns=$(env "${where[@]}" "$helper" campaign 10000000 "$count" | sed -n 's/^id=//p')
    ids+=("$campaigns")
    if [[ $line == *-replicated ]]; then bench_replica_start "$dir/replica"; fi
    settle_stores coupon_bench "$cluster_ports"
    step "2 end to end: JSON API, 50 connections, ${seconds}s: $line ($count campaign(s))"
    bench_server_start "$dir/server-$line.log" "${where[@]}"
    local redis_ports
    case $line in
      cluster-*) redis_ports=$cluster_ports ;;
      *-replicated) redis_ports="$REDIS_PORT $BENCH_REPLICA_PORT" ;;
      *) redis_ports=$REDIS_PORT ;;
    esac
    BENCH_CAMPAIGN=$campaigns measured_wrk "$dir/$line" "$BENCH_SERVER_PID" "$redis_ports" \
      -t2 -c50 -d"${seconds}s" --timeout 5s -s server/bench/claim_api.lua "http://127.0.0.1:$port"
    bench_server_stop
    if [[ $line == *-replicated ]]; then bench_replica_stop; fi
  done
  step "6 Redis bytes per issued coupon: a backlog of $backlog claims queued, single node and cluster"
  "$helper" fill "$backlog" >"$dir/fill-single"
  REDIS_CLUSTER_NODES=$nodes "$helper" fill "$backlog" >"$dir/fill-cluster"
  step "correctness: issued = rows, none twice, none over quantity"
  local i
  for i in "${!lines[@]}"; do
    local where=()
    [[ ${lines[$i]} == cluster-* ]] && where=(REDIS_CLUSTER_NODES="$nodes")
    env "${where[@]}" "$helper" drain "${ids[$i]}" >/dev/null
    env "${where[@]}" "$helper" check "${ids[$i]}" >"$dir/check-${lines[$i]}" ||
      die "the benchmark broke an invariant: $(cat "$dir/check-${lines[$i]}")"
  done
  local single_one cluster_one single_spread single_replicated cluster_spread
  single_one=$(bench_value "$dir/single-one" rps)
  single_spread=$(bench_value "$dir/single-spread" rps)
  single_replicated=$(bench_value "$dir/single-spread-replicated" rps)
  cluster_one=$(bench_value "$dir/cluster-one" rps)
  cluster_spread=$(bench_value "$dir/cluster-spread" rps)
  {
    echo
    echo "Cluster benchmark (release build, $(nproc) cores, $(date -u +%F), 3 primaries + 3 replicas on loopback)"
    printf '%-58s %s\n' "measure" "result"
    printf '%-58s %s\n' "2. JSON API, single node, one campaign" "$(bench_describe "$dir/single-one")"
    printf '%-58s %s\n' "   single node, $spread campaigns" "$(bench_describe "$dir/single-spread")"
    printf '%-58s %s\n' "   single node with a replica, $spread campaigns" "$(bench_describe "$dir/single-spread-replicated")"
    printf '%-58s %s\n' "   cluster, one campaign" "$(bench_describe "$dir/cluster-one")"
    printf '%-58s %s\n' "   ratio to the single node's one campaign (target >= 0.85)" "$(ratio "$cluster_one" "$single_one")"
    printf '%-58s %s\n' "   cluster, $spread campaigns" "$(bench_describe "$dir/cluster-spread")"
    printf '%-58s %s\n' "   ratio to the single node's one campaign (target >= 0.85)" "$(ratio "$cluster_spread" "$single_one")"
    printf '%-58s %s\n' "   ratio to the single node's $spread campaigns" "$(ratio "$cluster_spread" "$single_spread")"
    printf '%-58s %s\n' "   ratio to the single node with a replica, $spread campaigns" "$(ratio "$cluster_spread" "$single_replicated")"
    printf '%-58s %s\n' "   CPU a claim, cluster, $spread campaigns: server, Redis (6)," "$(bench_value "$dir/cluster-spread" cpu)"
    printf '%-58s %s\n' "   CPU a claim, single node, one campaign" "$(bench_value "$dir/single-one" cpu)"
    printf '%-58s %s\n' "   CPU a claim, single node, $spread campaigns" "$(bench_value "$dir/single-spread" cpu)"
    printf '%-58s %s\n' "   CPU a claim, single node with a replica, $spread campaigns (Redis: both)" "$(bench_value "$dir/single-spread-replicated" cpu)"
    printf '%-58s %s\n' "6. Redis bytes per issued coupon (queued), single node" "$(bench_value "$dir/fill-single" redis_bytes_per_coupon)"
    printf '%-58s %s\n' "   cluster (primaries together)" "$(bench_value "$dir/fill-cluster" redis_bytes_per_coupon)"
    printf '%-58s %s\n' "7. invariants after the run" "ok ($(cat "$dir"/check-* | grep -c issued) campaigns checked)"
  } | tee "$dir/table"
}

# One line's figures: claims a second, latencies, errors.
bench_describe() { # wrk-output-file
  echo "$(bench_value "$1" rps) claims/s, p50 $(bench_value "$1" p50_ms) ms, p99 $(bench_value "$1" p99_ms) ms, errors/non-2xx $(bench_value "$1" errors)/$(bench_value "$1" non2xx)"
}
