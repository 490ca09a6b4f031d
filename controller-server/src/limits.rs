//! What a connection may cost: how many may be open at once (in all, and from one address),
//! and how long a client may take to say what it wants. Both listeners are served through
//! [`serve`], so neither can be held open by clients that connect and say nothing, or send a
//! header a byte at a time.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::sync::Locked;

/// Limits for one listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections at most, from everyone.
    pub connections: usize,
    /// Open connections at most from one address.
    pub per_address: usize,
    /// A client must finish its TLS handshake within this.
    pub tls_handshake: Duration,
    /// A request's headers must have arrived this soon after the connection (or the previous
    /// request) was ready for them.
    pub header_read: Duration,
}

/// Counts open connections, in all and per address.
#[derive(Default)]
struct Counts {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// Admits connections while under the limits; each admitted one carries a [`Slot`] that frees
/// its place when the connection (or the WebSocket it became) is dropped.
#[derive(Clone)]
pub struct Gate {
    limits: Limits,
    counts: Arc<Mutex<Counts>>,
}

impl Gate {
    pub fn new(limits: Limits) -> Self {
        Self { limits, counts: Arc::default() }
    }

    /// A place for a connection from `addr`, if there is one.
    pub fn admit(&self, addr: IpAddr) -> Option<Slot> {
        let mut counts = self.counts.locked();
        let from_there = counts.by_address.get(&addr).copied().unwrap_or(0);
        if counts.total >= self.limits.connections || from_there >= self.limits.per_address {
            return None;
        }
        counts.total += 1;
        counts.by_address.insert(addr, from_there + 1);
        Some(Slot { addr, counts: self.counts.clone() })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.counts.locked().total
    }
}

/// One admitted connection's place.
pub struct Slot {
    addr: IpAddr,
    counts: Arc<Mutex<Counts>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.counts.locked();
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.by_address.get_mut(&self.addr) {
            *n -= 1;
            if *n == 0 {
                counts.by_address.remove(&self.addr);
            }
        }
    }
}

/// A connection holding its place.
pub struct Guarded {
    stream: TcpStream,
    _slot: Slot,
}

impl AsyncRead for Guarded {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

impl<S> Accept<TcpStream, S> for Gate {
    type Stream = Guarded;
    type Service = S;
    type Future = std::future::Ready<io::Result<(Guarded, S)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let addr = stream.peer_addr().map(|a| a.ip()).unwrap_or(IpAddr::from([0, 0, 0, 0]));
        std::future::ready(match self.admit(addr) {
            Some(slot) => {
                let _ = stream.set_nodelay(true);
                Ok((Guarded { stream, _slot: slot }, service))
            }
            None => {
                // Dropped unanswered: a client over its share gets nothing to hold on to.
                if let Some(suppressed) = crate::quiet::allow("connection refused") {
                    tracing::warn!(%addr, suppressed, "connection refused: too many open connections");
                }
                Err(io::Error::other("too many connections"))
            }
        })
    }
}

/// Serves `router` on `listener` under `limits`, over TLS when `tls` is given, until `handle`
/// shuts it down.
pub async fn serve(
    listener: std::net::TcpListener,
    router: axum::Router,
    limits: Limits,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    handle: axum_server::Handle,
) -> io::Result<()> {
    let gate = Gate::new(limits);
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        Some(tls) => {
            let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls)
                .handshake_timeout(limits.tls_handshake)
                .acceptor(gate);
            let mut server = axum_server::from_tcp(listener).acceptor(acceptor).handle(handle);
            configure(server.http_builder(), limits);
            server.serve(service).await
        }
        None => {
            let mut server = axum_server::from_tcp(listener).acceptor(gate).handle(handle);
            configure(server.http_builder(), limits);
            server.serve(service).await
        }
    }
}

/// Serves one connection that did not come from a listener (a relay's data connection) as
/// the HTTPS listener serves its own: TLS here, then HTTP with upgrades, `peer` as the client's
/// address, under the same time limits.
pub async fn serve_one<I>(
    stream: I,
    peer: SocketAddr,
    router: axum::Router,
    tls: axum_server::tls_rustls::RustlsConfig,
    limits: Limits,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls).handshake_timeout(limits.tls_handshake);
    let stream = match acceptor.accept(stream, ()).await {
        Ok((stream, ())) => stream,
        Err(err) => {
            tracing::debug!(%peer, %err, "relayed TLS handshake failed");
            return;
        }
    };
    let service = router.layer(axum::extract::connect_info::MockConnectInfo(peer));
    let service = hyper_util::service::TowerToHyperService::new(service);
    let mut builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    configure(&mut builder, limits);
    let io = hyper_util::rt::TokioIo::new(stream);
    if let Err(err) = builder.serve_connection_with_upgrades(io, service).await {
        match tls_error(err.as_ref()) {
            // Through an untrusted relay, a record that fails its check was altered on the way.
            Some(tls) => tracing::warn!(%peer, err = %tls, "relayed connection failed its TLS integrity check"),
            None => tracing::debug!(%peer, %err, "relayed connection ended"),
        }
    }
}

/// The TLS error behind `err`, if a TLS error ended the connection.
fn tls_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cause = Some(err);
    while let Some(err) = cause {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(tls) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(tls);
        }
        cause = err.source();
    }
    None
}

fn configure(builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>, limits: Limits) {
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .max_buf_size(64 << 10);
    builder.http2().timer(hyper_util::rt::TokioTimer::new()).max_concurrent_streams(64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_counted_in_all_and_per_address_and_freed_on_drop() {
        let gate = Gate::new(Limits {
            connections: 3,
            per_address: 2,
            tls_handshake: Duration::from_secs(1),
            header_read: Duration::from_secs(1),
        });
        let (a, b) = (IpAddr::from([127, 0, 0, 2]), IpAddr::from([127, 0, 0, 3]));
        let first = gate.admit(a).unwrap();
        let _second = gate.admit(a).unwrap();
        assert!(gate.admit(a).is_none(), "two from one address at most");
        let _third = gate.admit(b).unwrap();
        assert!(gate.admit(b).is_none(), "three in all at most");
        drop(first);
        let _fourth = gate.admit(b).expect("a closed connection frees its place");
        assert_eq!(gate.open(), 3);
    }
}
