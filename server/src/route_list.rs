//! The app's route list, generated once per process.
//!
//! Generating it renders the app with resource loading suppressed by a process-wide flag, so a
//! page rendered meanwhile by another server in the same process (the test suites start many)
//! could wait forever on a resource that never loads (leptos issue #4773).

use std::sync::OnceLock;

use app::App;
use leptos_axum::{AxumRouteListing, generate_route_list};

pub fn routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}
