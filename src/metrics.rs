//! What the engine reports to the `metrics` facade. The server installs a Prometheus recorder;
//! without one (tests, other embedders) these calls cost next to nothing.

use crate::campaign::CampaignId;
use std::time::Duration;

/// Counter: claims answered, labelled by `outcome` (`issued`, `sold_out`, …, `error`).
pub const CLAIMS: &str = "coupon_claims_total";
/// Histogram: seconds from the claim call to its answer.
pub const CLAIM_SECONDS: &str = "coupon_claim_duration_seconds";
/// Histogram: claims decided by one call of the claim script (how much the rounds coalesce).
pub const CLAIMS_PER_CALL: &str = "coupon_claims_per_script_call";
/// Counter: Lua script calls sent, labelled by `script` (`claim`, `repair`, …) and by `node`, the
/// Redis node (`host:port`) that holds the keys of the call (on a cluster, as last read).
pub const SCRIPT_CALLS: &str = "coupon_script_calls_total";
/// Counter: sync batches committed to PostgreSQL.
pub const SYNC_BATCHES: &str = "coupon_sync_batches_total";
/// Counter: rows the sync inserted (replays of a committed batch insert none).
pub const SYNC_ROWS: &str = "coupon_sync_rows_total";
/// Counter: failed sync steps.
pub const SYNC_ERRORS: &str = "coupon_sync_errors_total";
/// Gauge: seconds the oldest entry of a campaign's queue had waited when the sync read it.
pub const SYNC_LAG: &str = "coupon_sync_lag_seconds";
/// Gauge: entries waiting in a campaign's queue, as last seen by the sync.
pub const QUEUE_DEPTH: &str = "coupon_queue_depth";
/// Counter: times this instance found Redis changed (a new run id: a restart or a failover).
pub const REDIS_CHANGES: &str = "coupon_redis_changes_total";
/// Counter: campaign states in Redis loaded or repaired from PostgreSQL, labelled by what was
/// found (`missing`, `behind`, `other_redis`, `out_of_step`).
pub const STATE_REPAIRS: &str = "coupon_state_repairs_total";
/// Counter: queued coupons the sync gave a new number because the record already held theirs
/// for another member (claims answered from a Redis state that was behind the record).
pub const RENUMBERED: &str = "coupon_renumbered_total";
/// Counter: queue entries the sync set aside because PostgreSQL refused their row (kept in
/// `set_aside_coupons` with the reason), labelled by `reason`, the kind of rule that refused it
/// (`check`, `not_null`, `foreign_key`, `exclusion`, `integrity`, `data`): a handful of values,
/// where a campaign label would grow without bound.
pub const SYNC_SET_ASIDE: &str = "coupon_sync_set_aside_total";
/// Counter: claim rounds whose writes did not reach the replicas `CLAIM_ACK=replicated` needs
/// in time (their issued claims were answered "try again").
pub const ROUNDS_UNREPLICATED: &str = "coupon_claim_rounds_unreplicated_total";
/// Counter: claims refused at once because this instance's claim queue was full (Redis slow or
/// hanging).
pub const CLAIMS_SHED: &str = "coupon_claims_shed_total";
/// Counter: claims sent again in a script call of their own because they had joined a call of
/// another campaign's on a cluster node that no longer held their campaign's keys (its slot
/// moved or was moving).
pub const CLAIMS_RESENT: &str = "coupon_claims_resent_total";

/// Counter: checkout calls, labelled by `operation` (`validate`, `hold`, `redeem`, `release`)
/// and `outcome` (`valid`, `held`, `redeemed`, `released`, or the refusal's name).
pub const CHECKOUTS: &str = "coupon_checkout_calls_total";
/// Counter: queued coupons a checkout recorded before the sync did.
pub const RECORDED_FOR_CHECKOUT: &str = "coupon_recorded_for_checkout_total";

/// Counter: fair-draw entries in batches PostgreSQL committed (src/draw/entries.rs).
pub const DRAW_ENTRIES: &str = "coupon_draw_entries_total";
/// Counter: fair draws completed by this instance (src/draw/runner.rs).
pub const DRAWS_COMPLETED: &str = "coupon_draws_completed_total";

/// Every outcome name a claim can end with (see `ClaimOutcome::name`), plus `error`.
const OUTCOMES: [&str; 10] = [
    "issued",
    "already_claimed",
    "sold_out",
    "not_open",
    "ended",
    "paused",
    "unknown_campaign",
    "entered",
    "not_drawn",
    "error",
];

/// The claim path's handles, looked up once: registering a metric by name hashes its key and
/// takes the registry's lock, which is worth avoiding on every claim.
struct ClaimHandles {
    by_outcome: Vec<metrics::Counter>,
    latency: metrics::Histogram,
    per_call: metrics::Histogram,
}

fn claim_handles() -> &'static ClaimHandles {
    static HANDLES: std::sync::OnceLock<ClaimHandles> = std::sync::OnceLock::new();
    HANDLES.get_or_init(|| ClaimHandles {
        by_outcome: OUTCOMES
            .iter()
            .map(|outcome| metrics::counter!(CLAIMS, "outcome" => *outcome))
            .collect(),
        latency: metrics::histogram!(CLAIM_SECONDS),
        per_call: metrics::histogram!(CLAIMS_PER_CALL),
    })
}

/// Counts one answered claim. The handles are taken at the first claim, so the recorder must
/// be installed before claims are served (the server does so at start-up).
pub(crate) fn claim_answered(outcome: &'static str, took: Duration) {
    let handles = claim_handles();
    if let Some(index) = OUTCOMES.iter().position(|known| *known == outcome) {
        handles.by_outcome[index].increment(1);
    }
    handles.latency.record(took.as_secs_f64());
}

/// Counts one call of the claim script carrying `claims` claims.
pub(crate) fn claim_call(claims: usize) {
    claim_handles().per_call.record(claims as f64);
}

/// Counts one script call on `node`. The handles are kept per script and node, so the claim
/// path does not look a counter up by its labels every call.
pub(crate) fn script_call(script: &'static str, node: Option<std::sync::Arc<str>>) {
    type Handles = Vec<(&'static str, std::sync::Arc<str>, metrics::Counter)>;
    static HANDLES: std::sync::RwLock<Handles> = std::sync::RwLock::new(Vec::new());
    let node = node.unwrap_or_else(|| std::sync::Arc::from("unknown"));
    let known = HANDLES
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .find(|(name, at, _)| *name == script && *at == node)
        .map(|(_, _, counter)| counter.clone());
    let counter = known.unwrap_or_else(|| {
        let counter =
            metrics::counter!(SCRIPT_CALLS, "script" => script, "node" => node.to_string());
        HANDLES
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((script, node, counter.clone()));
        counter
    });
    counter.increment(1);
}

pub(crate) fn batch_committed(inserted: u64) {
    metrics::counter!(SYNC_BATCHES).increment(1);
    metrics::counter!(SYNC_ROWS).increment(inserted);
}

pub(crate) fn checkout(operation: &'static str, outcome: &'static str) {
    metrics::counter!(CHECKOUTS, "operation" => operation, "outcome" => outcome).increment(1);
}

pub(crate) fn recorded_for_checkout() {
    metrics::counter!(RECORDED_FOR_CHECKOUT).increment(1);
}

pub(crate) fn sync_failed() {
    metrics::counter!(SYNC_ERRORS).increment(1);
}

pub(crate) fn queue_seen(campaign: CampaignId, depth: usize, lag: Option<Duration>) {
    let label = campaign.to_string();
    metrics::gauge!(QUEUE_DEPTH, "campaign" => label.clone()).set(depth as f64);
    metrics::gauge!(SYNC_LAG, "campaign" => label).set(lag.map_or(0.0, |lag| lag.as_secs_f64()));
}

pub(crate) fn redis_changed() {
    metrics::counter!(REDIS_CHANGES).increment(1);
}

pub(crate) fn state_repaired(found: &'static str) {
    metrics::counter!(STATE_REPAIRS, "found" => found).increment(1);
}

pub(crate) fn renumbered(coupons: usize) {
    metrics::counter!(RENUMBERED).increment(coupons as u64);
}

pub(crate) fn set_aside(reason: &'static str) {
    metrics::counter!(SYNC_SET_ASIDE, "reason" => reason).increment(1);
}

pub(crate) fn claim_shed() {
    metrics::counter!(CLAIMS_SHED).increment(1);
}

pub(crate) fn claims_resent(claims: usize) {
    metrics::counter!(CLAIMS_RESENT).increment(claims as u64);
}

pub(crate) fn claims_unreplicated() {
    metrics::counter!(ROUNDS_UNREPLICATED).increment(1);
}

pub(crate) fn entries_written(entries: usize) {
    metrics::counter!(DRAW_ENTRIES).increment(entries as u64);
}

pub(crate) fn draw_completed() {
    metrics::counter!(DRAWS_COMPLETED).increment(1);
}
