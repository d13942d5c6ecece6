-- wrk script: POST /api/v1/campaigns/{id}/claims for a random member id on every request.
-- Env: BENCH_CAMPAIGN (campaign id), API_KEY. Prints key=value lines for ./dev bench.
local campaign = os.getenv("BENCH_CAMPAIGN")
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("seed", threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + seed)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("API_KEY")
end

function request()
  local body = string.format('{"user_id":"m%d-%d"}', seed, math.random(1, 2000000000))
  return wrk.format(nil, "/api/v1/campaigns/" .. campaign .. "/claims", nil, body)
end

function done(summary, latency, requests)
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
