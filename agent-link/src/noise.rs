//! The Noise handshakes and the channel after them (through `snow`), with the randomness
//! drawn from a seed the caller gives, so that the crate reads nothing of its own and a test
//! or fuzz run is repeatable.

use sha2::{Digest, Sha256};
use snow::params::{CipherChoice, DHChoice, HashChoice};
use snow::resolvers::{CryptoResolver, DefaultResolver};
use snow::types::{Cipher, Dh, Hash, Random};

use crate::frame::Frame;
use crate::LinkError;

/// A running agent's connection: both static keys known beforehand, the association's key
/// mixed in by the controller's answer.
pub const RUN_PATTERN: &str = "Noise_KKpsk2_25519_ChaChaPoly_SHA256";
/// Enrolment: the agent learns the controller's static key (and checks it against its pin);
/// the token's secret is mixed in by the agent's last message.
pub const ENROL_PATTERN: &str = "Noise_XXpsk3_25519_ChaChaPoly_SHA256";
/// Every Noise message fits in this many bytes.
pub const MAX_MESSAGE: usize = 65535;
const TAG: usize = 16;

/// Bytes drawn from SHA-256 over a seed and a counter.
pub(crate) struct SeededRandom {
    seed: [u8; 32],
    counter: u64,
}

impl SeededRandom {
    pub(crate) fn new(seed: [u8; 32], domain: u64) -> Self {
        // Each user of a seed starts at its own counter range, so no two draw the same bytes.
        Self { seed, counter: domain << 32 }
    }

    pub(crate) fn key(&mut self) -> [u8; 32] {
        let mut out = [0; 32];
        self.fill(&mut out);
        out
    }

    fn fill(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(32) {
            let block = Sha256::new().chain_update(self.seed).chain_update(self.counter.to_be_bytes()).finalize();
            self.counter += 1;
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
    }
}

impl Random for SeededRandom {
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), snow::Error> {
        self.fill(dest);
        Ok(())
    }
}

impl Drop for SeededRandom {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.seed);
    }
}

struct SeededResolver {
    seed: [u8; 32],
}

impl CryptoResolver for SeededResolver {
    fn resolve_rng(&self) -> Option<Box<dyn Random>> {
        Some(Box::new(SeededRandom::new(self.seed, 0)))
    }
    fn resolve_dh(&self, choice: &DHChoice) -> Option<Box<dyn Dh>> {
        DefaultResolver.resolve_dh(choice)
    }
    fn resolve_hash(&self, choice: &HashChoice) -> Option<Box<dyn Hash>> {
        DefaultResolver.resolve_hash(choice)
    }
    fn resolve_cipher(&self, choice: &CipherChoice) -> Option<Box<dyn Cipher>> {
        DefaultResolver.resolve_cipher(choice)
    }
}

pub fn builder(pattern: &'static str, seed: [u8; 32]) -> Result<snow::Builder<'static>, LinkError> {
    let params = pattern.parse().map_err(|_| LinkError::Handshake("unknown Noise pattern"))?;
    Ok(snow::Builder::with_resolver(params, Box::new(SeededResolver { seed })))
}

/// Writes a handshake message carrying `payload`.
pub fn write_handshake(state: &mut snow::HandshakeState, payload: &[u8]) -> Result<Vec<u8>, LinkError> {
    let mut out = vec![0; MAX_MESSAGE];
    let len =
        state.write_message(payload, &mut out).map_err(|_| LinkError::Handshake("cannot write a handshake message"))?;
    out.truncate(len);
    Ok(out)
}

/// Reads a handshake message; returns its payload. A failure means the keys did not match.
pub fn read_handshake(
    state: &mut snow::HandshakeState,
    message: &[u8],
    failure: &'static str,
) -> Result<Vec<u8>, LinkError> {
    if message.len() > MAX_MESSAGE {
        return Err(LinkError::Malformed("a handshake message longer than 64 KiB".into()));
    }
    let mut payload = vec![0; message.len()];
    let len = state.read_message(message, &mut payload).map_err(|_| LinkError::Handshake(failure))?;
    payload.truncate(len);
    Ok(payload)
}

/// The encrypted channel after a handshake: frames in, frames out, in order.
pub struct Channel {
    transport: snow::TransportState,
}

impl Channel {
    pub fn new(state: snow::HandshakeState) -> Result<Self, LinkError> {
        let transport =
            state.into_transport_mode().map_err(|_| LinkError::Handshake("the handshake did not finish"))?;
        Ok(Self { transport })
    }

    pub fn seal(&mut self, frame: &Frame) -> Result<Vec<u8>, LinkError> {
        self.seal_plaintext(&frame.encode())
    }

    pub fn seal_plaintext(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, LinkError> {
        if plaintext.len() + TAG > MAX_MESSAGE {
            return Err(LinkError::Protocol("a frame longer than one Noise message".into()));
        }
        let mut out = vec![0; plaintext.len() + TAG];
        let len = self.transport.write_message(plaintext, &mut out).map_err(|_| LinkError::Decrypt)?;
        out.truncate(len);
        Ok(out)
    }

    pub fn open(&mut self, message: &[u8]) -> Result<Frame, LinkError> {
        if message.len() > MAX_MESSAGE || message.len() < TAG {
            return Err(LinkError::Malformed(format!("a channel message of {} bytes", message.len())));
        }
        let mut plaintext = vec![0; message.len()];
        let len = self.transport.read_message(message, &mut plaintext).map_err(|_| LinkError::Decrypt)?;
        plaintext.truncate(len);
        Frame::decode(&plaintext)
    }
}

/// A connection's channel, once its handshake is over, and the messages sealed for the
/// adapter to send (handshake messages first).
#[derive(Default)]
pub(crate) struct Conn {
    channel: Option<Channel>,
    outgoing: std::collections::VecDeque<Vec<u8>>,
    ended: bool,
}

impl Conn {
    pub(crate) fn push_handshake(&mut self, message: Vec<u8>) {
        self.outgoing.push_back(message);
    }

    pub(crate) fn established(&mut self, channel: Channel) {
        self.channel = Some(channel);
    }

    /// Ends the channel: nothing more is sealed or opened. Gives the error back the first
    /// time only, so that a link reports its end once (a failing step may already have taken
    /// the link's state, so the state cannot tell).
    pub(crate) fn end(&mut self, err: LinkError) -> Option<LinkError> {
        self.channel = None;
        (!std::mem::replace(&mut self.ended, true)).then_some(err)
    }

    pub(crate) fn is_ended(&self) -> bool {
        self.ended
    }

    pub(crate) fn send(&mut self, frame: &Frame) -> Result<(), LinkError> {
        let channel = self.channel.as_mut().ok_or_else(|| LinkError::Closed("the link is not open".into()))?;
        let sealed = channel.seal(frame)?;
        self.outgoing.push_back(sealed);
        Ok(())
    }

    #[cfg(feature = "fuzzing")]
    pub(crate) fn send_plaintext(&mut self, plaintext: &[u8]) -> Result<(), LinkError> {
        let channel = self.channel.as_mut().ok_or_else(|| LinkError::Closed("the link is not open".into()))?;
        let sealed = channel.seal_plaintext(plaintext)?;
        self.outgoing.push_back(sealed);
        Ok(())
    }

    pub(crate) fn open(&mut self, message: &[u8]) -> Result<Frame, LinkError> {
        let channel = self.channel.as_mut().ok_or_else(|| LinkError::Closed("the link is not open".into()))?;
        channel.open(message)
    }

    pub(crate) fn take_outgoing(&mut self) -> Option<Vec<u8>> {
        self.outgoing.pop_front()
    }
}

/// Every running connection's prologue starts with this, then the clear hello.
pub const RUN_PROLOGUE: &[u8] = b"lantern agent link v1 run";
/// Every enrolment's prologue starts with this, then the clear hello.
pub const ENROL_PROLOGUE: &[u8] = b"lantern agent link v1 enrol";
