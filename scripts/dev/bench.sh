# shellcheck shell=bash
# ./dev bench: the benchmark table (docs/benchmark.md), on its own database and Redis index of
# the project-local servers; --smoke: the same with tiny numbers; --cluster: bench_cluster.sh.

cmd_bench() {
  local smoke=0 arg
  for arg in "$@"; do
    case $arg in
      --smoke) smoke=1 ;;
      --cluster) ;;
      -h | --help) command_usage bench; return ;;
      *) die "unknown option $arg (./dev bench [--smoke] [--cluster])" ;;
    esac
  done
  if [[ " $* " == *" --cluster "* ]]; then
    cmd_bench_cluster "$smoke"
    return
  fi
  local seconds=${BENCH_SECONDS:-15} raw_n=${BENCH_RAW_N:-400000} backlog=${BENCH_BACKLOG:-1000000}
  # The fair draw's line: entries before the draw, then a draw of draw_quantity among them.
  local entries=${BENCH_ENTRIES:-1000000} draw_quantity=${BENCH_DRAW_QUANTITY:-10000}
  if ((smoke)); then
    seconds=2 raw_n=2000 backlog=3000
    entries=${BENCH_ENTRIES:-3000} draw_quantity=${BENCH_DRAW_QUANTITY:-300}
  fi
  # The draw comes this long after its campaign is made: time for every entry at 8,000 a second
  # (wrk stops 3 s before the draw in any case, so that no entry runs into it).
  local draw_delay=${BENCH_DRAW_DELAY:-$((entries / 8000 + 20))}
  local sessions=${BENCH_SESSIONS:-$((seconds * 40000))}
  # More codes than the redemption line can use, and four times as many rows for pgbench to
  # draw from (its repeats of a row already redeemed are cheaper than a redemption).
  local redeem_codes=${BENCH_REDEEM_CODES:-$((seconds * 15000))}
  local port=$BENCH_SERVER_PORT dir="$STATE/bench"
  # The benchmark empties its own database and Redis index: only ever on the local servers.
  [[ -z $CALLER_REDIS_URL$CALLER_DATABASE_URL ]] ||
    die "./dev bench runs on the project-local Redis and PostgreSQL: unset REDIS_URL and DATABASE_URL"
  ensure_rust_tools
  ensure_redis
  ensure_postgres coupon_bench 3
  have wrk || apt_install wrk
  mkdir -p "$dir"
  if ((smoke)); then
    # The pages are not loaded, so the site is not built, and the figures mean nothing, so the
    # debug build ./dev test compiled already serves (an optimised one would take minutes).
    step "smoke run: debug server, tiny numbers (figures mean nothing)"
    cargo build -p server --bins
  else
    build_release_site
    step "building the benchmark helper"
    cargo build --release -p server --bins
  fi
  local -x BENCH_BUILD_DIR
  BENCH_BUILD_DIR=$(bench_build_dir "$smoke")
  local bin=$BENCH_BUILD_DIR
  step "fresh benchmark stores (database coupon_bench, Redis database 3)"
  fresh_local_stores coupon_bench 3
  # What the helper and the servers of every line are given.
  local -x REDIS_URL DATABASE_URL API_KEY=bench-api-key
  REDIS_URL=$(redis_url_for 3)
  DATABASE_URL=$(pg_url_for coupon_bench)
  local helper="$bin/bench"

  step "1/6 raw limit: redis-benchmark, the claim script by EVALSHA (1 and 16 claims a call), 50 clients"
  "$helper" raw-setup >"$dir/raw-setup"
  settle_stores coupon_bench
  local sha keys run
  sha=$(bench_value "$dir/raw-setup" sha)
  keys=$(bench_value "$dir/raw-setup" keys)
  run=$(bench_value "$dir/raw-setup" run)
  # shellcheck disable=SC2086 # the four key names are meant to split
  redis-benchmark -p "$REDIS_PORT" --dbnum 3 -n "$raw_n" -c 50 -r 1000000000 -q \
    EVALSHA "$sha" 4 $keys "$run" "member-__rand_int__" | tr '\r' '\n' >"$dir/raw"
  local raw
  raw=$(grep -o '[0-9.]* requests per second' "$dir/raw" | tail -n 1 | cut -d' ' -f1)
  # The same script deciding 16 claims a call, as the server sends claims that arrive together:
  # what Redis itself can do per claim then (every __rand_int__ draws its own number).
  local members=() i
  for ((i = 0; i < 16; i++)); do members+=("member-__rand_int__"); done
  # shellcheck disable=SC2086 # the four key names are meant to split
  redis-benchmark -p "$REDIS_PORT" --dbnum 3 -n "$((raw_n / 16 + 1))" -c 50 -r 1000000000 -q \
    EVALSHA "$sha" 4 $keys "$run" "${members[@]}" | tr '\r' '\n' >"$dir/raw16"
  local raw16
  raw16=$(grep -o '[0-9.]* requests per second' "$dir/raw16" | tail -n 1 | cut -d' ' -f1)
  "$helper" raw-teardown

  step "starting the release server on 127.0.0.1:$port"
  bench_server_start "$dir/server.log"
  local server_pid=$BENCH_SERVER_PID
  # What a browser downloads: the bytes the server sends for each encoding it accepts.
  local wasm_gzip wasm_brotli
  wasm_gzip=$(served_wasm "http://127.0.0.1:$port" gzip)
  wasm_brotli=$(served_wasm "http://127.0.0.1:$port" br)

  step "2/6 end to end: JSON API, 50 connections, ${seconds}s (sync lag sampled meanwhile)"
  local api_campaign
  api_campaign=$("$helper" campaign 10000000 | sed -n 's/^id=//p')
  settle_stores coupon_bench
  "$helper" lag "$api_campaign" "$seconds" >"$dir/lag" &
  local lag_pid=$!
  BENCH_CAMPAIGN=$api_campaign measured_wrk "$dir/api" "$server_pid" "$REDIS_PORT" -t2 -c50 -d"${seconds}s" \
    --timeout 5s -s server/bench/claim_api.lua "http://127.0.0.1:$port"
  wait "$lag_pid"
  local rss_kb
  rss_kb=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$server_pid/status")

  step "3/6 end to end: the claim server function with member sessions, ${seconds}s"
  "$helper" sessions "$sessions" "$dir/cookies" >/dev/null
  local fn_campaign
  fn_campaign=$("$helper" campaign 10000000 | sed -n 's/^id=//p')
  settle_stores coupon_bench
  BENCH_CAMPAIGN=$fn_campaign BENCH_COOKIES="$dir/cookies" BENCH_THREADS=2 \
    BENCH_ORIGIN="http://127.0.0.1:$port" measured_wrk "$dir/fn" "$server_pid" "$REDIS_PORT" -t2 -c50 -d"${seconds}s" --timeout 5s \
    -s server/bench/claim_session.lua "http://127.0.0.1:$port"

  step "8 checkout: redemptions through the JSON API, distinct codes, 50 connections, ${seconds}s; pgbench the same UPDATE"
  "$helper" coupons "$redeem_codes" "$dir/codes" >"$dir/coupons"
  local redeem_campaign pg_redeem_campaign pg_redeem_rows=$((redeem_codes * 4))
  redeem_campaign=$(bench_value "$dir/coupons" id)
  pg_redeem_campaign=$("$helper" campaign "$pg_redeem_rows" | sed -n 's/^id=//p')
  local_psql -d coupon_bench -c "INSERT INTO issued_coupons (campaign_id, user_id, code, sequence, claimed_at) \
    SELECT $pg_redeem_campaign, 'pg-buyer-' || n, 'pg-' || n, n, now() FROM generate_series(1, $pg_redeem_rows) AS n" >/dev/null
  settle_stores coupon_bench
  BENCH_CODES="$dir/codes" BENCH_THREADS=2 measured_wrk "$dir/redeem" "$server_pid" "$REDIS_PORT" -t2 -c50 \
    -d"${seconds}s" --timeout 5s -s server/bench/redeem_api.lua "http://127.0.0.1:$port"
  "$(pg_bin)/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U postgres -n -c 50 -j 2 -T "$seconds" \
    -D campaign="$pg_redeem_campaign" -D rows="$pg_redeem_rows" \
    -f server/bench/redeem_pg.sql coupon_bench >"$dir/pg-redeem" 2>&1
  "$helper" redeemed "$redeem_campaign" >"$dir/redeemed" ||
    die "the benchmark broke an invariant: $(cat "$dir/redeemed")"

  step "7 fair draw: $entries entries through the JSON API before the draw, then a draw of $draw_quantity coupons"
  settle_stores coupon_bench
  "$helper" draw-campaign "$draw_quantity" "$draw_delay" >"$dir/draw-campaign"
  local draw_campaign draw_at_ms wrk_seconds
  draw_campaign=$(bench_value "$dir/draw-campaign" id)
  draw_at_ms=$(bench_value "$dir/draw-campaign" draw_at_ms)
  "$helper" memory >"$dir/draw-memory-before"
  wrk_seconds=$(((draw_at_ms - $(date +%s%3N)) / 1000 - 3))
  ((wrk_seconds >= 1)) || wrk_seconds=1
  BENCH_CAMPAIGN=$draw_campaign BENCH_ENTRIES=$entries BENCH_THREADS=2 measured_wrk "$dir/enter" \
    "$server_pid" "$REDIS_PORT" -t2 -c50 -d"${wrk_seconds}s" --timeout 5s \
    -s server/bench/enter_api.lua "http://127.0.0.1:$port"
  "$helper" memory >"$dir/draw-memory-after"
  # From a second before the draw every Redis command is slow-logged; this returns once the
  # server's draw loop has every winner's coupon in the record.
  "$helper" draw-wait "$draw_campaign" >"$dir/draw" ||
    die "the fair draw of campaign $draw_campaign did not complete (see $dir/server.log)"

  step "stopping the server (SIGTERM)"
  bench_server_stop

  # The price of each durability setting (docs/operating.md): line 2 again with every write
  # fsynced before Redis answers, then with each round confirmed by a replica.
  step "2b end to end: JSON API with appendfsync always, ${seconds}s"
  redis-cli -p "$REDIS_PORT" config set appendfsync always >/dev/null
  bench_server_start "$dir/server-always.log"
  local always_campaign
  always_campaign=$("$helper" campaign 10000000 | sed -n 's/^id=//p')
  settle_stores coupon_bench
  BENCH_CAMPAIGN=$always_campaign measured_wrk "$dir/always" "$BENCH_SERVER_PID" "$REDIS_PORT" -t2 -c50 \
    -d"${seconds}s" --timeout 5s -s server/bench/claim_api.lua "http://127.0.0.1:$port"
  bench_server_stop
  redis-cli -p "$REDIS_PORT" config set appendfsync everysec >/dev/null

  step "2c end to end: JSON API with replicated acknowledgments (a local replica), ${seconds}s"
  bench_replica_start "$dir/replica"
  bench_server_start "$dir/server-replicated.log" CLAIM_ACK=replicated CLAIM_ACK_REPLICAS=1
  local replicated_campaign
  replicated_campaign=$("$helper" campaign 10000000 | sed -n 's/^id=//p')
  settle_stores coupon_bench
  BENCH_CAMPAIGN=$replicated_campaign measured_wrk "$dir/replicated" "$BENCH_SERVER_PID" "$REDIS_PORT" -t2 -c50 \
    -d"${seconds}s" --timeout 5s -s server/bench/claim_api.lua "http://127.0.0.1:$port"
  bench_server_stop
  bench_replica_stop

  step "4/6 PostgreSQL-only design: pgbench, 50 clients, ${seconds}s"
  local_psql -d coupon_bench -c "CREATE TABLE pg_only_stock (id int PRIMARY KEY, remaining bigint NOT NULL)" \
    -c "CREATE TABLE pg_only_claims (user_id bigint PRIMARY KEY, code text NOT NULL)" \
    -c "INSERT INTO pg_only_stock VALUES (1, 1000000000)" >/dev/null
  "$(pg_bin)/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U postgres -n -c 50 -j 2 -T "$seconds" \
    -f server/bench/pg_only.sql coupon_bench >"$dir/pg" 2>&1
  local pg
  pg=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$dir/pg" | head -n 1)

  step "5/6 sync: a backlog of $backlog claims drained into PostgreSQL"
  "$helper" fill "$backlog" >"$dir/fill"
  local backlog_campaign
  backlog_campaign=$(bench_value "$dir/fill" id)
  SYNC_BATCH_SIZE=${SYNC_BATCH_SIZE:-5000} "$helper" drain "$backlog_campaign" >"$dir/drain"

  step "6/6 correctness: issued = rows, none twice, none over quantity"
  "$helper" drain "$api_campaign" >/dev/null
  "$helper" drain "$fn_campaign" >/dev/null
  "$helper" drain "$always_campaign" >/dev/null
  "$helper" drain "$replicated_campaign" >/dev/null
  "$helper" drain "$draw_campaign" >/dev/null
  "$helper" check "$api_campaign" "$fn_campaign" "$always_campaign" "$replicated_campaign" \
    "$backlog_campaign" "$draw_campaign" >"$dir/check" ||
    die "the benchmark broke an invariant: $(cat "$dir/check")"

  local api fn always replicated redeem pg_redeem
  redeem=$(bench_value "$dir/redeem" rps)
  pg_redeem=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$dir/pg-redeem" | head -n 1)
  api=$(bench_value "$dir/api" rps)
  fn=$(bench_value "$dir/fn" rps)
  always=$(bench_value "$dir/always" rps)
  replicated=$(bench_value "$dir/replicated" rps)
  local enter entrants entry_bytes
  enter=$(bench_value "$dir/enter" entries_per_s)
  entrants=$(bench_value "$dir/draw" draw_entrants)
  entry_bytes=$(awk -v before="$(bench_value "$dir/draw-memory-before" redis_used_memory)" \
    -v after="$(bench_value "$dir/draw-memory-after" redis_used_memory)" -v n="$entrants" \
    'BEGIN { if (n > 0) printf "%.1f", (after - before) / n; else print "n/a" }')
  {
    echo
    echo "Benchmark (release build, $(nproc) cores, $(date -u +%F), everything on loopback)"
    printf '%-58s %s\n' "measure" "result"
    printf '%-58s %s\n' "1. raw redis-benchmark EVALSHA claim.lua, 50 clients" "$raw claims/s"
    printf '%-58s %s\n' "   the same, 16 claims a call (not a target's base)" "$(awk -v calls="$raw16" 'BEGIN { printf "%.0f", calls * 16 }') claims/s"
    printf '%-58s %s\n' "2. JSON API end to end, 50 connections" "$api claims/s, p50 $(bench_value "$dir/api" p50_ms) ms, p99 $(bench_value "$dir/api" p99_ms) ms, p99.9 $(bench_value "$dir/api" p999_ms) ms"
    printf '%-58s %s\n' "   ratio to raw (target >= 0.6)" "$(ratio "$api" "$raw")"
    printf '%-58s %s\n' "   CPU a claim: server, Redis, PostgreSQL, the rest" "$(bench_value "$dir/api" cpu)"
    printf '%-58s %s\n' "   the same with appendfsync always" "$always claims/s, p50 $(bench_value "$dir/always" p50_ms) ms, p99 $(bench_value "$dir/always" p99_ms) ms"
    printf '%-58s %s\n' "   ratio to line 2 (no target: the price of fsync a write)" "$(ratio "$always" "$api")"
    printf '%-58s %s\n' "   the same with replicated acknowledgments (1 replica)" "$replicated claims/s, p50 $(bench_value "$dir/replicated" p50_ms) ms, p99 $(bench_value "$dir/replicated" p99_ms) ms"
    printf '%-58s %s\n' "   ratio to line 2 (target >= 0.8)" "$(ratio "$replicated" "$api")"
    printf '%-58s %s\n' "   CPU a claim: server, Redis, PostgreSQL, the rest (replica)" "$(bench_value "$dir/replicated" cpu)"
    printf '%-58s %s\n' "   errors / non-2xx answers (always, replicated)" "$(bench_value "$dir/always" errors)/$(bench_value "$dir/always" non2xx), $(bench_value "$dir/replicated" errors)/$(bench_value "$dir/replicated" non2xx)"
    printf '%-58s %s\n' "3. claim server function with sessions, 50 connections" "$fn claims/s, p50 $(bench_value "$dir/fn" p50_ms) ms, p99 $(bench_value "$dir/fn" p99_ms) ms, p99.9 $(bench_value "$dir/fn" p999_ms) ms"
    printf '%-58s %s\n' "   ratio to raw (target >= 0.5)" "$(ratio "$fn" "$raw")"
    printf '%-58s %s\n' "   CPU a claim: server, Redis, PostgreSQL, the rest" "$(bench_value "$dir/fn" cpu)"
    printf '%-58s %s\n' "4. PostgreSQL-only claim (pgbench), 50 clients" "$pg claims/s"
    printf '%-58s %s\n' "   JSON API ratio to it (target >= 30)" "$(ratio "$api" "$pg")"
    printf '%-58s %s\n' "5. sync of a $backlog-claim backlog" "$(bench_value "$dir/drain" sync_rows_per_s) rows/s"
    printf '%-58s %s\n' "   sync lag p99 under line 2's load (target <= 500 ms)" "$(bench_value "$dir/lag" sync_lag_p99_ms) ms (max $(bench_value "$dir/lag" sync_lag_max_ms) ms)"
    printf '%-58s %s\n' "6. Redis bytes per issued coupon (queued)" "$(bench_value "$dir/fill" redis_bytes_per_coupon)"
    printf '%-58s %s\n' "   server peak RSS under line 2's load" "$((rss_kb / 1024)) MB"
    printf '%-58s %s\n' "   wasm bundle as served, gzip (target <= 400 KB)" "$wasm_gzip"
    printf '%-58s %s\n' "   wasm bundle as served, brotli" "$wasm_brotli"
    printf '%-58s %s\n' "7. fair draw: entries through the JSON API, 50 connections" "$enter entries/s, p50 $(bench_value "$dir/enter" p50_ms) ms, p99 $(bench_value "$dir/enter" p99_ms) ms ($(bench_value "$dir/enter" entered) of $entries answered 202)"
    printf '%-58s %s\n' "   ratio to line 2 (target >= 0.8)" "$(ratio "$enter" "$api")"
    printf '%-58s %s\n' "   CPU an entry: server, Redis, PostgreSQL, the rest" "$(bench_value "$dir/enter" cpu)"
    printf '%-58s %s\n' "   Redis bytes per entrant (entries live in PostgreSQL)" "$entry_bytes"
    printf '%-58s %s\n' "   draw of $draw_quantity coupons, time to the last (target <= 2 s)" "$(bench_value "$dir/draw" draw_seconds) s ($(bench_value "$dir/draw" draw_issued) issued among $entrants entrants)"
    printf '%-58s %s\n' "   longest Redis command during it (target <= 10 ms)" "$(bench_value "$dir/draw" draw_slowest_ms) ms ($(bench_value "$dir/draw" draw_slowest_command) of $(bench_value "$dir/draw" draw_commands_logged) logged; log full: $(bench_value "$dir/draw" draw_slowlog_full))"
    printf '%-58s %s\n' "7. invariants after the run" "ok ($(grep -c issued "$dir/check") campaigns checked)"
    printf '%-58s %s\n' "8. redemptions through the JSON API, 50 connections" "$redeem redemptions/s, p50 $(bench_value "$dir/redeem" p50_ms) ms, p99 $(bench_value "$dir/redeem" p99_ms) ms (target <= 20 ms)"
    printf '%-58s %s\n' "   pgbench, the same conditional UPDATE, 50 clients" "$pg_redeem updates/s"
    printf '%-58s %s\n' "   ratio to it (target >= 0.7)" "$(ratio "$redeem" "$pg_redeem")"
    printf '%-58s %s\n' "   CPU a redemption: server, Redis, PostgreSQL, the rest" "$(bench_value "$dir/redeem" cpu)"
    printf '%-58s %s\n' "   redeemed once each; codes left unused" "$(bench_value "$dir/redeemed" redeemed) coupons; $((redeem_codes - $(bench_value "$dir/redeem" requests))) (a negative count: codes reused, the line is void)"
    printf '%-58s %s\n' "   errors / non-2xx answers (API, server fn)" "$(bench_value "$dir/api" errors)/$(bench_value "$dir/api" non2xx), $(bench_value "$dir/fn" errors)/$(bench_value "$dir/fn" non2xx)"
  } | tee "$dir/table"
}
