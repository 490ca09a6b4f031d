//! The console applet: session, cipher, decoder, painter and input, with no UI of its own.
//! Our pages use [`engine::Console`] directly; any other page uses the JS entry point in
//! [`js_api`].

pub mod engine;
pub mod input;
pub mod js_api;
pub mod media;
pub mod page;
pub mod painter;
pub mod serial;
pub mod socket;

pub use engine::{Console, ConsoleKey, KeyRequest, Status};

use shared::crypto::{CipherSuite, Pms};
use shared::link::LinkKey;
use shared::wire::{KeyId, CONTROLLER_KEY_LEN};

/// Builds a key from the strings the controller's API returns (hex key id, base64 PMS, the
/// controller's node key in base64 or base64url).
pub fn parse_key(
    url: String,
    key_id: &str,
    pms_base64: &str,
    suites: &[String],
    controller_key: &str,
) -> Result<ConsoleKey, String> {
    let key_id = KeyId::from_hex(key_id).ok_or("keyId must be 32 hex digits")?;
    let pms = decode_base64(pms_base64).and_then(|b| Pms::from_slice(&b)).ok_or("pms must be 32 bytes of base64")?;
    let controller_key = decode_base64(controller_key)
        .and_then(|b| <[u8; CONTROLLER_KEY_LEN]>::try_from(b).ok())
        .ok_or("controllerKey must be 32 bytes of base64")?;
    let suites = if suites.is_empty() {
        CipherSuite::ALL.to_vec()
    } else {
        suites
            .iter()
            .map(|s| CipherSuite::from_name(s).ok_or_else(|| format!("unknown cipher suite {s:?}")))
            .collect::<Result<_, _>>()?
    };
    Ok(ConsoleKey { url, key: LinkKey { key_id, pms, suites, controller_key } })
}

/// Standard base64 (with or without padding). Small and dependency-free on purpose: the Wasm
/// module's size is the console's load time.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn base64_decodes_and_rejects_junk() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8").unwrap(), b"hello");
        assert!(decode_base64("a*b").is_none());
        let bytes = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let key =
            parse_key("ws://x".into(), &"ab".repeat(16), bytes, &[], "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")
                .unwrap();
        assert_eq!(key.key.pms.expose()[31], 31);
        assert_eq!(key.key.controller_key[31], 31);
        assert!(parse_key("ws://x".into(), "zz", "", &[], bytes).is_err());
        assert!(parse_key("ws://x".into(), &"ab".repeat(16), bytes, &[], "AAEC").is_err());
    }
}
