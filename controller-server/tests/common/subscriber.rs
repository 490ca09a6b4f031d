//! A Redfish event subscriber for the tests: an HTTPS server on loopback with a certificate of
//! its own that takes POSTed events (and the headers they came with), or that takes the
//! connection and never answers, as a hung collector would.
#![allow(dead_code)] // each test binary uses its own part of it

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Json;
use serde_json::Value;
use tokio::sync::{mpsc, Mutex};

/// What a subscriber received: the headers and the body of one POST.
pub type Delivery = (HeaderMap, Value);

pub struct Subscriber {
    pub addr: SocketAddr,
    /// The subscriber's certificate, for `[events] ca_file`.
    pub ca_file: std::path::PathBuf,
    received: Mutex<mpsc::UnboundedReceiver<Delivery>>,
    /// Received, but skipped by [`Subscriber::event`] while it looked for another: events
    /// need not arrive in the order a test asks for them.
    skipped: Mutex<Vec<Delivery>>,
    /// Released by dropping: a hung subscriber hangs until then.
    _release: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

#[derive(Clone)]
struct Shared {
    deliveries: mpsc::UnboundedSender<Delivery>,
    hang: bool,
    released: tokio::sync::watch::Receiver<bool>,
}

impl Subscriber {
    /// One that answers 200 to every POST to `/events`.
    pub async fn start() -> Self {
        Self::start_with(false).await
    }

    /// One that takes every request (and reports it) but answers none until dropped.
    pub async fn hung() -> Self {
        Self::start_with(true).await
    }

    async fn start_with(hang: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
        let ca_file = dir.path().join("subscriber.pem");
        std::fs::write(&ca_file, made.cert.pem()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = rustls::pki_types::PrivateKeyDer::try_from(made.signing_key.serialize_der()).unwrap();
        let tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![made.cert.der().clone()], key)
            .unwrap();
        let (deliveries, received) = mpsc::unbounded_channel();
        let (release, released) = tokio::sync::watch::channel(false);
        let app = axum::Router::new().route("/events", post(take)).with_state(Shared { deliveries, hang, released });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let config = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(tls));
        tokio::spawn(axum_server::from_tcp_rustls(listener, config).serve(app.into_make_service()));
        Self { addr, ca_file, received: Mutex::new(received), skipped: Mutex::default(), _release: release, _dir: dir }
    }

    pub fn url(&self) -> String {
        format!("https://{}/events", self.addr)
    }

    /// The next POST received, waiting up to `within` for it.
    pub async fn next(&self, within: Duration) -> Option<Delivery> {
        tokio::time::timeout(within, self.received.lock().await.recv()).await.ok().flatten()
    }

    /// Waits up to `within` for an event whose `MessageId` ends with `key`, received now or
    /// skipped before; returns it and the headers it came with, keeping others for later.
    pub async fn event(&self, key: &str, within: Duration) -> Option<(HeaderMap, Value)> {
        let is_it =
            |body: &Value| body["Events"][0]["MessageId"].as_str().is_some_and(|id| id.ends_with(&format!(".{key}")));
        let mut skipped = self.skipped.lock().await;
        if let Some(at) = skipped.iter().position(|(_, body)| is_it(body)) {
            return Some(skipped.remove(at));
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let delivery = self.next(left).await?;
            if is_it(&delivery.1) {
                return Some(delivery);
            }
            skipped.push(delivery);
        }
    }
}

async fn take(State(shared): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> StatusCode {
    let _ = shared.deliveries.send((headers, body));
    if shared.hang {
        let mut released = shared.released.clone();
        // Ends when the subscriber is dropped (the sender goes).
        while released.changed().await.is_ok() {}
    }
    StatusCode::OK
}
