//! VNC Authentication (security type 2): the server's 16-byte challenge encrypted with DES
//! under the password. Weak by today's standards, and what QEMU, TigerVNC and x11vnc ask for
//! when a password is set; keep such servers on loopback or a management network.

use des::cipher::{BlockEncrypt, KeyInit};
use des::Des;
use zeroize::Zeroizing;

pub const CHALLENGE_LEN: usize = 16;

/// The response to `challenge`. The key is the password's first 8 bytes, zero-padded, with
/// each byte's bits reversed (a quirk of the original implementation every server follows).
pub fn response(password: &str, challenge: &[u8; CHALLENGE_LEN]) -> [u8; CHALLENGE_LEN] {
    let mut key = Zeroizing::new([0u8; 8]);
    for (k, b) in key.iter_mut().zip(password.bytes()) {
        *k = b.reverse_bits();
    }
    let cipher = Des::new(des::cipher::generic_array::GenericArray::from_slice(&key[..]));
    let mut out = *challenge;
    for block in out.chunks_exact_mut(8) {
        cipher.encrypt_block(des::cipher::generic_array::GenericArray::from_mut_slice(block));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_known_answer() {
        let challenge: [u8; 16] = core::array::from_fn(|i| i as u8);
        let r = response("password", &challenge);
        // Computed independently with pycryptodome's DES under the bit-reversed key.
        assert_eq!(hex(&r), KNOWN);
    }

    const KNOWN: &str = "b866924125c8eebb9debc1db61c538e2";

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
