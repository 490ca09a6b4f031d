//! The machine's own screen: a connection to the local VNC server named in the agent's
//! configuration, its bytes carried both ways on a screen stream. The agent reads no RFB: the
//! controller's VNC client speaks to the server through it, as through a socket.
//!
//! Input is acknowledged to the link only once the server took it, so a server that stops
//! reading holds the controller to the stream's window instead of growing a queue here.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_link::OutputChannel;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::directive::{Ended, Outputs};

const CHUNK: usize = 16 * 1024;
/// A local server accepts at once or not at all; this bounds one that is wedged.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the local VNC server listens: `host:port`, or `unix:/path/to/socket`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Tcp(String),
    Unix(std::path::PathBuf),
}

impl Address {
    pub fn parse(text: &str) -> Self {
        match text.strip_prefix("unix:") {
            Some(path) => Address::Unix(path.into()),
            None => Address::Tcp(text.to_string()),
        }
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Tcp(address) => f.write_str(address),
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

pub struct Running {
    input: mpsc::UnboundedSender<Vec<u8>>,
    tasks: [JoinHandle<()>; 2],
    stream: u32,
    ended: mpsc::UnboundedSender<(u32, Ended)>,
    failure: Arc<Mutex<Option<String>>>,
}

type Halves = (Box<dyn AsyncRead + Unpin + Send>, Box<dyn AsyncWrite + Unpin + Send>);

/// Connects to the server; fails with a reason a user can act on.
async fn connect(address: &Address) -> Result<Halves, String> {
    let cannot = |err: std::io::Error| format!("cannot reach the local VNC server at {address}: {err}");
    let connecting = async {
        Ok::<Halves, String>(match address {
            Address::Tcp(target) => {
                let socket = tokio::net::TcpStream::connect(target).await.map_err(cannot)?;
                let _ = socket.set_nodelay(true);
                let (r, w) = socket.into_split();
                (Box::new(r), Box::new(w))
            }
            Address::Unix(path) => {
                let (r, w) = tokio::net::UnixStream::connect(path).await.map_err(cannot)?.into_split();
                (Box::new(r), Box::new(w))
            }
        })
    };
    tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .map_err(|_| format!("the local VNC server at {address} did not accept within {CONNECT_TIMEOUT:?}"))?
}

/// Opens the screen on `stream`. The connection is made by a task of its own, so the pump
/// never waits on it; failing, the stream ends, and `failure` says why.
pub fn start(
    stream: u32,
    address: &Address,
    ended: mpsc::UnboundedSender<(u32, Ended)>,
    consumed: mpsc::UnboundedSender<(u32, usize)>,
) -> (Running, Outputs) {
    let (out_tx, out_rx) = mpsc::channel::<Vec<u8>>(8);
    let failure = Arc::new(Mutex::new(None));
    let (input, mut in_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let (writer_tx, writer_rx) = tokio::sync::oneshot::channel();
    let (address, end, failed) = (address.clone(), ended.clone(), failure.clone());
    let reader = tokio::spawn(async move {
        let (mut reader, writer) = match connect(&address).await {
            Ok(halves) => halves,
            Err(reason) => {
                tracing::warn!(stream, %reason, "the screen did not open");
                if let Ok(mut failed) = failed.lock() {
                    *failed = Some(reason);
                }
                let _ = end.send((stream, Ended { code: Some(1), signal: None }));
                return;
            }
        };
        let _ = writer_tx.send(writer);
        let mut buf = vec![0u8; CHUNK];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if out_tx.send(buf.get(..n).unwrap_or_default().to_vec()).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = end.send((stream, Ended { code: Some(0), signal: None }));
    });
    let writer = tokio::spawn(async move {
        let Ok(mut writer) = writer_rx.await else { return };
        while let Some(bytes) = in_rx.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                break;
            }
            let _ = consumed.send((stream, bytes.len()));
        }
        let _ = writer.shutdown().await;
    });
    let running = Running { input, tasks: [reader, writer], stream, ended, failure };
    (running, vec![(OutputChannel::Stdout, out_rx)])
}

impl Running {
    /// Bytes for the server; `consumed` hears of them once it took them.
    pub fn write(&self, bytes: Vec<u8>) {
        let _ = self.input.send(bytes);
    }

    /// Why the screen could not open, if it could not.
    pub fn failure(&self) -> String {
        self.failure.lock().ok().and_then(|f| f.clone()).unwrap_or_default()
    }

    /// Closes the connection (the controller's viewer left, or the link is gone).
    pub fn kill(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        let _ = self.ended.send((self.stream, Ended { code: None, signal: None }));
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
