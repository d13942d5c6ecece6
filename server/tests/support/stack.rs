//! A private stack per fault test: its own Redis (one process, or a cluster of six) and its own
//! PostgreSQL database, so a test can restart, flush, pause or cut them off without touching any
//! other test.

use super::cluster::{LocalCluster, campaign_beside};
use super::process::{Proxy, RedisProcess, ServerProcess, free_port};
use coupon::redis::{CampaignKeys, RedisTarget};
use coupon::{Campaign, CampaignId, Engine, RedisSettings, SyncSettings};
use std::time::Duration;

/// The Redis of a stack.
enum Redis {
    Single(RedisProcess),
    Cluster(LocalCluster),
}

pub struct Stack {
    redis: Redis,
    pub database_url: String,
    database: Database,
    /// The test's own view of the stores (it runs no sync unless asked).
    pub engine: Engine,
}

impl Stack {
    /// A stack on one Redis process.
    pub async fn start(name: &str) -> Self {
        Self::start_on(name, false).await
    }

    /// A stack on one Redis process, or on a Redis Cluster of its own.
    pub async fn start_on(name: &str, cluster: bool) -> Self {
        let (redis, target, tag) = if cluster {
            let cluster = LocalCluster::start().await;
            let (target, tag) = (
                RedisTarget::Cluster(cluster.seed_list()),
                cluster.nodes[0].port,
            );
            (Redis::Cluster(cluster), target, tag)
        } else {
            let redis = RedisProcess::start().await;
            let (target, tag) = (RedisTarget::Url(redis.url()), redis.port);
            (Redis::Single(redis), target, tag)
        };
        let database = Database::create(name, tag).await;
        let settings = RedisSettings {
            target,
            ack: coupon::ClaimAck::Primary,
        };
        let engine = test_engine(&settings, &database.url).await;
        Self {
            redis,
            database_url: database.url.clone(),
            database,
            engine,
        }
    }

    /// The one Redis process of a stack started with [`Stack::start`] (for the tests that
    /// restart, flush or copy it).
    pub fn single_redis(&mut self) -> &mut RedisProcess {
        match &mut self.redis {
            Redis::Single(redis) => redis,
            Redis::Cluster(_) => panic!("a single-node stack"),
        }
    }

    /// The Redis process holding `campaign`'s keys: the one, or its slot's primary.
    pub async fn redis_of(&self, campaign: CampaignId) -> &RedisProcess {
        match &self.redis {
            Redis::Single(redis) => redis,
            Redis::Cluster(cluster) => {
                let primary = cluster.primary_of(CampaignKeys::slot(campaign)).await;
                cluster
                    .nodes
                    .iter()
                    .find(|node| node.port == primary)
                    .expect("a node of this cluster")
            }
        }
    }

    /// An open campaign of `quantity` coupons.
    pub async fn campaign(&self, quantity: i64) -> Campaign {
        self.engine
            .create_campaign(&super::draft(quantity))
            .await
            .expect("create campaign")
    }

    /// An open campaign of `quantity` coupons whose keys sit on the same Redis process as
    /// `campaign`'s, so that their claims share script calls.
    pub async fn neighbour_of(&self, campaign: &Campaign, quantity: i64) -> Campaign {
        let cluster = match &self.redis {
            Redis::Single(_) => None,
            Redis::Cluster(cluster) => Some(cluster),
        };
        campaign_beside(&self.engine, cluster, campaign.id, quantity).await
    }

    /// A server process on a free port against this stack; its log is
    /// `target/fault-logs/<name>.log`.
    pub async fn server(&self, name: &str) -> ServerProcess {
        self.server_at(name, free_port()).await
    }

    /// The same on `port`.
    pub async fn server_at(&self, name: &str, port: u16) -> ServerProcess {
        self.server_with_database(name, port, &self.database_url)
            .await
    }

    /// The same, reaching PostgreSQL at `database_url` (through a proxy, say).
    pub async fn server_with_database(
        &self,
        name: &str,
        port: u16,
        database_url: &str,
    ) -> ServerProcess {
        match &self.redis {
            Redis::Single(redis) => {
                ServerProcess::start(name, port, &redis.url(), database_url).await
            }
            Redis::Cluster(cluster) => {
                let env = [("REDIS_CLUSTER_NODES", cluster.seeds())];
                ServerProcess::start_with(name, port, "", database_url, &env).await
            }
        }
    }

    /// A proxy in front of this stack's PostgreSQL that the test can cut and restore, and the
    /// database URL that goes through it.
    pub async fn database_behind_proxy(&self) -> (Proxy, String) {
        let (host, db) = self.database_url.rsplit_once('/').expect("url");
        let upstream = host.rsplit_once('@').map_or(host, |(_, h)| h).to_owned();
        let proxy = Proxy::start(upstream.clone()).await;
        let proxied = self.database_url.replace(
            &format!("{upstream}/{db}"),
            &format!("127.0.0.1:{}/{db}", proxy.port),
        );
        (proxy, proxied)
    }

    /// Drops the test's database (called at the end of a passing test).
    pub async fn remove(self) {
        self.engine.db().close().await;
        self.database.remove().await;
    }
}

/// The test's engine on `redis` and the database at `database_url`, with a short drain lease.
pub async fn test_engine(redis: &RedisSettings, database_url: &str) -> Engine {
    let settings = SyncSettings {
        lease_ttl: Duration::from_secs(1),
        ..SyncSettings::default()
    };
    Engine::connect_to(redis, database_url, settings)
        .await
        .expect("connect the test's engine")
}

/// A PostgreSQL database of the test's own on the server `./dev test` started.
pub struct Database {
    pub url: String,
    name: String,
    admin_url: String,
}

impl Database {
    /// Creates `fault_<name>_<tag>` afresh.
    pub async fn create(name: &str, tag: u16) -> Self {
        let admin_url =
            std::env::var("DATABASE_URL").expect("DATABASE_URL: run through ./dev test");
        let database = format!("fault_{name}_{tag}");
        let (server, _) = admin_url.rsplit_once('/').expect("a database URL");
        let url = format!("{server}/{database}");
        let admin = sqlx::PgPool::connect(&admin_url).await.expect("connect");
        sqlx::query(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            .execute(&admin)
            .await
            .expect("drop");
        sqlx::query(&format!("CREATE DATABASE {database}"))
            .execute(&admin)
            .await
            .expect("create database");
        admin.close().await;
        Self {
            url,
            name: database,
            admin_url,
        }
    }

    /// Drops it (called at the end of a passing test).
    pub async fn remove(self) {
        if let Ok(admin) = sqlx::PgPool::connect(&self.admin_url).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&admin)
            .await;
        }
    }
}
