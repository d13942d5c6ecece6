//! A TCP relay in front of Redis that sends a client's write carrying a `WAIT`, and every write
//! of that client after it, over a fresh connection to the same Redis: what the connection
//! manager's own reconnect does to a claim round between its script calls and its `WAIT`.

use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

pub struct ReroutedWait {
    pub port: u16,
    accept: JoinHandle<()>,
}

impl ReroutedWait {
    /// Relays to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("relay bind");
        let port = listener.local_addr().expect("relay address").port();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream.clone()));
            }
        });
        Self { port, accept }
    }
}

impl Drop for ReroutedWait {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

const WAIT_COMMAND: &[u8] = b"\r\nWAIT\r\n";

async fn relay(client: TcpStream, upstream: String) {
    let (mut from_client, to_client) = client.into_split();
    let to_client = Arc::new(Mutex::new(to_client));
    let Some(mut to_server) = connect(&upstream, &to_client).await else {
        return;
    };
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let read = match from_client.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        let chunk = &buffer[..read];
        if chunk
            .windows(WAIT_COMMAND.len())
            .any(|at| at == WAIT_COMMAND)
        {
            match connect(&upstream, &to_client).await {
                Some(fresh) => to_server = fresh,
                None => return,
            }
        }
        if to_server.write_all(chunk).await.is_err() {
            return;
        }
    }
}

/// A new connection to Redis whose replies go to the client; its half the client writes to.
async fn connect(upstream: &str, to_client: &Arc<Mutex<OwnedWriteHalf>>) -> Option<OwnedWriteHalf> {
    let server = TcpStream::connect(upstream).await.ok()?;
    let (mut from_server, to_server) = server.into_split();
    let to_client = to_client.clone();
    tokio::spawn(async move {
        let mut buffer = vec![0; 64 * 1024];
        loop {
            let read = match from_server.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => read,
            };
            if to_client
                .lock()
                .await
                .write_all(&buffer[..read])
                .await
                .is_err()
            {
                return;
            }
        }
    });
    Some(to_server)
}
