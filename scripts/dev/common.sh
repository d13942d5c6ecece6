# shellcheck shell=bash
# What every part of ./dev shares: the settings (read once, then never changed), printing, the
# installer, waiting, and the port check. Sourced by ./dev with ROOT set; starts nothing.

STATE="$ROOT/.dev" # project-local data, logs and pid files (ignored by git)
REDIS_PORT=${DEV_REDIS_PORT:-6390}
PG_PORT=${DEV_PG_PORT:-5490}
# Six nodes from each first port: the served app's cluster, the tests' own (a cluster has one
# database, and the tests' campaign ids would otherwise meet the served app's), the benchmark's.
CLUSTER_PORT=${DEV_CLUSTER_PORT:-7100}
TEST_CLUSTER_PORT=${DEV_TEST_CLUSTER_PORT:-7200}
BENCH_CLUSTER_PORT=${DEV_BENCH_CLUSTER_PORT:-7300}
CLUSTER_NODES=6
# The benchmark's server, and its replica of the project-local Redis (line 2c).
BENCH_SERVER_PORT=${BENCH_PORT:-3300}
BENCH_REPLICA_PORT=${DEV_BENCH_REPLICA_PORT:-$((REDIS_PORT + 1))}
# The server ./dev test checks the demo data on.
DEMO_CHECK_PORT=${DEV_DEMO_CHECK_PORT:-3150}
CARGO_LEPTOS_VERSION=0.3.10
# The CLI must match the wasm-bindgen crate exactly; Cargo.toml pins it, so read it from there.
WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)"/\1/p' "$ROOT/Cargo.toml")
PLAYWRIGHT_CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}
# What the caller gave: with these, their servers are used and nothing local is started. Steps
# read these, never REDIS_URL / DATABASE_URL, which commands set for what they run.
CALLER_REDIS_URL=${REDIS_URL:-}
CALLER_DATABASE_URL=${DATABASE_URL:-}
CALLER_CLUSTER_NODES=${REDIS_CLUSTER_NODES:-}
readonly STATE REDIS_PORT PG_PORT CLUSTER_PORT TEST_CLUSTER_PORT BENCH_CLUSTER_PORT CLUSTER_NODES \
  BENCH_SERVER_PORT BENCH_REPLICA_PORT DEMO_CHECK_PORT CARGO_LEPTOS_VERSION WASM_BINDGEN_VERSION PLAYWRIGHT_CHROMIUM \
  CALLER_REDIS_URL CALLER_DATABASE_URL CALLER_CLUSTER_NODES

export PATH="$HOME/.cargo/bin:$PATH"
# Leptos bakes the output name in at compile time (option_env!). cargo-leptos sets it; setting the
# same value for plain `cargo test` keeps the two from invalidating each other's builds.
export LEPTOS_OUTPUT_NAME=coupon
# One `apt-get update` a run, also across the subshells of ./dev test's phases and the ./dev it
# runs for the benchmark.
export DEV_RUN_STARTED=${DEV_RUN_STARTED:-$(date +%s)}

step() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
skip() { printf '    %s\n' "$*"; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [[ $(id -u) -eq 0 ]]; }
as_root() { if is_root; then "$@"; else sudo "$@"; fi; }

# The header of ./dev (its usage), without the comment marks.
dev_usage() {
  awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "$DEV_ENTRY"
}

# One command's lines of that header: `./dev <command> --help`.
command_usage() { # command
  echo "usage:"
  awk -v cmd="$1" '
    NR == 1 { next }
    !/^#/ { exit }
    { sub(/^# ?/, "") }
    /^  \.\/dev / { on = ($2 == cmd); if (on) print; next }
    on && /^    / { print; next }
    { on = 0 }' "$DEV_ENTRY"
}

apt_install() {
  have apt-get || die "cannot install $* automatically: apt-get not found; install them by hand"
  local stamp="$STATE/apt-updated"
  if [[ ! -f $stamp ]] || (($(stat -c %Y "$stamp") < DEV_RUN_STARTED)); then
    step "apt-get update"
    as_root apt-get update -qq
    mkdir -p "$STATE"
    touch "$stamp"
  fi
  step "installing $* (apt)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

wait_for() { # name seconds check-command [its arguments]
  local name=$1 seconds=$2 i
  for ((i = 0; i < seconds * 10; i++)); do
    "${@:3}" && return 0
    sleep 0.1
  done
  die "$name did not become ready within ${seconds}s"
}

# ---------------------------------------------------------------- ports
# Something accepts connections on the port (on 127.0.0.1 unless a host is given): a server of
# ours could not listen there.
port_in_use() { # port [host]
  # shellcheck disable=SC2016 # expanded by the inner shell
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "${2:-127.0.0.1}" "$1" 2>/dev/null
}

# Dies naming the port and what wanted it when something already listens there.
need_free_port() { # port what hint [host]
  port_in_use "$1" "${4:-}" || return 0
  die "port $1 is taken by another process: $2 needs it ($3)"
}

# For a service this script may have started on an earlier run: true when it is ours and up on
# the port (the check command, run with its arguments, says so); false when the port is free,
# so the caller starts it; dies naming the port and what wanted it when someone else holds it.
already_ours() { # port what hint check-command [its arguments]
  local port=$1 what=$2 hint=$3
  shift 3
  "$@" && return 0
  need_free_port "$port" "$what" "$hint"
  return 1
}

# The port of a `host:port` address, and the host to reach it at from this machine.
addr_port() { echo "${1##*:}"; }
addr_host() { # address
  local host=${1%:*}
  host=${host#[}
  host=${host%]}
  case $host in '' | 0.0.0.0 | '::') echo 127.0.0.1 ;; *) echo "$host" ;; esac
}
