//! A private stack per fault test: its own Redis process and its own PostgreSQL database, so a
//! test can restart, flush or cut them off without touching any other test.

use super::process::{RedisProcess, ServerProcess, free_port};
use coupon::{Campaign, Engine, RedisSettings, SyncSettings};
use std::time::Duration;

pub struct Stack {
    pub redis: RedisProcess,
    pub database_url: String,
    database: Database,
    /// The test's own view of the stores (it runs no sync unless asked).
    pub engine: Engine,
}

impl Stack {
    pub async fn start(name: &str) -> Self {
        let redis = RedisProcess::start().await;
        let database = Database::create(name, redis.port).await;
        let engine = test_engine(
            &RedisSettings {
                target: coupon::redis::RedisTarget::Url(redis.url()),
                ack: coupon::ClaimAck::Primary,
            },
            &database.url,
        )
        .await;
        Self {
            redis,
            database_url: database.url.clone(),
            database,
            engine,
        }
    }

    /// An open campaign of `quantity` coupons.
    pub async fn campaign(&self, quantity: i64) -> Campaign {
        self.engine
            .create_campaign(&super::draft(quantity))
            .await
            .expect("create campaign")
    }

    /// A server process on a free port against this stack; its log is
    /// `target/fault-logs/<name>.log`.
    pub async fn server(&self, name: &str) -> ServerProcess {
        ServerProcess::start(name, free_port(), &self.redis.url(), &self.database_url).await
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
