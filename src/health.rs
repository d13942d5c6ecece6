//! Readiness: can this instance serve claims and record them?

use crate::engine::Engine;
use crate::store::MIGRATOR;
use serde::Serialize;

/// What `/readyz` reports: each dependency, and whether all are fine.
#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    /// All checks passed.
    pub ready: bool,
    /// `ok`, or why Redis is not usable.
    pub redis: String,
    /// `ok`, or why PostgreSQL is not usable.
    pub postgres: String,
    /// `ok`, or which migrations are missing.
    pub migrations: String,
}

impl Engine {
    /// Pings Redis and PostgreSQL and checks that every migration this build knows is applied.
    pub async fn readiness(&self) -> Readiness {
        let redis = match redis::cmd("PING")
            .query_async::<String>(&mut self.redis())
            .await
        {
            Ok(_) => "ok".to_owned(),
            Err(error) => error.to_string(),
        };
        let applied: Result<i64, sqlx::Error> =
            sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(self.db())
                .await;
        let known = MIGRATOR.iter().count() as i64;
        let (postgres, migrations) = match applied {
            Ok(n) if n >= known => ("ok".to_owned(), "ok".to_owned()),
            Ok(n) => ("ok".to_owned(), format!("{n} of {known} applied")),
            Err(error) => (error.to_string(), "unknown".to_owned()),
        };
        Readiness {
            ready: redis == "ok" && postgres == "ok" && migrations == "ok",
            redis,
            postgres,
            migrations,
        }
    }
}
