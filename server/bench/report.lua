-- Shared by the wrk scripts: thread numbering, the split of a request formatted once into the
-- text before and after its one variable part, and the key=value lines ./dev bench reads.

-- Gives each thread its number (1, 2, ...) as the global `index`, before its `init` runs.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("index", threads)
end

-- `template` with `placeholder` in it; returns what comes before and after the placeholder.
function split_request(template, placeholder)
  local at = template:find(placeholder, 1, true)
  return template:sub(1, at - 1), template:sub(at + #placeholder)
end

function report(summary, latency)
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
