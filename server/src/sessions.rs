//! Sessions kept in Redis, so that every instance behind the load balancer sees them and the
//! claim path never touches PostgreSQL (a claim reads its session with one `GET`).

use async_trait::async_trait;
use coupon::redis::RedisLink;
use redis::AsyncCommands;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

/// Stores each session as JSON under `session:<id>`, expiring with the session.
#[derive(Clone)]
pub struct RedisSessionStore {
    redis: RedisLink,
}

impl std::fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisSessionStore")
    }
}

impl RedisSessionStore {
    /// A store on the shared Redis connection.
    pub fn new(redis: RedisLink) -> Self {
        Self { redis }
    }

    /// The Redis key of a session (the benchmark writes sessions directly).
    pub fn key(id: &Id) -> String {
        format!("session:{id}")
    }

    /// Writes `record`; with `only_new`, only if no session has its id (`SET NX`).
    async fn write(&self, record: &Record, only_new: bool) -> session_store::Result<bool> {
        let json = serde_json::to_string(record)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let expires_at = u64::try_from(record.expiry_date.unix_timestamp()).unwrap_or(0);
        let mut command = redis::cmd("SET");
        command
            .arg(Self::key(&record.id))
            .arg(json)
            .arg("EXAT")
            .arg(expires_at.max(1));
        if only_new {
            command.arg("NX");
        }
        let reply: Option<String> = command
            .query_async(&mut self.redis.clone())
            .await
            .map_err(backend)?;
        Ok(reply.is_some())
    }
}

fn backend(error: redis::RedisError) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // Ids are 128 random bits, so a clash is all but impossible; if one happens, draw again
        // rather than overwrite someone else's session.
        while !self.write(record, true).await? {
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.write(record, false).await.map(|_| ())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let json: Option<String> = self
            .redis
            .clone()
            .get(Self::key(id))
            .await
            .map_err(backend)?;
        json.map(|json| {
            serde_json::from_str(&json).map_err(|e| session_store::Error::Decode(e.to_string()))
        })
        .transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let _: () = self
            .redis
            .clone()
            .del(Self::key(id))
            .await
            .map_err(backend)?;
        Ok(())
    }
}
