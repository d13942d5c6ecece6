-- wrk script: POST /api/v1/campaigns/{id}/claims for a random member id on every request.
-- Env: BENCH_CAMPAIGN (a campaign id, or several separated by commas: each request picks one at
-- random), API_KEY. Prints key=value lines for ./dev bench.
--
-- The load generator shares the two cores with the server and Redis, so each request is cheap
-- to make: the request is formatted once per campaign, and only the fixed-width member id
-- differs (which keeps Content-Length the same).

-- Run from the repository root (./dev bench does).
dofile("server/bench/report.lua")

local campaigns = os.getenv("BENCH_CAMPAIGN")
local placeholder = "##########"
local heads, tails = {}, {}

function init(args)
  math.randomseed(os.time() * 1000 + index)
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("API_KEY")
  for campaign in campaigns:gmatch("[^,]+") do
    local template = wrk.format("POST", "/api/v1/campaigns/" .. campaign .. "/claims", nil,
      '{"user_id":"m' .. index .. "-" .. placeholder .. '"}')
    heads[#heads + 1], tails[#tails + 1] = split_request(template, placeholder)
  end
end

function request()
  local i = #heads == 1 and 1 or math.random(1, #heads)
  return heads[i] .. string.format("%010d", math.random(1, 2000000000)) .. tails[i]
end

function done(summary, latency, requests)
  report(summary, latency)
end
