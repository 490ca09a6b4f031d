//! The clear prefixes of a connection's first two messages.
//!
//! The controller must know which agent is calling before it can read a `KK` handshake (it
//! needs the agent's static key and the association's key), so the first message says, in
//! the clear: the link version, the agent's opaque id (random, given at enrolment: it names
//! no host), and the epochs of the associations the agent holds. These bytes are the
//! handshake's prologue too, so a change on the way breaks the handshake. The answer starts
//! with the epoch the controller chose (a wrong one only makes the handshake fail).

use shared::wire::codec::{Reader, Writer};

use crate::LinkError;

const KIND_RUN: u8 = 1;
const KIND_ENROL: u8 = 2;
pub const MAX_ID: usize = 64;
/// The agent holds at most a previous, a current and a next generation.
pub const MAX_EPOCHS: usize = 3;

/// The first message of a connection, before its Noise part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hello {
    /// A running agent: its id and the epochs it holds, newest first.
    Run { agent_id: String, epochs: Vec<u64> },
    /// An enrolment: the id part of the token.
    Enrol { token_id: String },
}

impl Hello {
    /// The clear prefix, which is also the handshake's prologue.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![crate::VERSION];
        match self {
            Hello::Run { agent_id, epochs } => {
                out.put_u8(KIND_RUN);
                out.put_length_prefixed(agent_id.as_bytes());
                out.put_u8(epochs.len().min(MAX_EPOCHS) as u8);
                for epoch in epochs.iter().take(MAX_EPOCHS) {
                    out.put_u64(*epoch);
                }
            }
            Hello::Enrol { token_id } => {
                out.put_u8(KIND_ENROL);
                out.put_length_prefixed(token_id.as_bytes());
            }
        }
        out
    }

    /// Splits a first message into its hello, the hello's bytes (the prologue) and the
    /// Noise message after it.
    pub fn decode(message: &[u8]) -> Result<(Hello, &[u8], &[u8]), LinkError> {
        let mut r = Reader::new(message);
        let version = r.u8("link version")?;
        if version != crate::VERSION {
            return Err(LinkError::Protocol(format!("link version {version}; this end speaks {}", crate::VERSION)));
        }
        let hello = match r.u8("hello kind")? {
            KIND_RUN => {
                let agent_id = r.string(MAX_ID, "agent id")?.to_string();
                let count = usize::from(r.u8("epoch count")?);
                if count == 0 || count > MAX_EPOCHS {
                    return Err(LinkError::Malformed(format!("{count} epochs offered (1 to {MAX_EPOCHS})")));
                }
                let epochs = (0..count).map(|_| r.u64("epoch")).collect::<Result<_, _>>()?;
                Hello::Run { agent_id, epochs }
            }
            KIND_ENROL => Hello::Enrol { token_id: r.string(MAX_ID, "token id")?.to_string() },
            other => return Err(LinkError::Malformed(format!("unknown hello kind {other}"))),
        };
        let noise = r.rest();
        let prologue_len = message.len() - noise.len();
        Ok((hello, &message[..prologue_len], noise))
    }
}

/// The controller's answer to a running agent: the chosen epoch, then its Noise message.
pub fn encode_reply(epoch: u64, noise: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + noise.len());
    out.put_u64(epoch);
    out.put_bytes(noise);
    out
}

pub fn decode_reply(message: &[u8]) -> Result<(u64, &[u8]), LinkError> {
    let mut r = Reader::new(message);
    let epoch = r.u64("chosen epoch")?;
    Ok((epoch, r.rest()))
}
