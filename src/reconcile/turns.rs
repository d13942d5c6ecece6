//! One load of a campaign per instance at a time: the claims that find a campaign not ready wait
//! for the load in progress instead of each starting one (each would take a pool connection and
//! queue on the campaign's row lock: a rush right after Redis lost its data ran the pool dry).

use crate::campaign::CampaignId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The turn of each campaign being loaded on this instance right now.
#[derive(Default)]
pub(crate) struct LoadTurns(Mutex<HashMap<CampaignId, Arc<tokio::sync::Mutex<()>>>>);

impl LoadTurns {
    /// Waits for `campaign`'s turn; the returned guard gives it back when dropped.
    pub async fn take(&self, campaign: CampaignId) -> Turn<'_> {
        let lock = self.lock().entry(campaign).or_default().clone();
        let held = lock.clone().lock_owned().await;
        Turn {
            turns: self,
            campaign,
            lock,
            held: Some(held),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CampaignId, Arc<tokio::sync::Mutex<()>>>> {
        // Entries are only inserted and removed whole, so a poisoned map is still consistent.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Campaigns with a turn in use or waited for.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// A campaign's turn, held until dropped.
pub(crate) struct Turn<'a> {
    turns: &'a LoadTurns,
    campaign: CampaignId,
    lock: Arc<tokio::sync::Mutex<()>>,
    held: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        drop(self.held.take());
        let mut turns = self.turns.lock();
        // The map's reference and ours: nobody else waits, so the entry goes (a flood of
        // unknown ids must not grow the map).
        if Arc::strong_count(&self.lock) == 2 {
            turns.remove(&self.campaign);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn turns_of_one_campaign_run_one_at_a_time_and_leave_nothing_behind() {
        let turns = Arc::new(LoadTurns::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (turns, inside, most) = (turns.clone(), inside.clone(), most.clone());
                tokio::spawn(async move {
                    let _turn = turns.take(CampaignId(7)).await;
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
        assert_eq!(turns.len(), 0);
    }
}
