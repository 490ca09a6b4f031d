//! Delegated Kerberos credentials sealed to a peer's node key, so that the controller they
//! leave can hand them on without being able to read them once sealed.
//!
//! The peer's Ed25519 node key (from this controller's configuration) is taken as an X25519
//! key, as `age` does with `ssh-ed25519` recipients: an ephemeral X25519 key agrees a secret
//! with it, HKDF-SHA256 turns that into a ChaCha20-Poly1305 key, and the context (the token's id
//! and audience) is bound in as associated data. Sealed: ephemeral public key (32 bytes) then
//! ciphertext and tag.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

const INFO: &[u8] = b"lantern federation kerberos credentials v1";
/// Sealed credentials larger than this are not opened (an exported credential is a few KiB).
pub const MAX_SEALED: usize = 64 * 1024;

fn key(shared: &[u8; 32], ephemeral: &PublicKey, recipient: &PublicKey) -> Zeroizing<[u8; 32]> {
    let mut salt = ephemeral.as_bytes().to_vec();
    salt.extend_from_slice(recipient.as_bytes());
    let mut out = Zeroizing::new([0u8; 32]);
    // 32 bytes is always a valid HKDF-SHA256 output length.
    let _ = hkdf::Hkdf::<Sha256>::new(Some(&salt), shared).expand(INFO, &mut *out);
    out
}

/// Seals `plain` so that only the holder of `recipient`'s signing key opens it, in `context`;
/// `ephemeral` is 32 fresh random bytes, used for this seal only.
pub fn seal(recipient: &VerifyingKey, context: &[u8], plain: &[u8], ephemeral: [u8; 32]) -> Vec<u8> {
    let recipient = PublicKey::from(recipient.to_montgomery().to_bytes());
    let ephemeral = StaticSecret::from(ephemeral);
    let ephemeral_public = PublicKey::from(&ephemeral);
    let shared = Zeroizing::new(ephemeral.diffie_hellman(&recipient).to_bytes());
    let key = key(&shared, &ephemeral_public, &recipient);
    // The key is used once, so the nonce may be fixed.
    let sealed = ChaCha20Poly1305::new((&*key).into())
        .encrypt(&Nonce::default(), Payload { msg: plain, aad: context })
        .unwrap_or_default();
    let mut out = ephemeral_public.as_bytes().to_vec();
    out.extend_from_slice(&sealed);
    out
}

/// Opens what [`seal`] made for `own`'s public key in the same context.
pub fn open(own: &SigningKey, context: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() > MAX_SEALED || sealed.len() < 32 + 16 {
        return None;
    }
    let (ephemeral, ciphertext) = sealed.split_at(32);
    let ephemeral = PublicKey::from(<[u8; 32]>::try_from(ephemeral).ok()?);
    let secret = StaticSecret::from(own.to_scalar_bytes());
    let shared = Zeroizing::new(secret.diffie_hellman(&ephemeral).to_bytes());
    // A low-order point agrees an all-zero secret: refuse it rather than open with a known key.
    if *shared == [0u8; 32] {
        return None;
    }
    let key = key(&shared, &ephemeral, &PublicKey::from(&secret));
    let plain = ChaCha20Poly1305::new((&*key).into())
        .decrypt(&Nonce::default(), Payload { msg: ciphertext, aad: context })
        .ok()?;
    Some(Zeroizing::new(plain))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_recipient_opens_and_only_in_the_same_context() {
        let b = SigningKey::from_bytes(&[2; 32]);
        let c = SigningKey::from_bytes(&[3; 32]);
        let sealed = seal(&b.verifying_key(), b"jti-1 node-b", b"ticket bytes", [7; 32]);
        assert_eq!(open(&b, b"jti-1 node-b", &sealed).as_deref().map(Vec::as_slice), Some(&b"ticket bytes"[..]));
        assert!(open(&c, b"jti-1 node-b", &sealed).is_none(), "another node");
        assert!(open(&b, b"jti-2 node-b", &sealed).is_none(), "another token");
        let mut flipped = sealed.clone();
        flipped[40] ^= 1;
        assert!(open(&b, b"jti-1 node-b", &flipped).is_none());
        assert!(open(&b, b"x", &[0u8; 10]).is_none());
        assert!(open(&b, b"x", &[0u8; 64]).is_none(), "a low-order ephemeral key");
        assert!(!sealed.windows(12).any(|w| w == b"ticket bytes"));
    }
}
