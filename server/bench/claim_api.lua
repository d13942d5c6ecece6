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

-- Run from the repository root (./dev bench does).
dofile("server/bench/report.lua")

function done(summary, latency, requests)
  report(summary, latency)
end
