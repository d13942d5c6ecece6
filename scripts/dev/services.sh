# shellcheck shell=bash
# ./dev services, ./dev cluster and ./dev stop: the stores alone, without the app.

# Refuses every argument but --help (these commands take none).
no_options() { # command arguments...
  local command=$1
  shift
  case ${1:-} in
    '') return 0 ;;
    -h | --help) command_usage "$command"; exit 0 ;;
    *) die "unknown option $1 (./dev $command takes none)" ;;
  esac
}

cmd_services() {
  no_options services "$@"
  ensure_redis
  ensure_postgres coupon 0
  echo "REDIS_URL=$(redis_url_for 0)"
  echo "DATABASE_URL=$(pg_url_for coupon)"
}

cmd_cluster() {
  no_options cluster "$@"
  ensure_cluster "$CLUSTER_PORT" DEV_CLUSTER_PORT
  echo "REDIS_CLUSTER_NODES=$(cluster_nodes_for "$CLUSTER_PORT")"
}

cmd_stop() {
  no_options stop "$@"
  step "stopping project-local services"
  stop_redis
  stop_cluster "$CLUSTER_PORT"
  stop_cluster "$TEST_CLUSTER_PORT"
  stop_cluster "$BENCH_CLUSTER_PORT"
  stop_postgres
}
