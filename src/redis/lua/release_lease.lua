-- release_lease.lua: give up the right to drain a campaign (on clean shutdown), if still ours,
-- so another instance can take over at once instead of waiting for the lease to expire.
--
-- KEYS[1] drain lease STRING
-- ARGV[1] the caller's token
--
-- Returns 1 if the lease was ours and is released, 0 otherwise.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
