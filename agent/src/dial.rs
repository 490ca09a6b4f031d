//! Dialling the controller: TCP, TLS, then a WebSocket to `/agent/link` on its HTTPS port, so
//! the connection passes firewalls and proxies that allow only outbound HTTPS.
//!
//! The web certificate is checked only when `ca_file` is configured: what authenticates the
//! controller is the Noise handshake inside, against the identity key pinned at enrolment.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::WebSocketStream;

pub type Socket = WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>;

const CONNECT_DEADLINE: Duration = Duration::from_secs(10);
/// One Noise message and the clear hello, with room to spare.
const MAX_MESSAGE: usize = 66 << 10;

/// Accepts any certificate, but still checks the handshake's signatures with it.
#[derive(Debug)]
struct Unchecked(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_config(ca_file: Option<&Path>) -> anyhow::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder =
        rustls::ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
    Ok(match ca_file {
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in
                CertificateDer::pem_file_iter(path).map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))?
            {
                roots.add(cert.map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))?)?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(Unchecked(provider))).with_no_client_auth()
        }
    })
}

/// Opens the agent link's WebSocket to `controller` (`https://host[:port]`).
pub async fn dial(controller: &str, ca_file: Option<&Path>) -> anyhow::Result<Socket> {
    let url = url::Url::parse(controller).map_err(|err| anyhow::anyhow!("the controller URL {controller:?}: {err}"))?;
    if !matches!(url.scheme(), "https" | "wss") {
        anyhow::bail!("the controller URL must be https://...");
    }
    let host = url.host_str().ok_or_else(|| anyhow::anyhow!("the controller URL has no host"))?.to_string();
    let port = url.port().unwrap_or(443);
    let connect = async {
        let tcp = TcpStream::connect((host.trim_start_matches('[').trim_end_matches(']'), port)).await?;
        tcp.set_nodelay(true)?;
        let name = ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']').to_string())?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(tls_config(ca_file)?)).connect(name, tcp).await?;
        let endpoint = format!("wss://{}:{port}/agent/link", url.host_str().unwrap_or_default());
        let config = WebSocketConfig::default().max_message_size(Some(MAX_MESSAGE)).max_frame_size(Some(MAX_MESSAGE));
        let (socket, _) = tokio_tungstenite::client_async_with_config(endpoint, tls, Some(config)).await?;
        anyhow::Ok(socket)
    };
    tokio::time::timeout(CONNECT_DEADLINE, connect)
        .await
        .map_err(|_| anyhow::anyhow!("no connection to {host}:{port} within {} s", CONNECT_DEADLINE.as_secs()))?
}
