//! One NBD export on a unix socket: each connection's bytes go through `nbd_wire::Server`, its
//! requests to the source with at most `MAX_IN_FLIGHT` outstanding (the socket is not read
//! while that many wait), each answered within `Limits::source` or failed with `EIO`, and
//! writes to the socket within `Limits::write`.

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use nbd_wire::{Event, Export, Reply, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::oneshot;

use super::{Source, SourceRequest};

/// Requests to the source outstanding per connection, at most.
pub const MAX_IN_FLIGHT: usize = 16;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long the source has to answer one request.
    pub source: Duration,
    /// How long one write to the client may take.
    pub write: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self { source: Duration::from_secs(30), write: Duration::from_secs(30) }
    }
}

/// What an export has done: clients connected now, and bytes read by them.
#[derive(Debug, Default)]
pub struct Stats {
    pub clients: AtomicUsize,
    pub bytes_read: AtomicU64,
}

/// A running export; dropping it stops it and ends its connections.
pub struct Served {
    task: tokio::task::JoinHandle<()>,
    pub stats: Arc<Stats>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `source` as the export `name` on a socket at `path` (replacing a stale one) until the
/// returned export is dropped or the source goes away.
pub fn serve(path: &Path, name: &str, source: Source, limits: Limits) -> std::io::Result<Served> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    let export = Export { name: name.to_string(), size: source.size, read_only: source.read_only };
    let stats = Arc::new(Stats::default());
    let counted = stats.clone();
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let server = Server::new(export.clone());
                        connections.spawn(connection(stream, server, source.clone(), limits, counted.clone()));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "media export stopped accepting");
                        return;
                    }
                },
                _ = source.requests.closed() => return,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    });
    Ok(Served { task, stats })
}

/// Counts a connection while it lasts.
struct Client(Arc<Stats>);

impl Drop for Client {
    fn drop(&mut self) {
        self.0.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

type Pending = std::pin::Pin<Box<dyn std::future::Future<Output = (u64, Reply)> + Send>>;

async fn connection(mut stream: UnixStream, mut server: Server, source: Source, limits: Limits, stats: Arc<Stats>) {
    stats.clients.fetch_add(1, Ordering::Relaxed);
    let _client = Client(stats.clone());
    let mut pending: FuturesUnordered<Pending> = FuturesUnordered::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let output = server.take_output();
        if !output.is_empty()
            && !matches!(tokio::time::timeout(limits.write, stream.write_all(&output)).await, Ok(Ok(())))
        {
            return;
        }
        if server.is_closed() {
            return;
        }
        tokio::select! {
            read = stream.read(&mut buf), if pending.len() < MAX_IN_FLIGHT => {
                let n = match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let events = match server.feed(&buf[..n]) {
                    Ok(events) => events,
                    Err(e) => {
                        tracing::info!(reason = %e, "media client dropped");
                        return;
                    }
                };
                for event in events {
                    match ask(&source, event, limits.source) {
                        Some(answer) => pending.push(answer),
                        None => {
                            let _ = stream.write_all(&server.take_output()).await;
                            return;
                        }
                    }
                }
            }
            Some((handle, reply)) = pending.next(), if !pending.is_empty() => {
                if let Reply::Data(data) = &reply {
                    stats.bytes_read.fetch_add(data.len() as u64, Ordering::Relaxed);
                }
                server.reply(handle, reply);
            }
        }
    }
}

/// The source's answer to `event`, as a future that ends within `deadline`; `None` for a
/// disconnect.
fn ask(source: &Source, event: Event, deadline: Duration) -> Option<Pending> {
    let requests = source.requests.clone();
    let (handle, reply) = match event {
        Event::Disconnect => return None,
        Event::Read { handle, offset, length } => {
            let (tx, rx) = oneshot::channel();
            (handle, Box::pin(send(requests, SourceRequest::Read { offset, length, reply: tx }, rx, Reply::Data)) as _)
        }
        Event::Write { handle, offset, data } => {
            let (tx, rx) = oneshot::channel();
            (
                handle,
                Box::pin(send(requests, SourceRequest::Write { offset, data, reply: tx }, rx, |()| Reply::Done)) as _,
            )
        }
        Event::Flush { handle } => {
            let (tx, rx) = oneshot::channel();
            (handle, Box::pin(send(requests, SourceRequest::Flush { reply: tx }, rx, |()| Reply::Done)) as _)
        }
    };
    let reply: std::pin::Pin<Box<dyn std::future::Future<Output = Reply> + Send>> = reply;
    Some(Box::pin(async move {
        match tokio::time::timeout(deadline, reply).await {
            Ok(reply) => (handle, reply),
            Err(_) => {
                crate::quiet_warn!("media source", "a media source did not answer within {deadline:?}");
                (handle, Reply::Error(nbd_wire::EIO))
            }
        }
    }))
}

async fn send<T>(
    requests: tokio::sync::mpsc::Sender<SourceRequest>,
    request: SourceRequest,
    answer: oneshot::Receiver<Result<T, String>>,
    ok: impl FnOnce(T) -> Reply,
) -> Reply {
    if requests.send(request).await.is_err() {
        return Reply::Error(nbd_wire::EIO);
    }
    match answer.await {
        Ok(Ok(value)) => ok(value),
        Ok(Err(why)) => {
            crate::quiet_warn!("media source", %why, "a media source failed a request");
            Reply::Error(nbd_wire::EIO)
        }
        Err(_) => Reply::Error(nbd_wire::EIO),
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    async fn nbdcopy(args: Vec<String>) -> std::process::Output {
        tokio::task::spawn_blocking(move || {
            Command::new("nbdcopy").args(&args).output().expect("nbdcopy (Debian's libnbd-bin)")
        })
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_file_is_served_whole_to_a_real_nbd_client() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("disk.img");
        let content = pattern(5 * 1024 * 1024 + 4096);
        std::fs::write(&image, &content).unwrap();
        let socket = dir.path().join("media.sock");
        let export =
            serve(&socket, "media", super::super::file::open(&image, false).unwrap(), Limits::default()).unwrap();
        let uri = format!("nbd+unix:///media?socket={}", socket.display());
        let copy = dir.path().join("copy.img");
        let out = nbdcopy(vec![uri.clone(), copy.display().to_string()]).await;
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(std::fs::read(&copy).unwrap() == content);
        assert_eq!(export.stats.bytes_read.load(Ordering::Relaxed), content.len() as u64);
        assert_eq!(export.stats.clients.load(Ordering::Relaxed), 0, "nbdcopy is gone");
        drop(export);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_source_that_never_answers_fails_the_read_within_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let (requests, mut queue) = tokio::sync::mpsc::channel(4);
        // Takes requests and drops their answers on the floor (keeping them, so none is
        // refused): a browser tab that stopped answering.
        let hoard = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Some(r) = queue.recv().await {
                held.push(r);
            }
        });
        let source = Source { requests, size: 1024 * 1024, read_only: true };
        let socket = dir.path().join("silent.sock");
        let limits = Limits { source: Duration::from_millis(500), write: Duration::from_secs(5) };
        let export = serve(&socket, "media", source, limits).unwrap();
        let uri = format!("nbd+unix:///media?socket={}", socket.display());
        let started = std::time::Instant::now();
        let out = nbdcopy(vec![uri, dir.path().join("copy.img").display().to_string()]).await;
        assert!(!out.status.success(), "nothing to read, yet it succeeded");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Input/output error"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
        drop(export);
        hoard.abort();
    }
}
