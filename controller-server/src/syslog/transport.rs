//! Carrying a batch of messages to the collector, and knowing when it has them.
//!
//! Syslog over TCP (RFC 6587) and TLS (RFC 5425) has no acknowledgement. What a sender can know
//! is that the collector read everything up to the end of the stream: the batch is sent, the
//! sending side closed (TLS `close_notify`, then FIN), and the collector's own close awaited.
//! A collector closes only once it has read to the end, so its EOF says every message before it
//! was taken in; only then does the forwarder move its place on. A batch cut off anywhere is
//! sent again whole, so a collector may see a message twice, never miss one. UDP (RFC 5426)
//! knows nothing of delivery: a datagram is sent and forgotten.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// Where the collector is and how it is spoken to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub transport: Transport,
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tls,
    Tcp,
    Udp,
}

impl Target {
    /// `tls://host[:6514]`, `tcp://host[:514]` or `udp://host[:514]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = reqwest::Url::parse(text).map_err(|e| format!("syslog target {text:?}: {e}"))?;
        let (transport, default_port) = match url.scheme() {
            "tls" => (Transport::Tls, 6514),
            "tcp" => (Transport::Tcp, 514),
            "udp" => (Transport::Udp, 514),
            other => return Err(format!("syslog target {text:?}: {other:?} is not tls, tcp or udp")),
        };
        let host = match url.host() {
            Some(url::Host::Domain(name)) if !name.is_empty() => name.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(format!("syslog target {text:?} names no host")),
        };
        let bare = url.username().is_empty()
            && url.password().is_none()
            && matches!(url.path(), "" | "/")
            && url.query().is_none()
            && url.fragment().is_none();
        if !bare {
            return Err(format!("syslog target {text:?}: only a scheme, a host and a port are allowed"));
        }
        Ok(Self { transport, host, port: url.port().unwrap_or(default_port) })
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = match self.transport {
            Transport::Tls => "tls",
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        };
        match self.host.contains(':') {
            true => write!(f, "{scheme}://[{}]:{}", self.host, self.port),
            false => write!(f, "{scheme}://{}:{}", self.host, self.port),
        }
    }
}

/// The files TLS needs: the CA the collector's certificate is checked against (the system's
/// when absent), and this controller's own certificate, for collectors that ask for one.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

pub struct Sender {
    target: Target,
    tls: Option<tokio_rustls::TlsConnector>,
    /// Each step's deadline: connecting, the handshake, writing, the collector's close.
    timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("cannot reach {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("{0}: {1}")]
    Io(&'static str, std::io::Error),
    #[error("{0} took longer than {1:?}")]
    Timeout(&'static str, Duration),
}

impl Sender {
    pub fn new(target: Target, files: &TlsFiles, timeout: Duration) -> anyhow::Result<Self> {
        let tls = match target.transport {
            Transport::Tls => {
                let identity = files.cert_file.as_deref().zip(files.key_file.as_deref());
                let mut config =
                    crate::tls::client_config_as("the syslog collector", files.ca_file.as_deref(), identity)?;
                // No session resumption: rsyslog's OpenSSL driver (Debian 12's 8.2302) fails a
                // resumed handshake when it checks client certificates ("session id context
                // uninitialized"), and one full handshake per batch costs little.
                config.resumption = rustls::client::Resumption::disabled();
                Some(tokio_rustls::TlsConnector::from(Arc::new(config)))
            }
            Transport::Tcp | Transport::Udp => None,
        };
        Ok(Self { target, tls, timeout })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Delivers `messages`: framed in one stream (octet counting), or one per datagram for
    /// UDP; `Ok` once the collector has read them all (a stream) or they are sent (UDP).
    pub async fn deliver(&self, messages: &[String]) -> Result<(), SendError> {
        if self.target.transport == Transport::Udp {
            return self.datagrams(messages).await;
        }
        let mut framed = Vec::with_capacity(messages.iter().map(|m| m.len() + 8).sum());
        for message in messages {
            super::format::frame(message, &mut framed);
        }
        match &self.tls {
            Some(tls) => {
                let tcp = self.connect().await?;
                let name = rustls::pki_types::ServerName::try_from(self.target.host.clone())
                    .map_err(|e| SendError::Io("the collector's name", std::io::Error::other(e)))?;
                let stream = self.within("the TLS handshake", tls.connect(name, tcp)).await?;
                self.stream(stream, &framed).await
            }
            None => self.stream(self.connect().await?, &framed).await,
        }
    }

    async fn connect(&self) -> Result<TcpStream, SendError> {
        let address = (self.target.host.as_str(), self.target.port);
        match tokio::time::timeout(self.timeout, TcpStream::connect(address)).await {
            Ok(Ok(tcp)) => {
                let _ = tcp.set_nodelay(true);
                Ok(tcp)
            }
            Ok(Err(e)) => Err(SendError::Connect(self.target.to_string(), e)),
            Err(_) => Err(SendError::Timeout("connecting", self.timeout)),
        }
    }

    /// Writes the batch, closes the sending side and waits for the collector to close its own.
    async fn stream<S>(&self, mut stream: S, framed: &[u8]) -> Result<(), SendError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        self.within("sending", stream.write_all(framed)).await?;
        self.within("closing", stream.shutdown()).await?;
        // A collector sends nothing; whatever it does send is read and dropped, to a bound.
        let mut sink = [0u8; 4096];
        let mut read = 0usize;
        loop {
            match tokio::time::timeout(self.timeout, stream.read(&mut sink)).await {
                Ok(Ok(0)) => return Ok(()),
                Ok(Ok(n)) if read + n <= 1 << 20 => read += n,
                Ok(Ok(_)) => {
                    return Err(SendError::Io("the collector's close", std::io::ErrorKind::InvalidData.into()))
                }
                // A TLS collector may close its socket without `close_notify`: it has still read
                // to the end of ours.
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Ok(Err(e)) => return Err(SendError::Io("the collector's close", e)),
                Err(_) => return Err(SendError::Timeout("the collector's close", self.timeout)),
            }
        }
    }

    async fn datagrams(&self, messages: &[String]) -> Result<(), SendError> {
        let local = if self.target.host.contains(':') { "[::]:0" } else { "0.0.0.0:0" };
        let socket = UdpSocket::bind(local).await.map_err(|e| SendError::Io("a UDP socket", e))?;
        let address = (self.target.host.as_str(), self.target.port);
        self.within("resolving", socket.connect(address)).await?;
        for message in messages {
            // Best effort by nature: a refused datagram (ICMP) is not kept for later.
            if let Err(e) = socket.send(message.as_bytes()).await {
                tracing::debug!(error = %e, "syslog datagram not sent");
            }
        }
        Ok(())
    }

    async fn within<T>(
        &self,
        step: &'static str,
        work: impl std::future::Future<Output = std::io::Result<T>>,
    ) -> Result<T, SendError> {
        match tokio::time::timeout(self.timeout, work).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(SendError::Io(step, e)),
            Err(_) => Err(SendError::Timeout(step, self.timeout)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(transport: Transport, port: u16, timeout: Duration) -> Sender {
        let target = Target { transport, host: "127.0.0.1".into(), port };
        Sender::new(target, &TlsFiles::default(), timeout).unwrap()
    }

    #[tokio::test]
    async fn a_batch_is_delivered_once_the_collector_has_read_to_the_end() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let collector = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            socket.read_to_end(&mut got).await.unwrap();
            got
        });
        let sent = sender(Transport::Tcp, port, Duration::from_secs(10)).deliver(&["hello".to_string()]).await;
        assert!(sent.is_ok(), "{sent:?}");
        assert_eq!(collector.await.unwrap(), b"5 hello");
    }

    #[tokio::test]
    async fn a_collector_that_never_closes_confirms_nothing() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let _held = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            std::future::pending::<()>().await;
            drop(socket);
        });
        let sent = sender(Transport::Tcp, port, Duration::from_millis(300)).deliver(&["hello".to_string()]).await;
        assert!(matches!(sent, Err(SendError::Timeout("the collector's close", _))), "{sent:?}");
        let refused = sender(Transport::Tcp, 1, Duration::from_secs(5)).deliver(&["hello".to_string()]).await;
        assert!(matches!(refused, Err(SendError::Connect(..))), "{refused:?}");
    }

    #[tokio::test]
    async fn over_udp_each_message_is_one_datagram() {
        let collector = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = collector.local_addr().unwrap().port();
        let messages = ["<13>1 - - - - - - one".to_string(), "<13>1 - - - - - - two".to_string()];
        sender(Transport::Udp, port, Duration::from_secs(5)).deliver(&messages).await.unwrap();
        let mut buf = [0u8; 100];
        for expected in &messages {
            let n = collector.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], expected.as_bytes());
        }
    }

    #[test]
    fn targets_parse_with_their_default_ports() {
        let t = Target::parse("tls://logs.example.net").unwrap();
        assert_eq!((t.transport, t.host.as_str(), t.port), (Transport::Tls, "logs.example.net", 6514));
        let t = Target::parse("udp://[::1]:1514").unwrap();
        assert_eq!((t.transport, t.host.as_str(), t.port), (Transport::Udp, "::1", 1514));
        assert_eq!(t.to_string(), "udp://[::1]:1514");
        assert_eq!(Target::parse("tcp://10.0.0.5").unwrap().port, 514);
        for bad in ["http://x", "tls://", "tls://u:p@x:1", "tcp://x:1/path", "x:514", "tls://x:99999"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
