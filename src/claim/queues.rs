//! Claims waiting for their node's next round: one queue per Redis node, so that each node has
//! one round in flight at a time and a slow node (failing over, hanging) holds up the campaigns
//! it holds only, not every other node's.
//!
//! A campaign stays with the node its waiting and in-flight claims went to until they are all
//! answered, even when the slot owners read meanwhile name another node: its claims are then
//! still sent in the order they arrived, one round after another (Redis Cluster routes each call
//! by its keys, so a call sent through the old node's queue still reaches the new owner).

use crate::campaign::CampaignId;
use std::collections::HashMap;
use std::sync::Arc;

/// A node as the slot owners last named it; `None` while the owner of a slot is not known.
pub(crate) type Node = Option<Arc<str>>;

/// Anything that waits in a queue: what campaign it is for.
pub(crate) trait ForCampaign {
    fn campaign(&self) -> CampaignId;
}

/// The queues, and which campaigns are bound to which node while they have claims there.
pub(crate) struct NodeQueues<T> {
    queues: HashMap<Node, Queue<T>>,
    bound: HashMap<CampaignId, (Node, usize)>,
    most_per_round: usize,
    most_waiting: usize,
}

struct Queue<T> {
    waiting: Vec<T>,
    in_flight: bool,
}

/// A round taken from one node's queue: its claims in arrival order.
pub(crate) struct Round<T> {
    pub node: Node,
    pub claims: Vec<T>,
}

impl<T: ForCampaign> NodeQueues<T> {
    /// Queues whose rounds take at most `most_per_round` claims each, with at most
    /// `most_waiting` claims waiting on one node.
    pub fn new(most_per_round: usize, most_waiting: usize) -> Self {
        Self {
            queues: HashMap::new(),
            bound: HashMap::new(),
            most_per_round,
            most_waiting,
        }
    }

    /// Queues `claim` behind the other claims of its campaign: on the node they went to, or
    /// when there are none, on the node `node_of` names. Hands it back when that node has as
    /// many claims waiting as it may: while a node does not answer, its claims would otherwise
    /// pile up for as long as it hangs (the other nodes' claims go on meanwhile).
    pub fn push(&mut self, claim: T, node_of: impl FnOnce(CampaignId) -> Node) -> Result<(), T> {
        let campaign = claim.campaign();
        let node = match self.bound.get(&campaign) {
            Some((node, _)) => node.clone(),
            None => node_of(campaign),
        };
        let queue = self.queues.entry(node.clone()).or_insert_with(|| Queue {
            waiting: Vec::new(),
            in_flight: false,
        });
        if queue.waiting.len() >= self.most_waiting {
            return Err(claim);
        }
        queue.waiting.push(claim);
        self.bound.entry(campaign).or_insert((node, 0)).1 += 1;
        Ok(())
    }

    /// A round for every node that has claims waiting and no round in flight; those nodes
    /// count as busy until [`NodeQueues::finished`].
    pub fn take_ready(&mut self) -> Vec<Round<T>> {
        let most = self.most_per_round;
        let mut rounds = Vec::new();
        for (node, queue) in &mut self.queues {
            if queue.in_flight || queue.waiting.is_empty() {
                continue;
            }
            let rest = queue.waiting.split_off(queue.waiting.len().min(most));
            let claims = std::mem::replace(&mut queue.waiting, rest);
            queue.in_flight = true;
            rounds.push(Round {
                node: node.clone(),
                claims,
            });
        }
        rounds
    }

    /// The round of `node` that carried claims of `campaigns` (one entry per claim) was
    /// answered: the node can take its next round, and a campaign with no claims left on it is
    /// free to follow the slot owners again.
    pub fn finished(&mut self, node: &Node, campaigns: &[CampaignId]) {
        if let Some(queue) = self.queues.get_mut(node) {
            queue.in_flight = false;
            if queue.waiting.is_empty() {
                self.queues.remove(node);
            }
        }
        for campaign in campaigns {
            if let Some((_, count)) = self.bound.get_mut(campaign) {
                *count -= 1;
                if *count == 0 {
                    self.bound.remove(campaign);
                }
            }
        }
    }

    /// Whether nothing is waiting or in flight.
    pub fn is_idle(&self) -> bool {
        self.queues.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A claim stand-in: its campaign and its number in arrival order.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Claim(i64, usize);

    impl ForCampaign for Claim {
        fn campaign(&self) -> CampaignId {
            CampaignId(self.0)
        }
    }

    fn node(name: &str) -> Node {
        Some(Arc::from(name))
    }

    /// Queues `claim` where the slot owners name `owner`; it must be taken.
    fn push(queues: &mut NodeQueues<Claim>, claim: Claim, owner: &str) {
        assert_eq!(queues.push(claim, |_| node(owner)), Ok(()));
    }

    fn campaigns(round: &Round<Claim>) -> Vec<CampaignId> {
        round.claims.iter().map(ForCampaign::campaign).collect()
    }

    #[test]
    fn each_node_has_one_round_in_flight_and_a_slow_one_holds_up_only_its_own() {
        let mut queues = NodeQueues::new(100, 100);
        push(&mut queues, Claim(1, 0), "a");
        push(&mut queues, Claim(2, 1), "b");
        let mut first = queues.take_ready();
        first.sort_by_key(|round| round.node.clone());
        assert_eq!(first.len(), 2, "both nodes start a round");
        push(&mut queues, Claim(1, 2), "a");
        push(&mut queues, Claim(2, 3), "b");
        assert!(queues.take_ready().is_empty(), "both nodes are busy");
        // b answers, a does not yet.
        queues.finished(&node("b"), &campaigns(&first[1]));
        let next = queues.take_ready();
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].node, node("b"));
        assert_eq!(next[0].claims, vec![Claim(2, 3)]);
        assert!(!queues.is_idle());
    }

    #[test]
    fn a_campaign_stays_with_its_node_until_its_claims_there_are_answered() {
        let mut queues = NodeQueues::new(100, 100);
        push(&mut queues, Claim(7, 0), "a");
        let first = queues.take_ready();
        // The slot owners now name b, but a claim of 7 is still in flight on a.
        push(&mut queues, Claim(7, 1), "b");
        assert!(
            queues.take_ready().is_empty(),
            "the second claim waits for the first one's round"
        );
        queues.finished(&node("a"), &campaigns(&first[0]));
        let second = queues.take_ready();
        assert_eq!(second[0].node, node("a"));
        assert_eq!(second[0].claims, vec![Claim(7, 1)]);
        queues.finished(&node("a"), &campaigns(&second[0]));
        assert!(queues.is_idle());
        push(&mut queues, Claim(7, 2), "b");
        assert_eq!(
            queues.take_ready()[0].node,
            node("b"),
            "free again: it follows the owners"
        );
    }

    #[test]
    fn a_round_takes_at_most_its_share_in_arrival_order() {
        let mut queues = NodeQueues::new(3, 100);
        for n in 0..5 {
            push(&mut queues, Claim(1, n), "a");
        }
        let first = queues.take_ready();
        assert_eq!(
            first[0].claims,
            (0..3).map(|n| Claim(1, n)).collect::<Vec<_>>()
        );
        queues.finished(&node("a"), &campaigns(&first[0]));
        let second = queues.take_ready();
        assert_eq!(second[0].claims, vec![Claim(1, 3), Claim(1, 4)]);
    }

    #[test]
    fn a_node_with_a_full_queue_hands_claims_back_and_the_others_take_theirs() {
        let mut queues = NodeQueues::new(100, 2);
        push(&mut queues, Claim(1, 0), "a");
        push(&mut queues, Claim(1, 1), "a");
        assert_eq!(queues.push(Claim(1, 2), |_| node("a")), Err(Claim(1, 2)));
        push(&mut queues, Claim(2, 3), "b");
        let mut rounds = queues.take_ready();
        rounds.sort_by_key(|round| round.node.clone());
        assert_eq!(rounds[0].claims, vec![Claim(1, 0), Claim(1, 1)]);
        queues.finished(&node("a"), &campaigns(&rounds[0]));
        queues.finished(&node("b"), &campaigns(&rounds[1]));
        assert!(queues.is_idle(), "the refused claim was not counted");
    }
}
