//! The controller's identity in the console handshake.
//!
//! The controller signs every handshake transcript with its node key (Ed25519); the applet
//! checks the signature against the public key the page was given over TLS. Whatever carries
//! the link between them (a relay, a proxy), a link that completes was opened by the holder of
//! that key, and the PMS is no longer the only thing a man in the middle would need.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::wire::{CONTROLLER_KEY_LEN, SIGNATURE_LEN};

/// Separates these signatures from anything else the node key signs (audit checkpoints,
/// relay registrations, agent proofs).
const CONTEXT: &[u8] = b"lantern console transcript v1";

/// The node key, as the controller's session machines use it.
#[derive(Clone)]
pub struct ControllerIdentity(SigningKey);

impl ControllerIdentity {
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    pub fn public_key(&self) -> [u8; CONTROLLER_KEY_LEN] {
        self.0.verifying_key().to_bytes()
    }

    pub(crate) fn sign(&self, transcript: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.0.sign(&signed_message(transcript)).to_bytes()
    }
}

impl core::fmt::Debug for ControllerIdentity {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ControllerIdentity(<redacted>)")
    }
}

/// Whether `signature` is `public_key`'s over `transcript` (strict: no malleable encodings,
/// no small-order keys).
pub(crate) fn verify(
    public_key: &[u8; CONTROLLER_KEY_LEN],
    transcript: &[u8],
    signature: &[u8; SIGNATURE_LEN],
) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(public_key) else { return false };
    key.verify_strict(&signed_message(transcript), &Signature::from_bytes(signature)).is_ok()
}

fn signed_message(transcript: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(CONTEXT.len() + transcript.len());
    message.extend_from_slice(CONTEXT);
    message.extend_from_slice(transcript);
    message
}

/// A fixed controller identity for tests of both ends.
#[cfg(test)]
pub(crate) fn test_identity() -> ControllerIdentity {
    ControllerIdentity::from_seed(&[0x1d; 32])
}
