# shellcheck shell=bash
# ./dev test: every test, as a list of phases. Each phase runs in a subshell of its own, so the
# stores and environment it sets end with it and no phase depends on what an earlier one left
# behind; each is timed, and the times are printed at the end, also when a phase fails.

# Builds a suite, then runs it with a deadline: a test that hangs fails the run within minutes
# (naming the suite) instead of holding CI until its own limit.
cargo_test_with_deadline() {
  local deadline=${TEST_SUITE_DEADLINE:-900}
  cargo test --no-run "$@"
  if ! timeout --kill-after=10 "$deadline" cargo test "$@"; then
    die "cargo test $* failed or ran past ${deadline}s (TEST_SUITE_DEADLINE)"
  fi
}

cmd_test() {
  local arg dry_run=0
  for arg in "$@"; do
    case $arg in
      --dry-run) dry_run=1 ;;
      -h | --help) command_usage test; return ;;
      *) die "unknown option $arg (./dev test [--dry-run])" ;;
    esac
  done
  local started=$SECONDS
  # Tests get their own database and Redis database index, so a `./dev serve` running on the
  # same local servers neither sees test data nor drains test queues. The cluster pass has a
  # database of its own too: a cluster has one database, shared by every run of its suites.
  local redis database cluster_database nodes
  redis=$(redis_url_for 1)
  database=$(pg_url_for coupon_test)
  cluster_database=$(pg_url_for coupon_test_cluster)
  nodes=$(cluster_nodes_for "$TEST_CLUSTER_PORT")
  local caller_stores=0
  [[ -z $CALLER_REDIS_URL$CALLER_DATABASE_URL ]] || caller_stores=1
  PHASE_DRY_RUN=$dry_run
  if ((dry_run)); then
    step "the phases of ./dev test, in order (--dry-run: none is run)"
  else
    trap phase_times_on_failure EXIT
  fi
  phase "dev script checks" bash "$ROOT/scripts/dev/selftest.sh"
  phase "Rust tools" ensure_rust_tools
  phase "services" test_services
  phase "browser test tools" ensure_browser
  phase "engine tests" test_engine "$redis" "$database"
  phase "UI and access unit tests" test_ui "$redis" "$database"
  phase "server tests" test_server "$redis" "$database"
  phase "fault schedule" test_chaos "$redis" "$database"
  phase "suites on the Redis Cluster" test_on_cluster "$redis" "$cluster_database" "$nodes"
  # The browser tests load what people download: the release bundle (wasm-opt'd, compressed).
  # Their server is the debug build the server tests already compiled: an optimised one would
  # be a third build of every crate (docs/internals.md, "Where ./dev test's time goes").
  phase "browser bundle" build_test_site
  if ((caller_stores)); then
    skipped_phase "demo data" "the demo data check runs only on the project-local servers"
  else
    phase "demo data" test_demo_data
  fi
  phase "end-to-end tests" test_end_to_end "$redis" "$database"
  if ((caller_stores)); then
    skipped_phase "benchmark smoke run" "the benchmark runs only on the project-local servers"
    skipped_phase "cluster benchmark smoke run" "the benchmark runs only on the project-local servers"
  else
    phase "benchmark smoke run" test_bench_smoke
    phase "cluster benchmark smoke run" test_bench_smoke --cluster
  fi
  if ((dry_run)); then return; fi
  trap - EXIT
  phase_times
  step "all tests passed in $((SECONDS - started))s"
}

# ---------------------------------------------------------------- phases
# The runner's own record (only phase and skipped_phase write it).
PHASE_DRY_RUN=0
PHASE_NAMES=()
PHASE_TIMES=()
PHASE_RUNNING=
PHASE_STARTED=0

# Runs a step as a phase: in a subshell, timed. A failing phase ends the run (set -e), and the
# EXIT trap prints the times so far with it. With --dry-run, only its name is printed.
phase() { # name command [its arguments]
  local name=$1
  shift
  if ((PHASE_DRY_RUN)); then
    skip "$name"
    return
  fi
  PHASE_RUNNING=$name
  PHASE_STARTED=$SECONDS
  ("$@")
  phase_done "$name" "$(duration $((SECONDS - PHASE_STARTED)))"
}

skipped_phase() { # name reason
  if ((PHASE_DRY_RUN)); then
    skip "$1 (skipped: $2)"
    return
  fi
  step "$1"
  skip "skipped: $2"
  phase_done "$1" skipped
}

phase_done() { # name time
  PHASE_NAMES+=("$1")
  PHASE_TIMES+=("$2")
  PHASE_RUNNING=
}

phase_times() {
  local i
  step "time of each phase"
  for i in "${!PHASE_NAMES[@]}"; do
    printf '    %-32s %s\n' "${PHASE_NAMES[i]}" "${PHASE_TIMES[i]}"
  done
  if [[ -n $PHASE_RUNNING ]]; then
    printf '    %-32s %s\n' "$PHASE_RUNNING" "failed after $(duration $((SECONDS - PHASE_STARTED)))"
  fi
}

phase_times_on_failure() {
  local status=$?
  ((status == 0)) || phase_times
}

duration() { # seconds
  if (($1 < 60)); then echo "${1}s"; else printf '%dm %02ds\n' $(($1 / 60)) $(($1 % 60)); fi
}

# Points what this phase runs at its stores. Only inside a phase: a subshell, where it ends.
use_stores() { # redis-url database-url [cluster-nodes]
  ((BASH_SUBSHELL > 0)) || die "use_stores: only inside a phase (a subshell of its own)"
  export REDIS_URL=$1 DATABASE_URL=$2
  if [[ -n ${3:-} ]]; then
    export REDIS_CLUSTER_NODES=$3
  else
    unset REDIS_CLUSTER_NODES
  fi
}

test_services() {
  ensure_redis
  ensure_postgres coupon_test 1
  ensure_cluster "$TEST_CLUSTER_PORT" DEV_TEST_CLUSTER_PORT
  drop_leftover_fault_databases
}

test_engine() { # redis-url database-url
  use_stores "$1" "$2"
  step "engine tests (unit + against Redis and PostgreSQL)"
  cargo_test_with_deadline -p coupon
}

test_ui() { # redis-url database-url
  use_stores "$1" "$2"
  step "UI and access unit tests (languages, formatting; proxies, client addresses, member headers, password queue, limits)"
  cargo_test_with_deadline -p app -p coupon-access --features app/ssr --lib
}

test_server() { # redis-url database-url
  use_stores "$1" "$2"
  step "server tests (JSON API, access checks, sessions, sync, shutdown, faults, Redis Cluster)"
  cargo_test_with_deadline -p server
}

test_chaos() { # redis-url database-url
  use_stores "$1" "$2"
  step "randomized fault schedule, one minute on each topology (one Redis, Sentinel, cluster)"
  CHAOS_SEED=${CHAOS_SEED:-1} CHAOS_MINUTES=${CHAOS_MINUTES:-1} \
    cargo_test_with_deadline -p server --test chaos -- --nocapture
}

# The same suites again on a Redis Cluster, with a database of their own. The fault suites that
# start their own Redis processes (single nodes, Sentinel, clusters) ran on their own already.
test_on_cluster() { # redis-url database-url cluster-nodes
  step "engine and server tests again, against the Redis Cluster ($3)"
  # A new database empties the cluster only: the single node's index belongs to coupon_test.
  ensure_postgres coupon_test_cluster "" "$TEST_CLUSTER_PORT"
  use_stores "$1" "$2" "$3"
  cargo_test_with_deadline -p coupon
  local shared_store_suites=(access admin_sessions api checkout fair_draw_api hostile limits members server web_hardening)
  cargo_test_with_deadline -p server "${shared_store_suites[@]/#/--test=}"
}

# The server on a fresh database (its own, and Redis database 4), seeded twice by what
# `./dev serve` runs: four campaigns the first time, none the second.
test_demo_data() {
  local key=demo-check-api-key dir="$STATE/demo-check" base="http://127.0.0.1:$DEMO_CHECK_PORT" pid
  step "demo data: four campaigns on a fresh database, none on one with campaigns"
  need_free_port "$DEMO_CHECK_PORT" "the demo data check's server" "stop it, or set DEV_DEMO_CHECK_PORT"
  fresh_local_stores coupon_demo_check 4
  use_stores "$(redis_url_for 4)" "$(pg_url_for coupon_demo_check)"
  mkdir -p "$dir"
  LEPTOS_SITE_ADDR="127.0.0.1:$DEMO_CHECK_PORT" LEPTOS_SITE_ROOT=target/site API_KEY=$key \
    RUST_LOG=warn target/debug/server >"$dir/server.log" 2>&1 &
  pid=$!
  # shellcheck disable=SC2064 # the pid is meant to be fixed now
  trap "kill $pid 2>/dev/null || true" EXIT
  wait_for "the demo data check's server (log: $dir/server.log)" 60 app_answers "$base"
  demo_data_check "$base" "$key" "$DATABASE_URL"
  kill -TERM "$pid"
  wait "$pid" || true
  trap - EXIT
}

test_end_to_end() { # redis-url database-url
  if [[ -n $CALLER_REDIS_URL$CALLER_DATABASE_URL ]]; then
    skip "REDIS_URL / DATABASE_URL given: end-to-end tests use them as they are"
    use_stores "$1" "$2"
  else
    # Their server creates the first admin, and pages show only their own campaigns.
    step "fresh stores for the end-to-end tests"
    fresh_local_stores coupon_e2e 2
    use_stores "$(redis_url_for 2)" "$(pg_url_for coupon_e2e)"
  fi
  need_free_port "${E2E_PORT:-3100}" "the end-to-end tests' server" "stop it, or set E2E_PORT"
  step "end-to-end tests (Playwright, Chromium, release bundle)"
  (cd end2end && CHROMIUM_PATH="$PLAYWRIGHT_CHROMIUM" E2E_SERVER=${E2E_SERVER:-target/debug/server} npx playwright test)
}

# ./dev bench --smoke, as its own process on the project-local stores.
test_bench_smoke() { # [--cluster]
  if [[ ${1:-} == --cluster ]]; then
    step "cluster benchmark smoke run (the same, ./dev bench --cluster)"
  else
    step "benchmark smoke run (tiny numbers; checks the command and its invariant check)"
  fi
  env -u REDIS_URL -u DATABASE_URL -u REDIS_CLUSTER_NODES "$DEV_ENTRY" bench --smoke "$@"
}
