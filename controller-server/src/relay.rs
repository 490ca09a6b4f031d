//! The controller's side of a relay (`[relay]`): for a controller that nobody can dial. It
//! dials the relay, registers under its name with its node key, and from then on opens a data
//! connection to the relay for every browser or agent that arrives there for it (the relay asks
//! on the control connection). Each data connection is then served exactly as a connection to
//! the HTTPS listener: TLS ends here, so the relay carries only ciphertext.
//!
//! The control connection is supervised: lost, refused or silent, it is dialled again with
//! backoff, so a relay's restart needs nothing of the operator.

use std::net::SocketAddr;
use std::time::Duration;

use relay_link::frame::{Decoder, Frame, Kind, PREAMBLE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::app::AppState;
use crate::config::RelayConfig;
use crate::limits::{Gate, Limits};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_RETRY: Duration = Duration::from_millis(500);
/// Short: a relay that restarts is registered at again within seconds of its return, and a
/// controller has only the one relay connection to keep.
const MAX_RETRY: Duration = Duration::from_secs(5);
/// A registration that lasted this long starts the backoff afresh.
const STABLE: Duration = Duration::from_secs(30);

/// Where the relay connection stands, for `GET /api/node`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RelayStatus {
    /// The name browsers and agents use, once registered.
    pub host: Option<String>,
    pub registered: bool,
    /// Why the last attempt ended, if it did.
    pub last_error: Option<String>,
}

/// What serving a relayed connection needs: the site's router, TLS and limits.
#[derive(Clone)]
pub struct Site {
    pub router: axum::Router,
    pub tls: axum_server::tls_rustls::RustlsConfig,
    pub limits: Limits,
}

/// Keeps the controller registered at the relay until the controller stops.
pub fn start(config: RelayConfig, state: AppState, site: Site) -> watch::Receiver<RelayStatus> {
    let (status, watching) = watch::channel(RelayStatus::default());
    tokio::spawn(async move {
        let gate = Gate::new(site.limits);
        let mut retry = FIRST_RETRY;
        let stopping = state.stopping();
        tokio::pin!(stopping);
        loop {
            let started = tokio::time::Instant::now();
            let ended = tokio::select! {
                ended = registration(&config, &state, &site, &gate, &status) => ended,
                () = &mut stopping => return,
            };
            if started.elapsed() > STABLE {
                retry = FIRST_RETRY;
            }
            tracing::warn!(relay = %config.address, reason = %ended, retry_ms = retry.as_millis() as u64, "not registered at the relay");
            status.send_modify(|s| {
                s.registered = false;
                s.last_error = Some(ended);
            });
            let jittered = retry / 2 + retry.mul_f64(rand::random::<f64>() / 2.0);
            tokio::select! {
                () = tokio::time::sleep(jittered) => {}
                () = &mut stopping => return,
            }
            retry = (retry * 2).min(MAX_RETRY);
        }
    });
    watching
}

async fn dial(address: &str, kind: Kind) -> Result<TcpStream, String> {
    let connecting = TcpStream::connect(address);
    let mut socket = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .map_err(|_| format!("{address} did not answer within {CONNECT_TIMEOUT:?}"))?
        .map_err(|err| format!("cannot reach {address}: {err}"))?;
    let _ = socket.set_nodelay(true);
    let preamble = [PREAMBLE.as_slice(), &[kind.byte()]].concat();
    socket.write_all(&preamble).await.map_err(|err| err.to_string())?;
    Ok(socket)
}

async fn next_frame(socket: &mut TcpStream, decoder: &mut Decoder, silence: Duration) -> Result<Frame, String> {
    let mut buf = [0u8; 1024];
    loop {
        if let Some(frame) = decoder.next_frame().map_err(|err| format!("the relay sent {err}"))? {
            return Ok(frame);
        }
        match tokio::time::timeout(silence, socket.read(&mut buf)).await {
            Err(_) => return Err(format!("the relay said nothing for {silence:?}")),
            Ok(Ok(0)) => return Err("the relay closed the connection".into()),
            Ok(Ok(n)) => decoder.feed(buf.get(..n).unwrap_or_default()),
            Ok(Err(err)) => return Err(format!("the connection to the relay failed: {err}")),
        }
    }
}

/// One control connection, from dialling to its end; returns why it ended.
async fn registration(
    config: &RelayConfig,
    state: &AppState,
    site: &Site,
    gate: &Gate,
    status: &watch::Sender<RelayStatus>,
) -> String {
    let silence = Duration::from_secs(config.silence_seconds.max(5));
    let mut socket = match dial(&config.address, Kind::Control).await {
        Ok(socket) => socket,
        Err(err) => return err,
    };
    let mut decoder = Decoder::default();
    let nonce = match next_frame(&mut socket, &mut decoder, CONNECT_TIMEOUT).await {
        Ok(Frame::Challenge { nonce }) => nonce,
        Ok(other) => return format!("the relay began with {other:?} instead of a challenge"),
        Err(err) => return err,
    };
    let register = state.node.relay_registration(&nonce, &config.name);
    if let Err(err) = socket.write_all(&register.encode()).await {
        return err.to_string();
    }
    loop {
        let frame = match next_frame(&mut socket, &mut decoder, silence).await {
            Ok(frame) => frame,
            Err(err) => return err,
        };
        match frame {
            Frame::Registered { host } => {
                tracing::info!(relay = %config.address, %host, "registered at the relay");
                status.send_replace(RelayStatus { host: Some(host), registered: true, last_error: None });
            }
            Frame::Refused { reason } => return format!("the relay refused: {reason}"),
            Frame::Ping(n) => {
                if let Err(err) = socket.write_all(&Frame::Pong(n).encode()).await {
                    return err.to_string();
                }
            }
            Frame::Open { path, client } => {
                let peer: SocketAddr = client.parse().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
                let Some(place) = gate.admit(peer.ip()) else {
                    tracing::warn!(%peer, "relayed connection refused: too many open connections");
                    continue;
                };
                let (address, site) = (config.address.clone(), site.clone());
                tokio::spawn(async move {
                    match dial(&address, Kind::Data).await {
                        Ok(mut socket) => {
                            if socket.write_all(&Frame::Attach { path }.encode()).await.is_ok() {
                                crate::limits::serve_one(socket, peer, site.router, site.tls, site.limits).await;
                            }
                        }
                        Err(err) => tracing::warn!(%err, "cannot open a path at the relay"),
                    }
                    drop(place);
                });
            }
            Frame::Pong(_) => {}
            other => return format!("the relay sent an unexpected {other:?}"),
        }
    }
}
