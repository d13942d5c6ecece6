-- acknowledge.lua: remove a batch from the queue after PostgreSQL committed it.
--
-- KEYS[1] drain lease STRING
-- KEYS[2] queue       LIST
-- KEYS[3] sync state  HASH  last_ok_ms, last_error, last_error_ms
-- ARGV[1] the caller's token, ARGV[2] number of entries committed, ARGV[3] now in ms,
-- ARGV[4] the first entry committed, ARGV[5] the last entry committed (verbatim)
--
-- Returns 1 if the entries were removed, 0 if the caller no longer holds the lease, 2 if the
-- head of the queue is no longer the batch that was read.
--
-- The queue only grows at its tail and only the lease holder trims its head, so while the lease
-- is ours the first ARGV[2] entries are normally the ones we read. Not after Redis came back
-- older (a crash, a failover): the lease may have survived while the queue holds other entries,
-- so the batch's first and last entries are compared too. In either case nothing is trimmed:
-- the next round re-reads the head, and the idempotent insert makes the repeat harmless.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local count = tonumber(ARGV[2])
if redis.call('LINDEX', KEYS[2], 0) ~= ARGV[4] or redis.call('LINDEX', KEYS[2], count - 1) ~= ARGV[5] then
  return 2
end
redis.call('LTRIM', KEYS[2], ARGV[2], -1)
redis.call('HSET', KEYS[3], 'last_ok_ms', ARGV[3])
redis.call('HDEL', KEYS[3], 'last_error', 'last_error_ms')
return 1
