//! A TCP proxy between the producer and the companion broker that can pause: it stops
//! forwarding requests, as a stalled broker would (whole frames, so a pause never cuts a
//! request in two), until resumed. Other faults come from the companion `Cluster`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

struct Inner {
    upstream: Mutex<Option<String>>,
    paused: watch::Sender<bool>,
    stopped: AtomicBool,
}

/// The proxy; stops when dropped.
pub struct Proxy {
    addr: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        self.task.abort();
    }
}

impl Proxy {
    /// Listens on a free port (forwarding starts once [`set_upstream`](Self::set_upstream)).
    pub async fn bind() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let inner = Arc::new(Inner {
            upstream: Mutex::new(None),
            paused: watch::channel(false).0,
            stopped: AtomicBool::new(false),
        });
        let task = tokio::spawn(accept(listener, inner.clone()));
        Self { addr, inner, task }
    }

    /// The proxy's address.
    pub fn addr(&self) -> String {
        self.addr.clone()
    }

    /// Where to forward to.
    pub fn set_upstream(&self, addr: String) {
        *self.inner.upstream.lock() = Some(addr);
    }

    /// Stops (or resumes) forwarding requests to the broker.
    pub fn pause(&self, paused: bool) {
        self.inner.paused.send_replace(paused);
    }
}

async fn accept(listener: TcpListener, inner: Arc<Inner>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            return;
        };
        let Some(up) = inner.upstream.lock().clone() else {
            continue;
        };
        let Ok(server) = TcpStream::connect(up).await else {
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        tokio::spawn(relay(client, server, inner.clone()));
    }
}

async fn relay(client: TcpStream, server: TcpStream, inner: Arc<Inner>) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let mut paused = inner.paused.subscribe();
    let requests = async move {
        loop {
            let Some(frame) = read_frame(&mut cr).await else {
                return;
            };
            // A pause holds back every request not yet forwarded.
            while *paused.borrow() {
                if paused.changed().await.is_err() {
                    return;
                }
            }
            if sw.write_all(&frame).await.is_err() {
                return;
            }
        }
    };
    let responses = tokio::io::copy(&mut sr, &mut cw);
    tokio::select! {
        _ = requests => {}
        _ = responses => {}
    }
}

/// Reads one size-prefixed frame (prefix included).
async fn read_frame(r: &mut tokio::net::tcp::OwnedReadHalf) -> Option<Vec<u8>> {
    let mut size = [0u8; 4];
    r.read_exact(&mut size).await.ok()?;
    let n = i32::from_be_bytes(size);
    let n = usize::try_from(n).ok()?;
    let mut frame = vec![0u8; 4 + n];
    frame[..4].copy_from_slice(&size);
    r.read_exact(&mut frame[4..]).await.ok()?;
    Some(frame)
}
