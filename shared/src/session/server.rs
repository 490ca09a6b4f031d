//! The controller's side of the console link.

use super::record_layer::{GenerationSecrets, KeyPosition, RecordLayer};
use super::{bind, handshake, rekey_transcript, ControllerIdentity, LinkInfo, SessionError};
use crate::crypto::derive::{confirmation_key, ConfirmationKey, Prover};
use crate::crypto::{CipherSuite, Direction, KeyChain, Pms};
use crate::wire::handshake::KeySchedule;
use crate::wire::message::MAX_SERIAL_INPUT;
use crate::wire::{
    Alert, AlertCode, AppMessage, ClientHello, ControlMessage, HandshakeMessage, KeyId, Message, Nonce, ServerHello,
    PROTOCOL_VERSION,
};

/// What the controller accepts.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Accepted suites, most preferred first. The first the applet also offers wins.
    pub suites: Vec<CipherSuite>,
    pub schedule: KeySchedule,
    /// Signs every handshake: the applet checks it against the key its page was given.
    pub identity: ControllerIdentity,
}

/// Why a key is being claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// The first key of a new link.
    Open,
    /// A fresh key for a link that is already open (it must belong to the same web session,
    /// user and host).
    Rekey,
}

/// What the state machine needs from the controller around it.
pub trait ServerEnv {
    /// Takes a key out of the key store (single use). Errors are sent to the applet as is.
    fn claim_key(&mut self, key_id: &KeyId, purpose: KeyPurpose) -> Result<Pms, Alert>;
    /// 32 fresh random bytes.
    fn nonce(&mut self) -> Nonce;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// The applet proved it holds the key: start sending video.
    Established {
        key_id: KeyId,
        info: LinkInfo,
    },
    Message(AppMessage),
    /// The link now runs on a fresh PMS.
    RekeyComplete {
        generation: u16,
    },
    /// A fresh key was refused; the link keeps its current keys.
    RekeyRefused(Alert),
    /// The applet closed the link.
    PeerClosed(Alert),
}

enum State {
    AwaitClientHello,
    AwaitClientFinished {
        key_id: KeyId,
        secrets: GenerationSecrets,
        info: LinkInfo,
        transcript: Vec<u8>,
        confirm: ConfirmationKey,
    },
    Established(Box<Established>),
    Closed,
}

struct Established {
    layer: RecordLayer,
    info: LinkInfo,
    binding: [u8; 20],
    generation_started_ms: u64,
    rekey: Option<PendingRekey>,
}

struct PendingRekey {
    secrets: GenerationSecrets,
    confirm: ConfirmationKey,
    transcript: Vec<u8>,
}

pub struct ServerSession {
    config: ServerConfig,
    state: State,
    outgoing: Vec<Vec<u8>>,
}

impl ServerSession {
    pub fn new(config: ServerConfig) -> Self {
        Self { config, state: State::AwaitClientHello, outgoing: Vec::new() }
    }

    pub fn take_outgoing(&mut self) -> Vec<Vec<u8>> {
        core::mem::take(&mut self.outgoing)
    }

    pub fn is_established(&self) -> bool {
        matches!(self.state, State::Established(_))
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    pub fn tx_position(&self) -> Option<KeyPosition> {
        match &self.state {
            State::Established(e) => Some(e.layer.tx_position()),
            _ => None,
        }
    }

    pub fn send(&mut self, message: AppMessage, now_ms: u64) -> Result<(), SessionError> {
        let record = self.established_mut()?.layer.seal(&message.into(), now_ms)?;
        self.outgoing.push(record);
        Ok(())
    }

    /// Seals a video update encoded once for all viewers of a host.
    pub fn send_video(&mut self, payload: &[u8], now_ms: u64) -> Result<(), SessionError> {
        let record = self.established_mut()?.layer.seal_video(payload, now_ms)?;
        self.outgoing.push(record);
        Ok(())
    }

    /// Enforces the key life; call it periodically. An error is final, like in `handle_record`.
    pub fn poll(&mut self, now_ms: u64) -> Result<(), SessionError> {
        if let State::Established(e) = &self.state {
            if now_ms.saturating_sub(e.generation_started_ms) > u64::from(e.info.schedule.key_life_millis) {
                let err = SessionError::KeyLifeExpired;
                self.fail(&err, now_ms);
                return Err(err);
            }
        }
        Ok(())
    }

    /// Closes with an alert (for example when the host goes away).
    pub fn close(&mut self, alert: Alert, now_ms: u64) {
        if self.is_closed() {
            return;
        }
        self.fail(&SessionError::Refused(alert), now_ms);
    }

    /// Feeds one received record (opened in its own buffer). An error is final: the session is closed and the alert for
    /// the applet is queued.
    pub fn handle_record(
        &mut self,
        record: Vec<u8>,
        now_ms: u64,
        env: &mut dyn ServerEnv,
    ) -> Result<Vec<ServerEvent>, SessionError> {
        if self.is_closed() {
            return Err(SessionError::Closed);
        }
        let result = self.poll(now_ms).and_then(|()| self.step(record, now_ms, env));
        if let Err(err) = &result {
            self.fail(err, now_ms);
        }
        result
    }

    fn established_mut(&mut self) -> Result<&mut Established, SessionError> {
        match &mut self.state {
            State::Established(e) => Ok(e),
            _ => Err(SessionError::Closed),
        }
    }

    fn fail(&mut self, err: &SessionError, now_ms: u64) {
        if let Some(alert) = err.alert() {
            match &mut self.state {
                State::Established(e) => {
                    if let Ok(r) = e.layer.seal(&Message::Control(ControlMessage::Alert(alert)), now_ms) {
                        self.outgoing.push(r);
                    }
                }
                // Before key confirmation (the handshake states were moved out by `step`).
                _ => self.outgoing.push(HandshakeMessage::Alert(alert).encode()),
            }
        }
        self.state = State::Closed;
    }

    fn step(
        &mut self,
        record: Vec<u8>,
        now_ms: u64,
        env: &mut dyn ServerEnv,
    ) -> Result<Vec<ServerEvent>, SessionError> {
        match core::mem::replace(&mut self.state, State::Closed) {
            State::AwaitClientHello => {
                let hello = match handshake(&record)? {
                    HandshakeMessage::ClientHello(h) => h,
                    _ => return Err(SessionError::Unexpected("expected ClientHello")),
                };
                self.on_client_hello(hello, &record, env)?;
                Ok(Vec::new())
            }
            State::AwaitClientFinished { key_id, secrets, info, transcript, confirm } => {
                let proof = match handshake(&record)? {
                    HandshakeMessage::Finished(p) => p,
                    HandshakeMessage::Alert(a) => return Err(SessionError::PeerClosed(a)),
                    _ => return Err(SessionError::Unexpected("expected Finished")),
                };
                if !confirm.verify(Prover::Client, &transcript, &proof) {
                    return Err(SessionError::ConfirmationFailed);
                }
                let layer = RecordLayer::new(secrets, Direction::ServerToClient, info.schedule, now_ms);
                self.state = State::Established(Box::new(Established {
                    layer,
                    info,
                    binding: bind(&[&transcript]),
                    generation_started_ms: now_ms,
                    rekey: None,
                }));
                Ok(vec![ServerEvent::Established { key_id, info }])
            }
            State::Established(mut e) => {
                let events = self.established(&mut e, record, now_ms, env);
                self.state = State::Established(e);
                events
            }
            State::Closed => Err(SessionError::Closed),
        }
    }

    fn on_client_hello(
        &mut self,
        hello: ClientHello,
        record: &[u8],
        env: &mut dyn ServerEnv,
    ) -> Result<(), SessionError> {
        if hello.version != PROTOCOL_VERSION {
            return Err(SessionError::Refused(Alert::new(AlertCode::UnsupportedVersion)));
        }
        let suite = self
            .config
            .suites
            .iter()
            .copied()
            .find(|s| hello.suites.contains(s))
            .ok_or_else(|| SessionError::Refused(Alert::new(AlertCode::NoCommonSuite)))?;
        let pms = env.claim_key(&hello.key_id, KeyPurpose::Open).map_err(SessionError::Refused)?;
        let server_nonce = env.nonce();
        let server_hello = HandshakeMessage::ServerHello(ServerHello {
            version: PROTOCOL_VERSION,
            suite,
            server_nonce,
            schedule: self.config.schedule,
        })
        .encode();
        let secrets = GenerationSecrets { pms, suite, generation: 0, client_nonce: hello.client_nonce, server_nonce };
        let confirm = confirmation_key(KeyChain::new(secrets.pms.clone()).key(), &secrets.binding());
        let mut transcript = record.to_vec();
        transcript.extend_from_slice(&server_hello);
        let identity = HandshakeMessage::Identity {
            public_key: self.config.identity.public_key(),
            signature: self.config.identity.sign(&transcript),
        }
        .encode();
        transcript.extend_from_slice(&identity);
        self.outgoing.push(server_hello);
        self.outgoing.push(identity);
        self.outgoing.push(HandshakeMessage::Finished(confirm.proof(Prover::Server, &transcript)).encode());
        let info = LinkInfo { suite, schedule: self.config.schedule };
        self.state = State::AwaitClientFinished { key_id: hello.key_id, secrets, info, transcript, confirm };
        Ok(())
    }

    fn established(
        &mut self,
        e: &mut Established,
        record: Vec<u8>,
        now_ms: u64,
        env: &mut dyn ServerEnv,
    ) -> Result<Vec<ServerEvent>, SessionError> {
        let (message, _) = e.layer.open(record, now_ms)?;
        let control = match message.into_app() {
            // Serial input goes to a port that takes a few bytes at a time: a larger message is
            // not typing, and queueing it would let a viewer make the controller hold any amount.
            Ok(AppMessage::Serial(bytes)) if bytes.len() > MAX_SERIAL_INPUT => {
                return Err(SessionError::Unexpected("serial input message larger than 4 KiB"))
            }
            Ok(app) => return Ok(vec![ServerEvent::Message(app)]),
            Err(control) => control,
        };
        match control {
            ControlMessage::Chaff => Ok(vec![]),
            ControlMessage::Alert(alert) if alert.code == AlertCode::Closed => Ok(vec![ServerEvent::PeerClosed(alert)]),
            ControlMessage::Alert(alert) => Err(SessionError::PeerClosed(alert)),
            ControlMessage::RekeyReady { key_id, client_nonce } => {
                if e.rekey.is_some() {
                    return Err(SessionError::Unexpected("RekeyReady while a key switch is under way"));
                }
                let pms = match env.claim_key(&key_id, KeyPurpose::Rekey) {
                    Ok(pms) => pms,
                    Err(alert) => {
                        let refused =
                            e.layer.seal(&Message::Control(ControlMessage::RekeyRefused(alert.clone())), now_ms)?;
                        self.outgoing.push(refused);
                        return Ok(vec![ServerEvent::RekeyRefused(alert)]);
                    }
                };
                let server_nonce = env.nonce();
                let generation = e.layer.tx_position().generation.wrapping_add(1);
                let secrets = GenerationSecrets { pms, suite: e.info.suite, generation, client_nonce, server_nonce };
                let confirm = confirmation_key(KeyChain::new(secrets.pms.clone()).key(), &secrets.binding());
                let transcript = rekey_transcript(&e.binding, generation, &key_id.0, &client_nonce, &server_nonce);
                let proof = confirm.proof(Prover::Server, &transcript);
                let ack = e.layer.seal(&Message::Control(ControlMessage::RekeyAck { server_nonce, proof }), now_ms)?;
                self.outgoing.push(ack);
                e.rekey = Some(PendingRekey { secrets, confirm, transcript });
                Ok(Vec::new())
            }
            ControlMessage::RekeyConfirm { proof } => {
                let pending = e.rekey.take().ok_or(SessionError::Unexpected("RekeyConfirm without RekeyReady"))?;
                if !pending.confirm.verify(Prover::Client, &pending.transcript, &proof) {
                    return Err(SessionError::ConfirmationFailed);
                }
                let generation = pending.secrets.generation;
                e.layer.switch_rx(pending.secrets.clone(), now_ms);
                e.layer.switch_tx(pending.secrets, now_ms);
                e.binding = bind(&[&pending.transcript]);
                e.generation_started_ms = now_ms;
                Ok(vec![ServerEvent::RekeyComplete { generation }])
            }
            ControlMessage::RekeyAbort => {
                e.rekey = None;
                Ok(vec![ServerEvent::RekeyRefused(Alert::with_message(
                    AlertCode::KeyConfirmationFailed,
                    "applet aborted the key switch",
                ))])
            }
            _ => Err(SessionError::Unexpected("controller-only control message from the applet")),
        }
    }
}
