-- wrk script: POST /api/v1/campaigns/{id}/claims for a random member id on every request.
-- Env: BENCH_CAMPAIGN (campaign id), API_KEY. Prints key=value lines for ./dev bench.
--
-- The load generator shares the two cores with the server and Redis, so each request is cheap
-- to make: the request is formatted once, and only the fixed-width member id differs (which
-- keeps Content-Length the same).

-- Run from the repository root (./dev bench does).
dofile("server/bench/report.lua")

local campaign = os.getenv("BENCH_CAMPAIGN")
local placeholder = "##########"

function init(args)
  math.randomseed(os.time() * 1000 + index)
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("API_KEY")
  local template = wrk.format("POST", "/api/v1/campaigns/" .. campaign .. "/claims", nil,
    '{"user_id":"m' .. index .. "-" .. placeholder .. '"}')
  head, tail = split_request(template, placeholder)
end

function request()
  return head .. string.format("%010d", math.random(1, 2000000000)) .. tail
end

function done(summary, latency, requests)
  report(summary, latency)
end
