//! The Lua scripts, compiled into the binary. `redis::Script` sends EVALSHA and falls back to
//! EVAL (loading the script) when Redis does not know it yet, e.g. after a restart.

use redis::Script;
use std::sync::Arc;

/// The claim script's source, for tools that run it directly (the benchmark's raw line).
pub const CLAIM_SCRIPT: &str = include_str!("lua/claim.lua");

/// The engine's scripts, shared by every clone of the engine.
#[derive(Clone)]
pub(crate) struct Scripts(Arc<ScriptSet>);

pub(crate) struct ScriptSet {
    pub claim: Script,
    pub load: Script,
    pub acquire_lease: Script,
    pub acknowledge: Script,
    pub release_lease: Script,
    pub set_status: Script,
    pub set_quantity: Script,
}

impl Scripts {
    pub fn new() -> Self {
        Self(Arc::new(ScriptSet {
            claim: Script::new(CLAIM_SCRIPT),
            load: Script::new(include_str!("lua/load.lua")),
            acquire_lease: Script::new(include_str!("lua/acquire_lease.lua")),
            acknowledge: Script::new(include_str!("lua/acknowledge.lua")),
            release_lease: Script::new(include_str!("lua/release_lease.lua")),
            set_status: Script::new(include_str!("lua/set_status.lua")),
            set_quantity: Script::new(include_str!("lua/set_quantity.lua")),
        }))
    }
}

impl std::ops::Deref for Scripts {
    type Target = ScriptSet;
    fn deref(&self) -> &ScriptSet {
        &self.0
    }
}
