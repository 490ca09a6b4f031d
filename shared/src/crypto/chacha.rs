//! `chacha20-poly1305`: the RFC 8439 AEAD. The nonce is the implicit 64-bit record sequence
//! number; keys change every epoch and direction, so a (key, nonce) pair never repeats.

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, Tag};

use super::IntegrityError;

pub struct ChaChaCipher {
    aead: ChaCha20Poly1305,
}

impl ChaChaCipher {
    pub const TAG_LEN: usize = 16;

    pub fn new(key: &[u8; 32]) -> Self {
        Self { aead: ChaCha20Poly1305::new(key.into()) }
    }

    /// Encrypts `record[start..]` in place and appends the tag.
    pub fn seal(&mut self, seq: u64, header: &[u8], record: &mut Vec<u8>, start: usize) {
        let body = record.get_mut(start..).unwrap_or_default();
        let tag = self
            .aead
            .encrypt_inout_detached(&nonce(seq), header, body.into())
            .expect("record is below the AEAD length limit");
        record.extend_from_slice(&tag);
    }

    /// Checks the tag at the end of `record[start..]`, then decrypts the rest in place and
    /// drops the tag; on a bad tag `record` is left as it was.
    pub fn open(&mut self, seq: u64, header: &[u8], record: &mut Vec<u8>, start: usize) -> Result<(), IntegrityError> {
        let end = record.len().checked_sub(Self::TAG_LEN).filter(|&end| end >= start).ok_or(IntegrityError)?;
        let (body, tag) = record.split_at_mut(end);
        let tag = Tag::try_from(&*tag).map_err(|_| IntegrityError)?;
        let body = body.get_mut(start..).ok_or(IntegrityError)?;
        self.aead.decrypt_inout_detached(&nonce(seq), header, body.into(), &tag).map_err(|_| IntegrityError)?;
        record.truncate(end);
        Ok(())
    }
}

fn nonce(seq: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&seq.to_be_bytes());
    n.into()
}
