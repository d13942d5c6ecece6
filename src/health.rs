//! Readiness: can this instance serve claims and record them?

use crate::claim::{ClaimAck, connected_replicas};
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
    /// With replicated acknowledgments: `ok`, or how many of the replicas needed are connected
    /// (every claim is answered "try again" meanwhile); `not required` otherwise.
    pub replicas: String,
    /// With Redis Sentinel: the primary it names now (`host:port`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_primary: Option<String>,
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
        let missing = self.replicas_missing().await;
        let replicas = match (&missing, self.claim_ack()) {
            (Some(why), _) => why.clone(),
            (None, ClaimAck::Replicated { .. }) => "ok".to_owned(),
            (None, ClaimAck::Primary) => "not required".to_owned(),
        };
        Readiness {
            ready: redis == "ok" && postgres == "ok" && migrations == "ok" && missing.is_none(),
            redis,
            postgres,
            migrations,
            replicas,
            redis_primary: self.redis().primary(),
        }
    }

    /// With replicated acknowledgments, while fewer replicas are connected than needed (every
    /// claim is answered "try again"): how many are, or why that is unknown. `None` otherwise.
    pub(crate) async fn replicas_missing(&self) -> Option<String> {
        let ClaimAck::Replicated { replicas, .. } = self.claim_ack() else {
            return None;
        };
        match connected_replicas(&mut self.redis()).await {
            Ok(connected) if connected >= i64::from(replicas) => None,
            Ok(connected) => Some(format!("{connected} of {replicas} replicas connected")),
            Err(error) => Some(error.to_string()),
        }
    }
}
