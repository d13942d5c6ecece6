#!/usr/bin/env bash
# Checks of ./dev itself, in seconds and without starting any service: every part parses, each
# command's --help, `./dev test --dry-run`, an unknown command or option, the phase times of a
# failing run, DEMO_DATA, and the port check against a port another process holds.
# Run: scripts/dev/selftest.sh (./dev test runs it as its first phase).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEV="$ROOT/dev"
FAILED=0

ok() { printf '    ok: %s\n' "$1"; }
failed() {
  printf '    \033[1;31mFAILED:\033[0m %s\n' "$1"
  printf '%s\n' "${@:2}" | sed 's/^/        /'
  FAILED=$((FAILED + 1))
}

# Runs a command; OUT, ERR and STATUS are what it printed and how it exited.
run() {
  local err
  err=$(mktemp)
  STATUS=0
  OUT=$("$@" 2>"$err") || STATUS=$?
  ERR=$(<"$err")
  rm -f "$err"
}

# Runs a function of ./dev's parts in a fresh shell that loaded them (sourcing ./dev runs none).
# shellcheck disable=SC2016 # expanded by that shell
LOAD_DEV='source "$1"; shift; "$@"'
in_dev() { bash -c "$LOAD_DEV" _ "$DEV" "$@"; }

# `description` holds when the last run exited with `status` and its output (stdout and stderr
# together) contains every one of the texts.
expect() { # description status text...
  local text all="$OUT"$'\n'"$ERR"
  if [[ $STATUS != "$2" ]]; then
    failed "$1" "exited $STATUS, not $2" "stdout: $OUT" "stderr: $ERR"
    return
  fi
  for text in "${@:3}"; do
    if [[ $all != *"$text"* ]]; then
      failed "$1" "no '$text' in the output" "stdout: $OUT" "stderr: $ERR"
      return
    fi
  done
  ok "$1"
}

printf '\033[1;34m==>\033[0m %s\n' "checks of ./dev (scripts/dev/selftest.sh)"

for part in "$DEV" "$ROOT"/scripts/dev/*.sh; do
  run bash -n "$part"
  expect "${part#"$ROOT"/} parses" 0
done

run "$DEV" --help
expect "./dev --help lists every command" 0 "./dev serve" "./dev test" "./dev bench" "./dev chaos" \
  "./dev cluster" "./dev services" "./dev stop"
for command in serve test bench chaos cluster services stop; do
  run "$DEV" "$command" --help
  expect "./dev $command --help prints its usage" 0 "usage:" "./dev $command"
done
run "$DEV" frobnicate
expect "an unknown command fails, naming it" 2 "unknown command 'frobnicate'" "./dev serve"
run "$DEV" serve --frobnicate
expect "an unknown option fails, naming it" 1 "unknown option --frobnicate"
run "$DEV" stop now
expect "a command without options refuses one" 1 "unknown option now"

run env -u REDIS_URL -u DATABASE_URL "$DEV" test --dry-run
expect "./dev test --dry-run lists the phases" 0 "dev script checks" "Rust tools" "services" \
  "engine tests" "server tests" "fault schedule" "suites on the Redis Cluster" "browser bundle" \
  "demo data" "end-to-end tests" "benchmark smoke run" "cluster benchmark smoke run"
if [[ $(grep -n 'dev script checks' <<<"$OUT" | cut -d: -f1) == 2 &&
  $(tail -n 1 <<<"$OUT") == *"cluster benchmark smoke run" ]]; then
  ok "./dev test --dry-run lists them in order"
else
  failed "./dev test --dry-run lists them in order" "$OUT"
fi

# shellcheck disable=SC2317 # run by in_dev
failing_run() {
  # shellcheck disable=SC2034 # read by phase
  PHASE_DRY_RUN=0
  trap phase_times_on_failure EXIT
  phase "a phase that passes" true
  phase "a phase that fails" false
  phase "a phase never reached" true
}
export -f failing_run
run in_dev failing_run
expect "a failing run prints the time of each phase so far" 1 "time of each phase" \
  "a phase that passes" "a phase that fails" "failed after 0s"
if [[ $OUT != *"never reached"* ]]; then
  ok "a failing run stops at the failing phase"
else
  failed "a failing run stops at the failing phase" "$OUT"
fi

run env -u DATABASE_URL DEMO_DATA=false bash -c "$LOAD_DEV" _ "$DEV" demo_data_wanted
expect "DEMO_DATA=false: no demo data" 1
run env -u DATABASE_URL -u DEMO_DATA bash -c "$LOAD_DEV" _ "$DEV" demo_data_wanted
expect "demo data by default on the project-local database" 0
run env -u DEMO_DATA DATABASE_URL=postgres://elsewhere/db bash -c "$LOAD_DEV" _ "$DEV" demo_data_wanted
expect "no demo data by default on the caller's DATABASE_URL" 1
run env DEMO_DATA=maybe bash -c "$LOAD_DEV" _ "$DEV" demo_data_wanted
expect "a DEMO_DATA that is neither true nor false is refused" 1 "DEMO_DATA" "maybe"
run in_dev json_number '{"campaign":{"id":3,"quantity":20},"quantity":20,"remaining":0,"redeemed":5}' redeemed
if [[ $STATUS == 0 && $OUT == 5 ]]; then
  ok "the demo data check reads a number of the API's answers"
else
  failed "the demo data check reads a number of the API's answers" "got '$OUT'"
fi

# A port another process holds: a listener of our own on a port the system picks (perl-base is
# part of every Debian system).
port_file=$(mktemp)
perl -MIO::Socket::INET -e '
  my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 5)
    or die "cannot listen: $!\n";
  $| = 1;
  print $s->sockport, "\n";
  sleep 60;' >"$port_file" &
listener=$!
trap 'kill "$listener" 2>/dev/null || true; rm -f "$port_file"' EXIT
for _ in $(seq 50); do
  [[ -s $port_file ]] && break
  sleep 0.1
done
port=$(<"$port_file")
[[ -n $port ]] || {
  failed "a listener on a free port, for the port checks" "perl printed no port"
  exit 1
}
run in_dev need_free_port "$port" "the self-test's server" "stop it, or set SELFTEST_PORT"
expect "a taken port is named, with what wanted it" 1 "port $port is taken" "the self-test's server" \
  "SELFTEST_PORT"
run in_dev already_ours "$port" "the self-test's Redis" "stop it" false
expect "a taken port that is not ours is named too" 1 "port $port is taken" "the self-test's Redis"
run in_dev already_ours "$port" "the self-test's Redis" "stop it" true
expect "a port held by our own service is used as it is" 0
kill "$listener"
wait "$listener" 2>/dev/null || true
run in_dev need_free_port "$port" "the self-test's server" "stop it"
expect "a free port passes" 0
run in_dev already_ours "$port" "the self-test's Redis" "stop it" false
if [[ $STATUS == 1 && -z $ERR ]]; then
  ok "a free port is free to start on"
else
  failed "a free port is free to start on" "exited $STATUS" "stderr: $ERR"
fi

if ((FAILED)); then
  printf '\033[1;31merror:\033[0m %s\n' "$FAILED check(s) of ./dev failed" >&2
  exit 1
fi
