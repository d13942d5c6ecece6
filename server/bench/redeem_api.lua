-- wrk script: POST /api/v1/coupons/{code}/redemptions, each request a code of its own (the
-- order id is made from it), so every request is a first redemption while the codes last.
-- Env: BENCH_CODES (a file of codes, one a line), API_KEY. Prints key=value lines for ./dev bench.
--
-- Thread i of n takes the codes numbered i, i + n, ...; each request is formatted once, the
-- code (fixed width) spliced into the path and the body, so Content-Length stays the same.

-- Run from the repository root (./dev bench does).
dofile("server/bench/report.lua")

local placeholder = "@@@@@@@@@@@@@@@@@@@"

function init(args)
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("API_KEY")
  local threads = tonumber(os.getenv("BENCH_THREADS") or "2")
  codes = {}
  local n = 0
  for line in io.lines(os.getenv("BENCH_CODES")) do
    if n % threads == index - 1 then
      codes[#codes + 1] = line
    end
    n = n + 1
  end
  next_code = 0
  local template = wrk.format("POST", "/api/v1/coupons/" .. placeholder .. "/redemptions", nil,
    '{"order_id":"bench-' .. placeholder .. '","order_amount":20000}')
  local rest
  head, rest = split_request(template, placeholder)
  middle, tail = split_request(rest, placeholder)
end

function request()
  -- Past the last code the codes start over (those answers are repeats): ./dev bench sizes
  -- the file so that it does not happen.
  next_code = next_code % #codes + 1
  local code = codes[next_code]
  return head .. code .. middle .. code .. tail
end

function done(summary, latency, requests)
  report(summary, latency)
end
