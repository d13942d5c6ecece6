-- claim.lua: decide one claim and apply it, atomically (Redis runs a script without interleaving).
--
-- KEYS[1] meta    HASH   status, starts_ms, ends_ms, quantity, seq
-- KEYS[2] counter STRING coupons still available
-- KEYS[3] issued  SET    user ids that got a coupon
-- KEYS[4] queue   LIST   "seq<TAB>ms_since_open<TAB>code<TAB>user" entries waiting for the sync
-- ARGV[1] user id (validated: no control characters)
-- ARGV[2] coupon code to hand out if the claim succeeds, in its compact form (no dashes)
--
-- Returns an array whose first element is the outcome:
--   {0}                     not loaded: meta or counter missing; the caller loads from PostgreSQL
--   {1, remaining, seq}     issued
--   {2}                     already claimed by this user
--   {3}                     sold out
--   {4, starts_ms}          not open yet
--   {5}                     ended (by the marketer, or the window is over)
--   {6}                     paused
-- Integers rather than strings keep the reply cheap to parse on the hot path.

local meta = redis.call('HMGET', KEYS[1], 'status', 'starts_ms', 'ends_ms')
local available = redis.call('GET', KEYS[2])
if not meta[1] or not available then
  return {0}
end

-- A user who has a coupon hears that first, whatever else changed since.
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then
  return {2}
end

if meta[1] == 'paused' then
  return {6}
end
if meta[1] ~= 'active' then
  return {5}
end

-- Redis's clock, not the app server's: every instance judges the window by the same time.
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local starts_ms = tonumber(meta[2])
if now_ms < starts_ms then
  return {4, starts_ms}
end
if now_ms >= tonumber(meta[3]) then
  return {5}
end

if tonumber(available) <= 0 then
  return {3}
end

local remaining = redis.call('DECR', KEYS[2])
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('SADD', KEYS[3], ARGV[1])
-- The user id goes last so that the entry splits unambiguously into four fields. The claim time
-- is kept as milliseconds since the window opened: first-come-first-served campaigns drain
-- within minutes of opening, so that is a few digits instead of thirteen, on every queued coupon.
redis.call('RPUSH', KEYS[4],
  seq .. '\t' .. string.format('%d', now_ms - starts_ms) .. '\t' .. ARGV[2] .. '\t' .. ARGV[1])
return {1, remaining, seq}
