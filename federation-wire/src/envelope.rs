//! Signed messages between cooperating controllers: a JSON body naming its purpose, sender,
//! recipient and time, signed with the sender's node key. TLS carries them; the signature is
//! what tells the recipient which controller sent one, so neither needs client certificates.

use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::{B64, CLOCK_SKEW_MS};
const DOMAIN: &str = "lantern envelope v1.";
/// Bodies larger than this are not opened.
pub const MAX_BODY: usize = 1024 * 1024;

/// What travels: the body as base64url and its signature.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Signed {
    pub body: String,
    pub signature: String,
}

#[derive(Serialize, Deserialize)]
struct Body<T> {
    purpose: String,
    from: String,
    to: String,
    at: i64,
    content: T,
}

/// Why an envelope was refused. Said to the sender; never contains its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("malformed signed message")]
    Malformed,
    #[error("signed message from a controller not configured as a peer")]
    UnknownSender,
    #[error("signature of the message is invalid")]
    BadSignature,
    #[error("signed message is for another controller or purpose")]
    Misdirected,
    #[error("signed message is too old or from the future")]
    Stale,
}

/// Signs `content` from the node `from` (whose key is `key`) to the peer `to`, for `purpose`.
pub fn sign<T: Serialize>(key: &SigningKey, from: &str, purpose: &str, to: &str, content: T, now_ms: i64) -> Signed {
    let body = Body { purpose: purpose.into(), from: from.into(), to: to.into(), at: now_ms, content };
    // Serialising plain data cannot fail.
    let body = B64.encode(serde_json::to_vec(&body).unwrap_or_default());
    let signature = key.sign(format!("{DOMAIN}{body}").as_bytes());
    Signed { body, signature: B64.encode(signature.to_bytes()) }
}

/// Opens an envelope for `me` and `purpose` from a peer whose key `key_of` knows: the
/// sender's id and content.
pub fn open<T: DeserializeOwned>(
    signed: &Signed,
    purpose: &str,
    me: &str,
    key_of: impl FnOnce(&str) -> Option<VerifyingKey>,
    now_ms: i64,
) -> Result<(String, T), EnvelopeError> {
    if signed.body.len() > MAX_BODY * 4 / 3 + 4 {
        return Err(EnvelopeError::Malformed);
    }
    let bytes = B64.decode(&signed.body).map_err(|_| EnvelopeError::Malformed)?;
    let body: Body<T> = serde_json::from_slice(&bytes).map_err(|_| EnvelopeError::Malformed)?;
    let key = key_of(&body.from).ok_or(EnvelopeError::UnknownSender)?;
    let signature = B64
        .decode(&signed.signature)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .map(|b| Signature::from_bytes(&b))
        .ok_or(EnvelopeError::Malformed)?;
    key.verify_strict(format!("{DOMAIN}{}", signed.body).as_bytes(), &signature)
        .map_err(|_| EnvelopeError::BadSignature)?;
    if body.to != me || body.purpose != purpose {
        return Err(EnvelopeError::Misdirected);
    }
    if body.at.saturating_sub(now_ms).saturating_abs() > CLOCK_SKEW_MS {
        return Err(EnvelopeError::Stale);
    }
    Ok((body.from, body.content))
}

/// What binds an answer to its request: the digest of the request's body.
pub fn digest(signed: &Signed) -> String {
    crate::hex(&sha2::Sha256::digest(signed.body.as_bytes()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct Node {
        id: &'static str,
        key: SigningKey,
    }

    fn node(id: &'static str, seed: u8) -> Node {
        Node { id, key: SigningKey::from_bytes(&[seed; 32]) }
    }

    fn sign_as<T: Serialize>(n: &Node, purpose: &str, to: &str, content: T, at: i64) -> Signed {
        sign(&n.key, n.id, purpose, to, content, at)
    }

    #[test]
    fn a_peer_opens_what_it_was_sent_and_nothing_altered_or_misdirected() {
        let (a, b) = (node("node-a", 1), node("node-b", 2));
        let trusted = HashMap::from([("node-b".to_string(), crate::public_key_text(&b.key.verifying_key()))]);
        let key_of = |id: &str| crate::peer_key(&trusted, id);
        let signed = sign_as(&b, "ask", "node-a", vec![1, 2, 3], 10_000);
        assert_eq!(open::<Vec<u8>>(&signed, "ask", "node-a", key_of, 10_500), Ok(("node-b".into(), vec![1, 2, 3])));
        assert_eq!(open::<Vec<u8>>(&signed, "tell", "node-a", key_of, 10_500), Err(EnvelopeError::Misdirected));
        assert_eq!(open::<Vec<u8>>(&signed, "ask", "node-c", key_of, 10_500), Err(EnvelopeError::Misdirected));
        assert_eq!(
            open::<Vec<u8>>(&signed, "ask", "node-a", key_of, 10_000 + CLOCK_SKEW_MS + 1),
            Err(EnvelopeError::Stale)
        );
        // From A itself, which A does not list as a peer.
        let own = sign_as(&a, "ask", "node-a", 1, 10_000);
        assert_eq!(open::<u8>(&own, "ask", "node-a", key_of, 10_000), Err(EnvelopeError::UnknownSender));
        // Signed by another key under B's name.
        let impostor = node("node-b", 9);
        let forged = sign_as(&impostor, "ask", "node-a", 1, 10_000);
        assert_eq!(open::<u8>(&forged, "ask", "node-a", key_of, 10_000), Err(EnvelopeError::BadSignature));
        let mut altered = signed.clone();
        altered.body = sign_as(&b, "ask", "node-a", vec![9], 10_000).body;
        assert_eq!(open::<Vec<u8>>(&altered, "ask", "node-a", key_of, 10_000), Err(EnvelopeError::BadSignature));
        for junk in
            [Signed { body: "!".into(), signature: "".into() }, Signed { body: "e30".into(), signature: "x".into() }]
        {
            assert_eq!(open::<u8>(&junk, "ask", "node-a", key_of, 0), Err(EnvelopeError::Malformed));
        }
        assert_ne!(digest(&signed), digest(&altered));
    }
}
