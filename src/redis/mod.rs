//! Everything the engine keeps in Redis: key names and the Lua scripts that change them.

mod cluster;
mod groups;
mod keys;
mod link;
mod scripts;

pub use cluster::{Clustered, slot_of};
pub use groups::Groups;
pub use keys::CampaignKeys;
pub use link::{RedisLink, RedisTarget};
pub use scripts::CLAIM_SCRIPT;
pub(crate) use scripts::{Call, Scripts, is_unknown_script};
