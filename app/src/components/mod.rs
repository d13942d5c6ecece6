//! Pieces shared by several pages.

pub mod admin_gate;
pub mod chart;
pub mod fairness;
pub mod field;
pub mod layout;
pub mod live;
