-- claim.lua: decide claims of one campaign and apply them, atomically and in the order given
-- (Redis runs a script without interleaving). A lone claim is a call with one argument, its user;
-- the server sends every claim of a campaign that arrived while its previous call was on its
-- way in one call (see src/claim/batcher.rs), which costs Redis a fraction per claim.
--
-- KEYS[1] meta    HASH   status, starts_ms, ends_ms, quantity, seq, run, format
-- KEYS[2] counter STRING coupons still available
-- KEYS[3] issued  HASH   user id -> the sequence number it got, in hexadecimal (src/redis/keys.rs)
-- KEYS[4] queue   LIST   "seq<TAB>ms_since_open<TAB>user" entries waiting for the sync
-- ARGV[1] the run id of the Redis the caller believes it is talking to (src/redis/identity.rs),
--         or '' for the script to read its own: on a cluster the caller cannot know which node
--         runs the call once a slot moves
-- ARGV[2..] one user id per claim (validated: no control characters)
--
-- The coupon's code is not decided here: the server derives it from the campaign and the
-- sequence number (src/code/), so nothing but the sequence has to be kept for it.
--
-- Returns {0} when the campaign is not ready (meta or counter missing; its state was last
-- verified against PostgreSQL by another Redis: meta's run is not ARGV[1], so this state may be
-- an older copy restored after a crash or a failover; or it was written by a release that kept
-- the issued users in a SET: meta's format is not 2), and the caller verifies, rebuilds or
-- converts it and asks again; otherwise three integers per claim, in the order of the users:
--   1, remaining, seq    issued
--   2, 0, 0              already claimed by this user (also a repeat within one call)
--   3, 0, 0              sold out
--   4, starts_ms, 0      not open yet
--   5, 0, 0              ended (by the marketer, or the window is over)
--   6, 0, 0              paused
-- Integers rather than strings keep the reply cheap to parse on the hot path.

local meta = redis.call('HMGET', KEYS[1], 'status', 'starts_ms', 'ends_ms', 'seq', 'run', 'format')
local available = redis.call('GET', KEYS[2])
if not meta[1] or not available or meta[6] ~= '2' then
  return {0}
end
local run = ARGV[1]
if run == '' then
  run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
end
if meta[5] ~= run then
  return {0}
end

-- Redis's clock, not the app server's: every instance judges the window by the same time.
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local starts_ms = tonumber(meta[2])

-- What the campaign answers anyone who does not hold a coupon yet; nil while it issues.
local refusal, refusal_detail = nil, 0
if meta[1] == 'paused' then
  refusal = 6
elseif meta[1] ~= 'active' then
  refusal = 5
elseif now_ms < starts_ms then
  refusal, refusal_detail = 4, starts_ms
elseif now_ms >= tonumber(meta[3]) then
  refusal = 5
end

local left = tonumber(available)
local seq = tonumber(meta[4] or '0')
-- The claim time is kept as milliseconds since the window opened: first-come-first-served
-- campaigns drain within minutes of opening, so that is a few digits instead of thirteen, on
-- every queued coupon.
local since_open = string.format('%d', now_ms - starts_ms)
local reply, entries = {}, {}
local function answer(outcome, first, second)
  local n = #reply
  reply[n + 1], reply[n + 2], reply[n + 3] = outcome, first, second
end

for i = 2, #ARGV do
  local user = ARGV[i]
  -- A user who has a coupon hears that first, whatever else changed since.
  if redis.call('HEXISTS', KEYS[3], user) == 1 then
    answer(2, 0, 0)
  elseif refusal then
    answer(refusal, refusal_detail, 0)
  elseif left <= 0 then
    answer(3, 0, 0)
  else
    left = left - 1
    seq = seq + 1
    -- Hexadecimal: up to 16.7 million in six characters, which Redis keeps in its smallest
    -- allocation (docs/benchmark.md); the lookup of a not-yet-synced coupon starts from it.
    redis.call('HSET', KEYS[3], user, string.format('%x', seq))
    -- The user id goes last so that the entry splits unambiguously into three fields.
    entries[#entries + 1] = string.format('%d', seq) .. '\t' .. since_open .. '\t' .. user
    answer(1, left, seq)
  end
end

if #entries > 0 then
  redis.call('DECRBY', KEYS[2], #entries)
  redis.call('HINCRBY', KEYS[1], 'seq', #entries)
  redis.call('RPUSH', KEYS[4], unpack(entries))
end
return reply
