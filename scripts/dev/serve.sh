# shellcheck shell=bash
# ./dev serve: the stores, then the app in a process group of its own; once it answers, the
# demo data (through its JSON API) and the addresses to open. Ctrl-C stops it.

cmd_serve() {
  local release=0 cluster=0 arg
  for arg in "$@"; do
    case $arg in
      --release) release=1 ;;
      --cluster) cluster=1 ;;
      -h | --help) command_usage serve; return ;;
      *) die "unknown option $arg (./dev serve [--release] [--cluster])" ;;
    esac
  done
  local demo_data=0
  if demo_data_wanted; then demo_data=1; fi
  ensure_rust_tools
  ((release)) || ensure_cargo_leptos
  # What the app is given stays in this command's scope (local -x: exported to what it runs).
  if ((cluster)); then
    ensure_cluster "$CLUSTER_PORT" DEV_CLUSTER_PORT
    ensure_postgres coupon "" "$CLUSTER_PORT"
    local -x REDIS_CLUSTER_NODES
    REDIS_CLUSTER_NODES=$(cluster_nodes_for "$CLUSTER_PORT")
  else
    ensure_redis
    ensure_postgres coupon 0
    local -x REDIS_URL
    REDIS_URL=$(redis_url_for 0)
  fi
  local -x DATABASE_URL
  DATABASE_URL=$(pg_url_for coupon)
  # A first admin and an API key so that a fresh checkout is usable at once; set your own in
  # the environment for anything but local use.
  local -x ADMIN_EMAIL=${ADMIN_EMAIL:-admin@example.com}
  local -x ADMIN_PASSWORD=${ADMIN_PASSWORD:-coupon-admin}
  local -x API_KEY=${API_KEY:-dev-api-key}
  local -x LEPTOS_SITE_ADDR=${LEPTOS_SITE_ADDR:-127.0.0.1:3000}
  # Visitors type any member id on the claim page: fine on a laptop, never in production.
  local -x MEMBER_DEMO_SIGN_IN=${MEMBER_DEMO_SIGN_IN:-true}
  # Release: built, compressed, then run as it would be deployed (`cargo leptos serve` would
  # rebuild the site without the compressed copies).
  ((release == 0)) || build_release_site
  need_free_port "$(addr_port "$LEPTOS_SITE_ADDR")" "the app (LEPTOS_SITE_ADDR=$LEPTOS_SITE_ADDR)" \
    "stop it, or set LEPTOS_SITE_ADDR" "$(addr_host "$LEPTOS_SITE_ADDR")"
  step "serving on http://$LEPTOS_SITE_ADDR (Ctrl-C stops)"
  skip "admin sign-in: $ADMIN_EMAIL / $ADMIN_PASSWORD (created if no admin exists yet)"
  skip "JSON API key: $API_KEY"
  skip "member demo sign-in: $MEMBER_DEMO_SIGN_IN (visitors type any member id; set MEMBER_DEMO_SIGN_IN=false and MEMBER_TOKEN_SECRET to test the shop's login)"
  local app=(cargo leptos serve)
  ((release == 0)) || app=(env LEPTOS_SITE_ROOT=target/site target/release/server)
  run_app "$(local_base_url "$LEPTOS_SITE_ADDR")" "$demo_data" "${app[@]}"
}

# http://host:port to reach a listen address from this machine.
local_base_url() { # address
  local host
  host=$(addr_host "$1")
  [[ $host != *:* ]] || host="[$host]"
  echo "http://$host:$(addr_port "$1")"
}

app_answers() { curl -sf "$1/healthz" >/dev/null 2>&1; }

# Set by run_app's signal traps: the app is being stopped, nothing more is started.
APP_STOPPING=0

# Runs the app (the command) in a process group of its own, so that Ctrl-C, SIGTERM and a hang-up
# given to this script reach it and every process it starts (cargo-leptos and its server) as
# they would have reached them in the foreground. Once /healthz answers: the demo data if asked for, then
# the addresses. Returns the app's exit status.
run_app() { # base-url demo-data(0|1) command...
  local base=$1 demo=$2 pid status
  shift 2
  set -m
  "$@" </dev/null &
  pid=$!
  set +m
  # shellcheck disable=SC2064 # the pid is meant to be fixed now
  trap "APP_STOPPING=1; kill -INT -- -$pid 2>/dev/null || true" INT
  # shellcheck disable=SC2064
  trap "APP_STOPPING=1; kill -TERM -- -$pid 2>/dev/null || true" TERM
  # A closed terminal hangs up this script's process group only: pass it on.
  # shellcheck disable=SC2064
  trap "APP_STOPPING=1; kill -HUP -- -$pid 2>/dev/null || true" HUP
  # The first `cargo leptos serve` compiles for many minutes before the app listens.
  if app_answers_while_running "$base" "$pid" 3600; then
    if ((demo)); then
      demo_data_seed "$base" "$API_KEY" "$DATABASE_URL" ||
        ((APP_STOPPING)) || skip "demo data: not (all) created, see above; the app runs on"
    fi
    ((APP_STOPPING)) || app_addresses "$base"
  fi
  while :; do
    status=0
    wait "$pid" || status=$?
    # A trapped signal ends `wait` early: wait again until the app has exited.
    kill -0 "$pid" 2>/dev/null || break
  done
  trap - INT TERM HUP
  return "$status"
}

# Polls /healthz until it answers; false once the app exited, is being stopped, or `seconds`
# passed.
app_answers_while_running() { # base-url pid seconds
  local deadline=$((SECONDS + $3))
  until app_answers "$1"; do
    ((APP_STOPPING == 0)) && kill -0 "$2" 2>/dev/null && ((SECONDS < deadline)) || return 1
    sleep 1
  done
}

app_addresses() { # base-url
  step "the app answers on $1"
  skip "claim pages: $1/c/<campaign id> (the home page, $1/, lists the campaigns on offer)"
  skip "admin: $1/admin (sign in as $ADMIN_EMAIL / $ADMIN_PASSWORD)"
}
