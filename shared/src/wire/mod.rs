//! The console link's wire format.
//!
//! Every WebSocket binary message is one *record*. Before the keys are confirmed, records carry
//! clear handshake messages; afterwards every record is sealed and carries one channel message.
//!
//! ```text
//! handshake record: type=0x16 (u8) | message type (u8) | body
//! sealed record:    type=0x17 (u8) | generation (u16) | epoch (u32) | ciphertext | tag
//! sealed plaintext: channel (u8) | message type (u8) | body
//! ```

pub mod codec;
pub mod handshake;
pub mod media;
pub mod message;
pub mod record;

pub use handshake::{Alert, AlertCode, ClientHello, HandshakeMessage, ServerHello};
pub use media::{MediaDevice, MediaMessage};
pub use message::{
    AppMessage, ControlMessage, InputEvent, KeyEvent, Layout, Message, Modifiers, Payload, PointerEvent, Presence,
    SpecialKey, Viewer,
};
pub use record::{RecordHeader, RecordType};

/// Version of the wire format this crate speaks.
/// 2: the controller signs the handshake transcript with its node key (`Identity`).
pub const PROTOCOL_VERSION: u16 = 2;
pub const KEY_ID_LEN: usize = 16;
pub const NONCE_LEN: usize = 32;
/// The controller's Ed25519 node key and its signature in the handshake.
pub const CONTROLLER_KEY_LEN: usize = 32;
pub const SIGNATURE_LEN: usize = 64;

/// Handshake nonce: 32 random bytes from each side.
pub type Nonce = [u8; NONCE_LEN];

/// Names a console key in the controller's key store. Not secret, but unguessable.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; KEY_ID_LEN]);

impl KeyId {
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != KEY_ID_LEN * 2 || !text.is_ascii() {
            return None;
        }
        let mut out = [0u8; KEY_ID_LEN];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).ok()?;
        }
        Some(Self(out))
    }
}

impl core::fmt::Debug for KeyId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Only a prefix: enough to correlate log lines, never the whole identifier.
        write!(f, "KeyId({}..)", &self.to_hex()[..8])
    }
}

/// What was wrong with a message from the peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated {field}")]
    Truncated { field: &'static str },
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: &'static str },
    #[error("{field} longer than {max} bytes")]
    TooLong { field: &'static str, max: usize },
    #[error("unknown {field} {value}")]
    Unknown { field: &'static str, value: u8 },
    #[error("trailing bytes after {message}")]
    TrailingBytes { message: &'static str },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_hex_round_trips_and_rejects_junk() {
        let id = KeyId([0x5a; KEY_ID_LEN]);
        assert_eq!(KeyId::from_hex(&id.to_hex()), Some(id));
        assert_eq!(KeyId::from_hex("zz"), None);
        assert_eq!(KeyId::from_hex(&"é".repeat(16)), None);
        assert!(!format!("{id:?}").contains(&id.to_hex()));
    }
}
