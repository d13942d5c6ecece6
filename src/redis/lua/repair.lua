-- repair.lua: make a campaign's claim state agree with what PostgreSQL recorded, atomically.
-- The caller holds the campaign's row FOR UPDATE and decided that the state is missing, older
-- than the record, or out of step with it (src/loader.rs); claims that arrive meanwhile are
-- refused as "not ready" or decided against the state before or after this script, never half.
--
-- KEYS[1] meta     HASH
-- KEYS[2] counter  STRING
-- KEYS[3] issued   SET
-- KEYS[4] staging  SET  user ids PostgreSQL recorded, added by the caller in chunks (may be absent)
-- ARGV[1] status, ARGV[2] starts_ms, ARGV[3] ends_ms, ARGV[4] quantity,
-- ARGV[5] the sequence number to continue after, at least: above every number an earlier state
--         of the campaign may have handed out (its sequence ceiling, src/store/sequences.rs),
--         or 0 to keep numbering where the state is
-- ARGV[6] the run id of this Redis: the state is verified for it from now on
--
-- Returns the number of users who hold a coupon now.
--
-- The queue is left as it is: every entry PostgreSQL has not recorded yet is still to be
-- recorded, and entries it has are skipped by the sync's idempotent insert.

-- Claimed = users Redis remembers (acknowledged, maybe not yet synced) plus users PostgreSQL
-- recorded. Counting the union, not either side alone, is what prevents over-issue.
if redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('SUNIONSTORE', KEYS[3], KEYS[3], KEYS[4])
  redis.call('DEL', KEYS[4])
end
local claimed = redis.call('SCARD', KEYS[3])
local available = tonumber(ARGV[4]) - claimed
if available < 0 then
  available = 0
end

-- Sequence numbers (and the codes made from them) never go back.
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if tonumber(ARGV[5]) > seq then
  seq = tonumber(ARGV[5])
end

redis.call('HSET', KEYS[1], 'status', ARGV[1], 'starts_ms', ARGV[2], 'ends_ms', ARGV[3],
  'quantity', ARGV[4], 'seq', string.format('%d', seq), 'run', ARGV[6])
redis.call('SET', KEYS[2], string.format('%d', available))
return claimed
