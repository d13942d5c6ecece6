-- lookup.lua: where the coupon a user holds is, in a few commands whatever the backlog.
--
-- KEYS[1] issued HASH  user -> hexadecimal sequence number
-- KEYS[2] queue  LIST  "seq<TAB>…<TAB>user" entries waiting for the sync, in increasing seq
-- KEYS[3] meta   HASH  format, verified
-- ARGV[1] the user id, or '' to find the entry numbered ARGV[2] whoever holds it
-- ARGV[2] (with ARGV[1] = '') the sequence number, as a checkout knows it from a code
--
-- Returns {outcome, entry, verified}:
--   {0, ''}       Redis knows of no coupon of this user (none, or the campaign is not loaded)
--   {1, ''}       it has one that is not queued: recorded by the sync, ask PostgreSQL
--   {2, entry}    its queue entry, still waiting for the sync
--   {3, ''}       the state is in an older release's format: the caller converts it, asks again
-- and, third, the version of the verification that last wrote this state (meta's `verified`,
-- '0' for none): a checkout records a queued entry only from the state the record was last
-- verified on (src/reconcile/verifications.rs).
--
-- The queue holds numbers in increasing order, each one more than the last except where a
-- repair made numbering jump (src/reconcile/). So the entry numbered seq is at index seq - head or
-- before it: the first probe finds it unless a jump lies in between, then a binary search does.

local function number_of(entry)
  return tonumber(string.match(entry, '^(%d+)\t') or '')
end

local function owner_of(entry)
  return string.match(entry, '\t([^\t]*)$')
end

-- Format 1 (src/reconcile/formats.rs), or not loaded.
local meta = redis.call('HMGET', KEYS[3], 'format', 'verified')
local verified = meta[2] or '0'
if meta[1] ~= '2' then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    return {3, '', verified}
  end
  return {0, '', verified}
end
local by_number = ARGV[1] == ''
local seq
if by_number then
  seq = tonumber(ARGV[2] or '')
  if not seq then
    return {0, '', verified}
  end
else
  local value = redis.call('HGET', KEYS[1], ARGV[1])
  if not value then
    return {0, '', verified}
  end
  -- 0: converted from the format that kept no numbers; it was recorded then (deletable once
  -- no converted state is left: src/reconcile/formats.rs).
  seq = tonumber(value, 16)
end
local length = redis.call('LLEN', KEYS[2])
if not seq or seq == 0 or length == 0 then
  return {1, '', verified}
end
local head = number_of(redis.call('LINDEX', KEYS[2], 0))
if not head or seq < head then
  return {1, '', verified}
end

local low, high = 0, math.min(seq - head, length - 1)
local probe = high
while low <= high do
  local entry = redis.call('LINDEX', KEYS[2], probe)
  local at = number_of(entry)
  if not at then
    break
  elseif at == seq then
    if by_number or owner_of(entry) == ARGV[1] then
      return {2, entry, verified}
    end
    break
  elseif at < seq then
    low = probe + 1
  else
    high = probe - 1
  end
  probe = math.floor((low + high) / 2)
end
-- Not queued (the sync took it meanwhile, or renumbered it on a clash): the record has it.
return {1, '', verified}
