-- identity.lua: who the node that holds KEYS[1] is (src/reconcile/identity.rs): its run id (the
-- process) and its replication id (the history of its data: new when a primary restarts or a
-- replica is promoted). On a cluster only a call that names a key reaches the node owning the
-- key's slot; the key is not read.
--
-- KEYS[1] any key of the campaign asked about
--
-- Returns {run id, replication id}.
return {
  string.match(redis.call('INFO', 'server'), 'run_id:(%x+)'),
  string.match(redis.call('INFO', 'replication'), 'master_replid:(%x+)')
}
