//! The agent link: how a `lantern-agent` on a managed machine and the controller it dialled
//! talk, sans-IO, in the style of `shared::link`.
//!
//! - `identity`: the controller's pin (the SHA-256 of its Ed25519 node key, not of its web
//!   certificate) and the proof that binds its Noise static key to that node key.
//! - `association`: the long-lived key material both sides store (an epoch and a pre-shared
//!   key), which of its generations a connection uses, and the ready / acknowledge / confirm
//!   refresh that replaces it only once both sides hold the new one.
//! - `hello`: the clear prefix of a connection's first messages (which agent, which epochs).
//! - `frame`: the messages inside the encrypted channel.
//! - `streams`: credit-based flow control for the streams (directives, the console)
//!   multiplexed over one connection.
//! - `agent`, `controller`: the two ends of a running connection (Noise `KKpsk2`: both
//!   static keys known, the association's key mixed in, fresh keys per connection), and
//!   `enrol`: the one-time enrolment (Noise `XXpsk3`, the token's secret as the key).
//!
//! Every connection is one WebSocket; every WebSocket message is one Noise message. The
//! crate does no I/O and reads no clock: callers pass the time in milliseconds and a seed
//! for the randomness of each connection.
#![forbid(unsafe_code)]

pub mod agent;
pub mod association;
pub mod controller;
pub mod enrol;
pub mod frame;
pub mod hello;
pub mod identity;
mod noise;
pub mod streams;

#[cfg(test)]
mod tests;

pub use agent::{AgentAction, AgentConfig, AgentLink};
pub use association::{AgentAssociations, Association, ControllerAssociations, Psk};
pub use controller::{ControllerAction, ControllerConfig, ControllerLink, KnownAgent};
pub use frame::{
    directive_binding, Exit, Facts, Frame, KerberosProof, OpenKind, OutputChannel, PowerVerb, SensorReading,
};
pub use identity::{NodeProof, Pin, StaticSecret};

/// The version of the link; both ends refuse another.
pub const VERSION: u8 = 1;

/// Why a connection ended, as the end that noticed says it. Never holds key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("the handshake failed: {0}")]
    Handshake(&'static str),
    #[error("the handshake took longer than {0} ms")]
    HandshakeTimeout(u64),
    #[error("a message did not decrypt (tampered, replayed or out of order)")]
    Decrypt,
    #[error("protocol violation: {0}")]
    Protocol(String),
    #[error("no message from the peer for {0} ms")]
    Silent(u64),
    #[error("{0}")]
    Closed(String),
}

impl From<shared::wire::DecodeError> for LinkError {
    fn from(err: shared::wire::DecodeError) -> Self {
        LinkError::Malformed(err.to_string())
    }
}
