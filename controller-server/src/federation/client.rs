//! Asking a peer for a migrating session's data: a signed request naming the token the user
//! brought, and the peer's signed answer, over HTTPS checked against the peer's `ca_file` (or
//! the system's trust anchors), with deadlines and a bound on the answer's size.

use std::collections::HashMap;
use std::time::Duration;

use super::data::check_parts;
use super::envelope::{self, Signed};
use super::Node;
use crate::config::PeerConfig;

pub use federation_wire::messages::{DataAnswer, DataRequest, ANSWER, ASK, PATH};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0} is not a configured peer")]
    UnknownPeer(String),
    #[error("{peer} cannot be reached: {why}")]
    Unreachable { peer: String, why: String },
    #[error("{peer} refused: {why}")]
    Refused { peer: String, why: String },
    #[error("{peer} gave an answer that does not check: {why}")]
    BadAnswer { peer: String, why: String },
}

/// An HTTPS client for each peer.
pub struct PeerClients {
    clients: HashMap<String, (reqwest::Client, String)>,
}

impl PeerClients {
    pub fn new(peers: &[PeerConfig]) -> anyhow::Result<Self> {
        let mut clients = HashMap::new();
        for peer in peers {
            let what = format!("peer {}", peer.id);
            let client = crate::tls::https_client(&what, peer.ca_file.as_deref(), CONNECT_TIMEOUT, TIMEOUT)?;
            clients.insert(peer.id.clone(), (client, format!("{}{PATH}", peer.url.trim_end_matches('/'))));
        }
        Ok(Self { clients })
    }

    /// Asks `peer` for the session data `request` names, and checks the answer.
    pub async fn fetch(
        &self,
        node: &Node,
        trusted: &HashMap<String, String>,
        peer: &str,
        request: DataRequest,
    ) -> Result<DataAnswer, FetchError> {
        let (client, url) = self.clients.get(peer).ok_or_else(|| FetchError::UnknownPeer(peer.into()))?;
        let signed = node.sign_envelope(ASK, peer, request, crate::store::audit::now_ms());
        let unreachable = |e: reqwest::Error| FetchError::Unreachable { peer: peer.into(), why: error_chain(&e) };
        let mut response = client.post(url).json(&signed).send().await.map_err(unreachable)?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > envelope::MAX_BODY * 2 {
                return Err(FetchError::BadAnswer { peer: peer.into(), why: "the answer is too large".into() });
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let why = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(|s| s.chars().take(300).collect::<String>()))
                .unwrap_or_else(|| status.to_string());
            return Err(FetchError::Refused { peer: peer.into(), why });
        }
        let bad = |why: String| FetchError::BadAnswer { peer: peer.into(), why };
        let answer: Signed = serde_json::from_slice(&body).map_err(|e| bad(e.to_string()))?;
        let (from, answer): (String, DataAnswer) =
            super::open_envelope(&answer, ANSWER, &node.id, trusted, crate::store::audit::now_ms())
                .map_err(|e| bad(e.to_string()))?;
        if from != peer || answer.request != envelope::digest(&signed) {
            return Err(bad("it answers another request".into()));
        }
        check_parts(&answer.parts, answer.version).map_err(|why| bad(why.into()))?;
        Ok(answer)
    }
}

/// reqwest's error with its causes (the TLS or connection failure underneath).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}
