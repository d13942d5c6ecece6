# shellcheck shell=bash
# ./dev serve: the stores, then the app in the foreground. Ctrl-C stops it.

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
  ensure_rust_tools
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
  if ((release)); then
    LEPTOS_SITE_ROOT=target/site exec target/release/server
  fi
  exec cargo leptos serve
}
