-- set_status.lua: switch a loaded campaign between active, paused and ended.
--
-- KEYS[1] meta  HASH
-- ARGV[1] the new status
--
-- Returns 1 if set, 0 if the campaign is not loaded (the caller loads it, then retries).
-- A single HSET would be atomic too; the script exists so that a missing campaign is not
-- recreated as a meta hash with nothing but a status in it.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[1])
return 1
