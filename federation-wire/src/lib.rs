//! What cooperating Lantern controllers say to each other, sans-IO: the portable session
//! token a user carries from one to another (`token`), the signed envelopes in which the second
//! asks the first for the session's data and gets it (`envelope`, `messages`), that data in
//! versioned parts (`data`), and delegated Kerberos credentials sealed to the receiving
//! controller's node key (`seal`). Randomness comes from the caller; nothing here does I/O.

pub mod data;
pub mod envelope;
pub mod messages;
pub mod seal;
pub mod token;

use std::collections::HashMap;

use base64::Engine;
use ed25519_dalek::VerifyingKey;

pub(crate) const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
/// Clocks of cooperating controllers may differ by this much.
pub const CLOCK_SKEW_MS: i64 = 30_000;

/// A peer's public key from a configuration's base64url text (`trusted` maps node ids to them).
pub fn peer_key(trusted: &HashMap<String, String>, id: &str) -> Option<VerifyingKey> {
    B64.decode(trusted.get(id)?)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
}

/// A public key as configurations write it (base64url).
pub fn public_key_text(key: &VerifyingKey) -> String {
    B64.encode(key.as_bytes())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
