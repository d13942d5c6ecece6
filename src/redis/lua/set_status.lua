-- set_status.lua: switch a loaded campaign between active, paused and ended, as a fenced write.
--
-- KEYS[1] meta  HASH   status, control
-- ARGV[1] the new status
-- ARGV[2] the change's control version (src/reconcile/fence.rs)
--
-- Returns 1 if set, 0 if the campaign is not loaded (the caller loads it, then retries), 2 if
-- Redis already applied a change numbered at or above ARGV[2] (this one is older: dropped).
-- The script exists so that a missing campaign is not recreated as a meta hash with nothing but
-- a status in it, and so that no order of arrivals can put an older change over a newer one.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
-- A meta from before control versions has none: 0 (src/reconcile/formats.rs).
if tonumber(ARGV[2]) <= tonumber(redis.call('HGET', KEYS[1], 'control') or '0') then
  return 2
end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'control', ARGV[2])
return 1
