-- run_id.lua: the run id of the node that holds KEYS[1] (src/redis/identity.rs). On a cluster
-- only a call that names a key reaches the node owning the key's slot; the key is not read.
--
-- KEYS[1] any key of the campaign asked about
return string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
