//! A WebSocket relay in front of the controller's plain console listener. It records every
//! message payload in both directions (unmasked, as the peers see them) and can flip one bit
//! of one message on its way to the browser.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    ToController,
    ToBrowser,
}

#[derive(Default)]
pub struct Recording {
    pub messages: Vec<(Direction, Vec<u8>)>,
}

pub struct Proxy {
    /// The URL to give the applet (and the controller, as its public plain URL).
    pub url: String,
    pub recording: Arc<Mutex<Recording>>,
    upstream: Arc<OnceLock<SocketAddr>>,
    /// Bumped to cut every open connection, as a network drop would.
    cut: tokio::sync::watch::Sender<u64>,
}

impl Proxy {
    /// Listens at once; relays once [`Proxy::forward_to`] names the controller's plain console
    /// listener. With `tamper_after = Some(n)`, the first binary message sent to the browser
    /// after the browser has sent `n` binary messages on a connection has one bit flipped in
    /// its last byte. Counting the browser's messages (its hello, its Finished, then its
    /// input) picks a message the test caused, whatever the controller sent before.
    pub async fn bind(tamper_after: Option<usize>) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("ws://{}/console/ws", listener.local_addr()?);
        let recording = Arc::new(Mutex::new(Recording::default()));
        let upstream = Arc::new(OnceLock::new());
        let (cut, cut_rx) = tokio::sync::watch::channel(0u64);
        let (rec, target) = (recording.clone(), upstream.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let Some(&to) = target.get() else { continue };
                let (rec, mut cut_rx) = (rec.clone(), cut_rx.clone());
                cut_rx.mark_unchanged();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = relay(stream, to, tamper_after, rec) => {},
                        _ = cut_rx.changed() => {},
                    }
                });
            }
        });
        Ok(Self { url, recording, upstream, cut })
    }

    /// Drops every open connection at once (both ends see the TCP connection go away).
    pub fn drop_connections(&self) {
        self.cut.send_modify(|n| *n += 1);
    }

    /// How many connections the proxy has relayed.
    pub fn hellos(&self) -> usize {
        self.messages()
            .iter()
            .filter(|(d, m)| *d == Direction::ToController && m.first() == Some(&0x16) && m.get(1) == Some(&1))
            .count()
    }

    pub fn forward_to(&self, upstream: SocketAddr) {
        let _ = self.upstream.set(upstream);
    }

    /// All payload bytes seen so far, concatenated per message.
    pub fn messages(&self) -> Vec<(Direction, Vec<u8>)> {
        self.recording.lock().map(|r| r.messages.clone()).unwrap_or_default()
    }
}

async fn relay(
    stream: tokio::net::TcpStream,
    upstream: SocketAddr,
    tamper_after: Option<usize>,
    rec: Arc<Mutex<Recording>>,
) -> anyhow::Result<()> {
    // Messages the browser has sent so far; one tampering per connection.
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sent_up = sent.clone();
    let browser = tokio_tungstenite::accept_async(stream).await?;
    let (controller, _) = tokio_tungstenite::connect_async(format!("ws://{upstream}/console/ws")).await?;
    let (mut b_tx, mut b_rx) = browser.split();
    let (mut c_tx, mut c_rx) = controller.split();
    let rec_up = rec.clone();
    let up = async move {
        while let Some(Ok(msg)) = b_rx.next().await {
            if let Message::Binary(bytes) = &msg {
                record(&rec_up, Direction::ToController, bytes);
                sent_up.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            let closing = msg.is_close();
            if c_tx.send(msg).await.is_err() || closing {
                break;
            }
        }
    };
    let down = async move {
        let mut tampered = false;
        while let Some(Ok(msg)) = c_rx.next().await {
            let msg = match msg {
                Message::Binary(bytes) => {
                    record(&rec, Direction::ToBrowser, &bytes);
                    let mut bytes = bytes.to_vec();
                    let due = tamper_after.is_some_and(|n| sent.load(std::sync::atomic::Ordering::SeqCst) >= n);
                    if due && !tampered {
                        if let Some(last) = bytes.last_mut() {
                            *last ^= 0x01;
                        }
                        tampered = true;
                    }
                    Message::Binary(bytes.into())
                }
                other => other,
            };
            let closing = msg.is_close();
            if b_tx.send(msg).await.is_err() || closing {
                break;
            }
        }
    };
    tokio::select! {
        () = up => {},
        () = down => {},
    }
    Ok(())
}

fn record(rec: &Mutex<Recording>, direction: Direction, bytes: &[u8]) {
    if let Ok(mut r) = rec.lock() {
        r.messages.push((direction, bytes.to_vec()));
    }
}
