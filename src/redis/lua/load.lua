-- load.lua: (re)build a campaign's claim state from what PostgreSQL recorded, atomically.
--
-- KEYS[1] meta     HASH
-- KEYS[2] counter  STRING
-- KEYS[3] issued   SET
-- KEYS[4] staging  SET  the user ids found in PostgreSQL, added by the caller in chunks
-- ARGV[1] status, ARGV[2] starts_ms, ARGV[3] ends_ms, ARGV[4] quantity,
-- ARGV[5] sequence number to continue after: above every number an earlier state of the
--         campaign may have handed out (its sequence ceiling, src/store/sequences.rs)
--
-- Returns 1 if it (re)built the state, 0 if the campaign was already loaded.
--
-- Already loaded (meta and counter present) means claims may be flowing: leave it untouched,
-- so concurrent loaders and a loader racing a claim can never reset a live counter.
if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('DEL', KEYS[4])
  return 0
end

-- Claimed = users Redis still remembers (acknowledged but maybe not yet synced) plus users
-- PostgreSQL recorded. Counting the union, not either side alone, is what prevents over-issue.
if redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('SUNIONSTORE', KEYS[3], KEYS[3], KEYS[4])
  redis.call('DEL', KEYS[4])
end
local claimed = redis.call('SCARD', KEYS[3])
local available = tonumber(ARGV[4]) - claimed
if available < 0 then
  available = 0
end

-- Sequence numbers (and the codes made from them) must never be reused, even if some were
-- lost with Redis's data; a surviving meta hash can only be below ARGV[5], but never go back.
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if tonumber(ARGV[5]) > seq then
  seq = tonumber(ARGV[5])
end

redis.call('HSET', KEYS[1], 'status', ARGV[1], 'starts_ms', ARGV[2], 'ends_ms', ARGV[3],
  'quantity', ARGV[4], 'seq', string.format('%d', seq))
redis.call('SET', KEYS[2], string.format('%d', available))
return 1
