//! Portable sessions between cooperating controllers.
//!
//! A controller signs a short-lived session token for a user who wants to move to a peer:
//! `v1.<payload>.<signature>`, both base64url, the payload a JSON object naming the issuing node
//! (`iss`), the peer it is for (`aud`), the user (`sub`) and their role (`role`), with issue and
//! expiry times and a unique id (`jti`). The peer checks the Ed25519 signature against the
//! issuer's public key from its own configuration, the audience, the times, and that the token
//! was not used before. Each controller's signing key lives in its data directory.
//!
//! A token also names the session it carries (`carry`: its id and version), whose data the
//! peer then fetches from the issuer over a signed exchange (`envelope`, `client`, `data`).

pub mod client;
pub mod data;
pub mod envelope;
pub mod grants;
pub mod seal_to;
pub mod session;

use std::collections::HashMap;
use std::path::Path;

use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::store::Role;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
/// How long a token lives: long enough for a browser to carry it across, no longer.
pub const TOKEN_LIFE_MS: i64 = 120_000;
/// Clocks of cooperating controllers may differ by this much.
pub const CLOCK_SKEW_MS: i64 = 30_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The session whose data the audience may fetch from the issuer (absent in tokens from
    /// controllers that carry nothing but the token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carry: Option<Carry>,
}

/// Which session a token carries, and the version of its data at the issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carry {
    pub sid: String,
    pub version: u64,
}

/// Why a token was refused. Shown to the user; never contains the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    UnknownIssuer,
    BadSignature,
    WrongAudience,
    Expired,
    Replayed,
}

impl TokenError {
    pub fn message(self) -> &'static str {
        match self {
            TokenError::Malformed => "malformed session token",
            TokenError::UnknownIssuer => "session token from an unknown controller",
            TokenError::BadSignature => "session token signature is invalid",
            TokenError::WrongAudience => "session token is meant for another controller",
            TokenError::Expired => "session token has expired",
            TokenError::Replayed => "session token was already used",
        }
    }
}

impl core::fmt::Display for TokenError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for TokenError {}

/// This controller's name and signing key.
pub struct Node {
    pub id: String,
    key: SigningKey,
}

impl Node {
    /// Loads the signing key from `path`, or makes one there (readable by the owner only).
    pub fn load_or_create(id: String, path: &Path) -> anyhow::Result<Self> {
        let seed: [u8; 32] = match std::fs::read(path) {
            Ok(bytes) => {
                bytes.try_into().map_err(|_| anyhow::anyhow!("{} is not a 32-byte node key", path.display()))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let seed: [u8; 32] = rand::random();
                crate::tls::write_private(path, &seed)?;
                seed
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Self::from_seed(id, seed))
    }

    pub fn from_seed(id: String, seed: [u8; 32]) -> Self {
        Self { id, key: SigningKey::from_bytes(&seed) }
    }

    /// What signs this node's audit checkpoints: the same key, which never enters the database.
    pub fn audit_anchor(&self) -> crate::store::audit::Anchor {
        crate::store::audit::Anchor::new(self.id.clone(), self.key.clone())
    }

    /// The controller's X25519 static key for agents' Noise handshakes, derived from the node
    /// key (so it needs no file of its own and changes only with it), and the node key's proof
    /// that it is this controller's.
    pub fn agent_identity(&self) -> (agent_link::StaticSecret, agent_link::NodeProof) {
        use sha2::Digest;
        let derived: [u8; 32] = sha2::Sha256::new()
            .chain_update(b"lantern agent static key")
            .chain_update(self.key.to_bytes())
            .finalize()
            .into();
        let secret = agent_link::StaticSecret::from_bytes(derived);
        let proof = agent_link::NodeProof::sign(&self.key, &secret.public());
        (secret, proof)
    }

    /// This node's registration at a relay, for the relay's challenge.
    pub fn relay_registration(&self, nonce: &[u8; 32], name: &str) -> relay_link::Frame {
        relay_link::register::register(&self.key, nonce, name)
    }

    /// The node key as the console links sign their handshakes with it.
    pub fn console_identity(&self) -> shared::session::ControllerIdentity {
        shared::session::ControllerIdentity::from_seed(self.key.as_bytes())
    }

    /// What agents pin: the SHA-256 of the node's public key.
    pub fn pin(&self) -> agent_link::Pin {
        agent_link::Pin::of(self.key.verifying_key().as_bytes())
    }

    /// Signs `message` with the node key (the envelopes between controllers).
    pub fn sign(&self, message: &[u8]) -> Signature {
        self.key.sign(message)
    }

    /// Opens credentials a peer sealed to this node's key (see `seal_to`).
    pub fn open_sealed(&self, context: &[u8], sealed: &[u8]) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        seal_to::open(&self.key, context, sealed)
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The public key peers put in their configuration, base64url.
    pub fn public_key(&self) -> String {
        B64.encode(self.key.verifying_key().as_bytes())
    }

    /// Signs a token for `user` (with `role`) to present to the peer `audience`.
    pub fn issue(&self, audience: &str, user: &str, role: Role, now_ms: i64) -> String {
        self.issue_claims(self.claims(audience, user, role, now_ms, None))
    }

    /// The claims of a fresh token (its id is new).
    pub fn claims(&self, audience: &str, user: &str, role: Role, now_ms: i64, carry: Option<Carry>) -> Claims {
        Claims {
            iss: self.id.clone(),
            aud: audience.into(),
            sub: user.into(),
            role,
            iat: now_ms,
            exp: now_ms + TOKEN_LIFE_MS,
            jti: crate::secret::random_token::<16>(),
            carry,
        }
    }

    /// Signs `claims` as a token.
    pub fn issue_claims(&self, claims: Claims) -> String {
        // Serialising this struct cannot fail.
        let payload = B64.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let signed = format!("v1.{payload}");
        let signature = self.key.sign(signed.as_bytes());
        format!("{signed}.{}", B64.encode(signature.to_bytes()))
    }

    /// Checks a token from a peer; `trusted` maps node ids to their public keys (base64url).
    /// A token passes once: `first_use` is asked, with the token's id and expiry, whether it is
    /// new, and must remember it (the store keeps them across restarts).
    pub fn verify(
        &self,
        token: &str,
        trusted: &HashMap<String, String>,
        now_ms: i64,
        first_use: impl FnOnce(&str, i64) -> bool,
    ) -> Result<Claims, TokenError> {
        let claims = decode(token, |issuer| peer_key(trusted, issuer))?;
        check_times(&claims, &self.id, now_ms)?;
        if !first_use(&format!("{}/{}", claims.iss, claims.jti), claims.exp + CLOCK_SKEW_MS) {
            return Err(TokenError::Replayed);
        }
        Ok(claims)
    }

    /// Checks a token this controller issued, as the peer `audience` presents it back when it
    /// fetches the session's data (single use is the grant's business, not the token's).
    pub fn verify_own(&self, token: &str, audience: &str, now_ms: i64) -> Result<Claims, TokenError> {
        let own = self.verifying_key();
        let claims = decode(token, |issuer| (issuer == self.id).then_some(own))?;
        check_times(&claims, audience, now_ms)?;
        Ok(claims)
    }
}

/// A peer's public key from the configuration's base64url text.
pub fn peer_key(trusted: &HashMap<String, String>, id: &str) -> Option<VerifyingKey> {
    B64.decode(trusted.get(id)?)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
}

/// The claims of a token whose signature is good under its issuer's key (`key_of`).
fn decode(token: &str, key_of: impl FnOnce(&str) -> Option<VerifyingKey>) -> Result<Claims, TokenError> {
    let mut parts = token.trim().splitn(3, '.');
    let (Some("v1"), Some(payload), Some(signature)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Malformed);
    };
    let claims: Claims =
        B64.decode(payload).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).ok_or(TokenError::Malformed)?;
    let key = key_of(&claims.iss).ok_or(TokenError::UnknownIssuer)?;
    let signature = B64
        .decode(signature)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .map(|b| Signature::from_bytes(&b))
        .ok_or(TokenError::Malformed)?;
    key.verify_strict(format!("v1.{payload}").as_bytes(), &signature).map_err(|_| TokenError::BadSignature)?;
    Ok(claims)
}

/// The token is for `audience` and within its life (give or take the clocks' difference).
fn check_times(claims: &Claims, audience: &str, now_ms: i64) -> Result<(), TokenError> {
    if claims.aud != audience {
        return Err(TokenError::WrongAudience);
    }
    if now_ms > claims.exp + CLOCK_SKEW_MS
        || claims.iat > now_ms + CLOCK_SKEW_MS
        || claims.exp - claims.iat > TOKEN_LIFE_MS
    {
        return Err(TokenError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A replay cache for the tests: every id passes once.
    fn once() -> impl FnMut(&str, i64) -> bool {
        let mut seen = std::collections::HashSet::new();
        move |key, _| seen.insert(key.to_string())
    }

    fn pair() -> (Node, Node, HashMap<String, String>) {
        let a = Node::from_seed("node-a".into(), [1; 32]);
        let b = Node::from_seed("node-b".into(), [2; 32]);
        let trusted = HashMap::from([("node-a".to_string(), a.public_key())]);
        (a, b, trusted)
    }

    #[test]
    fn a_token_from_a_trusted_peer_passes_once() {
        let (a, b, trusted) = pair();
        let token = a.issue("node-b", "alice", Role::Operator, 1_000);
        assert!(token.starts_with("v1.") && !token.contains(['+', '/', '=']), "URL-safe: {token}");
        let mut seen = once();
        let claims = b.verify(&token, &trusted, 2_000, &mut seen).unwrap();
        assert_eq!((claims.iss.as_str(), claims.sub.as_str(), claims.role), ("node-a", "alice", Role::Operator));
        assert_eq!(b.verify(&token, &trusted, 2_000, &mut seen), Err(TokenError::Replayed));
    }

    #[test]
    fn bad_signatures_audiences_issuers_and_times_are_refused() {
        let (a, b, trusted) = pair();
        // Signed by a key that only claims to be node-a.
        let impostor = Node::from_seed("node-a".into(), [9; 32]);
        assert_eq!(
            b.verify(&impostor.issue("node-b", "alice", Role::Administrator, 0), &trusted, 0, once()),
            Err(TokenError::BadSignature)
        );
        // A payload changed after signing (role raised).
        let token = a.issue("node-b", "alice", Role::ReadOnly, 0);
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        let mut claims: Claims = serde_json::from_slice(&B64.decode(&parts[1]).unwrap()).unwrap();
        claims.role = Role::Administrator;
        parts[1] = B64.encode(serde_json::to_vec(&claims).unwrap());
        assert_eq!(b.verify(&parts.join("."), &trusted, 0, once()), Err(TokenError::BadSignature));
        // Meant for another controller.
        assert_eq!(
            b.verify(&a.issue("node-c", "alice", Role::ReadOnly, 0), &trusted, 0, once()),
            Err(TokenError::WrongAudience)
        );
        // Past its expiry (and the allowed clock difference).
        let old = a.issue("node-b", "alice", Role::ReadOnly, 0);
        assert_eq!(b.verify(&old, &trusted, TOKEN_LIFE_MS + CLOCK_SKEW_MS + 1, once()), Err(TokenError::Expired));
        // From a controller nobody configured.
        let stranger = Node::from_seed("node-x".into(), [3; 32]);
        assert_eq!(
            b.verify(&stranger.issue("node-b", "x", Role::ReadOnly, 0), &trusted, 0, once()),
            Err(TokenError::UnknownIssuer)
        );
        for junk in ["", "v1", "v1.e30", "v2.a.b", "v1.!!!.xyz"] {
            assert_eq!(b.verify(junk, &trusted, 0, once()), Err(TokenError::Malformed), "{junk}");
        }
    }

    #[test]
    fn a_token_comes_back_to_its_issuer_only_from_its_audience_and_in_time() {
        let (a, b, _) = pair();
        let carry = Carry { sid: "s1".into(), version: 3 };
        let claims = a.claims("node-b", "alice", Role::Operator, 1_000, Some(carry.clone()));
        let token = a.issue_claims(claims);
        assert_eq!(a.verify_own(&token, "node-b", 2_000).unwrap().carry, Some(carry));
        assert_eq!(a.verify_own(&token, "node-c", 2_000), Err(TokenError::WrongAudience));
        assert_eq!(a.verify_own(&token, "node-b", 1_000 + TOKEN_LIFE_MS + CLOCK_SKEW_MS + 1), Err(TokenError::Expired));
        // B's own token is not A's.
        let theirs = b.issue("node-b", "alice", Role::Operator, 1_000);
        assert_eq!(a.verify_own(&theirs, "node-b", 2_000), Err(TokenError::UnknownIssuer));
    }

    #[test]
    fn the_node_key_is_made_once_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node-key");
        let first = Node::load_or_create("n".into(), &path).unwrap().public_key();
        assert_eq!(Node::load_or_create("n".into(), &path).unwrap().public_key(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o077, 0);
        }
    }
}
