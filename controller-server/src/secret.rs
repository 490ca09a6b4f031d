//! Small helpers for the controller's random secrets and their digests: one definition of how
//! tokens are drawn, encoded and stored.

use base64::Engine;
use sha2::{Digest, Sha256};

/// `N` random bytes as URL-safe base64 without padding (cookie values, launch ids, secrets).
pub fn random_token<const N: usize>() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; N]>())
}

/// SHA-256 of a token: what the controller keeps instead of the token.
pub fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
