//! Everything the engine keeps in Redis: key names and the Lua scripts that change them.

mod identity;
mod keys;
mod scripts;

pub use keys::CampaignKeys;
pub use scripts::CLAIM_SCRIPT;
pub(crate) use scripts::Scripts;
