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

    pub fn seal(&mut self, seq: u64, header: &[u8], body: &mut Vec<u8>) {
        // Only fails for plaintexts above 256 GiB; records are capped far below that.
        let tag = self
            .aead
            .encrypt_inout_detached(&nonce(seq), header, body.as_mut_slice().into())
            .expect("record is below the AEAD length limit");
        body.extend_from_slice(&tag);
    }

    pub fn open(&mut self, seq: u64, header: &[u8], body: &mut Vec<u8>) -> Result<(), IntegrityError> {
        let ct_len = body.len().checked_sub(Self::TAG_LEN).ok_or(IntegrityError)?;
        let tag = Tag::try_from(&body[ct_len..]).map_err(|_| IntegrityError)?;
        self.aead
            .decrypt_inout_detached(&nonce(seq), header, body[..ct_len].as_mut().into(), &tag)
            .map_err(|_| IntegrityError)?;
        body.truncate(ct_len);
        Ok(())
    }
}

fn nonce(seq: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&seq.to_be_bytes());
    n.into()
}
