//! A Redis primary with one replica, watched by one Sentinel: real processes, stopped when
//! dropped, for the failover tests.

use super::process::{RedisProcess, free_port};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The name the sentinel monitors the primary under.
pub const MASTER: &str = "coupon";

pub struct Replicated {
    pub primary: RedisProcess,
    pub replica: RedisProcess,
    pub sentinel_port: u16,
    sentinel: Child,
    dir: PathBuf,
}

impl Replicated {
    /// Starts the three and waits until the sentinel knows the replica (it can fail over).
    pub async fn start() -> Self {
        let primary = RedisProcess::start().await;
        let replica = RedisProcess::replica_of(primary.port).await;
        let sentinel_port = free_port();
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../target/fault-sentinel-{sentinel_port}"));
        std::fs::create_dir_all(&dir).expect("sentinel dir");
        let config = dir.join("sentinel.conf");
        std::fs::write(
            &config,
            format!(
                "port {sentinel_port}\nbind 127.0.0.1\ndir {}\n\
                 sentinel monitor {MASTER} 127.0.0.1 {} 1\n\
                 sentinel down-after-milliseconds {MASTER} 1000\n\
                 sentinel failover-timeout {MASTER} 5000\n",
                dir.display(),
                primary.port
            ),
        )
        .expect("write sentinel.conf");
        let sentinel = Command::new("redis-server")
            .arg(&config)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the sentinel");
        let replicated = Self {
            primary,
            replica,
            sentinel_port,
            sentinel,
            dir,
        };
        super::eventually(
            "the sentinel to see the replica",
            Duration::from_secs(30),
            || replicated.sentinel_sees_a_replica(),
        )
        .await;
        replicated
    }

    /// The engine's settings for this stack: the primary its sentinels name.
    pub fn redis_settings(&self, ack: coupon::ClaimAck) -> coupon::RedisSettings {
        coupon::RedisSettings {
            target: coupon::redis::RedisTarget::Sentinel {
                sentinels: vec![self.sentinels()],
                master: MASTER.into(),
            },
            ack,
        }
    }

    /// `REDIS_SENTINELS` for a server.
    pub fn sentinels(&self) -> String {
        format!("127.0.0.1:{}", self.sentinel_port)
    }

    async fn sentinel_sees_a_replica(&self) -> bool {
        let Ok(client) = redis::Client::open(format!("redis://{}", self.sentinels())) else {
            return false;
        };
        let Ok(mut connection) = client.get_multiplexed_async_connection().await else {
            return false;
        };
        let replicas: Result<Vec<Vec<String>>, _> = redis::cmd("SENTINEL")
            .arg("replicas")
            .arg(MASTER)
            .query_async(&mut connection)
            .await;
        replicas.is_ok_and(|replicas| {
            replicas.iter().any(|fields| {
                fields
                    .windows(2)
                    .any(|pair| pair[0] == "master-link-status" && pair[1] == "ok")
            })
        })
    }

    /// Waits (bounded) until the sentinel names the replica as the primary.
    pub async fn until_replica_promoted(&self) {
        self.until_named(self.replica.port).await;
    }

    /// Waits (bounded) until the sentinel names the process on `port` as the primary.
    pub async fn until_named(&self, port: u16) {
        super::eventually(
            "the sentinel to name the primary",
            Duration::from_secs(30),
            || async { self.named_primary().await == Some(port) },
        )
        .await;
    }

    /// The port of the primary the sentinel names now; `None` if it does not answer.
    pub async fn named_primary(&self) -> Option<u16> {
        let client = redis::Client::open(format!("redis://{}", self.sentinels())).ok()?;
        let mut connection = client.get_multiplexed_async_connection().await.ok()?;
        let (_, port): (String, String) = redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(MASTER)
            .query_async(&mut connection)
            .await
            .ok()?;
        port.parse().ok()
    }
}

impl Drop for Replicated {
    fn drop(&mut self) {
        let _ = self.sentinel.kill();
        let _ = self.sentinel.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
