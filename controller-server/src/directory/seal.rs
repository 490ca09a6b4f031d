//! Sealing a user's Kerberos credentials for the browser to hold: ChaCha20-Poly1305 under a key
//! made at start-up that never leaves this process (a restart makes sealed credentials
//! useless, and the user logs in again), bound to the web session whose cookie travels with
//! them, so that a sealed value copied into another session opens nowhere.
//!
//! Sealed: `v1.` then base64url(nonce (12 bytes) || ciphertext || tag).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
use zeroize::{Zeroize, Zeroizing};

const VERSION: &str = "v1.";
const CONTEXT: &[u8] = b"lantern kerberos credentials v1";
/// Sealed values larger than this are not opened (a credential token is a few KiB).
pub const MAX_SEALED: usize = 96 * 1024;

/// The name of the cookie that carries them: HttpOnly, and sent only to the API.
pub const COOKIE: &str = "lantern_krb";

pub struct Sealer {
    key: Zeroizing<[u8; 32]>,
}

impl Sealer {
    /// A fresh key. In debug builds `LANTERN_TEST_SEAL_KEY` (64 hex digits) may fix it, so
    /// that a test can open what the controller sealed and look for its contents elsewhere.
    pub fn new() -> Self {
        #[cfg(debug_assertions)]
        {
            let fixed = std::env::var("LANTERN_TEST_SEAL_KEY").ok().and_then(|hex| crate::secret::unhex(&hex));
            if let Some(key) = fixed.and_then(|key| <[u8; 32]>::try_from(key).ok()) {
                return Self::from_key(key);
            }
        }
        Self::from_key(rand::random())
    }

    pub fn from_key(key: [u8; 32]) -> Self {
        Self { key: Zeroizing::new(key) }
    }

    fn aad(session_token: &str) -> Vec<u8> {
        let mut aad = CONTEXT.to_vec();
        aad.extend_from_slice(&crate::secret::sha256(session_token));
        aad
    }

    /// Seals `plain` for the session whose cookie secret is `session_token`.
    pub fn seal(&self, session_token: &str, plain: &[u8]) -> String {
        let nonce: [u8; 12] = rand::random();
        let aead = ChaCha20Poly1305::new((&*self.key).into());
        let aad = Self::aad(session_token);
        let sealed = aead.encrypt(&Nonce::from(nonce), Payload { msg: plain, aad: &aad }).unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens what [`seal`](Self::seal) made for the same session; `None` for anything else.
    pub fn open(&self, session_token: &str, sealed: &str) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() > MAX_SEALED {
            return None;
        }
        let mut bytes = URL_SAFE_NO_PAD.decode(sealed.strip_prefix(VERSION)?).ok()?;
        let result = (|| {
            let (nonce, body) = bytes.split_first_chunk::<12>()?;
            let aead = ChaCha20Poly1305::new((&*self.key).into());
            let aad = Self::aad(session_token);
            aead.decrypt(&Nonce::from(*nonce), Payload { msg: body, aad: &aad }).ok().map(Zeroizing::new)
        })();
        bytes.zeroize();
        result
    }
}

impl Default for Sealer {
    fn default() -> Self {
        Self::new()
    }
}

/// The `Set-Cookie` value carrying `sealed` for `max_age_seconds` (or removing it when empty).
pub fn cookie(sealed: &str, max_age_seconds: u64) -> String {
    let max_age = if sealed.is_empty() { 0 } else { max_age_seconds };
    format!("{COOKIE}={sealed}; Path=/api; Max-Age={max_age}; Secure; HttpOnly; SameSite=Strict")
}

/// The sealed credentials from a `Cookie` header.
pub fn cookie_value(header: &str) -> Option<&str> {
    crate::web::sessions::named_cookie(header, COOKIE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_credentials_open_only_for_their_session_and_key() {
        let sealer = Sealer::from_key([7; 32]);
        let sealed = sealer.seal("session one", b"the ticket and its key");
        assert_eq!(
            sealer.open("session one", &sealed).as_deref().map(Vec::as_slice),
            Some(&b"the ticket and its key"[..])
        );
        assert_eq!(sealer.open("session two", &sealed), None, "another session's cookie");
        assert_eq!(Sealer::from_key([8; 32]).open("session one", &sealed), None, "another controller (or a restart)");
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(sealer.open("session one", &String::from_utf8(flipped).unwrap()), None);
        for junk in ["", "v1.", "v1.!!!", "v2.AAAA", &"v1.".repeat(40_000)] {
            assert_eq!(sealer.open("session one", junk), None);
        }
        assert!(!sealed.contains("ticket"));
        assert_eq!(cookie_value(&format!("a=b; {COOKIE}={sealed}")), Some(sealed.as_str()));
    }
}
