//! Who the ends of a link are.
//!
//! The controller's long-term identity is its Ed25519 node key (the one that signs its audit
//! checkpoints). An agent pins the SHA-256 of that key at enrolment, so renewing the web
//! certificate strands no agent. The Noise handshake uses X25519 static keys; the controller
//! proves its static key is its own with a `NodeProof`, a signature by the node key.

use base64::Engine;
use ed25519_dalek::{Signer, Verifier};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// What the node key signs: this context, then the X25519 static public key.
const PROOF_CONTEXT: &[u8] = b"lantern agent link static key v1";
const PIN_PREFIX: &str = "SHA256:";

/// An X25519 static secret. Wiped on drop; never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct StaticSecret([u8; 32]);

impl StaticSecret {
    /// From 32 random bytes the caller drew (or read back from its state).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn public(&self) -> [u8; 32] {
        x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(self.0)).to_bytes()
    }
}

impl core::fmt::Debug for StaticSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("StaticSecret(<redacted>)")
    }
}

/// The SHA-256 of a controller's Ed25519 node public key, written `SHA256:<base64>` as SSH
/// writes host key fingerprints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin([u8; 32]);

impl Pin {
    pub fn of(node_public: &[u8; 32]) -> Self {
        Self(Sha256::digest(node_public).into())
    }

    pub fn parse(text: &str) -> Result<Self, IdentityError> {
        let encoded = text.trim().strip_prefix(PIN_PREFIX).ok_or(IdentityError::PinFormat)?;
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(encoded.trim_end_matches('='))
            .map_err(|_| IdentityError::PinFormat)?;
        Ok(Self(bytes.try_into().map_err(|_| IdentityError::PinFormat)?))
    }
}

impl core::fmt::Display for Pin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{PIN_PREFIX}{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(self.0))
    }
}

/// The controller's node key vouching for its X25519 static key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeProof {
    pub node_public: [u8; 32],
    pub signature: [u8; 64],
}

pub const NODE_PROOF_LEN: usize = 96;

impl NodeProof {
    pub fn sign(node_key: &ed25519_dalek::SigningKey, static_public: &[u8; 32]) -> Self {
        let signature = node_key.sign(&signed_bytes(static_public)).to_bytes();
        Self { node_public: node_key.verifying_key().to_bytes(), signature }
    }

    /// Checks the node key against the pin and the signature over `static_public`.
    pub fn verify(&self, pin: &Pin, static_public: &[u8; 32]) -> Result<(), IdentityError> {
        if Pin::of(&self.node_public) != *pin {
            return Err(IdentityError::PinMismatch);
        }
        let key = ed25519_dalek::VerifyingKey::from_bytes(&self.node_public).map_err(|_| IdentityError::BadProof)?;
        let signature = ed25519_dalek::Signature::from_bytes(&self.signature);
        key.verify(&signed_bytes(static_public), &signature).map_err(|_| IdentityError::BadProof)
    }

    pub fn to_bytes(&self) -> [u8; NODE_PROOF_LEN] {
        let mut out = [0; NODE_PROOF_LEN];
        out[..32].copy_from_slice(&self.node_public);
        out[32..].copy_from_slice(&self.signature);
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdentityError> {
        let bytes: &[u8; NODE_PROOF_LEN] = bytes.try_into().map_err(|_| IdentityError::BadProof)?;
        let (node, signature) = bytes.split_at(32);
        Ok(Self {
            node_public: node.try_into().map_err(|_| IdentityError::BadProof)?,
            signature: signature.try_into().map_err(|_| IdentityError::BadProof)?,
        })
    }
}

fn signed_bytes(static_public: &[u8; 32]) -> Vec<u8> {
    [PROOF_CONTEXT, static_public.as_slice()].concat()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("a pin is written SHA256: followed by 43 characters of base64")]
    PinFormat,
    #[error("the controller's identity key does not match the pin")]
    PinMismatch,
    #[error("the controller's proof of its key is invalid")]
    BadProof,
}
