//! One sync round over every watched campaign: verify each one's Redis state against the record,
//! drain the queues that hold coupons, and retire the campaigns that are over.

use super::drainer::{Drainer, StepOutcome, SyncReport};
use crate::campaign::CampaignId;
use crate::error::EngineError;
use crate::metrics;
use crate::reconcile::{self, ExpectedRuns, MetaView};
use crate::redis::CampaignKeys;
use crate::store::campaigns::{self, Watched};
use chrono::{DateTime, Utc};
use std::time::Instant;

/// What one pipelined read found of a watched campaign's Redis state.
struct Seen {
    queued: usize,
    meta: MetaView,
}

/// Which campaigns a round visits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pace {
    /// Every watched campaign, now.
    Every,
    /// Those not resting after a failure (see `backoff.rs`).
    Due,
}

impl Drainer {
    /// One round: for every watched campaign, a check of its Redis state against the record
    /// (repaired if it is behind, was last verified by another Redis, or its status, window or
    /// quantity is not the record's), then one drain step if its queue holds coupons. Campaigns
    /// whose window ended by Redis's clock (plus a grace period) and whose queue is empty are
    /// marked drained and skipped from then on. Fails only if the list of campaigns cannot be
    /// read.
    ///
    /// The round first reads every campaign's queue length and meta in one pipelined call, and
    /// only campaigns with a queued coupon get a step (lease, read, commit). Most watched
    /// campaigns are idle at any moment, and a step each would cost the busy ones two round
    /// trips per idle campaign on every round.
    ///
    /// Visits every campaign, even one backing off after a failure (a test, an operator asking
    /// for a round now); the background loop runs [`Drainer::sync_due`].
    pub async fn sync_once(&self) -> Result<SyncReport, EngineError> {
        self.round(Pace::Every).await
    }

    /// One round as [`Drainer::sync_once`], over the campaigns due: a campaign whose last
    /// visit failed rests until its back-off runs out, while the others are visited as usual.
    pub async fn sync_due(&self) -> Result<SyncReport, EngineError> {
        self.round(Pace::Due).await
    }

    async fn round(&self, pace: Pace) -> Result<SyncReport, EngineError> {
        let (mut watched, listing_failed) = self.campaigns_to_visit().await;
        if watched.is_empty()
            && let Some(error) = listing_failed
        {
            return Err(error);
        }
        let listed = watched.len();
        if pace == Pace::Due {
            let ids: Vec<CampaignId> = watched.iter().map(|w| w.campaign.id).collect();
            self.resting.keep_only(&ids);
            let now = Instant::now();
            watched.retain(|w| self.resting.is_due(w.campaign.id, now));
        }
        let mut report = SyncReport {
            campaigns: watched.len(),
            resting: listed - watched.len(),
            ..SyncReport::default()
        };
        // Every campaign is resting: nothing to ask Redis this round.
        if watched.is_empty() && listed > 0 {
            return listing_failed.map_or(Ok(report), Err);
        }
        let runs = ExpectedRuns::read(&mut self.engine.redis()).await;
        let (seen, redis_now): (Vec<Option<Seen>>, _) = match self.read_round(&watched).await {
            Some((seen, now)) => (seen.into_iter().map(Some).collect(), Some(now)),
            None => (watched.iter().map(|_| None).collect(), None),
        };
        for (watched, seen) in watched.into_iter().zip(seen) {
            let id = watched.campaign.id;
            if self
                .visit(&watched, seen, &runs, redis_now, &mut report)
                .await
            {
                self.resting.succeeded(id);
            } else {
                report.failed += 1;
                let settings = self.engine.sync_settings();
                let pause = self.resting.failed(
                    id,
                    Instant::now(),
                    settings.idle_interval,
                    settings.max_backoff,
                );
                tracing::debug!(campaign = %id, ?pause, "campaign backs off");
            }
        }
        match listing_failed {
            Some(error) => Err(error),
            None => Ok(report),
        }
    }

    /// One campaign's part of a round (repair, drain step, retirement), added to `report`;
    /// whether it went without failing (a failure is logged and recorded in the campaign's
    /// sync state, where its status shows it).
    async fn visit(
        &self,
        watched: &Watched,
        seen: Option<Seen>,
        runs: &ExpectedRuns,
        redis_now: Option<DateTime<Utc>>,
        report: &mut SyncReport,
    ) -> bool {
        let id = watched.campaign.id;
        if let Some(seen) = &seen
            && self.disagrees(watched, &seen.meta, runs)
            && let Err(error) = self.engine.verify_campaign(id).await
        {
            tracing::warn!(campaign = %id, %error, "could not repair the claim state");
            self.record_error(id, &error).await;
            return false;
        }
        let step = match seen.map(|seen| seen.queued) {
            Some(0) => {
                metrics::queue_seen(id, 0, None);
                Ok(StepOutcome::Empty)
            }
            // Something is queued, or Redis could not be read: a full step (which records
            // a failure in the campaign's sync state, where its status shows it).
            _ => self.drain_step(id).await,
        };
        match step {
            Ok(StepOutcome::Moved(batch)) => {
                report.entries += batch.entries;
                report.inserted += batch.inserted;
                report.set_aside += batch.set_aside;
                report.more_pending |= batch.more_pending;
                true
            }
            Ok(StepOutcome::Empty) => {
                if self.is_over(watched, redis_now)
                    && let Err(error) = campaigns::mark_drained(self.engine.db(), id).await
                {
                    tracing::warn!(campaign = %id, %error, "could not mark drained");
                    return false;
                }
                true
            }
            Ok(StepOutcome::NotOwner) => true,
            // The queue was read from a state the record was not last verified on (see
            // src/reconcile/verifications.rs): verified now, with the recorded holders merged in,
            // and read again next round. On Sentinel only the primary the sentinels name is
            // verified: a deposed one reached through a link that has not followed the
            // failover yet is left as it is, its queue unrecorded (lost with it).
            Err(EngineError::NotVerified { .. }) => match self.engine.verify_campaign(id).await {
                Ok(_) => true,
                Err(error) => {
                    tracing::warn!(campaign = %id, %error, "could not verify the claim state");
                    false
                }
            },
            Err(_) => false,
        }
    }

    /// Whether the campaign's Redis state may disagree with the record (the rule:
    /// src/reconcile/disagreement.rs), judged with what this drainer knows: the highest number
    /// recorded (it drains the campaign, so it knows the record's) and the identity `runs`
    /// expects of the Redis holding it. Read outside the row lock, so the repair looks again
    /// under it.
    fn disagrees(&self, watched: &Watched, meta: &MetaView, runs: &ExpectedRuns) -> bool {
        let id = watched.campaign.id;
        let expected = runs.of(&self.engine.redis(), &CampaignKeys::new(id));
        reconcile::disagrees(&watched.campaign, meta, self.known_recorded(id), expected)
    }

    /// Whether the campaign's window is over, with the grace period, by Redis's clock (the one
    /// the claim script judges windows by); `false` when Redis's time is unknown.
    fn is_over(&self, watched: &Watched, redis_now: Option<DateTime<Utc>>) -> bool {
        let grace = chrono::Duration::from_std(self.engine.sync_settings().drained_grace)
            .unwrap_or(chrono::Duration::MAX);
        let over = watched.campaign.claim_ends_at.checked_add_signed(grace);
        matches!((over, redis_now), (Some(over), Some(now)) if over < now)
    }

    /// Each campaign's queue length and meta, in the order given, and Redis's clock, from one
    /// pipelined call; `None` if Redis did not answer.
    async fn read_round(&self, watched: &[Watched]) -> Option<(Vec<Seen>, DateTime<Utc>)> {
        let mut redis = self.engine.redis();
        let mut groups = redis.groups();
        for campaign in watched {
            let keys = CampaignKeys::new(campaign.campaign.id);
            let pipe = groups.group();
            pipe.llen(&keys.queue);
            MetaView::read(pipe, &keys);
        }
        groups.group().cmd("TIME");
        let replies = groups.query(&mut redis).await;
        let replies = replies.map(|groups| groups.into_iter().flatten().collect());
        match replies.map(|replies| read_replies(replies, watched.len())) {
            Ok(Some(read)) => Some(read),
            Ok(None) => None,
            Err(error) => {
                tracing::debug!(%error, "could not read the round's state; visiting every campaign");
                None
            }
        }
    }

    /// Gives up every lease this drainer holds, so other instances take over without waiting.
    pub async fn release_leases(&self) -> Result<(), EngineError> {
        let watched = campaigns::watched(self.engine.db()).await?;
        let mut redis = self.engine.redis();
        let scripts = self.engine.scripts();
        for watched in watched {
            let keys = CampaignKeys::new(watched.campaign.id);
            let _: i64 = scripts
                .call(&scripts.release_lease)
                .key(&keys.drain_lease)
                .arg(&self.token)
                .invoke(&mut redis)
                .await?;
        }
        Ok(())
    }
}

/// Two replies per campaign (queue length, meta), then `TIME`.
fn read_replies(
    replies: Vec<redis::Value>,
    campaigns: usize,
) -> Option<(Vec<Seen>, DateTime<Utc>)> {
    if replies.len() != 2 * campaigns + 1 {
        return None;
    }
    let mut replies = replies.into_iter();
    let mut seen = Vec::with_capacity(campaigns);
    for _ in 0..campaigns {
        let queued = redis::from_redis_value(replies.next()?).ok()?;
        let meta = redis::from_redis_value(replies.next()?).ok()?;
        seen.push(Seen { queued, meta });
    }
    let (seconds, micros): (i64, i64) = redis::from_redis_value(replies.next()?).ok()?;
    let now = DateTime::from_timestamp(seconds, u32::try_from(micros * 1000).ok()?)?;
    Some((seen, now))
}
