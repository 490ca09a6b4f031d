//! The controller's end of a console link: the [`ServerSession`] and the link's policy around
//! it. What a viewer receives after the handshake and in which order, how often it may ask for
//! a full frame, what is said when serial output was lost, which input a view-only key may not
//! send, when the user's rights are checked again, and how the WebSocket is closed.
//!
//! The adapter feeds it records, the host's events and the time, and carries out its
//! [`ServerAction`]s; it decides nothing itself.

use std::collections::VecDeque;

use super::media::{MediaAction, MediaLink, MediaOutput};
use super::{close_code, Farewell};
use crate::session::{KeyPosition, LinkInfo, ServerConfig, ServerEnv, ServerEvent, ServerSession, SessionError};
use crate::wire::message::HostStatus;
use crate::wire::{
    Alert, AlertCode, AppMessage, InputEvent, KeyEvent, KeyId, Layout, MediaDevice, Presence, SpecialKey,
};

/// Messages the applet may send before its host is joined (they are handled after).
const MAX_EARLY: usize = 64;

/// Serial output as sent to a viewer, at most this much per message.
pub const SERIAL_PIECE: usize = 16 << 10;

/// The link's timings.
#[derive(Debug, Clone)]
pub struct ServerLinkConfig {
    pub session: ServerConfig,
    /// How long a new socket has to say hello and prove its key.
    pub handshake_ms: u64,
    /// A viewer gets a full frame on request at most this often.
    pub refresh_every_ms: u64,
    /// How often the adapter is asked to check the user's rights again: a user who loses the
    /// right is cut off within this (plus one poll), not at the end of the key's life.
    pub recheck_every_ms: u64,
    /// How often the link wants to be polled while nothing else happens (key life).
    pub poll_every_ms: u64,
    /// How long the applet has to answer a read of a medium it offered before the medium is
    /// taken out (the host's reads of it fail).
    pub media_deadline_ms: u64,
}

impl ServerLinkConfig {
    pub fn new(session: ServerConfig, handshake_ms: u64) -> Self {
        Self {
            session,
            handshake_ms,
            refresh_every_ms: 1000,
            recheck_every_ms: 2000,
            poll_every_ms: 1000,
            media_deadline_ms: 15_000,
        }
    }
}

/// What the adapter is to do for the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerAction {
    /// The applet proved its key: join the host the key is for and answer with
    /// [`ServerLink::attach`], or with [`ServerLink::refuse`] if there is no such host.
    Join {
        key_id: KeyId,
        info: LinkInfo,
    },
    /// Forward to the host (through its keyboard-and-mouse arbitration).
    Input(InputEvent),
    /// Forward to the host's serial port.
    SerialInput(Vec<u8>),
    /// Join the host's serial output, if it has one, and answer with
    /// [`ServerLink::serial_opened`].
    OpenSerial,
    /// Join the host's video afresh and answer with [`ServerLink::restart_video`].
    Refresh,
    RequestControl,
    GiveControl {
        to: u32,
    },
    /// Ask the store whether the user may still use this link; [`ServerLink::revoke`] if not.
    CheckAccess,
    /// Write this to the audit trail.
    Audit(LinkAudit),
    /// The link runs on a fresh key now.
    KeySwitched {
        generation: u16,
    },
    /// A fresh key was refused; the link keeps its current keys.
    KeySwitchRefused(Alert),
    /// Something to do about a medium the applet offered.
    Media(MediaAction),
}

/// What the audit trail records about a link while it lasts (opening and closing are the
/// adapter's, with what it knows of the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAudit {
    /// The first input of a view-only link (the count goes into the close record).
    InputRefused,
    CtrlAltDel,
    SerialOpen,
    /// The user lost the right to this link; it ends.
    Revoked,
}

/// What the link counted, for its close record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub renewals: u32,
    pub suite: Option<&'static str>,
    pub refused_inputs: u64,
    /// Refresh requests beyond one per `refresh_every_ms`.
    pub refreshes_ignored: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Handshake,
    /// Established, waiting for the adapter to join the host.
    Joining,
    Attached {
        control: bool,
    },
}

pub struct ServerLink {
    session: ServerSession,
    config: ServerLinkConfig,
    phase: Phase,
    handshake_ends: u64,
    /// When the regular poll (key life) is due: a time, not a delay, so a link kept busy by
    /// the host's video is still polled on schedule.
    poll_due: u64,
    next_check: u64,
    last_refresh: Option<u64>,
    serial_open: bool,
    /// The layout this viewer says the host uses; told to the host before each key press and
    /// paste, since viewers of one host may take turns at its keyboard.
    layout: Layout,
    /// What the applet sent between the handshake and the join, handled once joined.
    early: Vec<AppMessage>,
    actions: VecDeque<ServerAction>,
    stats: LinkStats,
    /// Why the link ended, when it was our decision (for the WebSocket close frame).
    farewell: Option<Farewell>,
    /// Why the link failed, when it did.
    error: Option<SessionError>,
    media: MediaLink,
}

impl ServerLink {
    /// A link whose socket opened at `now_ms`.
    pub fn new(config: ServerLinkConfig, now_ms: u64) -> Self {
        Self {
            session: ServerSession::new(config.session.clone()),
            handshake_ends: now_ms.saturating_add(config.handshake_ms),
            poll_due: now_ms.saturating_add(config.poll_every_ms),
            next_check: u64::MAX,
            config,
            phase: Phase::Handshake,
            last_refresh: None,
            serial_open: false,
            layout: Layout::Us,
            early: Vec::new(),
            actions: VecDeque::new(),
            stats: LinkStats::default(),
            farewell: None,
            error: None,
            media: MediaLink::default(),
        }
    }

    /// Records to send, in order.
    pub fn take_outgoing(&mut self) -> Vec<Vec<u8>> {
        let records = self.session.take_outgoing();
        self.stats.bytes_out += records.iter().map(|r| r.len() as u64).sum::<u64>();
        records
    }

    /// The next thing to do, in order.
    pub fn next_action(&mut self) -> Option<ServerAction> {
        self.actions.pop_front()
    }

    /// The session is closed (its last alert may still be in [`ServerLink::take_outgoing`]).
    pub fn is_closed(&self) -> bool {
        self.session.is_closed()
    }

    /// The link is over: send what is queued, then close the socket with
    /// [`ServerLink::farewell`].
    pub fn is_over(&self) -> bool {
        self.is_closed() || self.farewell.is_some()
    }

    pub fn stats(&self) -> &LinkStats {
        &self.stats
    }

    pub fn tx_position(&self) -> Option<KeyPosition> {
        self.session.tx_position()
    }

    /// When the link wants [`ServerLink::poll`] called next, however busy it is meanwhile.
    pub fn next_poll(&self) -> u64 {
        match self.phase {
            Phase::Handshake => self.poll_due.min(self.handshake_ends),
            _ => {
                let media = self.media.next_deadline(self.config.media_deadline_ms).unwrap_or(u64::MAX);
                self.poll_due.min(self.next_check).min(media)
            }
        }
    }

    /// Feeds one record from the socket.
    pub fn handle_record(&mut self, record: Vec<u8>, now_ms: u64, env: &mut dyn ServerEnv) {
        self.stats.bytes_in += record.len() as u64;
        match self.session.handle_record(record, now_ms, env) {
            Ok(events) => {
                for event in events {
                    if let Err(err) = self.on_event(event, now_ms) {
                        self.fail(err, now_ms);
                        return;
                    }
                }
            }
            Err(err) => self.error = Some(err),
        }
    }

    /// A text frame: not part of the protocol.
    pub fn text_frame(&mut self, now_ms: u64) {
        let alert =
            Alert::with_message(AlertCode::ProtocolViolation, "text frames are not part of the console protocol");
        self.session.close(alert, now_ms);
        self.error = Some(SessionError::Unexpected("text frame"));
    }

    /// The WebSocket layer refused a frame (unmasked, oversized, malformed).
    pub fn websocket_error(&mut self, reason: &str) {
        self.end(close_code::PROTOCOL, format!("websocket protocol error: {reason}"));
    }

    /// The peer closed the socket, or it dropped.
    pub fn socket_closed(&mut self) {
        if self.farewell.is_none() && self.error.is_none() {
            self.end(close_code::NORMAL, "closed".to_string());
        }
    }

    /// Call at the time [`ServerLink::next_poll`] gave (and whenever convenient).
    pub fn poll(&mut self, now_ms: u64) {
        if self.is_closed() {
            return;
        }
        if now_ms >= self.poll_due {
            self.poll_due = now_ms.saturating_add(self.config.poll_every_ms);
        }
        if self.phase == Phase::Handshake && now_ms >= self.handshake_ends {
            let alert = Alert::with_message(AlertCode::ProtocolViolation, "no console handshake in time");
            self.close_with(close_code::POLICY, alert, now_ms);
            return;
        }
        if self.phase != Phase::Handshake && now_ms >= self.next_check {
            self.next_check = now_ms.saturating_add(self.config.recheck_every_ms);
            self.actions.push_back(ServerAction::CheckAccess);
        }
        let mut out = MediaOutput::default();
        self.media.poll(now_ms, self.config.media_deadline_ms, &mut out);
        self.media_output(out, now_ms);
        if let Err(err) = self.session.poll(now_ms) {
            self.error = Some(err);
        }
    }

    /// Whether the adapter may hand the link another read of an offered medium now (if not,
    /// it leaves the reads with the export, which holds them back from the host).
    pub fn media_accepts_reads(&self) -> bool {
        self.media.accepts_reads()
    }

    /// The devices this link's files are in (or going in): the adapter takes them out when the
    /// link ends.
    pub fn media_devices(&self) -> Vec<MediaDevice> {
        self.media.devices()
    }

    /// Bytes of offered media the applet has answered.
    pub fn media_bytes_read(&self) -> u64 {
        self.media.bytes_read
    }

    /// The adapter plugged the applet's file into `device` (after [`MediaAction::Offer`]).
    pub fn media_attached(&mut self, device: MediaDevice, now_ms: u64) {
        let mut out = MediaOutput::default();
        self.media.attached(device, &mut out);
        self.media_output(out, now_ms);
    }

    /// The applet's file in `device` is out, or never went in, for `reason`.
    pub fn media_detached(&mut self, device: MediaDevice, reason: &str, now_ms: u64) {
        let mut out = MediaOutput::default();
        self.media.detached(device, reason, now_ms, &mut out);
        self.media_output(out, now_ms);
    }

    /// The host reads the applet's file in `device`; answered by [`MediaAction::ReadDone`].
    pub fn media_read(&mut self, request: u64, device: MediaDevice, offset: u64, length: u32, now_ms: u64) {
        let mut out = MediaOutput::default();
        self.media.read(request, device, offset, length, now_ms, &mut out);
        self.media_output(out, now_ms);
    }

    fn media_output(&mut self, out: MediaOutput, now_ms: u64) {
        self.actions.extend(out.actions.into_iter().map(ServerAction::Media));
        for message in out.messages {
            let sent = self.session.send(AppMessage::Media(message), now_ms);
            if !self.check(sent, now_ms) {
                return;
            }
        }
    }

    /// The host the key is for is gone.
    pub fn refuse(&mut self, alert: Alert, now_ms: u64) {
        self.session.close(alert.clone(), now_ms);
        self.error = Some(SessionError::Refused(alert));
    }

    /// The adapter joined the host: the viewer's first picture, the host's status and who else
    /// watches go out, in that order. `control`: whether the key lets this link type.
    pub fn attach<'a>(
        &mut self,
        control: bool,
        picture: impl IntoIterator<Item = &'a [u8]>,
        status: HostStatus,
        presence: Presence,
        now_ms: u64,
    ) {
        self.phase = Phase::Attached { control };
        self.next_check = now_ms.saturating_add(self.config.recheck_every_ms);
        let sent = self
            .send_picture(picture, now_ms)
            .and_then(|()| self.session.send(AppMessage::HostStatus(status), now_ms))
            .and_then(|()| self.session.send(AppMessage::Presence(presence), now_ms));
        if self.check(sent, now_ms) {
            for message in std::mem::take(&mut self.early) {
                if let Err(err) = self.on_message(message, now_ms) {
                    return self.fail(err, now_ms);
                }
            }
        }
    }

    /// A video update the host encoded once for all its viewers.
    pub fn video(&mut self, payload: &[u8], now_ms: u64) {
        let sent = self.session.send_video(payload, now_ms);
        self.check(sent, now_ms);
    }

    /// This viewer fell behind the host's video: it starts over from a full frame.
    pub fn video_lagged(&mut self) {
        self.actions.push_back(ServerAction::Refresh);
    }

    /// The updates of a fresh join (a full frame first), after [`ServerAction::Refresh`].
    pub fn restart_video<'a>(&mut self, updates: impl IntoIterator<Item = &'a [u8]>, now_ms: u64) {
        let sent = self.send_picture(updates, now_ms);
        self.check(sent, now_ms);
    }

    fn send_picture<'a>(
        &mut self,
        updates: impl IntoIterator<Item = &'a [u8]>,
        now_ms: u64,
    ) -> Result<(), SessionError> {
        updates.into_iter().try_for_each(|update| self.session.send_video(update, now_ms))
    }

    /// The adapter joined the host's serial output (after [`ServerAction::OpenSerial`]): what
    /// the host printed before goes out first.
    pub fn serial_opened(&mut self, backlog: &[u8], now_ms: u64) {
        self.actions.push_back(ServerAction::Audit(LinkAudit::SerialOpen));
        for piece in backlog.chunks(SERIAL_PIECE) {
            let sent = self.session.send(AppMessage::Serial(piece.to_vec()), now_ms);
            if !self.check(sent, now_ms) {
                return;
            }
        }
    }

    pub fn serial(&mut self, bytes: &[u8], now_ms: u64) {
        let sent = self.session.send(AppMessage::Serial(bytes.to_vec()), now_ms);
        self.check(sent, now_ms);
    }

    /// This viewer fell behind on the serial console by `skipped` pieces. A serial stream has
    /// no full frame to restart from: the viewer is told what was lost, in the stream itself.
    pub fn serial_lagged(&mut self, skipped: u64, now_ms: u64) {
        let notice = format!("\r\n[lantern: {skipped} pieces of serial output skipped: this viewer fell behind]\r\n");
        let sent = self.session.send(AppMessage::Serial(notice.into_bytes()), now_ms);
        self.check(sent, now_ms);
    }

    pub fn host_status(&mut self, status: HostStatus, now_ms: u64) {
        let sent = self.session.send(AppMessage::HostStatus(status), now_ms);
        self.check(sent, now_ms);
    }

    /// The host's clipboard: what it copied.
    pub fn clipboard(&mut self, text: &str, now_ms: u64) {
        let sent = self.session.send(AppMessage::Clipboard(text.into()), now_ms);
        self.check(sent, now_ms);
    }

    /// Someone joined, left, asked for or got control.
    pub fn presence(&mut self, presence: Presence, now_ms: u64) {
        let sent = self.session.send(AppMessage::Presence(presence), now_ms);
        self.check(sent, now_ms);
    }

    /// The user may no longer use this link (deleted, demoted, rights withdrawn).
    pub fn revoke(&mut self, now_ms: u64) {
        if self.is_closed() {
            return;
        }
        self.actions.push_back(ServerAction::Audit(LinkAudit::Revoked));
        let alert = Alert::new(AlertCode::AccessRevoked);
        self.close_with(alert.code.close_code(), alert, now_ms);
    }

    /// An administrator ended the link (the *Sessions* page): the viewer is told so, and by
    /// whom, and does not reconnect.
    pub fn end_by_administrator(&mut self, who: &str, now_ms: u64) {
        if self.is_closed() {
            return;
        }
        let alert = Alert::with_message(AlertCode::AccessRevoked, format!("ended by an administrator ({who})"));
        self.close_with(alert.code.close_code(), alert, now_ms);
    }

    /// The controller is stopping.
    pub fn shutdown(&mut self, now_ms: u64) {
        if self.is_closed() {
            return;
        }
        let alert = Alert::with_message(AlertCode::Closed, "the controller is shutting down");
        self.close_with(close_code::AWAY, alert, now_ms);
    }

    /// Why the link failed, if it did (for the close record and the log).
    pub fn error(&self) -> Option<&SessionError> {
        self.error.as_ref()
    }

    /// The WebSocket close frame to end with: our reason when we ended the link, the error's
    /// when it failed, a normal close otherwise.
    pub fn farewell(&self) -> Farewell {
        match (&self.farewell, &self.error) {
            (Some(farewell), _) => farewell.clone(),
            (None, Some(err)) => Farewell { code: err.code().close_code(), reason: err.to_string() },
            (None, None) => Farewell { code: close_code::NORMAL, reason: "closed".into() },
        }
    }

    fn on_event(&mut self, event: ServerEvent, now_ms: u64) -> Result<(), SessionError> {
        match event {
            ServerEvent::Established { key_id, info } => {
                self.stats.suite = Some(info.suite.name());
                self.phase = Phase::Joining;
                self.actions.push_back(ServerAction::Join { key_id, info });
            }
            ServerEvent::Message(message) => self.on_message(message, now_ms)?,
            ServerEvent::RekeyComplete { generation } => {
                self.stats.renewals += 1;
                self.actions.push_back(ServerAction::KeySwitched { generation });
            }
            ServerEvent::RekeyRefused(alert) => self.actions.push_back(ServerAction::KeySwitchRefused(alert)),
            // The viewer said goodbye (the applet closing): the link ends now, not when its
            // socket finally does.
            ServerEvent::PeerClosed(_) => self.end(close_code::NORMAL, "closed".to_string()),
        }
        Ok(())
    }

    fn on_message(&mut self, message: AppMessage, now_ms: u64) -> Result<(), SessionError> {
        let Phase::Attached { control } = self.phase else {
            // The adapter is joining the host: what the applet asked for waits for that (a
            // bounded wait: the applet sends a few messages after its handshake, not a stream).
            if self.early.len() >= MAX_EARLY {
                return Err(SessionError::Unexpected("too many messages before the host was joined"));
            }
            self.early.push(message);
            return Ok(());
        };
        match message {
            AppMessage::Input(InputEvent::Layout(layout)) => self.layout = layout,
            AppMessage::Input(input) => {
                if self.may_type(control) {
                    match &input {
                        InputEvent::Special(SpecialKey::CtrlAltDel) => {
                            self.actions.push_back(ServerAction::Audit(LinkAudit::CtrlAltDel))
                        }
                        InputEvent::Key(KeyEvent { down: true, .. }) | InputEvent::Paste(_) => {
                            self.actions.push_back(ServerAction::Input(InputEvent::Layout(self.layout)))
                        }
                        _ => {}
                    }
                    self.actions.push_back(ServerAction::Input(input));
                }
            }
            AppMessage::Serial(bytes) => {
                if self.may_type(control) {
                    self.actions.push_back(ServerAction::SerialInput(bytes));
                }
            }
            AppMessage::RequestControl => self.actions.push_back(ServerAction::RequestControl),
            AppMessage::GiveControl { to } => self.actions.push_back(ServerAction::GiveControl { to }),
            AppMessage::RefreshRequest => {
                // A full frame costs an encode: one per `refresh_every_ms` per viewer at most,
                // the rest ignored (the one let through brings the viewer up to date anyway).
                if self.last_refresh.is_some_and(|at| now_ms.saturating_sub(at) < self.config.refresh_every_ms) {
                    self.stats.refreshes_ignored += 1;
                } else {
                    self.last_refresh = Some(now_ms);
                    self.actions.push_back(ServerAction::Refresh);
                }
            }
            AppMessage::Media(message) if message.from_applet() => {
                let mut out = MediaOutput::default();
                self.media.from_applet(message, now_ms, &mut out);
                self.media_output(out, now_ms);
            }
            AppMessage::SerialOpen => {
                if !self.serial_open {
                    self.serial_open = true;
                    self.actions.push_back(ServerAction::OpenSerial);
                }
            }
            _ => return Err(SessionError::Unexpected("controller-bound message the applet may not send")),
        }
        Ok(())
    }

    /// Whether the key lets this link type. A viewer's input goes nowhere; the first refusal
    /// of a link is audited and the count goes into the close record.
    fn may_type(&mut self, control: bool) -> bool {
        if !control {
            if self.stats.refused_inputs == 0 {
                self.actions.push_back(ServerAction::Audit(LinkAudit::InputRefused));
            }
            self.stats.refused_inputs += 1;
        }
        control
    }

    /// Whether a send went out; a failed one ends the link (sends after the end are dropped).
    fn check(&mut self, sent: Result<(), SessionError>, now_ms: u64) -> bool {
        match sent {
            Ok(()) => true,
            Err(SessionError::Closed) if self.is_closed() => false,
            Err(err) => {
                self.fail(err, now_ms);
                false
            }
        }
    }

    fn fail(&mut self, err: SessionError, now_ms: u64) {
        if let Some(alert) = err.alert() {
            self.session.close(alert, now_ms);
        }
        self.error.get_or_insert(err);
    }

    fn close_with(&mut self, code: u16, alert: Alert, now_ms: u64) {
        self.farewell = Some(Farewell { code, reason: alert.message.clone() });
        self.session.close(alert, now_ms);
    }

    fn end(&mut self, code: u16, reason: String) {
        self.farewell.get_or_insert(Farewell { code, reason });
    }
}
