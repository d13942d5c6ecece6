-- acquire_lease.lua: take or extend the right to drain one campaign's queue.
--
-- KEYS[1] drain lease STRING
-- ARGV[1] the caller's token, ARGV[2] lease time in milliseconds
--
-- Returns 1 if the caller holds the lease now, 0 if another instance does.
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
