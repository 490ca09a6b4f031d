//! A medium read from a web server with HTTP Range requests, as the controller is asked to
//! (Redfish `InsertMedia` with an `Image` URL, or the media panel). Only servers on the
//! administrator's list (`[media] url_hosts`) are contacted, redirects included, so the
//! controller cannot be turned against its own network; a URL with credentials in it is
//! refused rather than recorded in the audit trail.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{CONTENT_RANGE, LOCATION, RANGE};
use reqwest::{StatusCode, Url};
use tokio::sync::{mpsc, Semaphore};

use super::{Source, SourceRequest};
use crate::config::MediaConfig;

/// Redirects followed, at most (each to a listed server).
const MAX_REDIRECTS: usize = 3;
/// Range requests in flight per medium.
const IN_FLIGHT: usize = 4;
const QUEUE: usize = 32;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const TIMEOUT: Duration = Duration::from_secs(30);

/// Why an image URL cannot be used. Said to the user.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error("an image URL is http:// or https://")]
    NotHttp,
    #[error("an image URL may not carry a user name or password")]
    Credentials,
    #[error("{0} is not on this controller's list of image servers ([media] url_hosts)")]
    NotAllowed(String),
    #[error("the image server redirects to {0}, which is not on the list of image servers")]
    RedirectNotAllowed(String),
    #[error("the image server redirects more than {MAX_REDIRECTS} times")]
    TooManyRedirects,
    #[error("the image server does not answer Range requests, so the image cannot be read in place")]
    NoRanges,
    #[error("the image is empty")]
    Empty,
    #[error("the image server answered {0}")]
    Status(StatusCode),
    #[error("the image server cannot be reached: {0}")]
    Unreachable(String),
}

/// The client that reads images from URLs, and the servers it may read from.
pub struct UrlSources {
    client: reqwest::Client,
    hosts: Vec<String>,
}

impl UrlSources {
    pub fn new(config: &MediaConfig) -> anyhow::Result<Self> {
        // Redirects are followed by `open`, each checked against the list.
        let client = crate::tls::https_client("[media]", config.ca_file.as_deref(), CONNECT_TIMEOUT, TIMEOUT)?;
        let hosts = config.url_hosts.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
        Ok(Self { client, hosts })
    }

    /// Whether the list allows `url`'s server: its `host`, or `host:port` with the URL's port.
    fn allows(&self, url: &Url) -> bool {
        let Some(host) = url.host_str().map(str::to_ascii_lowercase) else { return false };
        let with_port = url.port_or_known_default().map(|p| format!("{host}:{p}"));
        self.hosts.iter().any(|h| *h == host || Some(h) == with_port.as_ref())
    }

    fn check(&self, text: &str) -> Result<Url, UrlError> {
        let url = Url::parse(text).map_err(|_| UrlError::NotHttp)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(UrlError::NotHttp);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlError::Credentials);
        }
        if !self.allows(&url) {
            return Err(UrlError::NotAllowed(url.host_str().unwrap_or_default().to_string()));
        }
        Ok(url)
    }

    /// Opens the image at `url` (read-only): finds its size with a one-byte Range request,
    /// following listed redirects, then reads blocks with Range requests as the export asks.
    pub async fn open(&self, url: &str) -> Result<Source, UrlError> {
        let mut url = self.check(url)?;
        let mut hops = 0;
        let size = loop {
            let response = self
                .client
                .get(url.clone())
                .header(RANGE, "bytes=0-0")
                .send()
                .await
                .map_err(|e| UrlError::Unreachable(e.without_url().to_string()))?;
            match response.status() {
                StatusCode::PARTIAL_CONTENT => break total_of(&response).ok_or(UrlError::NoRanges)?,
                StatusCode::RANGE_NOT_SATISFIABLE if total_of(&response) == Some(0) => return Err(UrlError::Empty),
                StatusCode::OK => return Err(UrlError::NoRanges),
                s if s.is_redirection() => {
                    hops += 1;
                    if hops > MAX_REDIRECTS {
                        return Err(UrlError::TooManyRedirects);
                    }
                    let location = response.headers().get(LOCATION).and_then(|l| l.to_str().ok()).unwrap_or_default();
                    let next = url.join(location).map_err(|_| UrlError::Status(s))?;
                    url = self
                        .check(next.as_str())
                        .map_err(|_| UrlError::RedirectNotAllowed(next.host_str().unwrap_or_default().to_string()))?;
                }
                s => return Err(UrlError::Status(s)),
            }
        };
        if size == 0 {
            return Err(UrlError::Empty);
        }
        let (requests, queue) = mpsc::channel(QUEUE);
        tokio::spawn(serve(self.client.clone(), url, size, queue));
        Ok(Source { requests, size, read_only: true })
    }
}

/// The total size a `Content-Range: bytes a-b/total` (or `bytes */total`) names.
fn total_of(response: &reqwest::Response) -> Option<u64> {
    let value = response.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    value.strip_prefix("bytes ")?.rsplit_once('/')?.1.trim().parse().ok()
}

async fn serve(client: reqwest::Client, url: Url, size: u64, mut queue: mpsc::Receiver<SourceRequest>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(request) = queue.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let (client, url) = (client.clone(), url.clone());
        tokio::spawn(async move {
            let _slot = slot;
            match request {
                SourceRequest::Read { offset, length, reply } => {
                    let _ = reply.send(read(&client, &url, size, offset, length).await);
                }
                SourceRequest::Write { reply, .. } => {
                    let _ = reply.send(Err("an image from a URL is read-only".into()));
                }
                SourceRequest::Flush { reply } => {
                    let _ = reply.send(Ok(()));
                }
            }
        });
    }
}

/// One block: a Range request that must come back whole.
async fn read(client: &reqwest::Client, url: &Url, size: u64, offset: u64, length: u32) -> Result<Vec<u8>, String> {
    let last = offset + u64::from(length) - 1;
    if length == 0 || last >= size {
        return Err("a read outside the image".into());
    }
    let mut response = client
        .get(url.clone())
        .header(RANGE, format!("bytes={offset}-{last}"))
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if response.status() != StatusCode::PARTIAL_CONTENT {
        return Err(format!("the image server answered {}", response.status()));
    }
    let mut data = Vec::with_capacity(length as usize);
    while let Some(chunk) = response.chunk().await.map_err(|e| e.without_url().to_string())? {
        if data.len() + chunk.len() > length as usize {
            return Err("the image server sent more than was asked".into());
        }
        data.extend_from_slice(&chunk);
    }
    if data.len() != length as usize {
        return Err(format!("the image server sent {} bytes of {length}", data.len()));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use axum::response::Redirect;
    use axum::routing::get;

    use super::*;

    /// A web server on loopback serving `dir` (with Range support), and `/away` redirecting to
    /// `away`; its address.
    async fn web_server(dir: &std::path::Path, away: String) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .route("/away", get(move || async move { Redirect::temporary(&away) }))
            .route("/again", get(|| async { Redirect::temporary("/images/disk.img") }))
            .nest_service("/images", tower_http::services::ServeDir::new(dir));
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_image_is_read_in_place_with_range_requests_and_only_from_listed_servers() {
        let dir = tempfile::tempdir().unwrap();
        let content: Vec<u8> = (0..3 * 1024 * 1024 + 100).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(dir.path().join("disk.img"), &content).unwrap();
        std::fs::write(dir.path().join("empty.img"), b"").unwrap();
        let addr = web_server(dir.path(), "http://elsewhere.test/disk.img".into()).await;
        let config = MediaConfig { url_hosts: vec![format!("127.0.0.1:{}", addr.port())], ..Default::default() };
        let sources = UrlSources::new(&config).unwrap();
        let base = format!("http://127.0.0.1:{}", addr.port());

        // Through a listed redirect, then the whole image through an NBD export to nbdcopy.
        let source = sources.open(&format!("{base}/again")).await.unwrap();
        assert_eq!((source.size, source.read_only), (content.len() as u64, true));
        let socket = dir.path().join("url.sock");
        let export = super::super::export::serve(&socket, "media", source, Default::default()).unwrap();
        let copy = dir.path().join("copy.img");
        let uri = format!("nbd+unix:///media?socket={}", socket.display());
        let out = {
            let copy = copy.clone();
            tokio::task::spawn_blocking(move || Command::new("nbdcopy").arg(uri).arg(copy).output().unwrap())
                .await
                .unwrap()
        };
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(std::fs::read(&copy).unwrap() == content);
        drop(export);

        let refused = |url: String| {
            let sources = &sources;
            async move { sources.open(&url).await.err().map(|e| e.to_string()).unwrap_or_default() }
        };
        assert!(refused(format!("http://localhost:{}/images/disk.img", addr.port()))
            .await
            .contains("not on this controller's list"));
        assert!(refused(format!("{base}/away")).await.contains("redirects to elsewhere.test"));
        assert_eq!(refused(format!("{base}/images/empty.img")).await, "the image is empty");
        assert!(refused(format!("{base}/images/missing.img")).await.contains("404"));
        assert_eq!(refused("file:///etc/passwd".into()).await, "an image URL is http:// or https://");
        assert!(refused(format!("http://user:secret@127.0.0.1:{}/images/disk.img", addr.port()))
            .await
            .contains("user name or password"));
    }
}
