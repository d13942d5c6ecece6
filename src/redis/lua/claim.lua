#!lua flags=allow-cross-slot-keys
-- claim.lua: decide claims and apply them, atomically and in the order given (Redis runs a
-- script without interleaving). A lone claim is a call with one argument, its user; the server
-- sends every claim that arrived while its previous call was on its way in one call (see
-- src/claim/batcher.rs), which costs Redis a fraction per claim: the claims of one campaign,
-- and after them those of other campaigns the same node holds.
--
-- KEYS[1] meta    HASH   status, starts_ms, ends_ms, quantity, seq, run, replid, format, control
-- KEYS[2] counter STRING coupons still available
-- KEYS[3] issued  HASH   user id -> the sequence number it got, in hexadecimal (src/redis/keys.rs)
-- KEYS[4] queue   LIST   "seq<TAB>ms_since_open<TAB>user" entries waiting for the sync
-- ARGV[1] the run id of the Redis the caller believes it is talking to (src/reconcile/identity.rs),
--         or '' for the script to read its own: on a cluster (and only there) the caller
--         cannot know which node runs the call once a slot moves
-- ARGV[2..] one user id per claim of the KEYS' campaign (validated: no control characters);
--         then, for each other campaign, a line feed and its id ("\n42"), then its users. Its
--         keys are named here from the id (the names of src/redis/keys.rs); on a cluster they
--         are not declared, since declared keys must share one slot, and the flag above lets
--         the script reach undeclared keys of the other slots its node holds.
--
-- The coupon's code is not decided here: the server derives it from the campaign and the
-- sequence number (src/code/), so nothing but the sequence has to be kept for it.
--
-- Replies: first this node's replication id (a replicated acknowledgment is checked against
-- the history the claims were written in: src/claim/ack.rs), then campaign after campaign in
-- the order given:
--   0           the campaign is not ready (meta or counter missing; its state was last verified
--               against PostgreSQL by another Redis: meta's run is not ARGV[1], or meta's replid
--               is not this node's replication id, so this state may be an older copy restored
--               after a crash, a failover, or a failback to a primary that fell behind; or it
--               was written by a release that kept the issued users in a SET: meta's format is
--               not 2), and the caller verifies, rebuilds or converts it and asks again
--   -1          (another campaign only) its keys are not all on this node (its slot moved or is
--               moving): nothing of it was read or written, and the caller sends it on its own
--   otherwise three integers per claim, in the order of the users:
--     1, remaining, seq    issued
--     2, 0, 0              already claimed by this user (also a repeat within one call)
--     3, 0, 0              sold out
--     4, starts_ms, 0      not open yet
--     5, 0, 0              ended (by the marketer, or the window is over)
--     6, 0, 0              paused
-- So a call of one campaign replies {replid, 0} or {replid, decisions...}. Integers rather than
-- strings keep the rest of the reply cheap to parse on the hot path.

local run = ARGV[1]
if run == '' then
  run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
end
-- The replication id is read here, never taken from the caller: a process keeps its script
-- cache and its run id when it is demoted, resynced and promoted again, so neither NOSCRIPT nor
-- the run id tells a caller that it fell behind meanwhile; its promotion gave it a new
-- replication id, which the states it holds were not stamped with (src/reconcile/identity.rs).
local replid = string.match(redis.call('INFO', 'replication'), 'master_replid:(%x+)')
-- Redis's clock, not the app server's: every instance judges the window by the same time.
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local reply = {replid or ''}

local function answer(outcome, first, second)
  local n = #reply
  reply[n + 1], reply[n + 2], reply[n + 3] = outcome, first, second
end

-- The caller leaves the run id to the script exactly on a cluster (ARGV[1] above), the only place
-- another campaign's keys can be on another node.
local on_cluster = ARGV[1] == ''

-- Whether the keys (of one slot) are all served here: a key of a slot this node does not hold,
-- or is handing over, is an error, which would stop the script half-way with earlier writes
-- kept. One command for all of them: Redis checks a command's keys together, and refuses it
-- if any is not here.
local function all_here(keys)
  if not on_cluster then
    return true
  end
  local probe = redis.pcall('EXISTS', unpack(keys))
  return not (type(probe) == 'table' and probe.err)
end

-- Decides the claims ARGV[first..last] of the campaign with these keys.
local function decide(meta_key, counter_key, issued_key, queue_key, first, last)
  local meta = redis.call('HMGET', meta_key, 'status', 'starts_ms', 'ends_ms', 'seq', 'run', 'format',
    'replid')
  local available = redis.call('GET', counter_key)
  if not meta[1] or not available or meta[6] ~= '2' or meta[5] ~= run or meta[7] ~= replid then
    reply[#reply + 1] = 0
    return
  end
  local starts_ms = tonumber(meta[2])

  -- What the campaign answers anyone who does not hold a coupon yet; nil while it issues.
  local refusal, refusal_detail = nil, 0
  if meta[1] == 'paused' then
    refusal = 6
  elseif meta[1] ~= 'active' then
    refusal = 5
  elseif now_ms < starts_ms then
    refusal, refusal_detail = 4, starts_ms
  elseif now_ms >= tonumber(meta[3]) then
    refusal = 5
  end

  local left = tonumber(available)
  local seq = tonumber(meta[4] or '0')
  -- The claim time is kept as milliseconds since the window opened: first-come-first-served
  -- campaigns drain within minutes of opening, so that is a few digits instead of thirteen, on
  -- every queued coupon.
  local since_open = string.format('%d', now_ms - starts_ms)
  -- One read for every user of the call and one write for the ones issued: a command costs the
  -- script, the replicas and the append-only file about the same whatever its size.
  local held = redis.call('HMGET', issued_key, unpack(ARGV, first, last))
  local issued_now = {}
  local pairs_written = {}
  local entries = {}
  for i = first, last do
    local user = ARGV[i]
    -- A user who has a coupon hears that first, whatever else changed since; so does a repeat
    -- of a user issued earlier in this call.
    if held[i - first + 1] or issued_now[user] then
      answer(2, 0, 0)
    elseif refusal then
      answer(refusal, refusal_detail, 0)
    elseif left <= 0 then
      answer(3, 0, 0)
    else
      left = left - 1
      seq = seq + 1
      issued_now[user] = true
      -- Hexadecimal: up to 16.7 million in six characters, which Redis keeps in its smallest
      -- allocation (docs/benchmark.md); the lookup of a not-yet-synced coupon starts from it.
      pairs_written[#pairs_written + 1] = user
      pairs_written[#pairs_written + 1] = string.format('%x', seq)
      -- The user id goes last so that the entry splits unambiguously into three fields.
      entries[#entries + 1] = string.format('%d', seq) .. '\t' .. since_open .. '\t' .. user
      answer(1, left, seq)
    end
  end
  if #entries > 0 then
    redis.call('HSET', issued_key, unpack(pairs_written))
    redis.call('DECRBY', counter_key, #entries)
    redis.call('HINCRBY', meta_key, 'seq', #entries)
    redis.call('RPUSH', queue_key, unpack(entries))
  end
end

-- Where the users of the campaign starting at ARGV[from] end: before the next line feed.
local function end_of_users(from)
  local i = from
  while i <= #ARGV and string.byte(ARGV[i], 1) ~= 10 do
    i = i + 1
  end
  return i - 1
end

local last = end_of_users(2)
decide(KEYS[1], KEYS[2], KEYS[3], KEYS[4], 2, last)
while last < #ARGV do
  local tag = '{' .. string.sub(ARGV[last + 1], 2) .. '}'
  local first = last + 2
  last = end_of_users(first)
  local keys = {'coupon:meta:' .. tag, 'coupon:counter:' .. tag, 'coupon:issued:' .. tag,
    'coupon:queue:' .. tag}
  if all_here(keys) then
    decide(keys[1], keys[2], keys[3], keys[4], first, last)
  else
    reply[#reply + 1] = -1
  end
end
return reply
