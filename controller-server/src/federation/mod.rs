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
pub mod grants;
pub mod session;

use std::collections::HashMap;
use std::path::Path;

use ed25519_dalek::{SigningKey, VerifyingKey};
pub use federation_wire::token::{Carry, TokenError, TOKEN_LIFE_MS};
pub use federation_wire::{data, envelope, peer_key, CLOCK_SKEW_MS};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::store::Role;

/// A token's claims, with this controller's roles.
pub type Claims = federation_wire::token::Claims<Role>;

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

    /// Signs `content` for the peer `to`, for `purpose` (the envelopes between controllers).
    pub fn sign_envelope<T: Serialize>(&self, purpose: &str, to: &str, content: T, now_ms: i64) -> envelope::Signed {
        envelope::sign(&self.key, &self.id, purpose, to, content, now_ms)
    }

    /// Opens credentials a peer sealed to this node's key (see `federation_wire::seal`).
    pub fn open_sealed(&self, context: &[u8], sealed: &[u8]) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        federation_wire::seal::open(&self.key, context, sealed)
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The public key peers put in their configuration, base64url.
    pub fn public_key(&self) -> String {
        federation_wire::public_key_text(&self.key.verifying_key())
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
        federation_wire::token::sign(&self.key, &claims)
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
        let claims: Claims = federation_wire::token::decode(token, |issuer| peer_key(trusted, issuer))?;
        federation_wire::token::check_times(&claims, &self.id, now_ms)?;
        if !first_use(&format!("{}/{}", claims.iss, claims.jti), claims.exp.saturating_add(CLOCK_SKEW_MS)) {
            return Err(TokenError::Replayed);
        }
        Ok(claims)
    }

    /// Checks a token this controller issued, as the peer `audience` presents it back when it
    /// fetches the session's data (single use is the grant's business, not the token's).
    pub fn verify_own(&self, token: &str, audience: &str, now_ms: i64) -> Result<Claims, TokenError> {
        let own = self.verifying_key();
        let claims: Claims = federation_wire::token::decode(token, |issuer| (issuer == self.id).then_some(own))?;
        federation_wire::token::check_times(&claims, audience, now_ms)?;
        Ok(claims)
    }
}

/// Opens an envelope for this node from a configured peer (`trusted`): the sender and content.
pub fn open_envelope<T: DeserializeOwned>(
    signed: &envelope::Signed,
    purpose: &str,
    me: &str,
    trusted: &HashMap<String, String>,
    now_ms: i64,
) -> Result<(String, T), envelope::EnvelopeError> {
    envelope::open(signed, purpose, me, |id| peer_key(trusted, id), now_ms)
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;

    const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

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
