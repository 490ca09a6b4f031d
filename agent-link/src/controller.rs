//! The controller's end of a running agent's connection: it learns from the clear hello who
//! calls, picks the association generation both hold, answers the handshake, then pings,
//! opens streams (directives, the console), and refreshes the association on a schedule.

use std::collections::VecDeque;

use crate::association::{Association, ControllerAssociations, Psk};
use crate::frame::{Exit, Facts, Frame, OpenKind, OutputChannel, PowerVerb, SensorReading};
use crate::hello::{encode_reply, Hello};
use crate::identity::StaticSecret;
use crate::noise::{self, Channel, Conn, SeededRandom};
use crate::streams::Streams;
use crate::LinkError;

#[derive(Debug, Clone)]
pub struct ControllerConfig {
    pub handshake_ms: u64,
    /// How often the agent is pinged, and how long its answer may take.
    pub ping_every_ms: u64,
    pub ping_timeout_ms: u64,
    /// How often the association is refreshed, and how long a refresh may take.
    pub refresh_every_ms: u64,
    pub refresh_timeout_ms: u64,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            handshake_ms: 10_000,
            ping_every_ms: 15_000,
            ping_timeout_ms: 10_000,
            refresh_every_ms: 24 * 3_600_000,
            refresh_timeout_ms: 30_000,
        }
    }
}

/// What the controller's store holds of the agent that called.
#[derive(Debug, Clone)]
pub struct KnownAgent {
    pub agent_public: [u8; 32],
    pub associations: ControllerAssociations,
    pub host_id: String,
    pub name: String,
}

/// A step of a refresh, for the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshStep {
    /// The next generation was offered.
    Ready { epoch: u64 },
    /// The agent acknowledged; `CommitAssociations` stores it.
    Acknowledged { epoch: u64 },
    /// The confirmation was sent: the refresh is over.
    Confirmed { epoch: u64 },
    /// No acknowledgement in time: both ends go on with the current generation.
    Abandoned { epoch: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControllerAction {
    /// The agent proved who it is and said hello.
    Connected {
        epoch: u64,
        version: String,
        facts: Facts,
        /// The agent can open the machine's screen.
        screen: bool,
    },
    Facts(Facts),
    /// Output of a stream (call `output_consumed` once it is taken).
    Output {
        stream: u32,
        channel: OutputChannel,
        bytes: Vec<u8>,
    },
    Exited {
        stream: u32,
        exit: Exit,
    },
    Sensors(Vec<SensorReading>),
    Heartbeat,
    PowerDone {
        request: u32,
        error: Option<String>,
    },
    /// Store these (the agent acknowledged a refresh), then call `associations_committed`.
    CommitAssociations(ControllerAssociations),
    Refresh(RefreshStep),
    Closed(LinkError),
}

enum State {
    /// Waiting for the adapter to look the agent up.
    AwaitingAgent {
        prologue: Vec<u8>,
        noise: Vec<u8>,
        epochs: Vec<u64>,
    },
    /// The handshake is answered; the agent's hello comes next.
    AwaitingHello,
    Open,
    Closed,
}

struct Refresh {
    next: Association,
    deadline: u64,
    acknowledged: bool,
}

pub struct ControllerLink {
    state: State,
    config: ControllerConfig,
    conn: Conn,
    agent: Option<KnownAgent>,
    epoch: u64,
    started_at: u64,
    next_ping: u64,
    ping: Option<(u64, u64)>,
    ping_nonce: u64,
    refresh_at: u64,
    refresh: Option<Refresh>,
    random: Option<SeededRandom>,
    streams: Streams,
    next_request: u32,
    /// The agent said it can open the machine's screen.
    screen: bool,
    actions: VecDeque<ControllerAction>,
}

impl ControllerLink {
    /// A new connection's first message: returns the link and the agent id to look up.
    pub fn accept(first: &[u8], config: ControllerConfig, now: u64) -> Result<(Self, String), LinkError> {
        let (hello, prologue, noise) = Hello::decode(first)?;
        let Hello::Run { agent_id, epochs } = hello else {
            return Err(LinkError::Protocol("an enrolment on the running agents' path".into()));
        };
        let mut full_prologue = noise::RUN_PROLOGUE.to_vec();
        full_prologue.extend_from_slice(prologue);
        let link = Self {
            state: State::AwaitingAgent { prologue: full_prologue, noise: noise.to_vec(), epochs },
            conn: Conn::default(),
            agent: None,
            epoch: 0,
            started_at: now,
            next_ping: u64::MAX,
            ping: None,
            ping_nonce: 0,
            refresh_at: u64::MAX,
            refresh: None,
            random: None,
            streams: Streams::default(),
            next_request: 1,
            screen: false,
            actions: VecDeque::new(),
            config,
        };
        Ok((link, agent_id))
    }

    /// The store's record of the agent: reads its handshake and answers it.
    pub fn agent_found(&mut self, secret: &StaticSecret, agent: KnownAgent, seed: [u8; 32], now: u64) {
        if let Err(err) = self.answer(secret, agent, seed, now) {
            self.close(err);
        }
    }

    fn answer(&mut self, secret: &StaticSecret, agent: KnownAgent, seed: [u8; 32], now: u64) -> Result<(), LinkError> {
        let State::AwaitingAgent { prologue, noise: first, epochs } = std::mem::replace(&mut self.state, State::Closed)
        else {
            return Err(LinkError::Protocol("the agent was looked up twice".into()));
        };
        let chosen = agent.associations.choose(&epochs).cloned().ok_or(LinkError::Handshake(
            "the agent holds no association generation this controller knows (re-enrol it)",
        ))?;
        let mut handshake = noise::builder(noise::RUN_PATTERN, seed)?
            .local_private_key(secret.as_bytes())
            .and_then(|b| b.remote_public_key(&agent.agent_public))
            .and_then(|b| b.prologue(&prologue))
            .and_then(|b| b.psk(2, chosen.psk.as_bytes()))
            .and_then(|b| b.build_responder())
            .map_err(|_| LinkError::Handshake("cannot start the handshake"))?;
        noise::read_handshake(&mut handshake, &first, "the agent's keys do not match its enrolment")?;
        let reply = noise::write_handshake(&mut handshake, &[])?;
        self.conn.push_handshake(encode_reply(chosen.epoch, &reply));
        self.conn.established(Channel::new(handshake)?);
        // A connection on the previous generation: the agent missed a refresh's end; make a
        // new one at once rather than leave it on the older key for a whole period.
        let behind = chosen.epoch != agent.associations.current.epoch;
        self.refresh_at = if behind { now } else { now + self.config.refresh_every_ms };
        self.epoch = chosen.epoch;
        self.agent = Some(agent);
        self.random = Some(SeededRandom::new(seed, 1));
        self.state = State::AwaitingHello;
        self.last_heard(now);
        Ok(())
    }

    /// No such agent, or it was revoked: the connection ends without an answer.
    pub fn refuse(&mut self, reason: &'static str) {
        self.close(LinkError::Handshake(reason));
    }

    pub fn handle_message(&mut self, message: &[u8], now: u64) {
        if let Err(err) = self.handle(message, now) {
            self.close(err);
        }
    }

    fn handle(&mut self, message: &[u8], now: u64) -> Result<(), LinkError> {
        match self.state {
            State::AwaitingAgent { .. } => {
                Err(LinkError::Protocol("a second message before the handshake's answer".into()))
            }
            State::Closed => Ok(()),
            State::AwaitingHello => match self.conn.open(message)? {
                Frame::Hello { version, facts, screen } => {
                    self.state = State::Open;
                    self.screen = screen;
                    self.last_heard(now);
                    let (host_id, name) =
                        self.agent.as_ref().map(|a| (a.host_id.clone(), a.name.clone())).unwrap_or_default();
                    self.conn.send(&Frame::Welcome { ping_every_ms: self.config.ping_every_ms, host_id, name })?;
                    self.actions.push_back(ControllerAction::Connected { epoch: self.epoch, version, facts, screen });
                    Ok(())
                }
                other => Err(LinkError::Protocol(format!("the agent began with a {} frame", other.kind()))),
            },
            State::Open => {
                let frame = self.conn.open(message)?;
                self.last_heard(now);
                self.frame(frame)
            }
        }
    }

    fn last_heard(&mut self, now: u64) {
        // Any frame shows the agent alive, so an outstanding ping is answered. Pings still go
        // out every interval however busy the agent is: they are what tells the agent, which
        // may send all the time and hear nothing else, that the controller is there.
        self.ping = None;
        if self.next_ping == u64::MAX {
            self.next_ping = now + self.config.ping_every_ms;
        }
    }

    fn frame(&mut self, frame: Frame) -> Result<(), LinkError> {
        match frame {
            Frame::Facts(facts) => self.actions.push_back(ControllerAction::Facts(facts)),
            Frame::Pong(_) => {}
            Frame::Data { stream, channel: Some(channel), bytes } => {
                if !self.streams.closed_before(stream)? {
                    self.streams.received(stream, bytes.len())?;
                    self.actions.push_back(ControllerAction::Output { stream, channel, bytes });
                }
            }
            Frame::Credit { stream, bytes } => {
                if !self.streams.closed_before(stream)? {
                    self.streams.credit(stream, bytes)?;
                }
            }
            Frame::Exit { stream, exit } => {
                if !self.streams.closed_before(stream)? {
                    self.streams.close(stream);
                    self.actions.push_back(ControllerAction::Exited { stream, exit });
                }
            }
            Frame::Sensors(readings) => self.actions.push_back(ControllerAction::Sensors(readings)),
            Frame::Heartbeat => self.actions.push_back(ControllerAction::Heartbeat),
            Frame::PowerDone { request, error } => {
                self.actions.push_back(ControllerAction::PowerDone { request, error })
            }
            Frame::Acknowledge { epoch } => {
                let Some(refresh) = self.refresh.as_mut().filter(|r| r.next.epoch == epoch && !r.acknowledged) else {
                    return Err(LinkError::Protocol(format!(
                        "an acknowledgement of epoch {epoch}, which was not offered"
                    )));
                };
                refresh.acknowledged = true;
                let next = refresh.next.clone();
                let agent = self.agent.as_mut().ok_or_else(|| LinkError::Protocol("no agent".into()))?;
                agent.associations.commit(next);
                let committed = agent.associations.clone();
                self.actions.push_back(ControllerAction::Refresh(RefreshStep::Acknowledged { epoch }));
                self.actions.push_back(ControllerAction::CommitAssociations(committed));
            }
            Frame::Goodbye { reason } => return Err(LinkError::Closed(format!("the agent ended the link: {reason}"))),
            other => return Err(LinkError::Protocol(format!("the agent sent a {} frame", other.kind()))),
        }
        Ok(())
    }

    /// The store holds what `CommitAssociations` asked for: the agent is told.
    pub fn associations_committed(&mut self, now: u64) {
        let Some(refresh) = self.refresh.take_if(|r| r.acknowledged) else { return };
        let epoch = refresh.next.epoch;
        self.epoch = epoch;
        if self.try_send(&Frame::Confirm { epoch }) {
            self.actions.push_back(ControllerAction::Refresh(RefreshStep::Confirmed { epoch }));
        }
        self.refresh_at = now + self.config.refresh_every_ms;
    }

    pub fn poll(&mut self, now: u64) {
        match self.state {
            State::AwaitingAgent { .. } | State::AwaitingHello if now >= self.started_at + self.config.handshake_ms => {
                self.close(LinkError::HandshakeTimeout(self.config.handshake_ms));
            }
            State::Open => {
                if self.ping.is_some_and(|(_, deadline)| now >= deadline) {
                    self.close(LinkError::Silent(self.config.ping_every_ms + self.config.ping_timeout_ms));
                    return;
                }
                if now >= self.next_ping {
                    self.ping_nonce += 1;
                    self.next_ping = now + self.config.ping_every_ms;
                    if self.ping.is_none() {
                        self.ping = Some((self.ping_nonce, now + self.config.ping_timeout_ms));
                    }
                    self.try_send(&Frame::Ping(self.ping_nonce));
                }
                self.poll_refresh(now);
            }
            _ => {}
        }
    }

    fn poll_refresh(&mut self, now: u64) {
        if let Some(refresh) = self.refresh.as_ref() {
            if !refresh.acknowledged && now >= refresh.deadline {
                let epoch = refresh.next.epoch;
                self.refresh = None;
                self.refresh_at = now + self.config.refresh_every_ms;
                self.actions.push_back(ControllerAction::Refresh(RefreshStep::Abandoned { epoch }));
            }
            return;
        }
        if now < self.refresh_at {
            return;
        }
        let (Some(agent), Some(random)) = (self.agent.as_ref(), self.random.as_mut()) else { return };
        let epoch = agent.associations.current.epoch + 1;
        let psk = random.key();
        self.refresh = Some(Refresh {
            next: Association { epoch, psk: Psk::from_bytes(psk) },
            deadline: now + self.config.refresh_timeout_ms,
            acknowledged: false,
        });
        if self.try_send(&Frame::Ready { epoch, psk }) {
            self.actions.push_back(ControllerAction::Refresh(RefreshStep::Ready { epoch }));
        }
    }

    pub fn next_poll(&self) -> Option<u64> {
        match self.state {
            State::AwaitingAgent { .. } | State::AwaitingHello => Some(self.started_at + self.config.handshake_ms),
            State::Open => {
                let ping = self.ping.map_or(self.next_ping, |(_, deadline)| deadline.min(self.next_ping));
                let refresh = match &self.refresh {
                    Some(r) if !r.acknowledged => r.deadline,
                    Some(_) => u64::MAX,
                    None => self.refresh_at,
                };
                Some(ping.min(refresh))
            }
            State::Closed => None,
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open)
    }

    /// Opens a stream: a directive or the console.
    pub fn open_stream(&mut self, kind: OpenKind) -> Result<u32, LinkError> {
        if !self.is_open() {
            return Err(LinkError::Closed("the agent is not connected".into()));
        }
        if kind == OpenKind::Screen && !self.screen {
            return Err(LinkError::Closed("this agent has no screen configured (its agent.toml sets none)".into()));
        }
        let stream = self.streams.next_id();
        self.streams.open(stream)?;
        if !self.try_send(&Frame::Open { stream, kind }) {
            return Err(LinkError::Closed("the agent's link closed".into()));
        }
        Ok(stream)
    }

    pub fn room(&self, stream: u32) -> usize {
        if self.is_open() {
            self.streams.room(stream)
        } else {
            0
        }
    }

    /// Sends as much of `bytes` to the stream's program as its window allows; returns how much.
    pub fn send_input(&mut self, stream: u32, bytes: &[u8]) -> usize {
        let len = self.room(stream).min(bytes.len());
        if len == 0 {
            return 0;
        }
        self.streams.sent(stream, len);
        let frame = Frame::Data { stream, channel: None, bytes: bytes.get(..len).unwrap_or_default().to_vec() };
        if self.try_send(&frame) {
            len
        } else {
            0
        }
    }

    /// The controller took `len` bytes of the stream's output.
    pub fn output_consumed(&mut self, stream: u32, len: usize) {
        if let Some(bytes) = self.streams.consumed(stream, len) {
            self.try_send(&Frame::Credit { stream, bytes });
        }
    }

    pub fn resize(&mut self, stream: u32, cols: u16, rows: u16) {
        if self.streams.is_open(stream) {
            self.try_send(&Frame::Resize { stream, cols, rows });
        }
    }

    /// Asks the agent to end the stream's program; its `Exited` follows.
    pub fn cancel(&mut self, stream: u32) {
        if self.streams.is_open(stream) {
            self.try_send(&Frame::Cancel { stream });
        }
    }

    /// Asks the machine's power to act; `PowerDone` with this request's number follows.
    pub fn power(&mut self, verb: PowerVerb) -> Result<u32, LinkError> {
        let request = self.next_request;
        self.next_request = self.next_request.wrapping_add(1).max(1);
        if self.try_send(&Frame::Power { request, verb }) {
            Ok(request)
        } else {
            Err(LinkError::Closed("the agent is not connected".into()))
        }
    }

    /// Ends the connection and tells the agent why (revoked, replaced, shutting down).
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
        if !matches!(self.state, State::Open | State::AwaitingHello) {
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
            self.actions.push_back(ControllerAction::Closed(err));
        }
    }

    pub fn is_closed(&self) -> bool {
        self.conn.is_ended()
    }

    /// The association generation this connection runs on.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn take_outgoing(&mut self) -> Option<Vec<u8>> {
        self.conn.take_outgoing()
    }

    pub fn next_action(&mut self) -> Option<ControllerAction> {
        self.actions.pop_front()
    }
}
