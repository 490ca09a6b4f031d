//! The agent's end of a running connection: it dials, proves who it is with its static key
//! and the association, answers pings, carries the streams the controller opens, and takes
//! part in the association's refresh.

use std::collections::VecDeque;

use crate::association::{AgentAssociations, Association, Psk};
use crate::frame::{Exit, Facts, Frame, OpenKind, OutputChannel, PowerVerb, SensorReading};
use crate::hello::{decode_reply, Hello};
use crate::identity::StaticSecret;
use crate::noise::{self, Channel, Conn};
use crate::streams::Streams;
use crate::LinkError;

/// Who the agent is, as enrolment made it.
#[derive(Debug, Clone)]
pub struct AgentIdentity {
    pub agent_id: String,
    pub secret: StaticSecret,
    /// The controller's X25519 static key, vouched for by its pinned node key at enrolment.
    pub controller_static: [u8; 32],
}

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub handshake_ms: u64,
    pub version: String,
    /// Whether the agent can open the machine's screen (`OpenKind::Screen`).
    pub screen: bool,
}

/// Why the associations are to be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreReason {
    /// A connection succeeded at another generation than the current one.
    Adopted,
    /// A refresh's next generation: the acknowledgement waits for `associations_stored`.
    Staged,
    /// The controller confirmed the next generation.
    Confirmed,
}

/// What the agent's adapter must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentAction {
    Connected {
        epoch: u64,
    },
    Welcome {
        host_id: String,
        name: String,
    },
    /// Write these to the state file (atomically) and call `associations_stored`.
    StoreAssociations {
        associations: AgentAssociations,
        reason: StoreReason,
    },
    Open {
        stream: u32,
        kind: OpenKind,
    },
    /// Bytes for the program on `stream` (call `input_consumed` once it took them).
    Input {
        stream: u32,
        bytes: Vec<u8>,
    },
    Resize {
        stream: u32,
        cols: u16,
        rows: u16,
    },
    Cancel {
        stream: u32,
    },
    Power {
        request: u32,
        verb: PowerVerb,
    },
    /// The connection is over; reconnect (with backoff) unless the reason says not to.
    Closed(LinkError),
}

enum State {
    AwaitingReply(Box<snow::HandshakeState>),
    Open,
    Closed,
}

pub struct AgentLink {
    state: State,
    conn: Conn,
    associations: AgentAssociations,
    hello: Frame,
    started_at: u64,
    handshake_ms: u64,
    last_heard: u64,
    /// Set by the controller's welcome: three of its ping intervals.
    silence_ms: Option<u64>,
    streams: Streams,
    /// The epoch whose acknowledgement waits for the state file.
    staged: Option<u64>,
    actions: VecDeque<AgentAction>,
}

impl AgentLink {
    /// Starts a connection; its first message is the first `take_outgoing`.
    pub fn connect(
        identity: &AgentIdentity,
        associations: AgentAssociations,
        facts: Facts,
        config: &AgentConfig,
        seed: [u8; 32],
        now: u64,
    ) -> Result<Self, LinkError> {
        let hello = Hello::Run { agent_id: identity.agent_id.clone(), epochs: associations.offered() }.encode();
        let mut prologue = noise::RUN_PROLOGUE.to_vec();
        prologue.extend_from_slice(&hello);
        let mut state = noise::builder(noise::RUN_PATTERN, seed)?
            .local_private_key(identity.secret.as_bytes())
            .and_then(|b| b.remote_public_key(&identity.controller_static))
            .and_then(|b| b.prologue(&prologue))
            .and_then(|b| b.build_initiator())
            .map_err(|_| LinkError::Handshake("cannot start the handshake"))?;
        let first = noise::write_handshake(&mut state, &[])?;
        let mut conn = Conn::default();
        conn.push_handshake([hello, first].concat());
        Ok(Self {
            state: State::AwaitingReply(Box::new(state)),
            conn,
            associations,
            hello: Frame::Hello { version: config.version.clone(), facts, screen: config.screen },
            started_at: now,
            handshake_ms: config.handshake_ms,
            last_heard: now,
            silence_ms: None,
            streams: Streams::default(),
            staged: None,
            actions: VecDeque::new(),
        })
    }

    pub fn handle_message(&mut self, message: &[u8], now: u64) {
        if let Err(err) = self.handle(message, now) {
            self.close(err);
        }
    }

    fn handle(&mut self, message: &[u8], now: u64) -> Result<(), LinkError> {
        self.last_heard = now;
        match std::mem::replace(&mut self.state, State::Closed) {
            State::AwaitingReply(mut handshake) => {
                let (epoch, reply) = decode_reply(message)?;
                let psk = self.associations.get(epoch).map(|a| a.psk.clone()).ok_or_else(|| {
                    LinkError::Protocol(format!(
                        "the controller chose association epoch {epoch}, which this agent does not hold"
                    ))
                })?;
                handshake.set_psk(2, psk.as_bytes()).map_err(|_| LinkError::Handshake("cannot use the association"))?;
                noise::read_handshake(
                    &mut handshake,
                    reply,
                    "the controller's answer did not match this agent's keys and association",
                )?;
                self.conn.established(Channel::new(*handshake)?);
                self.state = State::Open;
                self.actions.push_back(AgentAction::Connected { epoch });
                if self.associations.adopt(epoch) {
                    self.store(StoreReason::Adopted);
                }
                let hello = self.hello.clone();
                self.conn.send(&hello)
            }
            State::Open => {
                self.state = State::Open;
                let frame = self.conn.open(message)?;
                self.frame(frame)
            }
            State::Closed => Ok(()),
        }
    }

    fn frame(&mut self, frame: Frame) -> Result<(), LinkError> {
        match frame {
            Frame::Welcome { ping_every_ms, host_id, name } => {
                self.silence_ms = Some(ping_every_ms.clamp(100, 3_600_000) * 3);
                self.actions.push_back(AgentAction::Welcome { host_id, name });
            }
            Frame::Ping(nonce) => self.conn.send(&Frame::Pong(nonce))?,
            Frame::Open { stream, kind } => {
                self.streams.open(stream)?;
                self.actions.push_back(AgentAction::Open { stream, kind });
            }
            Frame::Data { stream, channel: None, bytes } => {
                if !self.streams.closed_before(stream)? {
                    self.streams.received(stream, bytes.len())?;
                    self.actions.push_back(AgentAction::Input { stream, bytes });
                }
            }
            Frame::Credit { stream, bytes } => {
                if !self.streams.closed_before(stream)? {
                    self.streams.credit(stream, bytes)?;
                }
            }
            Frame::Resize { stream, cols, rows } => {
                if !self.streams.closed_before(stream)? {
                    self.actions.push_back(AgentAction::Resize { stream, cols, rows });
                }
            }
            Frame::Cancel { stream } => {
                if !self.streams.closed_before(stream)? {
                    self.actions.push_back(AgentAction::Cancel { stream });
                }
            }
            Frame::Power { request, verb } => self.actions.push_back(AgentAction::Power { request, verb }),
            Frame::Ready { epoch, psk } => {
                // A second offer replaces a first whose acknowledgement never went (the store
                // failed, and the controller gave up on it).
                if epoch <= self.associations.current.epoch {
                    return Err(LinkError::Protocol(format!("a refresh to epoch {epoch} out of turn")));
                }
                self.associations.stage(Association { epoch, psk: Psk::from_bytes(psk) });
                self.staged = Some(epoch);
                self.store(StoreReason::Staged);
            }
            Frame::Confirm { epoch } => {
                if !self.associations.confirm(epoch) {
                    return Err(LinkError::Protocol(format!("confirmation of epoch {epoch}, which was not offered")));
                }
                self.store(StoreReason::Confirmed);
            }
            Frame::Goodbye { reason } => {
                return Err(LinkError::Closed(format!("the controller ended the link: {reason}")))
            }
            other => return Err(LinkError::Protocol(format!("the controller sent a {} frame", other.kind()))),
        }
        Ok(())
    }

    fn store(&mut self, reason: StoreReason) {
        self.actions.push_back(AgentAction::StoreAssociations { associations: self.associations.clone(), reason });
    }

    /// The state file holds what the last `StoreAssociations` asked for.
    pub fn associations_stored(&mut self) {
        if let Some(epoch) = self.staged.take() {
            self.try_send(&Frame::Acknowledge { epoch });
        }
    }

    pub fn associations(&self) -> &AgentAssociations {
        &self.associations
    }

    /// Handshake deadline, and the controller's silence (its pings stopped: a half-open link).
    pub fn poll(&mut self, now: u64) {
        match self.state {
            State::AwaitingReply(_) if now >= self.started_at + self.handshake_ms => {
                self.close(LinkError::HandshakeTimeout(self.handshake_ms));
            }
            State::Open => {
                if let Some(silence) = self.silence_ms.filter(|s| now >= self.last_heard + s) {
                    self.close(LinkError::Silent(silence));
                }
            }
            _ => {}
        }
    }

    /// When `poll` has something to check.
    pub fn next_poll(&self) -> Option<u64> {
        match self.state {
            State::AwaitingReply(_) => Some(self.started_at + self.handshake_ms),
            State::Open => self.silence_ms.map(|s| self.last_heard + s),
            State::Closed => None,
        }
    }

    /// How many bytes of output `stream` may send now (its window, at most one frame).
    pub fn room(&self, stream: u32) -> usize {
        if matches!(self.state, State::Open) {
            self.streams.room(stream)
        } else {
            0
        }
    }

    /// Sends as much of `bytes` as the stream's window allows; returns how much.
    pub fn send_output(&mut self, stream: u32, channel: OutputChannel, bytes: &[u8]) -> usize {
        let len = self.room(stream).min(bytes.len());
        if len == 0 {
            return 0;
        }
        self.streams.sent(stream, len);
        let frame =
            Frame::Data { stream, channel: Some(channel), bytes: bytes.get(..len).unwrap_or_default().to_vec() };
        if self.try_send(&frame) {
            len
        } else {
            0
        }
    }

    /// The program on `stream` took `len` bytes of its input.
    pub fn input_consumed(&mut self, stream: u32, len: usize) {
        if let Some(bytes) = self.streams.consumed(stream, len) {
            self.try_send(&Frame::Credit { stream, bytes });
        }
    }

    /// The program on `stream` ended (or never started): the stream closes.
    pub fn exited(&mut self, stream: u32, exit: Exit) {
        if self.streams.close(stream) {
            self.try_send(&Frame::Exit { stream, exit });
        }
    }

    pub fn facts(&mut self, facts: Facts) {
        self.try_send(&Frame::Facts(facts));
    }

    pub fn sensors(&mut self, readings: Vec<SensorReading>) {
        self.try_send(&Frame::Sensors(readings));
    }

    pub fn heartbeat(&mut self) {
        self.try_send(&Frame::Heartbeat);
    }

    pub fn power_done(&mut self, request: u32, error: Option<String>) {
        self.try_send(&Frame::PowerDone { request, error });
    }

    /// Ends the connection, telling the controller why (the agent is stopping).
    pub fn goodbye(&mut self, reason: &str) {
        self.try_send(&Frame::Goodbye { reason: reason.to_string() });
        self.close(LinkError::Closed(reason.to_string()));
    }

    #[cfg(feature = "fuzzing")]
    pub fn send_plaintext(&mut self, plaintext: &[u8]) {
        if let Err(err) = self.conn.send_plaintext(plaintext) {
            self.close(err);
        }
    }

    fn try_send(&mut self, frame: &Frame) -> bool {
        if !matches!(self.state, State::Open) {
            return false;
        }
        match self.conn.send(frame) {
            Ok(()) => true,
            Err(err) => {
                self.close(err);
                false
            }
        }
    }

    fn close(&mut self, err: LinkError) {
        if let Some(err) = self.conn.end(err) {
            self.state = State::Closed;
            self.actions.push_back(AgentAction::Closed(err));
        }
    }

    pub fn is_closed(&self) -> bool {
        self.conn.is_ended()
    }

    pub fn take_outgoing(&mut self) -> Option<Vec<u8>> {
        self.conn.take_outgoing()
    }

    pub fn next_action(&mut self) -> Option<AgentAction> {
        self.actions.pop_front()
    }
}
