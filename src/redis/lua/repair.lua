-- repair.lua: make a campaign's claim state agree with what PostgreSQL recorded, atomically.
-- The caller holds the campaign's row FOR UPDATE and decided that the state is missing, older
-- than the record, out of step with it, or in an older release's format (src/reconcile/); claims
-- that arrive meanwhile are refused as "not ready" or decided against the state before or after
-- this script, never half.
--
-- KEYS[1] meta     HASH
-- KEYS[2] counter  STRING
-- KEYS[3] issued   HASH  user -> hexadecimal sequence (a SET of users before format 2)
-- KEYS[4] staging  HASH  user -> hexadecimal sequence PostgreSQL recorded, added by the caller
--                        in pages (may be absent)
-- KEYS[5] queue    LIST  read only, to convert a SET of users
-- KEYS[6] scratch  HASH  where a SET of users is converted (absent before and after)
-- ARGV[1] status, ARGV[2] starts_ms, ARGV[3] ends_ms, ARGV[4] quantity,
-- ARGV[5] the sequence number to continue after, at least: above every number an earlier state
--         of the campaign may have handed out (its sequence ceiling,
--         src/reconcile/reservations.rs), or 0 to keep numbering where the state is
-- ARGV[6] the run id of the Redis whose state the caller read: the state is verified for it from
--         now on
-- ARGV[7] this repair's control version (src/reconcile/fence.rs), taken under the row lock; also
--         stamped as `verified`: the record keeps the version of its last verification
--         (campaign_verifications), and coupons are recorded only from the state stamped with it
-- ARGV[8] the replication id read with that run id (src/reconcile/identity.rs)
--
-- Returns the number of users who hold a coupon now; or, writing nothing:
--   -1  Redis holds a control newer than this repair (the repair was delayed past the row lock
--       and a later change; what it read is out of date)
--   -2  this node is not the one whose state the caller read (a restart, a failover, a slot
--       that moved since): its state was never judged
--
-- The queue is left as it is: every entry PostgreSQL has not recorded yet is still to be
-- recorded, and entries it has are skipped by the sync's idempotent insert.

local PAGE = 1000

-- Calls visit(items) for each page of a SET's members or a HASH's fields and values
-- (alternating), so that no single reply holds a million members.
local function each_page(command, key, visit)
  local cursor = '0'
  repeat
    local page = redis.call(command, key, cursor, 'COUNT', PAGE)
    cursor = page[1]
    if #page[2] > 0 then
      visit(page[2])
    end
  until cursor == '0'
end

-- HSET of many fields and values (alternating) in one command.
local function hset_all(key, pairs)
  redis.call('HSET', key, unpack(pairs))
end

-- Nothing is written unless this is the node whose state the caller read, and no control newer
-- than this repair has reached it (a meta from before control versions has none: 0, see
-- src/reconcile/formats.rs).
local own_run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
local own_replid = string.match(redis.call('INFO', 'replication'), 'master_replid:(%x+)')
if own_run ~= ARGV[6] or own_replid ~= ARGV[8] then
  return -2
end
if tonumber(redis.call('HGET', KEYS[1], 'control') or '0') > tonumber(ARGV[7]) then
  return -1
end

-- Claimed = users Redis remembers (acknowledged, maybe not yet synced) plus users PostgreSQL
-- recorded. Counting the union, not either side alone, is what prevents over-issue. Where both
-- know a user, PostgreSQL's number is written last and wins: it is the code the member will be
-- shown.
if redis.call('TYPE', KEYS[3]).ok == 'set' then
  -- Format 1 kept only the users: they are written into KEYS[6] with '0' (recorded in
  -- PostgreSQL: the sync trims an entry only after its commit), then the queued entries
  -- ("seq<TAB>...<TAB>user") with their numbers, and the set is replaced by it. Deletable once
  -- no Redis can hold format 1 (src/reconcile/formats.rs).
  each_page('SSCAN', KEYS[3], function(users)
    local pairs = {}
    for i = 1, #users do
      pairs[2 * i - 1], pairs[2 * i] = users[i], '0'
    end
    hset_all(KEYS[6], pairs)
  end)
  local length = redis.call('LLEN', KEYS[5])
  for first = 0, length - 1, PAGE do
    local pairs = {}
    for _, entry in ipairs(redis.call('LRANGE', KEYS[5], first, first + PAGE - 1)) do
      local seq = string.match(entry, '^(%d+)\t')
      local user = string.match(entry, '\t([^\t]*)$')
      if seq and user then
        pairs[#pairs + 1], pairs[#pairs + 2] = user, string.format('%x', tonumber(seq))
      end
    end
    if #pairs > 0 then
      hset_all(KEYS[6], pairs)
    end
  end
  redis.call('DEL', KEYS[3])
  if redis.call('EXISTS', KEYS[6]) == 1 then
    redis.call('RENAME', KEYS[6], KEYS[3])
  end
end
if redis.call('EXISTS', KEYS[4]) == 1 then
  if redis.call('EXISTS', KEYS[3]) == 1 then
    each_page('HSCAN', KEYS[4], function(pairs) hset_all(KEYS[3], pairs) end)
    redis.call('DEL', KEYS[4])
  else
    redis.call('RENAME', KEYS[4], KEYS[3])
    -- The staging key's expiry would come along.
    redis.call('PERSIST', KEYS[3])
  end
end
local claimed = redis.call('HLEN', KEYS[3])
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
  'quantity', ARGV[4], 'seq', string.format('%d', seq), 'run', own_run, 'replid', own_replid,
  'format', '2', 'control', ARGV[7], 'verified', ARGV[7])
redis.call('SET', KEYS[2], string.format('%d', available))
return claimed
