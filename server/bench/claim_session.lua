-- wrk script: the claim server function as the browser calls it, each request from another
-- signed-in member (cookies from BENCH_COOKIES, one a line; thread i takes lines i, i+T, ...).
-- Env: BENCH_CAMPAIGN, BENCH_COOKIES, BENCH_THREADS. Prints key=value lines for ./dev bench.
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("index", threads)
end

function init(args)
  local total = tonumber(os.getenv("BENCH_THREADS"))
  cookies = {}
  local line_no = 0
  for line in io.lines(os.getenv("BENCH_COOKIES")) do
    line_no = line_no + 1
    if line_no % total == index - 1 then
      cookies[#cookies + 1] = "coupon_session=" .. line
    end
  end
  next_cookie = 1
  body = "campaign_id=" .. os.getenv("BENCH_CAMPAIGN")
end

function request()
  local cookie = cookies[next_cookie]
  next_cookie = next_cookie % #cookies + 1
  return wrk.format("POST", "/api/claim", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Accept"] = "application/json",
    ["Cookie"] = cookie,
  }, body)
end

-- Run from the repository root (./dev bench does).
dofile("server/bench/report.lua")

function done(summary, latency, requests)
  report(summary, latency)
end
