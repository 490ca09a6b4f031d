//! The SHA-1 hash chain of the original design: `K0 = SHA1(PMS || 0^20)`,
//! `K(n+1) = SHA1(PMS || K(n))`. Epoch `n` of a key generation uses `K(n)`.
//!
//! The chain only moves forward and an old `K(n)` is overwritten when it advances. That gives no
//! forward secrecy: every link is computed from the PMS, which the chain keeps beside it, so
//! whoever captures a live state can recompute every epoch of that generation, earlier ones
//! included. What bounds the damage is the key's life: each in-band renewal brings a fresh PMS,
//! and the old one is wiped.

use sha1::{Digest, Sha1};
use zeroize::{Zeroize, ZeroizeOnDrop};

pub const PMS_LEN: usize = 32;
pub const CHAIN_KEY_LEN: usize = 20;

/// Pre-master secret: 32 random bytes handed to the applet over TLS. Wiped on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Pms([u8; PMS_LEN]);

impl Pms {
    pub fn from_bytes(bytes: [u8; PMS_LEN]) -> Self {
        Self(bytes)
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; PMS_LEN]>::try_from(bytes).ok().map(Self)
    }

    pub fn expose(&self) -> &[u8; PMS_LEN] {
        &self.0
    }
}

impl core::fmt::Debug for Pms {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Pms(<redacted>)")
    }
}

/// One link `K(n)` of the chain.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ChainKey([u8; CHAIN_KEY_LEN]);

impl ChainKey {
    pub fn expose(&self) -> &[u8; CHAIN_KEY_LEN] {
        &self.0
    }
}

impl core::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ChainKey(<redacted>)")
    }
}

/// The chain positioned at one epoch.
#[derive(Clone)]
pub struct KeyChain {
    pms: Pms,
    current: ChainKey,
    epoch: u32,
}

impl KeyChain {
    pub fn new(pms: Pms) -> Self {
        let current = link(&pms, &[0u8; CHAIN_KEY_LEN]);
        Self { pms, current, epoch: 0 }
    }

    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    pub fn key(&self) -> &ChainKey {
        &self.current
    }

    /// Moves to the next epoch. Returns `None` once the epoch counter is exhausted.
    pub fn advance(&mut self) -> Option<&ChainKey> {
        let next_epoch = self.epoch.checked_add(1)?;
        self.current = link(&self.pms, self.current.expose());
        self.epoch = next_epoch;
        Some(&self.current)
    }
}

fn link(pms: &Pms, previous: &[u8; CHAIN_KEY_LEN]) -> ChainKey {
    let mut hasher = Sha1::new();
    hasher.update(pms.expose());
    hasher.update(previous);
    let mut out = [0u8; CHAIN_KEY_LEN];
    out.copy_from_slice(&hasher.finalize());
    ChainKey(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_follows_its_definition() {
        let pms = Pms::from_bytes([7u8; PMS_LEN]);
        let mut chain = KeyChain::new(pms.clone());
        let mut expected = {
            let mut h = Sha1::new();
            h.update([7u8; PMS_LEN]);
            h.update([0u8; 20]);
            h.finalize().to_vec()
        };
        assert_eq!(chain.key().expose().as_slice(), expected.as_slice());
        for n in 1..5 {
            let mut h = Sha1::new();
            h.update([7u8; PMS_LEN]);
            h.update(&expected);
            expected = h.finalize().to_vec();
            chain.advance().unwrap();
            assert_eq!(chain.epoch(), n);
            assert_eq!(chain.key().expose().as_slice(), expected.as_slice());
        }
    }

    #[test]
    fn debug_output_never_shows_key_bytes() {
        let pms = Pms::from_bytes([0xab; PMS_LEN]);
        let shown = format!("{pms:?} {:?}", KeyChain::new(pms.clone()).key());
        assert!(!shown.contains("ab") && !shown.contains("171"), "{shown}");
    }
}
