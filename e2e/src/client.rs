//! Clients that talk to the controller without a browser, as scripts and programs do: a JSON
//! API client over HTTPS (trusting the test controller's own certificate), and a native console
//! client that runs the console protocol (`shared::session::ClientSession`) over the plain
//! listener's WebSocket.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use shared::crypto::{CipherSuite, Pms};
use shared::session::{ClientConfig, ClientEvent, ClientSession, SessionError};
use shared::wire::{AlertCode, KeyId};
use tokio_tungstenite::tungstenite::Message;

use crate::Controller;

/// A logged-in (or not yet) API caller with its own cookie jar.
pub struct ApiClient {
    pub http: reqwest::Client,
    pub base: String,
    pub csrf: String,
}

/// The value a response's `Set-Cookie` gives the cookie `name`.
pub fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.split(';').next()?.trim().strip_prefix(name)?.strip_prefix('=').map(str::to_string))
}

impl ApiClient {
    pub fn new(controller: &Controller) -> anyhow::Result<Self> {
        Self::for_site(&controller.url, &controller.cert_path())
    }

    pub fn for_site(base: &str, cert: &std::path::Path) -> anyhow::Result<Self> {
        Self::resolving(base, cert, None)
    }

    /// As `for_site`, reaching `base`'s host name at `address` (a relay, say) while checking
    /// the certificate against that name.
    pub fn resolving(
        base: &str,
        cert: &std::path::Path,
        address: Option<(&str, std::net::SocketAddr)>,
    ) -> anyhow::Result<Self> {
        let cert = reqwest::Certificate::from_pem(&std::fs::read(cert)?)?;
        let mut builder =
            reqwest::Client::builder().add_root_certificate(cert).cookie_store(true).timeout(Duration::from_secs(30));
        if let Some((name, address)) = address {
            builder = builder.resolve(name, address);
        }
        Ok(Self { http: builder.build()?, base: base.to_string(), csrf: String::new() })
    }

    /// `method path` with a JSON body (or none); answers the status and the JSON body.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<(u16, Value)> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut request = self.http.request(method, format!("{}{path}", self.base)).header("x-csrf-token", &self.csrf);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
    }

    /// Logs in and keeps the session's CSRF token.
    pub async fn login(&mut self, user: &str, password: &str) -> anyhow::Result<Value> {
        let (status, body) =
            self.call("POST", "/api/login", Some(json!({"username": user, "password": password}))).await?;
        if status != 200 {
            bail!("login as {user} answered {status}: {body}");
        }
        self.csrf = body["csrf_token"].as_str().unwrap_or_default().to_string();
        Ok(body)
    }

    /// Logs in with a password that must be replaced, and replaces it with `new_password`.
    pub async fn first_login(&mut self, user: &str, password: &str, new_password: &str) -> anyhow::Result<()> {
        self.login(user, password).await?;
        let change = json!({"current_password": password, "new_password": new_password});
        let (status, body) = self.call("POST", "/api/password", Some(change)).await?;
        if status != 200 {
            bail!("password change answered {status}: {body}");
        }
        Ok(())
    }

    /// A console key for `host`.
    pub async fn console_key(&self, host: &str) -> anyhow::Result<Value> {
        let (status, key) = self.call("POST", &format!("/api/hosts/{host}/console-key"), None).await?;
        if status != 200 {
            bail!("console key for {host} answered {status}: {key}");
        }
        Ok(key)
    }
}

/// The console protocol over a WebSocket, without a browser.
pub struct ConsoleClient {
    ws: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    pub session: ClientSession,
    started: Instant,
}

/// How a link ended, as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The controller sent this alert.
    Alert(AlertCode),
    /// The socket closed without an alert.
    Closed,
}

impl ConsoleClient {
    /// Opens `url` (a `ws://` console URL) with `key` as the console-key API gave it, and waits
    /// until the link is established at both ends (the controller's first message arrived).
    pub async fn connect(url: &str, key: &Value) -> anyhow::Result<Self> {
        let (ws, _) = tokio_tungstenite::connect_async(url).await?;
        Self::established(ws, key).await
    }

    /// As `connect`, for a `wss://` URL whose host is reached at `address` (a relay, say), the
    /// certificate checked against `cert` (PEM) for the URL's host name.
    pub async fn connect_tls(
        url: &str,
        address: std::net::SocketAddr,
        cert: &std::path::Path,
        key: &Value,
    ) -> anyhow::Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        use rustls::pki_types::pem::PemObject;
        for cert in rustls::pki_types::CertificateDer::pem_file_iter(cert)? {
            roots.add(cert?)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(address).await?;
        let _ = tcp.set_nodelay(true);
        let connector = tokio_tungstenite::Connector::Rustls(Arc::new(tls));
        let (ws, _) = tokio_tungstenite::client_async_tls_with_config(url, tcp, None, Some(connector)).await?;
        Self::established(ws, key).await
    }

    async fn established(
        ws: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
        key: &Value,
    ) -> anyhow::Result<Self> {
        let key_id =
            KeyId::from_hex(key["key_id"].as_str().context("key_id")?).context("key_id is not 32 hex digits")?;
        let pms = base64::engine::general_purpose::STANDARD.decode(key["pms"].as_str().context("pms")?)?;
        let config = ClientConfig {
            key_id,
            pms: Pms::from_slice(&pms).context("pms is not 32 bytes")?,
            suites: vec![CipherSuite::ChaCha20Poly1305, CipherSuite::Rc4HmacSha1],
            controller_key: base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(key["controller_key"].as_str().context("controller_key")?)?
                .try_into()
                .map_err(|_| anyhow::anyhow!("controller_key is not 32 bytes"))?,
        };
        let mut client = Self { ws, session: ClientSession::new(config, rand::random()), started: Instant::now() };
        client.flush().await?;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match client.next_events(deadline).await? {
                Ok(events) if events.iter().any(|e| matches!(e, ClientEvent::Message(_))) => return Ok(client),
                Ok(_) => {}
                Err(ended) => bail!("the link ended before it was established: {ended:?}"),
            }
        }
    }

    /// Sends one message to the controller.
    pub async fn send(&mut self, message: shared::wire::AppMessage) -> anyhow::Result<()> {
        let now = self.now();
        self.session.send(message, now)?;
        self.flush().await
    }

    /// Closes the link as the applet does.
    pub async fn close(mut self) -> anyhow::Result<()> {
        let now = self.now();
        self.session.close(now);
        self.flush().await?;
        let _ = tokio::time::timeout(Duration::from_secs(5), async { while self.ws.next().await.is_some() {} }).await;
        Ok(())
    }

    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        for record in self.session.take_outgoing() {
            self.ws.send(Message::Binary(record.into())).await?;
        }
        Ok(())
    }

    /// The next events the controller's records make, or how the link ended; errors at the
    /// deadline.
    pub async fn next_events(&mut self, deadline: Instant) -> anyhow::Result<Result<Vec<ClientEvent>, Ended>> {
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            let message =
                tokio::time::timeout(wait, self.ws.next()).await.context("nothing from the controller in time")?;
            let bytes = match message {
                Some(Ok(Message::Binary(bytes))) => bytes,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Ok(Err(Ended::Closed)),
                Some(Ok(_)) => continue,
            };
            let now = self.now();
            let handled = self.session.handle_record(bytes.into(), now);
            self.flush().await?;
            return Ok(match handled {
                Ok(events) => Ok(events),
                Err(SessionError::PeerClosed(alert)) | Err(SessionError::Refused(alert)) => {
                    Err(Ended::Alert(alert.code))
                }
                Err(other) => bail!("the link failed: {other}"),
            });
        }
    }

    /// The time a WebSocket ping takes to come back as a pong: the transport's round trip
    /// (TCP, TLS, whatever is between, the peer's WebSocket layer), without the console's own
    /// pacing. Records that arrive meanwhile are handled as usual.
    pub async fn ping(&mut self, within: Duration) -> anyhow::Result<Duration> {
        let payload: [u8; 8] = rand::random();
        let sent = Instant::now();
        self.ws.send(Message::Ping(payload.to_vec().into())).await?;
        let deadline = sent + within;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            let message = tokio::time::timeout(wait, self.ws.next()).await.context("no pong in time")?;
            match message {
                Some(Ok(Message::Pong(p))) if p.as_ref() == payload => return Ok(sent.elapsed()),
                Some(Ok(Message::Binary(bytes))) => {
                    let now = self.now();
                    self.session.handle_record(bytes.into(), now)?;
                    self.flush().await?;
                }
                Some(Ok(_)) => {}
                Some(Err(err)) => bail!("the socket failed: {err}"),
                None => bail!("the socket closed"),
            }
        }
    }

    /// Reads until the link ends; how it ended, or an error if it still runs after `within`.
    pub async fn ended_within(&mut self, within: Duration) -> anyhow::Result<Ended> {
        let deadline = Instant::now() + within;
        loop {
            if let Err(ended) = self.next_events(deadline).await? {
                return Ok(ended);
            }
        }
    }
}
