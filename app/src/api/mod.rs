//! The server functions the pages call, and the values they exchange. Each server function
//! checks who is calling inside itself: they are HTTP endpoints anyone can reach directly.

mod admin;
mod audit;
mod campaigns;
mod coupons;
mod fairness;
mod member;
mod types;

pub use admin::*;
pub use audit::*;
pub use campaigns::*;
pub use coupons::*;
pub use fairness::*;
pub use member::*;
pub use types::*;
