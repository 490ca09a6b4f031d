//! The connection to a directory: TCP with a deadline, StartTLS when asked (sent here, so the
//! TLS after it is ours), rustls with the configured trust anchors, and a pump between that
//! and the LDAP client's end of a socket pair. The pump only carries bytes; it stops the
//! connection at the first answer larger than [`MAX_ANSWER`], before buffering it (the LDAP
//! client would otherwise keep reading a huge message into memory).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use directory_wire::{starttls, Framer};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::DirectoryError;
use crate::sync::Locked;

/// The largest LDAP message accepted from a directory: far more than a user entry with its
/// groups, far less than what would hurt.
pub const MAX_ANSWER: usize = 256 * 1024;

/// Where a directory is and how TLS starts there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub starttls: bool,
}

impl Endpoint {
    /// `ldaps://host[:port][/]` (TLS from the start, port 636) or `ldap://host[:port][/]`
    /// (StartTLS, port 389). `starttls` is taken from the scheme.
    pub fn parse(url: &str) -> Option<Self> {
        let (scheme, rest) = url.split_once("://")?;
        let (starttls, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "ldaps" => (false, 636),
            "ldap" => (true, 389),
            _ => return None,
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains(['/', '?', '@', ' ']) {
            return None;
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']')?;
            match after {
                "" => (host, default_port),
                _ => (host, after.strip_prefix(':')?.parse().ok()?),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, port.parse().ok()?),
                None => (authority, default_port),
            }
        };
        (!host.is_empty()).then(|| Self { host: host.to_string(), port, starttls })
    }
}

/// Why the pump stopped a connection, when it did (read after the LDAP client failed).
#[derive(Debug, Clone, Default)]
pub struct PumpEnd(Arc<Mutex<Option<String>>>);

impl PumpEnd {
    pub fn reason(&self) -> Option<String> {
        self.0.locked().clone()
    }

    fn set(&self, reason: String) {
        self.0.locked().get_or_insert(reason);
    }
}

fn unavailable(what: impl std::fmt::Display) -> DirectoryError {
    DirectoryError::Unavailable(what.to_string())
}

/// Connects to `endpoint` within `timeout` and returns the LDAP client's end of the pump.
pub async fn connect(
    endpoint: &Endpoint,
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> Result<(std::os::unix::net::UnixStream, PumpEnd), DirectoryError> {
    let at = format!("{}:{}", endpoint.host, endpoint.port);
    let mut tcp = tokio::time::timeout(timeout, TcpStream::connect((endpoint.host.as_str(), endpoint.port)))
        .await
        .map_err(|_| unavailable(format!("the directory at {at} did not answer within {}s", timeout.as_secs())))?
        .map_err(|e| unavailable(format!("cannot reach the directory at {at}: {e}")))?;
    if endpoint.starttls {
        tokio::time::timeout(timeout, start_tls(&mut tcp))
            .await
            .map_err(|_| unavailable(format!("the directory at {at} did not answer StartTLS in time")))??;
    }
    let name = ServerName::try_from(endpoint.host.clone())
        .map_err(|_| unavailable(format!("{:?} is not a name TLS can check", endpoint.host)))?;
    let tls = tokio::time::timeout(timeout, tokio_rustls::TlsConnector::from(tls).connect(name, tcp))
        .await
        .map_err(|_| unavailable(format!("TLS with the directory at {at} did not finish in time")))?
        .map_err(|e| unavailable(format!("TLS with the directory at {at} failed: {e}")))?;
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().map_err(unavailable)?;
    ours.set_nonblocking(true).map_err(unavailable)?;
    let ours = tokio::net::UnixStream::from_std(ours).map_err(unavailable)?;
    let end = PumpEnd::default();
    tokio::spawn(pump(tls, ours, end.clone(), timeout));
    Ok((theirs, end))
}

/// Sends the StartTLS request and reads its answer, a message at a time, at most 4 KiB.
async fn start_tls(tcp: &mut TcpStream) -> Result<(), DirectoryError> {
    tcp.write_all(&starttls::request()).await.map_err(|e| unavailable(format!("StartTLS: {e}")))?;
    let mut framer = Framer::new(4096);
    let mut answer = Vec::new();
    let mut buf = [0u8; 512];
    while framer.messages() == 0 {
        let n = tcp.read(&mut buf).await.map_err(|e| unavailable(format!("StartTLS: {e}")))?;
        let read = buf.get(..n).unwrap_or_default();
        if read.is_empty() {
            return Err(unavailable("the directory closed the connection instead of answering StartTLS"));
        }
        framer.feed(read).map_err(|e| unavailable(format!("StartTLS: {e}")))?;
        answer.extend_from_slice(read);
    }
    // A server may not send anything after the answer before TLS starts.
    if !framer.at_boundary() || framer.messages() != 1 {
        return Err(unavailable("the directory sent more than its answer to StartTLS"));
    }
    match starttls::answer(&answer) {
        Ok(starttls::Answer::Accepted) => Ok(()),
        Ok(starttls::Answer::Refused(code)) => Err(unavailable(format!(
            "the directory refused StartTLS (result code {code}): does it have a certificate?"
        ))),
        Err(e) => Err(unavailable(e)),
    }
}

/// Carries bytes both ways until either side ends, checking the directory's messages. A
/// connection silent for `idle` ends too: every exchange of a login is bounded by it anyway.
async fn pump<S: AsyncRead + AsyncWrite>(server: S, client: tokio::net::UnixStream, end: PumpEnd, idle: Duration) {
    let (mut server_rx, mut server_tx) = tokio::io::split(server);
    let (mut client_rx, mut client_tx) = client.into_split();
    let mut framer = Framer::new(MAX_ANSWER);
    let mut from_server = vec![0u8; 16 * 1024];
    let mut from_client = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            read = tokio::time::timeout(idle, server_rx.read(&mut from_server)) => {
                let Ok(Ok(n)) = read else { end.set("the directory stopped answering".into()); break };
                let Some(bytes) = from_server.get(..n).filter(|b| !b.is_empty()) else { break };
                if let Err(e) = framer.feed(bytes) {
                    end.set(e.to_string());
                    break;
                }
                if client_tx.write_all(bytes).await.is_err() {
                    break;
                }
            }
            read = client_rx.read(&mut from_client) => {
                let Some(bytes) = read.ok().and_then(|n| from_client.get(..n)).filter(|b| !b.is_empty()) else { break };
                if server_tx.write_all(bytes).await.is_err() {
                    end.set("the directory closed the connection".into());
                    break;
                }
            }
        }
    }
    let _ = server_tx.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_host_port_and_how_tls_starts() {
        let e = |host: &str, port, starttls| Some(Endpoint { host: host.into(), port, starttls });
        assert_eq!(Endpoint::parse("ldaps://dir.example"), e("dir.example", 636, false));
        assert_eq!(Endpoint::parse("ldaps://dir.example:1636/"), e("dir.example", 1636, false));
        assert_eq!(Endpoint::parse("LDAP://127.0.0.1:3389"), e("127.0.0.1", 3389, true));
        assert_eq!(Endpoint::parse("ldaps://[::1]:636"), e("::1", 636, false));
        for bad in ["ldaps://", "ldaps://x:y", "http://x", "ldaps://a/b", "ldaps://u@x", "ldaps://[::1"] {
            assert_eq!(Endpoint::parse(bad), None, "{bad}");
        }
    }
}
