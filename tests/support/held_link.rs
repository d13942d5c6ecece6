//! A TCP relay in front of Redis that holds back the first command carrying a marker (bytes of
//! its arguments) until the test lets it go: what a slow network or a paused instance does to
//! one write between two others.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct HeldLink {
    pub port: u16,
    held: Arc<AtomicUsize>,
    release: watch::Sender<bool>,
}

impl HeldLink {
    /// Relays to `upstream` (`host:port`); a client chunk containing `marker` waits, with every
    /// later chunk of its connection, until [`HeldLink::release`].
    pub async fn start(upstream: String, marker: Vec<u8>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("relay bind");
        let port = listener.local_addr().expect("relay address").port();
        let held = Arc::new(AtomicUsize::new(0));
        let (release, released) = watch::channel(false);
        let accepting = (held.clone(), released);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (held, released) = (accepting.0.clone(), accepting.1.clone());
                let marker = marker.clone();
                tokio::spawn(relay(client, server, marker, held, released));
            }
        });
        Self {
            port,
            held,
            release,
        }
    }

    /// How many connections have held a chunk back so far.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }

    pub fn release(&self) {
        let _ = self.release.send(true);
    }
}

async fn relay(
    client: TcpStream,
    server: TcpStream,
    marker: Vec<u8>,
    held: Arc<AtomicUsize>,
    mut released: watch::Receiver<bool>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    tokio::spawn(async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
    });
    let mut buffer = vec![0u8; 64 * 1024];
    let mut holding = false;
    loop {
        let read = match client_read.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        let chunk = &buffer[..read];
        if !holding && chunk.windows(marker.len()).any(|w| w == marker.as_slice()) {
            holding = true;
            held.fetch_add(1, Ordering::SeqCst);
        }
        if holding {
            let _ = released.wait_for(|released| *released).await;
        }
        if server_write.write_all(chunk).await.is_err() {
            return;
        }
    }
}
