//! Real processes for the fault tests: the server binary, a private Redis, and a TCP proxy that
//! can cut PostgreSQL off. Each is stopped when dropped, so a failing test leaves nothing behind.

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

/// A port free right now on loopback.
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

fn log_file(name: &str) -> std::fs::File {
    let dir = workspace_root().join("target/fault-logs");
    std::fs::create_dir_all(&dir).expect("log dir");
    std::fs::File::create(dir.join(format!("{name}.log"))).expect("log file")
}

/// The server binary running as a child process.
pub struct ServerProcess {
    pub port: u16,
    child: Child,
}

impl ServerProcess {
    /// Starts the server on `port` against the given stores and waits until it answers. Its
    /// output goes to `target/fault-logs/<name>.log`.
    pub async fn start(name: &str, port: u16, redis_url: &str, database_url: &str) -> Self {
        let log = log_file(name);
        let output = (log.try_clone().expect("log").into(), log.into());
        Self::start_writing_to(output, port, redis_url, database_url).await
    }

    /// The same, with more environment variables (they win over the defaults).
    pub async fn start_with(
        name: &str,
        port: u16,
        redis_url: &str,
        database_url: &str,
        env: &[(&str, String)],
    ) -> Self {
        let log = log_file(name);
        let output = (log.try_clone().expect("log").into(), log.into());
        Self::spawn(output, port, redis_url, database_url, env).await
    }

    /// The same, with the server's standard output and error going where the caller says.
    pub async fn start_writing_to(
        output: (Stdio, Stdio),
        port: u16,
        redis_url: &str,
        database_url: &str,
    ) -> Self {
        Self::spawn(output, port, redis_url, database_url, &[]).await
    }

    async fn spawn(
        (stdout, stderr): (Stdio, Stdio),
        port: u16,
        redis_url: &str,
        database_url: &str,
        env: &[(&str, String)],
    ) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_server"))
            .current_dir(workspace_root())
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("LEPTOS_OUTPUT_NAME", "coupon")
            .env("LEPTOS_SITE_ROOT", "target/site")
            .env("REDIS_URL", redis_url)
            // The stores are the ones given, whichever Redis the test run itself was given.
            .env_remove("REDIS_CLUSTER_NODES")
            .env("DATABASE_URL", database_url)
            .env("API_KEY", super::API_KEY)
            .env("SYNC_LEASE_MS", "1000")
            .env("SYNC_IDLE_MS", "20")
            .env("RUST_LOG", "warn,server=info,coupon=info")
            .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("start the server binary");
        let server = Self { port, child };
        server.wait_until_answering().await;
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `/readyz`'s status and body; `None` while the server does not answer.
    pub async fn readiness(&self) -> Option<(u16, serde_json::Value)> {
        let answer = reqwest::get(self.url("/readyz")).await.ok()?;
        let status = answer.status().as_u16();
        Some((status, answer.json().await.unwrap_or_default()))
    }

    /// Asks `/readyz` until its answer is `wanted` (`what`, within `within`); that answer.
    pub async fn readiness_once(
        &self,
        what: &str,
        within: Duration,
        wanted: impl Fn(u16, &serde_json::Value) -> bool,
    ) -> (u16, serde_json::Value) {
        let found = std::sync::Mutex::new(None);
        super::eventually(what, within, || async {
            let answer = self
                .readiness()
                .await
                .filter(|(status, body)| wanted(*status, body));
            let is_wanted = answer.is_some();
            *found.lock().unwrap() = answer;
            is_wanted
        })
        .await;
        found
            .into_inner()
            .unwrap()
            .expect("the answer eventually waited for")
    }

    async fn wait_until_answering(&self) {
        let url = self.url("/healthz");
        super::eventually("the server to start", Duration::from_secs(30), || async {
            reqwest::get(&url)
                .await
                .is_ok_and(|response| response.status().is_success())
        })
        .await;
    }

    /// Sends signal `name` (`STOP`, `CONT`, ...) to the server.
    pub fn signal(&self, name: &str) {
        signal_pid(self.child.id(), name);
    }

    /// SIGKILL: the process dies at once, mid-whatever.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits (bounded) for the exit; the exit status and how long it took.
    pub async fn terminate(&mut self, within: Duration) -> (ExitStatus, Duration) {
        let started = Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "SIGTERM could not be sent");
        let mut polls = tokio::time::interval(Duration::from_millis(20));
        loop {
            polls.tick().await;
            if let Some(status) = self.child.try_wait().expect("wait for the server") {
                return (status, started.elapsed());
            }
            assert!(
                started.elapsed() < within,
                "the server did not exit within {within:?}"
            );
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Redis server of the test's own (append-only file on), which the test may restart or flush
/// without disturbing anything else.
pub struct RedisProcess {
    pub port: u16,
    dir: tempdir::Dir,
    child: Option<Child>,
    extra: Vec<String>,
}

pub mod tempdir {
    /// A directory removed when dropped.
    pub struct Dir(pub std::path::PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl RedisProcess {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// A node for a Redis Cluster (append-only file on as well), on a port whose cluster bus
    /// port (10000 above it) is free too; it fails over a primary silent for 1.5 s.
    pub async fn cluster_node() -> Self {
        let port = loop {
            let port = free_port();
            if port < 55000 && StdListener::bind(("127.0.0.1", port + 10000)).is_ok() {
                break port;
            }
        };
        let config = [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
        ];
        let timeout = ["--cluster-node-timeout", "1500"];
        Self::start_on(port, &[&config[..], &timeout[..]].concat()).await
    }

    /// A replica of the Redis on `primary`'s port (append-only file on as well).
    pub async fn replica_of(primary: u16) -> Self {
        Self::start_with(&["--replicaof", "127.0.0.1", &primary.to_string()]).await
    }

    async fn start_with(extra: &[&str]) -> Self {
        Self::start_on(free_port(), extra).await
    }

    async fn start_on(port: u16, extra: &[&str]) -> Self {
        let dir = workspace_root().join(format!("target/fault-redis-{port}"));
        std::fs::create_dir_all(&dir).expect("redis dir");
        let mut redis = Self {
            port,
            dir: tempdir::Dir(dir),
            child: None,
            extra: extra.iter().map(|arg| arg.to_string()).collect(),
        };
        redis.run().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    async fn run(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--dir", &self.dir.0.to_string_lossy()])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        super::eventually("redis to start", Duration::from_secs(10), || self.ping()).await;
    }

    async fn ping(&self) -> bool {
        let Ok(client) = redis::Client::open(self.url()) else {
            return false;
        };
        match client.get_multiplexed_async_connection().await {
            Ok(mut conn) => redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .is_ok(),
            Err(_) => false,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends `STOP` (a host that stops answering, memory, run id and script cache intact) or
    /// `CONT` to the running Redis; nothing when it is not running.
    pub fn signal(&self, name: &str) {
        if let Some(pid) = self.pid() {
            signal_pid(pid, name);
        }
    }

    /// SIGKILL: the host died.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops Redis the way an operator's restart does (SIGTERM: it finishes its AOF first).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and data directory.
    pub async fn restart(&mut self) {
        self.run().await;
    }

    /// A copy of the data directory as it is now (the append-only file included), to come
    /// back to with [`RedisProcess::restart_from`].
    pub fn copy_data(&self) -> tempdir::Dir {
        let copy = self.dir.0.with_extension("older");
        let _ = std::fs::remove_dir_all(&copy);
        let copied = Command::new("cp")
            .arg("-a")
            .arg(&self.dir.0)
            .arg(&copy)
            .status()
            .expect("run cp");
        assert!(copied.success(), "could not copy Redis's data directory");
        tempdir::Dir(copy)
    }

    /// Stops Redis and starts it again from `older`: what a crash that lost the last writes, or
    /// a failover to a replica that was behind, leaves.
    pub async fn restart_from(&mut self, older: &tempdir::Dir) {
        self.stop().await;
        std::fs::remove_dir_all(&self.dir.0).expect("remove the data directory");
        let copied = Command::new("cp")
            .arg("-a")
            .arg(&older.0)
            .arg(&self.dir.0)
            .status()
            .expect("run cp");
        assert!(copied.success(), "could not put the older data back");
        self.run().await;
    }

    /// A connection of the test's own, beside the server's.
    pub async fn admin(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("client")
            .get_multiplexed_async_connection()
            .await
            .expect("connect")
    }

    /// Holds back every client's writes for `ms` milliseconds (the claim script writes, so
    /// claims hang): a Redis that stops answering.
    pub async fn pause_writes(&self, ms: u64) {
        let _: () = redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(ms)
            .arg("WRITE")
            .query_async(&mut self.admin().await)
            .await
            .expect("pause");
    }

    /// Ends [`RedisProcess::pause_writes`] early.
    pub async fn unpause(&self) {
        let _: () = redis::cmd("CLIENT")
            .arg("UNPAUSE")
            .query_async(&mut self.admin().await)
            .await
            .expect("unpause");
    }

    /// Redis loses everything.
    pub async fn flushall(&self) {
        let client = redis::Client::open(self.url()).expect("client");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("conn");
        let _: () = redis::cmd("FLUSHALL")
            .query_async(&mut conn)
            .await
            .expect("flushall");
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A TCP proxy in front of PostgreSQL that the test can cut (every connection dropped, new
/// ones refused) and restore: a database outage as the server sees it.
pub struct Proxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
        let port = listener.local_addr().expect("addr").port();
        let up = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = {
            let (up, connections) = (up.clone(), connections.clone());
            tokio::spawn(async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        continue; // dropped: the connection is refused
                    }
                    let upstream = upstream.clone();
                    let pipe = tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    connections.lock().await.push(pipe);
                }
            })
        };
        Self {
            port,
            up,
            connections,
            accept,
        }
    }

    pub async fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for pipe in self.connections.lock().await.drain(..) {
            pipe.abort();
        }
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Sends signal `name` (`STOP`, `CONT`, ...) to process `pid`.
pub fn signal_pid(pid: u32, name: &str) {
    let sent = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -{name} {pid} failed");
}
