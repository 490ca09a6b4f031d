//! Cipher suites and the key schedule of the console link.
//!
//! Nothing here touches I/O or randomness: nonces and key material come from the caller.

pub mod chacha;
pub mod derive;
pub mod key_chain;
pub mod rc4_hmac;
pub mod suite;

pub use derive::{Direction, TrafficKeys};
pub use key_chain::{ChainKey, KeyChain, Pms};
pub use suite::{CipherSuite, RecordCipher};

/// A record failed authentication: wrong key, wrong sequence number, wrong direction,
/// or bytes altered on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("record failed its integrity check")]
pub struct IntegrityError;
