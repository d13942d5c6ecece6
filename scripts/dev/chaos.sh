# shellcheck shell=bash
# ./dev chaos: the seeded fault schedule of server/tests/chaos/ on one topology, replayable by
# its seed (docs/operating.md, "Randomized fault schedule").

cmd_chaos() {
  local seed=1 minutes=1 topology=single
  while (($#)); do
    case $1 in
      --seed) seed=${2:?--seed needs a number}; shift ;;
      --minutes) minutes=${2:?--minutes needs a number}; shift ;;
      --sentinel) topology=sentinel ;;
      --cluster) topology=cluster ;;
      -h | --help) command_usage chaos; return ;;
      *) die "unknown option for ./dev chaos: $1" ;;
    esac
    shift
  done
  [[ $seed =~ ^[0-9]+$ ]] || die "--seed: a whole number, not '$seed'"
  [[ $minutes =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--minutes: a number, not '$minutes'"
  # Only cargo is needed (no site build); the schedule starts Redis processes of its own, and
  # PostgreSQL gives it a database per run. It shares `./dev serve`'s Redis database index 0.
  ensure_redis
  ensure_postgres coupon_chaos 0
  drop_leftover_fault_databases
  local -x REDIS_URL DATABASE_URL
  REDIS_URL=$(redis_url_for 0)
  DATABASE_URL=$(pg_url_for coupon_chaos)
  step "chaos: seed $seed, $minutes minute(s), $topology"
  CHAOS_SEED=$seed CHAOS_MINUTES=$minutes CHAOS_TOPOLOGY=$topology \
    TEST_SUITE_DEADLINE=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 + 600 }') \
    cargo_test_with_deadline -p server --test chaos -- --nocapture
}
