//! Commands about many campaigns at once (the dashboard, the sync's round, the rate limits) in a
//! way that works on one node and on a cluster alike.
//!
//! On one node a single pipeline carries them all: one round trip. A cluster refuses a pipeline
//! whose keys hash to different slots, so there each group (the commands about one campaign, or
//! one key) goes to its slot's node as a pipeline of its own, all of them at once: one round trip
//! per node, in parallel.

use super::RedisLink;
use redis::cluster_routing::{
    MultipleNodeRoutingInfo, Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr,
};
use redis::{Cmd, Pipeline, RedisResult, Value};

/// Groups of commands being written: on one node all in one pipeline (with where each group
/// starts), on a cluster a pipeline each.
pub struct Groups {
    cluster: bool,
    pipelines: Vec<Pipeline>,
    /// One node: the command each group starts at.
    starts: Vec<usize>,
}

impl Groups {
    /// Starts the next group (commands whose keys share one slot, none of them ignored) and
    /// returns the pipeline to write it into.
    pub fn group(&mut self) -> &mut Pipeline {
        if self.cluster || self.pipelines.is_empty() {
            self.pipelines.push(redis::pipe());
        }
        let last = self.pipelines.len() - 1;
        let pipeline = &mut self.pipelines[last];
        if !self.cluster {
            self.starts.push(pipeline.len());
        }
        pipeline
    }

    /// Sends every group and returns each group's replies, in order.
    pub async fn query(self, redis: &mut RedisLink) -> RedisResult<Vec<Vec<Value>>> {
        if self.cluster {
            let sent = self.pipelines.iter().map(|group| {
                let mut link = redis.clone();
                async move { group.query_async::<Vec<Value>>(&mut link).await }
            });
            return futures::future::try_join_all(sent).await;
        }
        let Some(all) = self.pipelines.first() else {
            return Ok(Vec::new());
        };
        let mut replies = all.query_async::<Vec<Value>>(redis).await?.into_iter();
        let ends = self.starts.iter().skip(1).copied().chain([all.len()]);
        Ok(self
            .starts
            .iter()
            .zip(ends)
            .map(|(start, end)| replies.by_ref().take(end - start).collect())
            .collect())
    }
}

impl RedisLink {
    /// Commands about many campaigns (or keys) at once, written group by group.
    pub fn groups(&self) -> Groups {
        Groups {
            cluster: self.cluster().is_some(),
            pipelines: Vec::new(),
            starts: Vec::new(),
        }
    }

    /// Runs `command`, which names no key, on the primary of `slot` (`None`: the one node, or
    /// any node of a cluster).
    pub async fn query_shard<T: redis::FromRedisValue>(
        &mut self,
        command: &Cmd,
        slot: Option<u16>,
    ) -> RedisResult<T> {
        let (Some(clustered), Some(slot)) = (self.cluster(), slot) else {
            return command.query_async(self).await;
        };
        let route = Route::new(slot, SlotAddr::Master);
        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
        let reply = clustered
            .connection
            .clone()
            .route_command(command.clone(), routing)
            .await?;
        Ok(redis::from_redis_value(reply)?)
    }

    /// Runs `pipeline` (its `count` commands, none ignored) on the primary of `slot` as
    /// `query_shard` does, in one write on one connection: every command of it reaches the same
    /// node, in order, or the whole pipeline fails.
    pub async fn pipeline_shard(
        &mut self,
        pipeline: &Pipeline,
        count: usize,
        slot: Option<u16>,
    ) -> RedisResult<Vec<Value>> {
        let (Some(clustered), Some(slot)) = (self.cluster(), slot) else {
            return pipeline.query_async(self).await;
        };
        let route = SingleNodeRoutingInfo::SpecificNode(Route::new(slot, SlotAddr::Master));
        clustered
            .connection
            .get()
            .route_pipeline(pipeline.clone(), 0, count, route)
            .await
    }

    /// Runs `command` on every primary (the one node without a cluster); each primary's
    /// `host:port` with its answer, or the error it gave.
    pub async fn on_primaries(&mut self, command: &Cmd) -> RedisResult<Vec<(String, Value)>> {
        let Some(clustered) = self.cluster() else {
            let node = self
                .node_of(b"")
                .map(|node| node.to_string())
                .unwrap_or_default();
            let reply = command.query_async::<Value>(self).await?;
            return Ok(vec![(node, reply)]);
        };
        let routing = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
        let reply = clustered
            .connection
            .clone()
            .route_command(command.clone(), routing)
            .await?;
        let Value::Map(per_node) = reply else {
            return Ok(vec![(String::new(), reply)]);
        };
        Ok(per_node
            .into_iter()
            .map(|(node, answer)| {
                let node = redis::from_redis_value::<String>(node).unwrap_or_default();
                (node, answer)
            })
            .collect())
    }
}
