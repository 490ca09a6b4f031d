//! Expansion of a chain key into per-direction traffic keys, and key confirmation.
//!
//! HKDF-Expand with HMAC-SHA1 (RFC 5869) takes `K(n)` as its pseudo-random key. The info string
//! binds every output to the suite, the direction, the key generation, the epoch and both
//! handshake nonces, so two directions, two epochs or two connections never share a keystream.

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::key_chain::{ChainKey, CHAIN_KEY_LEN};
use super::suite::CipherSuite;
use crate::wire::Nonce;

pub const PROOF_LEN: usize = 20;
const LABEL_TRAFFIC: &[u8] = b"lantern v1 traffic";
const LABEL_CONFIRM: &[u8] = b"lantern v1 confirm";

/// Which way a record travels. Each direction has keys of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

impl Direction {
    fn label(self) -> u8 {
        match self {
            Direction::ClientToServer => 0x01,
            Direction::ServerToClient => 0x02,
        }
    }
}

/// Encryption and MAC key for one direction of one epoch. Wiped on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct TrafficKeys {
    pub enc: [u8; 32],
    pub mac: [u8; 20],
}

/// Everything the info string binds a derived key to.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub suite: CipherSuite,
    pub generation: u16,
    pub client_nonce: &'a Nonce,
    pub server_nonce: &'a Nonce,
}

pub fn traffic_keys(key: &ChainKey, binding: &Binding<'_>, direction: Direction, epoch: u32) -> TrafficKeys {
    let mut info = Vec::with_capacity(LABEL_TRAFFIC.len() + 8 + 64);
    info.extend_from_slice(LABEL_TRAFFIC);
    info.push(direction.label());
    info.push(binding.suite.id());
    info.extend_from_slice(&binding.generation.to_be_bytes());
    info.extend_from_slice(&epoch.to_be_bytes());
    info.extend_from_slice(binding.client_nonce);
    info.extend_from_slice(binding.server_nonce);
    let mut okm = [0u8; 52];
    expand(key.expose(), &info, &mut okm);
    let mut keys = TrafficKeys { enc: [0; 32], mac: [0; 20] };
    keys.enc.copy_from_slice(&okm[..32]);
    keys.mac.copy_from_slice(&okm[32..]);
    okm.zeroize();
    keys
}

/// The key both sides use to prove, over the handshake transcript, that they hold the PMS.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct ConfirmationKey([u8; PROOF_LEN]);

pub fn confirmation_key(k0: &ChainKey, binding: &Binding<'_>) -> ConfirmationKey {
    let mut info = Vec::with_capacity(LABEL_CONFIRM.len() + 3 + 64);
    info.extend_from_slice(LABEL_CONFIRM);
    info.push(binding.suite.id());
    info.extend_from_slice(&binding.generation.to_be_bytes());
    info.extend_from_slice(binding.client_nonce);
    info.extend_from_slice(binding.server_nonce);
    let mut out = [0u8; PROOF_LEN];
    expand(k0.expose(), &info, &mut out);
    ConfirmationKey(out)
}

/// Who is proving: the two proofs over one transcript must differ so one cannot be reflected
/// back as the other.
#[derive(Debug, Clone, Copy)]
pub enum Prover {
    Server,
    Client,
}

impl ConfirmationKey {
    pub fn proof(&self, prover: Prover, transcript: &[u8]) -> [u8; PROOF_LEN] {
        let mut out = [0u8; PROOF_LEN];
        out.copy_from_slice(&self.mac(prover, transcript).finalize().into_bytes());
        out
    }

    /// Constant-time check of a peer's proof.
    pub fn verify(&self, prover: Prover, transcript: &[u8], proof: &[u8; PROOF_LEN]) -> bool {
        self.mac(prover, transcript).verify_slice(proof).is_ok()
    }

    fn mac(&self, prover: Prover, transcript: &[u8]) -> Hmac<Sha1> {
        let label: &[u8] = match prover {
            Prover::Server => b"server finished",
            Prover::Client => b"client finished",
        };
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(&self.0).expect("hmac takes any key length");
        mac.update(label);
        mac.update(transcript);
        mac
    }
}

fn expand(prk: &[u8; CHAIN_KEY_LEN], info: &[u8], out: &mut [u8]) {
    // A 20-byte PRK is exactly SHA-1's output size and every output here is far below
    // 255 * 20 bytes, so neither call can fail.
    let hk = Hkdf::<Sha1>::from_prk(prk).expect("chain key is one SHA-1 output long");
    hk.expand(info, out).expect("output is shorter than 255 hash lengths");
}
