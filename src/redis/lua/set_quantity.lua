-- set_quantity.lua: change a loaded campaign's total quantity, never below what is claimed, as a
-- fenced write.
--
-- KEYS[1] meta    HASH    quantity, format, control
-- KEYS[2] counter STRING  coupons still available
-- KEYS[3] issued  HASH    users who hold a coupon
-- ARGV[1] the new total quantity
-- ARGV[2] the change's control version (src/reconcile/fence.rs)
--
-- Returns:
--   {0}                  not loaded (or in an older release's format): the caller loads the
--                        campaign, then retries
--   {1, remaining}       set; remaining = new quantity - claimed
--   {2, claimed}         refused: the new quantity is below the coupons already claimed
--   {3, control}         dropped: Redis already applied a change numbered `control`, at or
--                        above ARGV[2]
-- Runs atomically with claims, so no claim can slip in between the check and the write.
if redis.call('HGET', KEYS[1], 'format') ~= '2' or redis.call('EXISTS', KEYS[2]) == 0 then
  return {0}
end
-- A meta from before control versions has none: 0 (src/reconcile/formats.rs).
local applied = tonumber(redis.call('HGET', KEYS[1], 'control') or '0')
if tonumber(ARGV[2]) <= applied then
  return {3, applied}
end
local claimed = redis.call('HLEN', KEYS[3])
local quantity = tonumber(ARGV[1])
if quantity < claimed then
  return {2, claimed}
end
redis.call('HSET', KEYS[1], 'quantity', ARGV[1], 'control', ARGV[2])
redis.call('SET', KEYS[2], string.format('%d', quantity - claimed))
return {1, quantity - claimed}
