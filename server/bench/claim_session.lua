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

done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format("rps=%.0f\n", summary.requests / seconds))
  io.write(string.format("p50_ms=%.2f\n", latency:percentile(50) / 1000))
  io.write(string.format("p99_ms=%.2f\n", latency:percentile(99) / 1000))
  io.write(string.format("p999_ms=%.2f\n", latency:percentile(99.9) / 1000))
  io.write(string.format("requests=%d\n", summary.requests))
  io.write(string.format("errors=%d\n", e.connect + e.read + e.write + e.timeout))
  io.write(string.format("non2xx=%d\n", e.status))
end
