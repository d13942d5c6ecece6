//! The Lua scripts, compiled into the binary, and how they are called.
//!
//! Each script is sent with a comment naming this process (a random token), so its SHA is this
//! process's own: a Redis that restarted or was swapped by a failover answers `NOSCRIPT` to it,
//! whoever else has loaded their copy meanwhile. That answer is how the instance learns that
//! Redis changed ([`RedisIdentity`]); it then reads the run id, loads the script and retries.

use super::RedisLink;
use super::identity::RedisIdentity;
use crate::engine::random_token;
use redis::{ErrorKind, FromRedisValue, RedisResult, Script, ServerErrorKind, ToRedisArgs};
use std::sync::Arc;

/// The claim script's source, for tools that run it directly (the benchmark's raw line). Its
/// first argument is the run id the campaign's state must be stamped with.
pub const CLAIM_SCRIPT: &str = include_str!("lua/claim.lua");

/// The engine's scripts, shared by every clone of the engine.
#[derive(Clone)]
pub(crate) struct Scripts(Arc<ScriptSet>);

pub(crate) struct ScriptSet {
    pub claim: Script,
    pub repair: Script,
    pub acquire_lease: Script,
    pub acknowledge: Script,
    pub release_lease: Script,
    pub set_status: Script,
    pub set_quantity: Script,
    pub lookup: Script,
    /// The Redis these scripts were last loaded into.
    pub identity: RedisIdentity,
}

impl Scripts {
    pub fn new() -> Self {
        let token = random_token();
        let script = |source: &str| Script::new(&format!("{source}\n-- instance {token}\n"));
        Self(Arc::new(ScriptSet {
            claim: script(CLAIM_SCRIPT),
            repair: script(include_str!("lua/repair.lua")),
            acquire_lease: script(include_str!("lua/acquire_lease.lua")),
            acknowledge: script(include_str!("lua/acknowledge.lua")),
            release_lease: script(include_str!("lua/release_lease.lua")),
            set_status: script(include_str!("lua/set_status.lua")),
            set_quantity: script(include_str!("lua/set_quantity.lua")),
            lookup: script(include_str!("lua/lookup.lua")),
            identity: RedisIdentity::default(),
        }))
    }

    /// A call of `script` (one of this set's), to be given its keys and arguments.
    pub fn call<'s>(&'s self, script: &'s Script) -> Call<'s> {
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

/// One call of a script: its keys and arguments, sent with `EVALSHA`.
pub(crate) struct Call<'s> {
    set: &'s ScriptSet,
    script: &'s Script,
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
    /// process is new to it), reads Redis's run id again, loads the script and retries once.
    pub async fn invoke<T: FromRedisValue>(&self, redis: &mut RedisLink) -> RedisResult<T> {
        match self.evalsha().query_async(redis).await {
            Err(error) if is_unknown_script(&error) => {
                self.set.identity.refresh(redis).await?;
                self.script.load_async(redis).await?;
                self.evalsha().query_async(redis).await
            }
            other => other,
        }
    }

    fn evalsha(&self) -> redis::Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(self.script.get_hash()).arg(self.keys.len());
        for key in &self.keys {
            cmd.arg(key.as_slice());
        }
        if self.identity_first {
            cmd.arg(&*self.set.identity.current());
        }
        for arg in &self.args {
            cmd.arg(arg.as_slice());
        }
        cmd
    }
}

fn is_unknown_script(error: &redis::RedisError) -> bool {
    error.kind() == ErrorKind::Server(ServerErrorKind::NoScript)
}
