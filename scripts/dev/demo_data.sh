# shellcheck shell=bash
# Demo campaigns, so that a first `./dev serve` shows a working site: created through the
# server's own JSON API (the server itself never creates any), only on a database without
# campaigns. One open now with a few hundred coupons and a few claimed, one opening in ten
# minutes, one sold out with some of its coupons redeemed and one held at checkout, and a fair
# draw taking entries (a few members entered) whose draw is ten minutes away.
# DEMO_DATA=false: none. On the caller's own DATABASE_URL only with DEMO_DATA=true: ./dev never
# writes into a database it did not set up unless told to.

DEMO_OPEN_QUANTITY=300
DEMO_OPEN_CLAIMED=12
DEMO_UPCOMING_QUANTITY=500
DEMO_SOLD_OUT_QUANTITY=20
DEMO_REDEEMED=5
DEMO_ORDER_AMOUNT=35000
DEMO_DRAW_QUANTITY=30
DEMO_DRAW_ENTRANTS=7
readonly DEMO_OPEN_QUANTITY DEMO_OPEN_CLAIMED DEMO_UPCOMING_QUANTITY DEMO_SOLD_OUT_QUANTITY \
  DEMO_REDEEMED DEMO_ORDER_AMOUNT DEMO_DRAW_QUANTITY DEMO_DRAW_ENTRANTS

demo_data_wanted() {
  case ${DEMO_DATA:-} in
    false | 0 | no | off) return 1 ;;
    true | 1 | yes | on) return 0 ;;
    '') [[ -z $CALLER_DATABASE_URL ]] ;;
    *) die "DEMO_DATA: true or false, not '$DEMO_DATA'" ;;
  esac
}

# Creates the demo campaigns when the database has none, and prints their claim pages.
demo_data_seed() { # base-url api-key database-url
  local base=$1 key=$2 count
  step "demo campaigns (DEMO_DATA=false turns them off)"
  count=$(demo_campaign_count "$3") || {
    skip "cannot count the campaigns in the database: no demo data"
    return 1
  }
  if ((count > 0)); then
    skip "the database has $count campaign(s): no demo data added"
    return 0
  fi
  local open upcoming sold_out draw i code codes=()
  open=$(demo_campaign "$base" "$key" "봄맞이 3,000원 할인" fixed_amount 3000 \
    "$DEMO_OPEN_QUANTITY" "$(demo_time '-1 hour')" "$(demo_time '+7 days')") || return 1
  upcoming=$(demo_campaign "$base" "$key" "타임 세일 5,000원 할인" fixed_amount 5000 \
    "$DEMO_UPCOMING_QUANTITY" "$(demo_time '+10 minutes')" "$(demo_time '+1 day')" \
    ',"min_order_amount":30000') || return 1
  sold_out=$(demo_campaign "$base" "$key" "선착순 10% 할인" percentage 10 \
    "$DEMO_SOLD_OUT_QUANTITY" "$(demo_time '-2 hours')" "$(demo_time '+3 days')" \
    ',"max_discount_amount":5000') || return 1
  # Entries open already (a minute ago: PostgreSQL's clock judges them), the draw in ten minutes.
  draw=$(demo_campaign "$base" "$key" "공정 추첨 7,000원 할인" fixed_amount 7000 \
    "$DEMO_DRAW_QUANTITY" "$(demo_time '+10 minutes')" "$(demo_time '+2 days')" \
    ',"opening":"fair_draw","entries_open_at":"'"$(demo_time '-1 minute')"'"') || return 1
  for ((i = 1; i <= DEMO_DRAW_ENTRANTS; i++)); do
    demo_api "$base" "$key" 202 POST "/campaigns/$draw/claims" \
      "{\"user_id\":\"$(printf 'demo-entrant-%02d' "$i")\"}" >/dev/null || return 1
  done
  for ((i = 1; i <= DEMO_OPEN_CLAIMED; i++)); do
    demo_claim "$base" "$key" "$open" "$(printf 'demo-shopper-%02d' "$i")" >/dev/null || return 1
  done
  for ((i = 1; i <= DEMO_SOLD_OUT_QUANTITY; i++)); do
    code=$(demo_claim "$base" "$key" "$sold_out" "$(printf 'demo-member-%02d' "$i")") || return 1
    codes+=("$code")
  done
  # Redeemed at checkout (held, then paid), and one more held by an order not paid yet.
  for ((i = 1; i <= DEMO_REDEEMED + 1; i++)); do
    demo_checkout "$base" "$key" holds "${codes[i - 1]}" "$(printf 'demo-member-%02d' "$i")" \
      "demo-order-$i" || return 1
    ((i > DEMO_REDEEMED)) ||
      demo_checkout "$base" "$key" redemptions "${codes[i - 1]}" \
        "$(printf 'demo-member-%02d' "$i")" "demo-order-$i" || return 1
  done
  skip "open now, $DEMO_OPEN_QUANTITY coupons, $DEMO_OPEN_CLAIMED claimed: $base/c/$open"
  skip "opens in ten minutes: $base/c/$upcoming"
  skip "sold out, $DEMO_REDEEMED of $DEMO_SOLD_OUT_QUANTITY redeemed, 1 held: $base/c/$sold_out"
  skip "fair draw of $DEMO_DRAW_QUANTITY taking entries ($DEMO_DRAW_ENTRANTS in), drawn in ten minutes: $base/c/$draw"
}

# The checks of ./dev test: on an empty database the demo data is four campaigns in the
# states it promises; on one with campaigns (the same, seeded again) nothing is added.
demo_data_check() { # base-url api-key database-url
  local base=$1 key=$2 db=$3 count ids answer
  count=$(demo_campaign_count "$db") || die "demo data check: cannot count the campaigns of $db"
  ((count == 0)) || die "demo data check: needs an empty database, $db has $count campaign(s)"
  demo_data_seed "$base" "$key" "$db" || die "demo data check: seeding the empty database failed"
  count=$(demo_campaign_count "$db")
  ((count == 4)) || die "demo data check: the empty database got $count campaign(s), not 4"
  mapfile -t ids < <(demo_sql "$db" 'SELECT id FROM campaigns ORDER BY id')
  answer=$(demo_api "$base" "$key" 201 POST "/campaigns/${ids[0]}/claims" '{"user_id":"demo-check"}') ||
    die "demo data check: the open campaign refused a claim"
  answer=$(demo_api "$base" "$key" 409 POST "/campaigns/${ids[1]}/claims" '{"user_id":"demo-check"}') ||
    die "demo data check: the upcoming campaign did not refuse a claim"
  [[ $(json_string "$answer" outcome) == not_open ]] ||
    die "demo data check: the upcoming campaign answered $answer, not not_open"
  answer=$(demo_api "$base" "$key" 409 POST "/campaigns/${ids[2]}/claims" '{"user_id":"demo-check"}') ||
    die "demo data check: the sold-out campaign did not refuse a claim"
  [[ $(json_string "$answer" outcome) == sold_out ]] ||
    die "demo data check: the sold-out campaign answered $answer, not sold_out"
  answer=$(demo_api "$base" "$key" 200 GET "/campaigns/${ids[2]}") ||
    die "demo data check: the sold-out campaign's numbers could not be read"
  [[ $(json_number "$answer" redeemed) == "$DEMO_REDEEMED" && $(json_number "$answer" held) == 1 ]] ||
    die "demo data check: the sold-out campaign has not $DEMO_REDEEMED redeemed and 1 held: $answer"
  answer=$(demo_api "$base" "$key" 202 POST "/campaigns/${ids[3]}/claims" '{"user_id":"demo-check"}') ||
    die "demo data check: the fair draw did not take an entry"
  [[ $(json_string "$answer" outcome) == entered ]] ||
    die "demo data check: the fair draw answered $answer, not entered"
  answer=$(demo_sql "$db" "SELECT count(*) FROM draw_entries WHERE campaign_id = ${ids[3]}")
  ((answer == DEMO_DRAW_ENTRANTS + 1)) ||
    die "demo data check: the fair draw has $answer entrants, not $((DEMO_DRAW_ENTRANTS + 1))"
  skip "an empty database got the four demo campaigns"
  demo_data_seed "$base" "$key" "$db" || die "demo data check: seeding again failed"
  count=$(demo_campaign_count "$db")
  ((count == 4)) || die "demo data check: a database with campaigns got more: $count, not 4"
  skip "a database with campaigns got none"
}

# ---------------------------------------------------------------- helpers
demo_time() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }

# psql for a database URL: the project-local server's client, or any on PATH.
demo_sql() { # database-url sql
  local bin psql=psql
  bin=$(pg_bin) && [[ -x $bin/psql ]] && psql="$bin/psql"
  "$psql" "$1" -qtAX -v ON_ERROR_STOP=1 -c "$2"
}

demo_campaign_count() { demo_sql "$1" 'SELECT count(*) FROM campaigns'; }

# One JSON API call: the answer's body on stdout when its status is the one expected; else a
# note naming the call, its status and body on stderr, and a failure. A 503 ("try again") is
# tried again, a few times.
demo_api() { # base-url api-key expected-status method path [json-body]
  local args=(-s -X "$4" -H "Authorization: Bearer $2" -w '\n%{http_code}') answer status try
  [[ -z ${6:-} ]] || args+=(-H 'Content-Type: application/json' --data "$6")
  for try in 1 2 3 4 5; do
    answer=$(curl "${args[@]}" "$1/api/v1$5") || {
      echo "demo data: $4 $5: no answer from $1" >&2
      return 1
    }
    status=${answer##*$'\n'}
    [[ $status == 503 && $try -lt 5 ]] || break
    sleep 1
  done
  if [[ $status != "$3" ]]; then
    echo "demo data: $4 $5 answered $status, not $3: ${answer%$'\n'*}" >&2
    return 1
  fi
  printf '%s\n' "${answer%$'\n'*}"
}

# The number or string under `key` in one line of JSON (the API's answers are compact); of a
# key found twice (a nested campaign's `quantity` and the report's own), the last.
json_number() { sed -n 's/.*"'"$2"'":\(-\{0,1\}[0-9][0-9]*\).*/\1/p' <<<"$1" | head -n 1; }
json_string() { sed -n 's/.*"'"$2"'":"\([^"]*\)".*/\1/p' <<<"$1" | head -n 1; }

# Creates a campaign (30 days' validity); prints its id.
demo_campaign() { # base-url api-key name kind amount quantity starts-at ends-at [,"more":fields]
  local body id
  body=$(printf '{"name":"%s","discount_kind":"%s","discount_amount":%s,"quantity":%s,"claim_starts_at":"%s","claim_ends_at":"%s","valid_days":30%s}' \
    "$3" "$4" "$5" "$6" "$7" "$8" "${9:-}")
  body=$(demo_api "$1" "$2" 201 POST /campaigns "$body") || return 1
  id=$(sed -n 's/^{"id":\([0-9][0-9]*\).*/\1/p' <<<"$body")
  [[ -n $id ]] || { echo "demo data: no campaign id in $body" >&2; return 1; }
  echo "$id"
}

# Claims for a member; prints the coupon's code.
demo_claim() { # base-url api-key campaign-id member
  local body code
  body=$(demo_api "$1" "$2" 201 POST "/campaigns/$3/claims" "{\"user_id\":\"$4\"}") || return 1
  code=$(json_string "$body" code)
  [[ -n $code ]] || { echo "demo data: no code in $body" >&2; return 1; }
  echo "$code"
}

# A checkout step of an order: `holds` (for a day, the longest a hold may last, so that the
# demo shows one held for a while) or `redemptions`.
demo_checkout() { # base-url api-key holds|redemptions code member order-id
  local hold=
  [[ $3 != holds ]] || hold=',"hold_seconds":86400'
  demo_api "$1" "$2" 201 POST "/coupons/$4/$3" \
    "{\"order_id\":\"$6\",\"order_amount\":$DEMO_ORDER_AMOUNT,\"user_id\":\"$5\"$hold}" >/dev/null
}
