//! `rc4-hmac-sha1`: RC4 with the first 3072 keystream bytes dropped (RC4-drop[3072]),
//! encrypt-then-MAC with HMAC-SHA1 over the sequence number, the clear header and the
//! ciphertext.
//!
//! RC4 is a stream cipher: one keystream runs across all records of an epoch in order, which
//! the reliable, ordered link guarantees. A record that fails its check ends the connection,
//! so the keystream can never fall out of step silently.

use super::IntegrityError;
use hmac::{Hmac, KeyInit, Mac};
use rc4::{Rc4, StreamCipher};
use sha1::Sha1;

/// Keystream bytes thrown away after keying, against RC4's biased early output.
pub const DROP_BYTES: usize = 3072;

pub struct Rc4HmacSha1 {
    rc4: Rc4,
    /// HMAC keyed once per epoch; each record starts from a copy, which saves re-deriving the
    /// inner and outer pads for every record.
    keyed_mac: Hmac<Sha1>,
}

impl Rc4HmacSha1 {
    pub const TAG_LEN: usize = 20;

    pub fn new(enc_key: &[u8], mac_key: &[u8; 20]) -> Self {
        // HMAC accepts keys of any length, so this cannot fail.
        let keyed_mac = <Hmac<Sha1> as KeyInit>::new_from_slice(mac_key).expect("hmac takes any key length");
        Self { rc4: keyed_rc4_drop(enc_key), keyed_mac }
    }

    /// Encrypts `record[start..]` in place and appends the tag.
    pub fn seal(&mut self, seq: u64, header: &[u8], record: &mut Vec<u8>, start: usize) {
        let body = record.get_mut(start..).unwrap_or_default();
        self.rc4.apply_keystream(body);
        let tag = self.mac(seq, header, body).finalize().into_bytes();
        record.extend_from_slice(&tag);
    }

    /// Checks the tag at the end of `record[start..]`, then decrypts the rest in place and
    /// drops the tag; on a bad tag `record` and the keystream are left as they were.
    pub fn open(&mut self, seq: u64, header: &[u8], record: &mut Vec<u8>, start: usize) -> Result<(), IntegrityError> {
        let end = record.len().checked_sub(Self::TAG_LEN).filter(|&end| end >= start).ok_or(IntegrityError)?;
        let (body, tag) = record.split_at_mut(end);
        let body = body.get_mut(start..).ok_or(IntegrityError)?;
        self.mac(seq, header, body).verify_slice(tag).map_err(|_| IntegrityError)?;
        self.rc4.apply_keystream(body);
        record.truncate(end);
        Ok(())
    }

    fn mac(&self, seq: u64, header: &[u8], ciphertext: &[u8]) -> Hmac<Sha1> {
        let mut mac = self.keyed_mac.clone();
        mac.update(&seq.to_be_bytes());
        mac.update(header);
        mac.update(ciphertext);
        mac
    }
}

/// RC4 keyed with `key` whose first [`DROP_BYTES`] of keystream are already consumed.
pub fn keyed_rc4_drop(key: &[u8]) -> Rc4 {
    // Rc4 accepts keys of 1..=256 bytes; callers pass 16.
    let mut rc4 = Rc4::new_from_slice(key).expect("rc4 key length is 1 to 256 bytes");
    let mut discard = [0u8; DROP_BYTES];
    rc4.apply_keystream(&mut discard);
    rc4
}
