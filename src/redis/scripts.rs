//! The Lua scripts, compiled into the binary, and how they are called.
//!
//! Each script is sent with a comment naming this process (a random token), so its SHA is this
//! process's own: a Redis that restarted or was swapped by a failover answers `NOSCRIPT` to it,
//! whoever else has loaded their copy meanwhile. That answer is how the instance learns that
//! Redis changed ([`RedisIdentity`]); it then loads the script, reads the run id and retries.
//! It is not the only way: a process that knew this instance's scripts before (a failback) does
//! not answer `NOSCRIPT`, which is why the claim script reads its replication id itself.
//! On a cluster the scripts read their node's run id themselves, and a `NOSCRIPT` is answered by
//! sending the script whole (`EVAL`), which caches it on the node that owns the keys.

use super::RedisLink;
use crate::engine::random_token;
use crate::reconcile::RedisIdentity;
use redis::{ErrorKind, FromRedisValue, RedisResult, Script, ServerErrorKind, ToRedisArgs};
use std::sync::Arc;

/// The claim script's source, for tools that run it directly (the benchmark's raw line). Its
/// first argument is the run id the campaign's state must be stamped with.
pub const CLAIM_SCRIPT: &str = include_str!("lua/claim.lua");

/// The engine's scripts, shared by every clone of the engine.
#[derive(Clone)]
pub(crate) struct Scripts(Arc<ScriptSet>);

pub(crate) struct ScriptSet {
    pub claim: LuaScript,
    pub repair: LuaScript,
    pub acquire_lease: LuaScript,
    pub acknowledge: LuaScript,
    pub release_lease: LuaScript,
    pub set_status: LuaScript,
    pub set_quantity: LuaScript,
    pub lookup: LuaScript,
    pub identity_of: LuaScript,
    /// The Redis these scripts were last loaded into.
    pub identity: RedisIdentity,
}

impl Scripts {
    pub fn new() -> Self {
        let token = random_token();
        let script = |name: &'static str, source: &str| {
            let source = format!("{source}\n-- instance {token}\n");
            LuaScript {
                name,
                script: Script::new(&source),
                source,
            }
        };
        Self(Arc::new(ScriptSet {
            claim: script("claim", CLAIM_SCRIPT),
            repair: script("repair", include_str!("lua/repair.lua")),
            acquire_lease: script("acquire_lease", include_str!("lua/acquire_lease.lua")),
            acknowledge: script("acknowledge", include_str!("lua/acknowledge.lua")),
            release_lease: script("release_lease", include_str!("lua/release_lease.lua")),
            set_status: script("set_status", include_str!("lua/set_status.lua")),
            set_quantity: script("set_quantity", include_str!("lua/set_quantity.lua")),
            lookup: script("lookup", include_str!("lua/lookup.lua")),
            identity_of: script("identity", include_str!("lua/identity.lua")),
            identity: RedisIdentity::default(),
        }))
    }

    /// A call of `script` (one of this set's), to be given its keys and arguments.
    pub fn call<'s>(&'s self, script: &'s LuaScript) -> Call<'s> {
        Call {
            set: &self.0,
            script,
            keys: Vec::new(),
            args: Vec::new(),
            identity_first: false,
        }
    }
}

impl std::ops::Deref for Scripts {
    type Target = ScriptSet;
    fn deref(&self) -> &ScriptSet {
        &self.0
    }
}

/// A script and its source (sent whole when a cluster node does not know it).
pub(crate) struct LuaScript {
    /// As the metrics name it.
    name: &'static str,
    script: Script,
    source: String,
}

/// One call of a script: its keys and arguments, sent with `EVALSHA`.
pub(crate) struct Call<'s> {
    set: &'s ScriptSet,
    script: &'s LuaScript,
    keys: Vec<Vec<u8>>,
    args: Vec<Vec<u8>>,
    /// Whether `ARGV[1]` is the run id of Redis as known when the call goes out.
    identity_first: bool,
}

impl Call<'_> {
    /// Adds `KEYS[n]`.
    pub fn key(&mut self, key: impl ToRedisArgs) -> &mut Self {
        key.write_redis_args(&mut self.keys);
        self
    }

    /// Adds the next `ARGV` entry.
    pub fn arg(&mut self, arg: impl ToRedisArgs) -> &mut Self {
        arg.write_redis_args(&mut self.args);
        self
    }

    /// Makes `ARGV[1]` the run id of the Redis the call reaches (read again if Redis changed),
    /// before the arguments added with [`Call::arg`].
    pub fn identity_first(&mut self) -> &mut Self {
        self.identity_first = true;
        self
    }

    /// Runs the script. On `NOSCRIPT` (Redis restarted, or a failover swapped it, or this
    /// process is new to it), loads the script, reads Redis's run id again and retries once.
    /// Loaded first: a restart between the two then answers `NOSCRIPT` again, where the other
    /// order could send the run id of the Redis before the restart to the one after it, which
    /// would take a state restored from the old one's files as verified.
    pub async fn invoke<T: FromRedisValue>(&self, redis: &mut RedisLink) -> RedisResult<T> {
        let cluster = redis.cluster().is_some();
        let node = match self.keys.first() {
            Some(key) => redis.node_of(key),
            None => None,
        };
        crate::metrics::script_call(self.script.name, node);
        if self.identity_first && !cluster && self.set.identity.outdated(redis) {
            self.set.identity.refresh(redis).await?;
        }
        match self.command("EVALSHA", cluster).query_async(redis).await {
            Err(error) if is_unknown_script(&error) && cluster => {
                self.command("EVAL", cluster).query_async(redis).await
            }
            Err(error) if is_unknown_script(&error) => {
                self.script.script.load_async(redis).await?;
                self.set.identity.refresh(redis).await?;
                self.command("EVALSHA", cluster).query_async(redis).await
            }
            other => other,
        }
    }

    /// Before this call goes into a pipeline on one Redis: the run id read again if Redis may
    /// have changed, as [`Call::invoke`] does before its `EVALSHA`.
    pub async fn prepare(&self, redis: &mut RedisLink) -> RedisResult<()> {
        if self.identity_first && self.set.identity.outdated(redis) {
            self.set.identity.refresh(redis).await?;
        }
        Ok(())
    }

    /// Adds this call's `EVALSHA` to a pipeline bound for one Redis (not a cluster).
    pub fn add_to(&self, pipeline: &mut redis::Pipeline, redis: &RedisLink) {
        crate::metrics::script_call(self.script.name, redis.node_of(&[]));
        pipeline.add_command(self.command("EVALSHA", false));
    }

    /// After a pipeline's `EVALSHA` of this call was answered `NOSCRIPT`: loads the script and
    /// reads the run id again, in [`Call::invoke`]'s order; the call is then built again.
    pub async fn reload(&self, redis: &mut RedisLink) -> RedisResult<()> {
        self.script.script.load_async(redis).await?;
        self.set.identity.refresh(redis).await
    }

    /// `EVALSHA` with the script's hash, or `EVAL` with its source.
    fn command(&self, name: &str, cluster: bool) -> redis::Cmd {
        let mut cmd = redis::cmd(name);
        if name == "EVAL" {
            cmd.arg(self.script.source.as_str());
        } else {
            cmd.arg(self.script.script.get_hash());
        }
        cmd.arg(self.keys.len());
        for key in &self.keys {
            cmd.arg(key.as_slice());
        }
        if self.identity_first && cluster {
            cmd.arg("");
        } else if self.identity_first {
            cmd.arg(&*self.set.identity.current());
        }
        for arg in &self.args {
            cmd.arg(arg.as_slice());
        }
        cmd
    }
}

pub(crate) fn is_unknown_script(error: &redis::RedisError) -> bool {
    error.kind() == ErrorKind::Server(ServerErrorKind::NoScript)
}
