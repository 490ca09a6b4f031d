//! The console link's session state machines: one for the applet, one for the controller.
//!
//! Both are sans-IO: they take received records and the current time, and queue records to
//! send. Randomness (nonces) and key look-ups come from the caller.
//!
//! ```text
//! applet                                   controller
//! ClientHello(key_id, nonce_c, suites) ->
//!                                       <- ServerHello(suite, nonce_s, schedule)
//!                                       <- Identity(node key, its signature over both hellos)
//!                                       <- Finished(proof_s over the transcript)
//! Finished(proof_c)                    ->
//!            ... sealed records, both ways ...
//! RekeyReady(key_id', nonce_c')        ->           (sealed, generation g)
//!                                       <- RekeyAck(nonce_s', proof_s')
//! RekeyConfirm(proof_c')               ->  then applet seals under g+1
//!                                          controller checks proof_c', then seals under g+1
//! ```

pub mod client;
pub mod identity;
mod record_layer;
pub mod server;

pub use client::{ClientConfig, ClientEvent, ClientSession, KeystrokeTiming};
pub use identity::ControllerIdentity;
pub use record_layer::KeyPosition;
pub use server::{KeyPurpose, ServerConfig, ServerEnv, ServerEvent, ServerSession};

use sha1::{Digest, Sha1};

use crate::crypto::{CipherSuite, IntegrityError};
use crate::wire::handshake::KeySchedule;
use crate::wire::record::Record;
use crate::wire::{Alert, AlertCode, DecodeError, HandshakeMessage};

/// What the link agreed on, for the status bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkInfo {
    pub suite: CipherSuite,
    pub schedule: KeySchedule,
}

/// Why a session ended. Each maps to the alert the peer is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("malformed message: {0}")]
    Decode(#[from] DecodeError),
    #[error("a record failed its integrity check")]
    Integrity,
    #[error("unexpected message: {0}")]
    Unexpected(&'static str),
    #[error("key schedule violated: {0}")]
    Epoch(&'static str),
    #[error("record larger than the protocol allows")]
    TooLarge,
    #[error("the peer could not prove it holds the console key")]
    ConfirmationFailed,
    #[error("{}", AlertCode::UnverifiedController.describe())]
    UnverifiedController,
    #[error("{0}")]
    Refused(Alert),
    #[error("closed by the peer: {0}")]
    PeerClosed(Alert),
    #[error("console key life ended before it was renewed")]
    KeyLifeExpired,
    #[error("the session is closed")]
    Closed,
}

impl From<IntegrityError> for SessionError {
    fn from(_: IntegrityError) -> Self {
        SessionError::Integrity
    }
}

impl SessionError {
    /// The alert to send the peer before closing, if any.
    pub fn alert(&self) -> Option<Alert> {
        let code = match self {
            SessionError::Decode(_) | SessionError::Unexpected(_) | SessionError::Epoch(_) | SessionError::TooLarge => {
                AlertCode::ProtocolViolation
            }
            SessionError::Integrity => AlertCode::IntegrityFailure,
            SessionError::ConfirmationFailed => AlertCode::KeyConfirmationFailed,
            SessionError::UnverifiedController => AlertCode::UnverifiedController,
            SessionError::Refused(alert) => return Some(alert.clone()),
            SessionError::KeyLifeExpired => AlertCode::KeyLifeExpired,
            SessionError::PeerClosed(_) | SessionError::Closed => return None,
        };
        Some(Alert::new(code))
    }

    /// The alert code that best describes this error, for the UI and audit.
    pub fn code(&self) -> AlertCode {
        match self {
            SessionError::PeerClosed(alert) | SessionError::Refused(alert) => alert.code,
            SessionError::Closed => AlertCode::Closed,
            other => other.alert().map(|a| a.code).unwrap_or(AlertCode::Closed),
        }
    }
}

/// Running hash that ties a key switch to the session it happens in.
fn bind(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    let mut out = [0u8; 20];
    out.copy_from_slice(&h.finalize());
    out
}

/// The transcript a key-switch proof covers: the session binding, the new generation, and both
/// nonces of the switch.
fn rekey_transcript(
    binding: &[u8; 20],
    generation: u16,
    key_id: &[u8],
    client_nonce: &[u8],
    server_nonce: &[u8],
) -> Vec<u8> {
    let mut t = Vec::with_capacity(20 + 2 + 16 + 64);
    t.extend_from_slice(binding);
    t.extend_from_slice(&generation.to_be_bytes());
    t.extend_from_slice(key_id);
    t.extend_from_slice(client_nonce);
    t.extend_from_slice(server_nonce);
    t
}

/// Decodes a clear handshake record; a sealed one is out of place before key confirmation.
fn handshake(record: &[u8]) -> Result<HandshakeMessage, SessionError> {
    match Record::parse(record)? {
        Record::Handshake(body) => Ok(HandshakeMessage::decode(body)?),
        Record::Sealed { .. } => Err(SessionError::Unexpected("sealed record before the keys were confirmed")),
    }
}

#[cfg(test)]
mod tests;
