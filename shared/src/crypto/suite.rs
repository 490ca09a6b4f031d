//! The two cipher suites and the record cipher state they give one direction of one epoch.

use super::chacha::ChaChaCipher;
use super::derive::TrafficKeys;
use super::rc4_hmac::Rc4HmacSha1;
use super::IntegrityError;

/// A cipher suite the console link can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CipherSuite {
    /// RC4 with the first 3072 keystream bytes dropped, HMAC-SHA1 encrypt-then-MAC.
    Rc4HmacSha1,
    /// ChaCha20-Poly1305 (RFC 8439).
    ChaCha20Poly1305,
}

impl CipherSuite {
    pub const ALL: [CipherSuite; 2] = [CipherSuite::Rc4HmacSha1, CipherSuite::ChaCha20Poly1305];

    pub fn id(self) -> u8 {
        match self {
            CipherSuite::Rc4HmacSha1 => 0x01,
            CipherSuite::ChaCha20Poly1305 => 0x02,
        }
    }

    pub fn from_id(id: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.id() == id)
    }

    /// The name used in configuration, the API and the status bar.
    pub fn name(self) -> &'static str {
        match self {
            CipherSuite::Rc4HmacSha1 => "rc4-hmac-sha1",
            CipherSuite::ChaCha20Poly1305 => "chacha20-poly1305",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    pub fn tag_len(self) -> usize {
        match self {
            CipherSuite::Rc4HmacSha1 => Rc4HmacSha1::TAG_LEN,
            CipherSuite::ChaCha20Poly1305 => ChaChaCipher::TAG_LEN,
        }
    }
}

impl core::fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Record protection for one direction of one epoch.
// RC4's 256-byte state makes one variant large; a cipher lives in place for a whole epoch and
// is never moved on the record path, so boxing it would only add an indirection.
#[allow(clippy::large_enum_variant)]
pub enum RecordCipher {
    Rc4HmacSha1(Rc4HmacSha1),
    ChaCha20Poly1305(ChaChaCipher),
}

impl RecordCipher {
    pub fn new(suite: CipherSuite, keys: &TrafficKeys) -> Self {
        match suite {
            CipherSuite::Rc4HmacSha1 => Self::Rc4HmacSha1(Rc4HmacSha1::new(&keys.enc[..16], &keys.mac)),
            CipherSuite::ChaCha20Poly1305 => Self::ChaCha20Poly1305(ChaChaCipher::new(&keys.enc)),
        }
    }

    /// Encrypts `record[start..]` in place and appends the tag: a record is built once, its
    /// clear header in front, and never copied to be sealed. `header` (the clear record
    /// header) and `seq` are authenticated, not encrypted.
    pub fn seal(&mut self, seq: u64, header: &[u8], record: &mut Vec<u8>, start: usize) {
        match self {
            Self::Rc4HmacSha1(c) => c.seal(seq, header, record, start),
            Self::ChaCha20Poly1305(c) => c.seal(seq, header, record, start),
        }
    }

    /// Checks the tag at the end of `record[start..]`, then decrypts in place and drops the
    /// tag. A record that fails leaves the cipher's state as it was.
    pub fn open(&mut self, seq: u64, header: &[u8], record: &mut Vec<u8>, start: usize) -> Result<(), IntegrityError> {
        match self {
            Self::Rc4HmacSha1(c) => c.open(seq, header, record, start),
            Self::ChaCha20Poly1305(c) => c.open(seq, header, record, start),
        }
    }
}
