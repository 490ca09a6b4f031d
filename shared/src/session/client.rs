//! The applet's side of the console link.

use super::record_layer::{GenerationSecrets, KeyPosition, RecordLayer};
use super::{bind, handshake, identity, rekey_transcript, LinkInfo, SessionError};
use crate::crypto::derive::{confirmation_key, ConfirmationKey, Prover};
use crate::crypto::{CipherSuite, Direction, KeyChain, Pms};
use crate::wire::{
    Alert, AlertCode, AppMessage, ClientHello, ControlMessage, HandshakeMessage, InputEvent, KeyId, Message, Nonce,
    ServerHello, CONTROLLER_KEY_LEN, PROTOCOL_VERSION,
};

/// What the page handed the applet.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub key_id: KeyId,
    pub pms: Pms,
    /// Suites to offer, most preferred first.
    pub suites: Vec<CipherSuite>,
    /// The controller's node key, as the page was given it: the handshake must be signed by it.
    pub controller_key: [u8; CONTROLLER_KEY_LEN],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// Both sides proved they hold the key; video may follow.
    Established(LinkInfo),
    Message(AppMessage),
    /// The in-band switch to a fresh PMS finished in both directions.
    RekeyComplete {
        generation: u16,
    },
    /// The switch failed; the link keeps running on the current keys.
    RekeyFailed(Alert),
}

enum State {
    AwaitServerHello {
        config: ClientConfig,
        nonce: Nonce,
        hello: Vec<u8>,
    },
    AwaitIdentity {
        secrets: GenerationSecrets,
        schedule: LinkInfo,
        transcript: Vec<u8>,
        confirm: ConfirmationKey,
        controller_key: [u8; CONTROLLER_KEY_LEN],
    },
    AwaitServerFinished {
        secrets: GenerationSecrets,
        schedule: LinkInfo,
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
    rekey: Rekey,
}

enum Rekey {
    Idle,
    /// Ready sent; waiting for the controller's acknowledgement.
    AwaitAck {
        key_id: KeyId,
        pms: Pms,
        nonce: Nonce,
    },
    /// Confirm sent and sending switched; waiting for the first record under the new keys.
    AwaitFirstRecord {
        generation: u16,
        binding: [u8; 20],
    },
}

/// Keystroke timing obscured the way OpenSSH 9.5's `ObscureKeystrokeTiming` does: while the
/// user types, keystrokes go out on a fixed tick, one padded record per tick, and a padded
/// chaff record goes out on every tick without one, until `linger_ms` after the last key. An
/// observer sees a steady stream of same-sized records, not when keys were pressed. The first
/// key of a burst goes at once, so typing is no slower to start; later ones wait for their tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeystrokeTiming {
    pub tick_ms: u64,
    pub linger_ms: u64,
}

impl Default for KeystrokeTiming {
    fn default() -> Self {
        // OpenSSH's default interval; about a second of chaff after the last key.
        Self { tick_ms: 20, linger_ms: 1000 }
    }
}

/// A burst of typing under [`KeystrokeTiming`].
struct Typing {
    next_tick: u64,
    until: u64,
}

pub struct ClientSession {
    state: State,
    outgoing: Vec<Vec<u8>>,
    timing: Option<KeystrokeTiming>,
    typing: Option<Typing>,
    /// Keystrokes waiting for their tick, in order.
    waiting: std::collections::VecDeque<Message>,
}

impl ClientSession {
    /// Starts the handshake; the ClientHello is queued at once.
    pub fn new(config: ClientConfig, nonce: Nonce) -> Self {
        let hello = HandshakeMessage::ClientHello(ClientHello {
            version: PROTOCOL_VERSION,
            key_id: config.key_id,
            client_nonce: nonce,
            suites: config.suites.clone(),
        })
        .encode();
        Self {
            outgoing: vec![hello.clone()],
            state: State::AwaitServerHello { config, nonce, hello },
            timing: None,
            typing: None,
            waiting: std::collections::VecDeque::new(),
        }
    }

    /// Obscures keystroke timing from now on (or, with `None`, sends each key at once).
    pub fn set_keystroke_timing(&mut self, timing: Option<KeystrokeTiming>) {
        self.timing = timing;
    }

    /// When [`ClientSession::poll_typing`] is next due, while a burst of typing lasts.
    pub fn typing_tick_in_ms(&self, now_ms: u64) -> Option<u64> {
        self.typing.as_ref().map(|t| t.next_tick.saturating_sub(now_ms))
    }

    /// On the typing tick: sends the next waiting keystroke, or chaff; ends the burst once
    /// nothing waits and the linger time is over. Call it when `typing_tick_in_ms` says.
    pub fn poll_typing(&mut self, now_ms: u64) -> Result<(), SessionError> {
        let (Some(timing), Some(typing)) = (self.timing, self.typing.as_mut()) else { return Ok(()) };
        if now_ms < typing.next_tick {
            return Ok(());
        }
        let message = match self.waiting.pop_front() {
            Some(message) => message,
            None if now_ms < typing.until => Message::Control(ControlMessage::Chaff),
            None => {
                self.typing = None;
                return Ok(());
            }
        };
        // One record per tick, however late the tick came: a late timer must not burst.
        typing.next_tick = (typing.next_tick + timing.tick_ms).max(now_ms + 1);
        self.seal_padded(&message, now_ms)
    }

    fn seal_padded(&mut self, message: &Message, now_ms: u64) -> Result<(), SessionError> {
        let State::Established(e) = &mut self.state else {
            return Err(SessionError::Closed);
        };
        let record = e.layer.seal_padded(message, crate::wire::message::padded_size(message), now_ms)?;
        self.outgoing.push(record);
        Ok(())
    }

    /// Records to send, in order.
    pub fn take_outgoing(&mut self) -> Vec<Vec<u8>> {
        core::mem::take(&mut self.outgoing)
    }

    pub fn is_established(&self) -> bool {
        matches!(self.state, State::Established(_))
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    pub fn link_info(&self) -> Option<LinkInfo> {
        match &self.state {
            State::Established(e) => Some(e.info),
            _ => None,
        }
    }

    /// Key generation and epoch this side is sending under.
    pub fn tx_position(&self) -> Option<KeyPosition> {
        match &self.state {
            State::Established(e) => Some(e.layer.tx_position()),
            _ => None,
        }
    }

    /// Milliseconds until the controller stops accepting the current PMS.
    pub fn key_expires_in_ms(&self, now_ms: u64) -> Option<u64> {
        match &self.state {
            State::Established(e) => {
                let end = e.generation_started_ms + u64::from(e.info.schedule.key_life_millis);
                Some(end.saturating_sub(now_ms))
            }
            _ => None,
        }
    }

    /// Milliseconds until the applet should switch to a fresh PMS: two thirds into the key
    /// life, leaving a third for fetching the key and the in-band switch.
    pub fn renewal_in_ms(&self, now_ms: u64) -> Option<u64> {
        match &self.state {
            State::Established(e) => {
                let at = e.generation_started_ms + u64::from(e.info.schedule.key_life_millis) * 2 / 3;
                Some(at.saturating_sub(now_ms))
            }
            _ => None,
        }
    }

    /// True once the renewal time has come and no switch is under way: time for the page to
    /// fetch a fresh PMS over TLS.
    pub fn renewal_due(&self, now_ms: u64) -> bool {
        !self.rekey_in_progress() && self.renewal_in_ms(now_ms) == Some(0)
    }

    pub fn rekey_in_progress(&self) -> bool {
        matches!(&self.state, State::Established(e) if !matches!(e.rekey, Rekey::Idle))
    }

    pub fn send(&mut self, message: AppMessage, now_ms: u64) -> Result<(), SessionError> {
        let State::Established(e) = &mut self.state else {
            return Err(SessionError::Closed);
        };
        // Input is padded: an observer of the link must not tell a keystroke from a pointer
        // move, nor learn how long a paste was (beyond a factor of two).
        let keystroke =
            matches!(message, AppMessage::Input(InputEvent::Key(_) | InputEvent::Special(_) | InputEvent::Paste(_)));
        let padded = matches!(message, AppMessage::Input(_));
        let message: Message = message.into();
        if let (true, Some(timing)) = (keystroke, self.timing) {
            match &mut self.typing {
                // Within a burst: the key waits for its tick.
                Some(typing) => {
                    typing.until = now_ms + timing.linger_ms;
                    self.waiting.push_back(message);
                    return Ok(());
                }
                // The first key of a burst goes now, and starts the tick.
                None => {
                    self.typing = Some(Typing { next_tick: now_ms + timing.tick_ms, until: now_ms + timing.linger_ms })
                }
            }
        }
        let record = if padded {
            e.layer.seal_padded(&message, crate::wire::message::padded_size(&message), now_ms)?
        } else {
            e.layer.seal(&message, now_ms)?
        };
        self.outgoing.push(record);
        Ok(())
    }

    /// Step 1 of the switch to a fresh PMS handed over by the page.
    pub fn begin_rekey(&mut self, key_id: KeyId, pms: Pms, nonce: Nonce, now_ms: u64) -> Result<(), SessionError> {
        let State::Established(e) = &mut self.state else {
            return Err(SessionError::Closed);
        };
        if !matches!(e.rekey, Rekey::Idle) {
            return Err(SessionError::Unexpected("a key switch is already under way"));
        }
        let record =
            e.layer.seal(&Message::Control(ControlMessage::RekeyReady { key_id, client_nonce: nonce }), now_ms)?;
        self.outgoing.push(record);
        e.rekey = Rekey::AwaitAck { key_id, pms, nonce };
        Ok(())
    }

    /// Closes politely: sends the keystrokes still waiting for their tick, tells the
    /// controller, and stops.
    pub fn close(&mut self, now_ms: u64) {
        while let Some(message) = self.waiting.pop_front() {
            if self.seal_padded(&message, now_ms).is_err() {
                break;
            }
        }
        self.typing = None;
        if let State::Established(e) = &mut self.state {
            if let Ok(r) = e.layer.seal(&Message::Control(ControlMessage::Alert(Alert::new(AlertCode::Closed))), now_ms)
            {
                self.outgoing.push(r);
            }
        }
        self.state = State::Closed;
    }

    /// Feeds one received record (opened in its own buffer, so a video update in it is not
    /// copied). An error is final: the session is closed and any alert for the controller is
    /// queued.
    pub fn handle_record(&mut self, record: Vec<u8>, now_ms: u64) -> Result<Vec<ClientEvent>, SessionError> {
        if self.is_closed() {
            return Err(SessionError::Closed);
        }
        let result = self.step(record, now_ms);
        if let Err(err) = &result {
            self.fail(err, now_ms);
        }
        result
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

    fn step(&mut self, record: Vec<u8>, now_ms: u64) -> Result<Vec<ClientEvent>, SessionError> {
        match core::mem::replace(&mut self.state, State::Closed) {
            State::AwaitServerHello { config, nonce, hello } => {
                let server_hello = match handshake(&record)? {
                    HandshakeMessage::ServerHello(h) => h,
                    HandshakeMessage::Alert(a) => return Err(SessionError::Refused(a)),
                    _ => return Err(SessionError::Unexpected("expected ServerHello")),
                };
                let ServerHello { version, suite, server_nonce, schedule } = server_hello;
                if version != PROTOCOL_VERSION || !config.suites.contains(&suite) {
                    return Err(SessionError::Unexpected("controller chose a version or suite that was not offered"));
                }
                let secrets =
                    GenerationSecrets { pms: config.pms, suite, generation: 0, client_nonce: nonce, server_nonce };
                let confirm = confirmation_key(KeyChain::new(secrets.pms.clone()).key(), &secrets.binding());
                let mut transcript = hello;
                transcript.extend_from_slice(&record);
                self.state = State::AwaitIdentity {
                    secrets,
                    schedule: LinkInfo { suite, schedule },
                    transcript,
                    confirm,
                    controller_key: config.controller_key,
                };
                Ok(Vec::new())
            }
            State::AwaitIdentity { secrets, schedule, mut transcript, confirm, controller_key } => {
                let (public_key, signature) = match handshake(&record)? {
                    HandshakeMessage::Identity { public_key, signature } => (public_key, signature),
                    HandshakeMessage::Alert(a) => return Err(SessionError::Refused(a)),
                    _ => return Err(SessionError::Unexpected("expected the controller's identity")),
                };
                // The key is public: comparing it needs no constant time. The signature proves
                // its holder saw both hellos, this link's nonces included.
                if public_key != controller_key || !identity::verify(&controller_key, &transcript, &signature) {
                    return Err(SessionError::UnverifiedController);
                }
                transcript.extend_from_slice(&record);
                self.state = State::AwaitServerFinished { secrets, schedule, transcript, confirm };
                Ok(Vec::new())
            }
            State::AwaitServerFinished { secrets, schedule: info, transcript, confirm } => {
                let proof = match handshake(&record)? {
                    HandshakeMessage::Finished(p) => p,
                    HandshakeMessage::Alert(a) => return Err(SessionError::Refused(a)),
                    _ => return Err(SessionError::Unexpected("expected Finished")),
                };
                if !confirm.verify(Prover::Server, &transcript, &proof) {
                    return Err(SessionError::ConfirmationFailed);
                }
                self.outgoing.push(HandshakeMessage::Finished(confirm.proof(Prover::Client, &transcript)).encode());
                let layer = RecordLayer::new(secrets, Direction::ClientToServer, info.schedule, now_ms);
                self.state = State::Established(Box::new(Established {
                    layer,
                    info,
                    binding: bind(&[&transcript]),
                    generation_started_ms: now_ms,
                    rekey: Rekey::Idle,
                }));
                Ok(vec![ClientEvent::Established(info)])
            }
            State::Established(mut e) => {
                let events = self.established(&mut e, record, now_ms);
                self.state = State::Established(e);
                events
            }
            State::Closed => Err(SessionError::Closed),
        }
    }

    fn established(
        &mut self,
        e: &mut Established,
        record: Vec<u8>,
        now_ms: u64,
    ) -> Result<Vec<ClientEvent>, SessionError> {
        let (message, switched) = e.layer.open(record, now_ms)?;
        let mut events = Vec::new();
        if switched {
            let Rekey::AwaitFirstRecord { generation, binding } = core::mem::replace(&mut e.rekey, Rekey::Idle) else {
                return Err(SessionError::Unexpected("key generation changed without a switch"));
            };
            e.binding = binding;
            e.generation_started_ms = now_ms;
            events.push(ClientEvent::RekeyComplete { generation });
        }
        match message.into_app() {
            Ok(app) => events.push(ClientEvent::Message(app)),
            Err(ControlMessage::Alert(alert)) => return Err(SessionError::PeerClosed(alert)),
            Err(ControlMessage::RekeyAck { server_nonce, proof }) => {
                let Rekey::AwaitAck { key_id, pms, nonce } = core::mem::replace(&mut e.rekey, Rekey::Idle) else {
                    return Err(SessionError::Unexpected("RekeyAck without RekeyReady"));
                };
                let generation = e.layer.tx_position().generation.wrapping_add(1);
                let secrets =
                    GenerationSecrets { pms, suite: e.info.suite, generation, client_nonce: nonce, server_nonce };
                let confirm = confirmation_key(KeyChain::new(secrets.pms.clone()).key(), &secrets.binding());
                let transcript = rekey_transcript(&e.binding, generation, &key_id.0, &nonce, &server_nonce);
                if !confirm.verify(Prover::Server, &transcript, &proof) {
                    let abort = e.layer.seal(&Message::Control(ControlMessage::RekeyAbort), now_ms)?;
                    self.outgoing.push(abort);
                    events.push(ClientEvent::RekeyFailed(Alert::new(AlertCode::KeyConfirmationFailed)));
                    return Ok(events);
                }
                let confirm_record = e.layer.seal(
                    &Message::Control(ControlMessage::RekeyConfirm {
                        proof: confirm.proof(Prover::Client, &transcript),
                    }),
                    now_ms,
                )?;
                self.outgoing.push(confirm_record);
                // Confirm is the last record under the old keys this way; everything after is new.
                e.layer.arm_rx(secrets.clone(), now_ms);
                e.layer.switch_tx(secrets, now_ms);
                e.rekey = Rekey::AwaitFirstRecord { generation, binding: bind(&[&transcript]) };
            }
            Err(ControlMessage::RekeyRefused(alert)) => {
                if !matches!(e.rekey, Rekey::AwaitAck { .. }) {
                    return Err(SessionError::Unexpected("RekeyRefused without RekeyReady"));
                }
                e.rekey = Rekey::Idle;
                events.push(ClientEvent::RekeyFailed(alert));
            }
            Err(_) => return Err(SessionError::Unexpected("client-only control message from the controller")),
        }
        Ok(events)
    }
}
