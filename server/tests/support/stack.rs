//! A private stack per fault test: its own Redis process and its own PostgreSQL database, so a
//! test can restart, flush or cut them off without touching any other test.

use super::process::RedisProcess;
use coupon::{Campaign, Engine, SyncSettings};
use std::time::Duration;

pub struct Stack {
    pub redis: RedisProcess,
    pub database_url: String,
    database: String,
    admin_url: String,
    /// The test's own view of the stores (it runs no sync unless asked).
    pub engine: Engine,
}

impl Stack {
    pub async fn start(name: &str) -> Self {
        let redis = RedisProcess::start().await;
        let admin_url =
            std::env::var("DATABASE_URL").expect("DATABASE_URL: run through ./dev test");
        let database = format!("fault_{name}_{}", redis.port);
        let (server, _) = admin_url.rsplit_once('/').expect("a database URL");
        let database_url = format!("{server}/{database}");
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
        let settings = SyncSettings {
            lease_ttl: Duration::from_secs(1),
            ..SyncSettings::default()
        };
        let engine = Engine::connect(&redis.url(), &database_url, settings)
            .await
            .expect("connect the test's engine");
        Self {
            redis,
            database_url,
            database,
            admin_url,
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

    /// Drops the test's database (called at the end of a passing test).
    pub async fn remove(self) {
        self.engine.db().close().await;
        if let Ok(admin) = sqlx::PgPool::connect(&self.admin_url).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.database
            ))
            .execute(&admin)
            .await;
        }
    }
}
