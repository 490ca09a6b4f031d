//! The relay's protocol, sans-IO: what `lantern-relay` and a controller say on the connections
//! the controller dialled (`frame`), how a controller proves its name (`register`), and the one
//! thing the relay reads of a browser's or agent's connection, the TLS server name it asks for
//! (`sni`). Everything else on those connections is end-to-end TLS the relay forwards unopened.

#![forbid(unsafe_code)]

pub mod frame;
pub mod register;
pub mod sni;

pub use frame::{Decoder, Frame, Kind, PathId, PREAMBLE};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("refused: {0}")]
    Refused(String),
}

impl From<shared::wire::DecodeError> for RelayError {
    fn from(err: shared::wire::DecodeError) -> Self {
        RelayError::Malformed(err.to_string())
    }
}

#[cfg(test)]
mod tests;
