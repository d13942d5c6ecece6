-- wrk script: the claim server function as the browser calls it, each request from another
-- signed-in member (cookies from BENCH_COOKIES, one a line; thread i takes lines i, i+T, ...).
-- Env: BENCH_CAMPAIGN, BENCH_COOKIES, BENCH_THREADS, BENCH_ORIGIN. Prints key=value lines for ./dev bench.
--
-- The load generator shares the two cores with the server and Redis, so each request is cheap
-- to make: the request is formatted once, and only the cookie differs.

-- Run from the repository root (./dev bench does).
dofile("server/bench/report.lua")

local placeholder = "##COOKIE##"

function init(args)
  local total = tonumber(os.getenv("BENCH_THREADS"))
  cookies = {}
  local line_no = 0
  for line in io.lines(os.getenv("BENCH_COOKIES")) do
    line_no = line_no + 1
    if line_no % total == index - 1 then
      cookies[#cookies + 1] = line
    end
  end
  next_cookie = 1
  local template = wrk.format("POST", "/api/claim", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Accept"] = "application/json",
    ["Cookie"] = "coupon_session=" .. placeholder,
    -- What a browser sends with every POST; the server refuses writes without it.
    ["Origin"] = os.getenv("BENCH_ORIGIN"),
  }, "campaign_id=" .. os.getenv("BENCH_CAMPAIGN"))
  head, tail = split_request(template, placeholder)
end

function request()
  local cookie = cookies[next_cookie]
  next_cookie = next_cookie % #cookies + 1
  return head .. cookie .. tail
end

function done(summary, latency, requests)
  report(summary, latency)
end
