//! Redis key names. Every key of one campaign carries the campaign id as a hash tag (`{42}`),
//! so they all live in one Redis Cluster slot and a single script may touch them together.

use crate::campaign::CampaignId;

/// The Redis keys of one campaign.
#[derive(Debug, Clone)]
pub struct CampaignKeys {
    /// STRING: coupons still available (the original design's counter).
    pub counter: String,
    /// HASH: user id -> the sequence number of its coupon, in hexadecimal (`0`: recorded before
    /// the numbers were kept). A SET of user ids in format 1 (src/reconcile/formats.rs).
    pub issued: String,
    /// LIST: issued coupons waiting to be written to PostgreSQL.
    pub queue: String,
    /// HASH: what the claim script needs besides the counter (status, window, quantity, last
    /// sequence number). Its absence means "not loaded".
    pub meta: String,
    /// STRING: token of the instance currently draining the queue (a lease with a TTL).
    pub drain_lease: String,
    /// HASH: outcome of the last sync of this campaign, shared by all instances.
    pub sync_state: String,
}

impl CampaignKeys {
    /// STRING, lives seconds: written by a replicated acknowledgment before its `WAIT`, so the
    /// connection that waits has written past the claims it confirms (src/claim/ack.rs). Named
    /// by a campaign only to land in its slot.
    pub fn ack_probe(id: CampaignId) -> String {
        format!("coupon:ack:{{{id}}}")
    }

    /// The keys of campaign `id`.
    pub fn new(id: CampaignId) -> Self {
        // Every claim builds these: the id is formatted once, not once a key.
        let tag = format!("{{{id}}}");
        let key = |kind: &str| ["coupon:", kind, ":", &tag].concat();
        Self {
            counter: key("counter"),
            issued: key("issued"),
            queue: key("queue"),
            meta: key("meta"),
            drain_lease: key("drain"),
            sync_state: key("sync"),
        }
    }

    /// The Redis Cluster slot every key of campaign `id` hashes to (that of its hash tag),
    /// without making the key names.
    pub fn slot(id: CampaignId) -> u16 {
        super::slot_of(id.to_string().as_bytes())
    }

    /// A private staging HASH for one loader run, in the same slot as the other keys.
    pub fn loading(id: CampaignId, token: &str) -> String {
        format!("coupon:loading:{{{id}}}:{token}")
    }

    /// Where repair.lua converts a set of issued users (format 1) into a hash; it exists only
    /// inside that script's atomic call. Goes with format 1 (src/reconcile/formats.rs).
    pub fn converting(id: CampaignId) -> String {
        format!("coupon:converting:{{{id}}}")
    }

    /// Every key of the campaign, e.g. to simulate losing them.
    pub fn all(&self) -> [&str; 6] {
        [
            &self.counter,
            &self.issued,
            &self.queue,
            &self.meta,
            &self.drain_lease,
            &self.sync_state,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_campaign_slot_is_the_slot_of_each_of_its_keys() {
        let keys = CampaignKeys::new(CampaignId(42));
        for key in keys.all() {
            assert_eq!(
                CampaignKeys::slot(CampaignId(42)),
                super::super::slot_of(key.as_bytes())
            );
        }
    }

    #[test]
    fn keys_keep_the_seed_names_with_the_id_as_hash_tag() {
        let keys = CampaignKeys::new(CampaignId(42));
        assert_eq!(keys.counter, "coupon:counter:{42}");
        assert_eq!(keys.issued, "coupon:issued:{42}");
        assert_eq!(keys.queue, "coupon:queue:{42}");
        assert_eq!(
            CampaignKeys::loading(CampaignId(42), "t"),
            "coupon:loading:{42}:t"
        );
    }
}
