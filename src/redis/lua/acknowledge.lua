-- acknowledge.lua: remove a batch from the queue after PostgreSQL committed it.
--
-- KEYS[1] drain lease STRING
-- KEYS[2] queue       LIST
-- KEYS[3] sync state  HASH  last_ok_ms, last_error, last_error_ms
-- ARGV[1] the caller's token, ARGV[2] number of entries committed, ARGV[3] now in ms
--
-- Returns 1 if the entries were removed, 0 if the caller no longer holds the lease.
--
-- The queue only grows at its tail and only the lease holder trims its head, so while the lease
-- is ours the first ARGV[2] entries are exactly the ones we read. Without the lease (it expired,
-- or Redis lost its data) we trim nothing: the next holder re-reads those entries, and the
-- idempotent insert makes the repeat harmless.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('LTRIM', KEYS[2], ARGV[2], -1)
redis.call('HSET', KEYS[3], 'last_ok_ms', ARGV[3])
redis.call('HDEL', KEYS[3], 'last_error', 'last_error_ms')
return 1
