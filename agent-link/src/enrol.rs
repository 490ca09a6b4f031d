//! Enrolment: a new agent, holding a single-use token and the controller's pin, meets the
//! controller once and leaves with the association.
//!
//! Noise `XXpsk3`: the controller sends its static key with a `NodeProof` (its node key's
//! signature), which the agent checks against the pin before it sends anything of its own;
//! the agent's last message mixes in a key derived from the token's secret, so only the
//! token's holder completes it. The controller then names the host and gives the first
//! generation of the association; the agent stores it and says so.

use base64::Engine;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::association::{Association, Psk};
use crate::frame::Frame;
use crate::hello::Hello;
use crate::identity::{NodeProof, Pin, StaticSecret};
use crate::noise::{self, Channel, Conn};
use crate::LinkError;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const TOKEN_ID_LEN: usize = 12;

/// An enrolment token, written `<id>.<secret>` (both base64url). The controller keeps the id
/// and `psk()`, never the secret itself.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct EnrolToken {
    id: String,
    secret: [u8; 32],
}

impl EnrolToken {
    /// A new token from random bytes the caller drew.
    pub fn from_random(random: [u8; TOKEN_ID_LEN + 32]) -> Self {
        let (id, secret) = random.split_at(TOKEN_ID_LEN);
        let mut token = Self { id: B64.encode(id), secret: [0; 32] };
        token.secret.copy_from_slice(secret);
        token
    }

    pub fn parse(text: &str) -> Result<Self, LinkError> {
        let malformed = || LinkError::Malformed("an enrolment token is <id>.<secret>".into());
        let (id, secret) = text.trim().split_once('.').ok_or_else(malformed)?;
        let id_bytes = B64.decode(id).map_err(|_| malformed())?;
        let secret = B64.decode(secret).map_err(|_| malformed())?;
        if id_bytes.len() != TOKEN_ID_LEN {
            return Err(malformed());
        }
        Ok(Self { id: id.to_string(), secret: secret.try_into().map_err(|_| malformed())? })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The handshake's pre-shared key: what the controller stores for the token.
    pub fn psk(&self) -> [u8; 32] {
        Sha256::new().chain_update(b"lantern enrolment token").chain_update(self.secret).finalize().into()
    }

    /// The whole token, to show once to the administrator who made it.
    pub fn reveal(&self) -> String {
        format!("{}.{}", self.id, B64.encode(self.secret))
    }
}

impl core::fmt::Debug for EnrolToken {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "EnrolToken({}.<redacted>)", self.id)
    }
}

/// What enrolment gives the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    pub agent_id: String,
    pub host_id: String,
    pub name: String,
    pub controller_static: [u8; 32],
    pub association: Association,
}

enum AgentState {
    AwaitingKey(Box<snow::HandshakeState>),
    AwaitingEnrolled { controller_static: [u8; 32] },
    Done,
}

/// The agent's end of an enrolment.
pub struct AgentEnrolment {
    state: AgentState,
    conn: Conn,
    pin: Pin,
}

impl AgentEnrolment {
    pub fn start(token: &EnrolToken, pin: Pin, secret: &StaticSecret, seed: [u8; 32]) -> Result<Self, LinkError> {
        let hello = Hello::Enrol { token_id: token.id.clone() }.encode();
        let prologue = [noise::ENROL_PROLOGUE, hello.as_slice()].concat();
        let psk = token.psk();
        let mut state = noise::builder(noise::ENROL_PATTERN, seed)?
            .local_private_key(secret.as_bytes())
            .and_then(|b| b.prologue(&prologue))
            .and_then(|b| b.psk(3, &psk))
            .and_then(|b| b.build_initiator())
            .map_err(|_| LinkError::Handshake("cannot start the enrolment"))?;
        let first = noise::write_handshake(&mut state, &[])?;
        let mut conn = Conn::default();
        conn.push_handshake([hello, first].concat());
        Ok(Self { state: AgentState::AwaitingKey(Box::new(state)), conn, pin })
    }

    /// Takes the controller's next message. Returns what enrolment gave once it is over; the
    /// caller stores it, then calls `stored` and sends the last message.
    pub fn handle_message(&mut self, message: &[u8]) -> Result<Option<Enrolled>, LinkError> {
        match std::mem::replace(&mut self.state, AgentState::Done) {
            AgentState::AwaitingKey(mut handshake) => {
                let proof =
                    noise::read_handshake(&mut handshake, message, "the controller's enrolment answer is invalid")?;
                let controller_static: [u8; 32] = handshake
                    .get_remote_static()
                    .and_then(|key| key.try_into().ok())
                    .ok_or(LinkError::Handshake("the controller sent no static key"))?;
                let proof = NodeProof::from_bytes(&proof).map_err(|err| LinkError::Closed(err.to_string()))?;
                proof.verify(&self.pin, &controller_static).map_err(|err| LinkError::Closed(err.to_string()))?;
                let last = noise::write_handshake(&mut handshake, &[])?;
                self.conn.push_handshake(last);
                self.conn.established(Channel::new(*handshake)?);
                self.state = AgentState::AwaitingEnrolled { controller_static };
                Ok(None)
            }
            AgentState::AwaitingEnrolled { controller_static } => match self.conn.open(message)? {
                Frame::Enrolled { agent_id, host_id, name, epoch, psk } => Ok(Some(Enrolled {
                    agent_id,
                    host_id,
                    name,
                    controller_static,
                    association: Association { epoch, psk: Psk::from_bytes(psk) },
                })),
                Frame::Goodbye { reason } => {
                    Err(LinkError::Closed(format!("the controller refused the enrolment: {reason}")))
                }
                other => Err(LinkError::Protocol(format!("the controller sent a {} frame", other.kind()))),
            },
            AgentState::Done => Err(LinkError::Protocol("a message after the enrolment ended".into())),
        }
    }

    /// The state file holds the enrolment: the controller is told.
    pub fn stored(&mut self) -> Result<(), LinkError> {
        self.conn.send(&Frame::Stored)
    }

    pub fn take_outgoing(&mut self) -> Option<Vec<u8>> {
        self.conn.take_outgoing()
    }
}

enum ControllerState {
    AwaitingToken { prologue: Vec<u8>, first: Vec<u8> },
    AwaitingKey(Box<snow::HandshakeState>),
    AwaitingAgentRecord,
    AwaitingStored,
    Done,
}

/// The controller's end of an enrolment.
pub struct ControllerEnrolment {
    state: ControllerState,
    conn: Conn,
}

/// What the controller's adapter must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnrolStep {
    /// The handshake is answered; wait for the agent's next message.
    Continue,
    /// The token's holder proved itself with this static key: consume the token, make the
    /// agent's record, and call `enrolled`.
    Admit { agent_public: [u8; 32] },
    /// The agent stored its association: enrolment is over.
    Done,
}

impl ControllerEnrolment {
    /// An enrolment's first message: returns it and the token id to look up.
    pub fn accept(first: &[u8]) -> Result<(Self, String), LinkError> {
        let (hello, prologue, noise) = Hello::decode(first)?;
        let Hello::Enrol { token_id } = hello else {
            return Err(LinkError::Protocol("a running agent on the enrolment path".into()));
        };
        let prologue = [noise::ENROL_PROLOGUE, prologue].concat();
        let state = ControllerState::AwaitingToken { prologue, first: noise.to_vec() };
        Ok((Self { state, conn: Conn::default() }, token_id))
    }

    /// The token is valid (unused, unexpired): `psk` is what the store keeps for it.
    pub fn token_found(
        &mut self,
        psk: &[u8; 32],
        secret: &StaticSecret,
        proof: &NodeProof,
        seed: [u8; 32],
    ) -> Result<(), LinkError> {
        let ControllerState::AwaitingToken { prologue, first } =
            std::mem::replace(&mut self.state, ControllerState::Done)
        else {
            return Err(LinkError::Protocol("the token was looked up twice".into()));
        };
        let mut handshake = noise::builder(noise::ENROL_PATTERN, seed)?
            .local_private_key(secret.as_bytes())
            .and_then(|b| b.prologue(&prologue))
            .and_then(|b| b.psk(3, psk))
            .and_then(|b| b.build_responder())
            .map_err(|_| LinkError::Handshake("cannot start the enrolment"))?;
        noise::read_handshake(&mut handshake, &first, "the agent's enrolment is invalid")?;
        let answer = noise::write_handshake(&mut handshake, &proof.to_bytes())?;
        self.conn.push_handshake(answer);
        self.state = ControllerState::AwaitingKey(Box::new(handshake));
        Ok(())
    }

    pub fn handle_message(&mut self, message: &[u8]) -> Result<EnrolStep, LinkError> {
        match std::mem::replace(&mut self.state, ControllerState::Done) {
            ControllerState::AwaitingKey(mut handshake) => {
                noise::read_handshake(&mut handshake, message, "the enrolment token's secret is wrong")?;
                let agent_public: [u8; 32] = handshake
                    .get_remote_static()
                    .and_then(|key| key.try_into().ok())
                    .ok_or(LinkError::Handshake("the agent sent no static key"))?;
                self.conn.established(Channel::new(*handshake)?);
                self.state = ControllerState::AwaitingAgentRecord;
                Ok(EnrolStep::Admit { agent_public })
            }
            ControllerState::AwaitingStored => match self.conn.open(message)? {
                Frame::Stored => Ok(EnrolStep::Done),
                other => Err(LinkError::Protocol(format!("the agent sent a {} frame", other.kind()))),
            },
            _ => Err(LinkError::Protocol("a message out of turn in the enrolment".into())),
        }
    }

    /// The agent's record is made: it is told who it is.
    pub fn enrolled(
        &mut self,
        agent_id: &str,
        host_id: &str,
        name: &str,
        first: &Association,
    ) -> Result<(), LinkError> {
        if !matches!(self.state, ControllerState::AwaitingAgentRecord) {
            return Err(LinkError::Protocol("enrolled out of turn".into()));
        }
        self.conn.send(&Frame::Enrolled {
            agent_id: agent_id.to_string(),
            host_id: host_id.to_string(),
            name: name.to_string(),
            epoch: first.epoch,
            psk: *first.psk.as_bytes(),
        })?;
        self.state = ControllerState::AwaitingStored;
        Ok(())
    }

    /// Refuses the enrolment after the handshake (the token was consumed meanwhile).
    pub fn refuse(&mut self, reason: &str) {
        let _ = self.conn.send(&Frame::Goodbye { reason: reason.to_string() });
        self.state = ControllerState::Done;
    }

    pub fn take_outgoing(&mut self) -> Option<Vec<u8>> {
        self.conn.take_outgoing()
    }
}
