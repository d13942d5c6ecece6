-- wrk script: enters members in a fair draw through the JSON API (POST
-- /api/v1/campaigns/{id}/claims before the draw: 202 "entered"), every request a member of its
-- own, until BENCH_ENTRIES answers came back over all threads (each thread stops after its
-- share) or wrk's -d runs out, whichever is first.
-- Env: BENCH_CAMPAIGN (the draw's campaign id), BENCH_ENTRIES, BENCH_THREADS (wrk's -t),
-- API_KEY. Prints key=value lines for ./dev bench, and entered= (answers 202).
--
-- Formatted as claim_api.lua formats its claims: the request is built once, and only the
-- fixed-width member id differs (a counter here, so that no member enters twice).

-- Run from the repository root (./dev bench does).
dofile("server/bench/report.lua")

local campaign = os.getenv("BENCH_CAMPAIGN")
local entries = tonumber(os.getenv("BENCH_ENTRIES"))
local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
local placeholder = "##########"
local head, tail
local sent, answered, share = 0, 0, 0

-- Wall-clock milliseconds: wrk's own duration is its whole -d, however early the threads stop,
-- so the entries' rate is taken from the first thread's start to the last thread's end.
local function now_ms()
  local clock = io.popen("date +%s%3N")
  local ms = tonumber(clock:read("*l"))
  clock:close()
  return ms
end

-- Each thread, as setup sees it: done() sums their `entered`.
local all_threads = {}
local number_thread = setup
function setup(thread)
  number_thread(thread)
  all_threads[#all_threads + 1] = thread
end

function init(args)
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("API_KEY")
  local template = wrk.format("POST", "/api/v1/campaigns/" .. campaign .. "/claims", nil,
    '{"user_id":"e' .. index .. "-" .. placeholder .. '"}')
  head, tail = split_request(template, placeholder)
  share = math.ceil(entries / threads)
  -- Globals, so that the main thread can read them with thread:get.
  entered = 0
  started_ms = now_ms()
  finished_ms = nil
end

function request()
  sent = sent + 1
  return head .. string.format("%010d", sent) .. tail
end

function response(status, headers, body)
  answered = answered + 1
  if status == 202 then
    entered = entered + 1
  end
  if answered >= share and not finished_ms then
    finished_ms = now_ms()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  report(summary, latency)
  local total, first, last = 0, nil, nil
  for _, thread in ipairs(all_threads) do
    total = total + (thread:get("entered") or 0)
    local started, finished = thread:get("started_ms"), thread:get("finished_ms")
    if started and (not first or started < first) then first = started end
    if finished and (not last or finished > last) then last = finished end
  end
  if first and last and last > first then
    io.write(string.format("entries_per_s=%.0f\n", total * 1000 / (last - first)))
  else
    -- A thread that never finished its share ran for the whole -d.
    io.write(string.format("entries_per_s=%.0f\n", total / (summary.duration / 1e6)))
  end
  io.write(string.format("entered=%d\n", total))
end
