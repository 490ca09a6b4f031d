//! The applet's end of a console link, across the sockets it opens: the [`ClientSession`] of
//! the current socket, the decoded screen, and the link's policy. When to ask for a fresh key
//! (renewal, reconnect), how long to wait before reconnecting, what to do with a video update
//! that does not decode (ask for a full frame), what a new socket asks for again (the serial
//! stream), what the status bar says, and how pastes are cut to what the protocol carries.
//!
//! The page's engine feeds it records, socket events, input and the time, and carries out its
//! [`ClientAction`]s (paint this, send that, ask for a key, wake me at); it decides nothing.

use std::collections::VecDeque;

use crate::crypto::{CipherSuite, Pms};
use crate::session::{ClientConfig, ClientEvent, ClientSession, KeystrokeTiming};
use crate::video::cursor::{self, Cursor};
use crate::video::frame::Framebuffer;
use crate::video::text::{self, Damage, TextScreen};
use crate::video::tiles::{GraphicsDamage, StreamDecoder};
use crate::video::Mode;
use crate::wire::message::{MAX_PASTE, MAX_SERIAL_INPUT};
use crate::wire::{
    AppMessage, DecodeError, InputEvent, KeyEvent, KeyId, Layout, MediaDevice, MediaMessage, Modifiers, Nonce,
    Presence, SpecialKey,
};

/// Why the link asks for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRequest {
    /// The current key's life is two thirds over: switch in-band.
    Renew,
    /// The link dropped: open a new one.
    Reconnect,
}

/// What the status bar shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    /// "idle", "connecting", "connected" or "closed".
    pub state: &'static str,
    /// The last notable event or error, in words.
    pub message: String,
    pub suite: Option<&'static str>,
    pub generation: u16,
    pub epoch: u32,
    pub key_expires_in_ms: Option<u64>,
    /// Time until the applet switches to a fresh key (in-band).
    pub key_renews_in_ms: Option<u64>,
    pub fps: f64,
    pub kbps: f64,
    /// Video updates shown on this link.
    pub frames: u64,
    /// Serial console bytes received.
    pub serial_bytes: u64,
    pub host_status: String,
    pub renewals: u32,
    /// Who else watches, and who holds the keyboard and mouse.
    pub presence: Presence,
    /// Modifiers latched down from the Keys menu (their `KeyboardEvent.code`s), in order.
    pub latched: Vec<String>,
    /// The text on the host's clipboard, once it copied some.
    pub host_clipboard: Option<std::sync::Arc<str>>,
}

impl Status {
    /// Whether this console holds the host's keyboard and mouse.
    pub fn has_control(&self) -> bool {
        self.presence.holder.is_some_and(|h| h == self.presence.you)
    }

    /// The name of viewer `id`.
    pub fn viewer_name(&self, id: u32) -> Option<&str> {
        self.presence.viewers.iter().find(|v| v.id == id).map(|v| v.name.as_str())
    }
}

/// The modifier flag of a modifier key (`KeyboardEvent.key`); `None` for other keys.
fn modifier_bit(key: &str) -> Option<u8> {
    Some(match key {
        "Shift" => Modifiers::SHIFT,
        "Control" => Modifiers::CTRL,
        "Alt" => Modifiers::ALT,
        "Meta" | "OS" | "Super" => Modifiers::META,
        "AltGraph" => Modifiers::ALT_GRAPH,
        _ => return None,
    })
}

/// What the host shows: a text grid or a framebuffer; the host's updates say which.
pub enum Screen {
    Text(TextScreen),
    /// A picture, and the stream its updates come in (it remembers what they refer back to).
    Graphics(Framebuffer, StreamDecoder),
}

impl Default for Screen {
    fn default() -> Self {
        Screen::Text(TextScreen::clamped(80, 25))
    }
}

impl Screen {
    pub fn is_graphical(&self) -> bool {
        matches!(self, Screen::Graphics(..))
    }

    /// The screen's text, one line per row (empty while the host shows graphics).
    pub fn text(&self) -> String {
        match self {
            Screen::Text(s) => s.text(),
            Screen::Graphics(..) => String::new(),
        }
    }

    /// Applies a video update. When the host switched modes (a "no signal" notice between two
    /// pictures), the update is decoded into a new screen, which replaces this one only if the
    /// update was good.
    fn apply(&mut self, update: &[u8], out: &mut VecDeque<ClientAction>) -> Result<(), DecodeError> {
        if update.first() == Some(&cursor::KIND_CURSOR) {
            let pointer = Cursor::decode(update)?;
            if self.is_graphical() {
                out.push_back(ClientAction::Pointer(Some(pointer)));
            }
            return Ok(());
        }
        match (Mode::of(update), &mut *self) {
            (Some(Mode::Text), Screen::Text(screen)) => {
                out.push_back(ClientAction::PaintText(text::apply(screen, update)?))
            }
            (Some(Mode::Graphics), Screen::Graphics(frame, stream)) => {
                out.push_back(ClientAction::PaintFrame(stream.apply(frame, update)?));
            }
            (Some(Mode::Text), Screen::Graphics(..)) => {
                let mut screen = TextScreen::clamped(80, 25);
                let damage = text::apply(&mut screen, update)?;
                *self = Screen::Text(screen);
                out.push_back(ClientAction::Pointer(None));
                out.push_back(ClientAction::PaintText(damage));
            }
            (Some(Mode::Graphics), Screen::Text(_)) => {
                let mut frame = Framebuffer::new(1, 1)
                    .map_err(|_| DecodeError::Invalid { field: "frame", reason: "bad default size" })?;
                let mut stream = StreamDecoder::default();
                let damage = stream.apply(&mut frame, update)?;
                *self = Screen::Graphics(frame, stream);
                out.push_back(ClientAction::PaintFrame(damage));
            }
            (None, _) => {
                return Err(DecodeError::Unknown {
                    field: "video update kind",
                    value: update.first().copied().unwrap_or(0),
                })
            }
        }
        Ok(())
    }
}

/// What the engine is to do for the link, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientAction {
    /// Repaint what changed of the text screen ([`ClientLink::screen`]).
    PaintText(Damage),
    /// Repaint what changed of the picture ([`ClientLink::screen`]).
    PaintFrame(GraphicsDamage),
    /// The host's pointer shape (`None`: no pointer, on a text screen).
    Pointer(Option<Cursor>),
    /// The link's first picture is on the screen.
    FirstPicture,
    /// Bytes for the serial console's terminal.
    Serial(Vec<u8>),
    /// The serial stream starts over (a new socket gets the backlog again).
    SerialReset,
    /// Ask the page for a fresh key, after `after_ms`, and answer with
    /// [`ClientLink::connect`] (reconnect) or [`ClientLink::renew`] (renew).
    NeedKey { request: KeyRequest, after_ms: u64 },
    /// Close the current socket.
    CloseSocket,
    /// Read `length` bytes at `offset` of the file offered for a drive and answer with
    /// [`ClientLink::media_data`] (or [`ClientLink::media_failed`]).
    MediaRead { id: u32, device: MediaDevice, offset: u64, length: u32 },
    /// The file offered for `device` is in the host now, or not (refused, ejected, lost).
    MediaChanged { device: MediaDevice, attached: bool, reason: String },
}

/// A key as the page hands it to the link.
pub struct LinkKey {
    pub key_id: KeyId,
    pub pms: Pms,
    pub suites: Vec<CipherSuite>,
    /// The controller's node key the handshake must be signed with.
    pub controller_key: [u8; crate::wire::CONTROLLER_KEY_LEN],
}

/// The link's view of one socket.
struct Socket {
    session: ClientSession,
    established: bool,
    /// The link ended for a reason the user must see (a refused key, a failed integrity
    /// check): no automatic reconnect then.
    fatal: bool,
}

/// How long to wait before reconnect attempt `attempt` (1, 2, ...): 1 s doubling to 30 s.
pub fn reconnect_delay_ms(attempt: u32) -> u64 {
    (500u64 << attempt.min(6)).min(30_000)
}

pub struct ClientLink {
    socket: Option<Socket>,
    screen: Screen,
    status: Status,
    actions: VecDeque<ClientAction>,
    /// The page shows the serial console: every new socket asks for its stream.
    serial_wanted: bool,
    /// The host's keyboard layout as the user chose it, told to every new socket.
    layout: Layout,
    /// Modifiers the user latched (their presses as sent): held on the host until the next
    /// other key is let go.
    latched: Vec<KeyEvent>,
    /// A key renewal was asked for and has not ended.
    renewing: bool,
    /// Whether the page may be asked for keys at all (it has a key provider).
    keys_available: bool,
    reconnect_attempts: u32,
    /// The link was closed because the page was left, to be opened again if it comes back.
    left_page: bool,
    bytes_since_tick: u64,
    frames_since_tick: u32,
    last_tick_ms: u64,
    /// Drives this link offered a file for: the controller takes the files out when the socket
    /// closes, so the page is told then.
    media_offered: Vec<MediaDevice>,
}

impl Default for ClientLink {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientLink {
    pub fn new() -> Self {
        Self {
            socket: None,
            screen: Screen::default(),
            status: Status { state: "idle", ..Status::default() },
            actions: VecDeque::new(),
            serial_wanted: false,
            layout: Layout::Us,
            latched: Vec::new(),
            renewing: false,
            keys_available: false,
            reconnect_attempts: 0,
            left_page: false,
            bytes_since_tick: 0,
            frames_since_tick: 0,
            last_tick_ms: 0,
            media_offered: Vec::new(),
        }
    }

    /// The page can be asked for keys (renewal, reconnect).
    pub fn set_keys_available(&mut self, available: bool) {
        self.keys_available = available;
    }

    pub fn status(&self) -> &Status {
        &self.status
    }

    pub fn screen(&self) -> &Screen {
        &self.screen
    }

    /// The next thing to do, in order.
    pub fn next_action(&mut self) -> Option<ClientAction> {
        self.actions.pop_front()
    }

    /// Records to send on the current socket (once it is open).
    pub fn take_outgoing(&mut self) -> Vec<Vec<u8>> {
        self.socket.as_mut().map(|s| s.session.take_outgoing()).unwrap_or_default()
    }

    pub fn is_established(&self) -> bool {
        self.socket.as_ref().is_some_and(|s| s.established)
    }

    /// A new socket is opening with `key`: the link starts over on it.
    pub fn connect(&mut self, key: LinkKey, nonce: Nonce) {
        let mut session = ClientSession::new(
            ClientConfig { key_id: key.key_id, pms: key.pms, suites: key.suites, controller_key: key.controller_key },
            nonce,
        );
        // Keys go out on a steady tick while the user types, with chaff between them.
        session.set_keystroke_timing(Some(KeystrokeTiming::default()));
        self.socket = Some(Socket { session, established: false, fatal: false });
        self.renewing = false;
        self.left_page = false;
        self.status = Status {
            state: "connecting",
            message: "connecting".into(),
            latched: self.status.latched.clone(),
            ..Status::default()
        };
    }

    /// Switches the open link to a fresh key, in-band.
    pub fn renew(&mut self, key: LinkKey, nonce: Nonce, now_ms: u64) -> Result<(), String> {
        let socket = self.socket.as_mut().ok_or("not connected")?;
        let begun = socket.session.begin_rekey(key.key_id, key.pms, nonce, now_ms).map_err(|e| e.to_string());
        if let Err(err) = &begun {
            self.renewing = false;
            self.status.message = format!("key renewal failed: {err}");
        }
        begun
    }

    /// The page could not get a key for `request`. A renewal is tried again when it is next
    /// due; a reconnect after the backoff (the controller may be out of reach for a while, as
    /// when a relay between restarts), until the user leaves.
    pub fn key_failed(&mut self, request: KeyRequest, reason: &str) {
        self.renewing = false;
        match request {
            KeyRequest::Renew => self.status.message = format!("could not get a console key: {reason}"),
            KeyRequest::Reconnect if self.keys_available => {
                self.reconnect_attempts += 1;
                let delay = reconnect_delay_ms(self.reconnect_attempts);
                let message = format!("could not get a console key ({reason}); trying again in {} s", delay / 1000);
                self.set_state("connecting", message);
                self.actions.push_back(ClientAction::NeedKey { request: KeyRequest::Reconnect, after_ms: delay });
            }
            KeyRequest::Reconnect => self.set_state("closed", format!("could not get a console key: {reason}")),
        }
    }

    /// The socket could not be opened with the key the page gave.
    pub fn connect_failed(&mut self, reason: &str) {
        self.socket = None;
        self.media_lost();
        self.set_state("closed", format!("reconnect failed: {reason}"));
    }

    /// Feeds one record from the socket.
    pub fn handle_record(&mut self, record: Vec<u8>, now_ms: u64) {
        self.bytes_since_tick += record.len() as u64;
        let Some(socket) = self.socket.as_mut() else { return };
        match socket.session.handle_record(record, now_ms) {
            Ok(events) => {
                for event in events {
                    self.on_event(event, now_ms);
                }
                if let Some(pos) = self.socket.as_ref().and_then(|s| s.session.tx_position()) {
                    self.status.generation = pos.generation;
                    self.status.epoch = pos.epoch;
                }
            }
            Err(err) => {
                socket.fatal = true;
                self.status.state = "closed";
                self.status.message = format!("console closed: {err}");
            }
        }
        if self.socket.as_ref().is_some_and(|s| s.session.is_closed()) {
            self.actions.push_back(ClientAction::CloseSocket);
        }
    }

    /// The socket closed (or could not open). A link that was up and did not end for a reason
    /// the user must see is opened again, after a backoff.
    pub fn socket_closed(&mut self) {
        let Some(socket) = self.socket.take() else { return };
        self.media_lost();
        if socket.fatal {
            self.status.state = "closed";
            self.clear_key_times();
        } else if socket.established && self.keys_available {
            self.reconnect_attempts += 1;
            let delay = reconnect_delay_ms(self.reconnect_attempts);
            self.set_state("connecting", format!("link dropped; reconnecting in {} s", delay / 1000));
            self.actions.push_back(ClientAction::NeedKey { request: KeyRequest::Reconnect, after_ms: delay });
        } else {
            self.set_state("closed", "could not reach the console server".into());
        }
    }

    /// Closes the link on purpose (no reconnect).
    pub fn disconnect(&mut self, now_ms: u64) {
        if let Some(socket) = self.socket.as_mut() {
            socket.fatal = true;
            socket.session.close(now_ms);
        }
    }

    /// After [`ClientLink::disconnect`] and its records are out: the socket goes.
    pub fn disconnected(&mut self) {
        self.socket = None;
        self.media_lost();
        self.set_state("closed", "disconnected".into());
    }

    /// The page was hidden: a page kept, frozen, in the browser's back/forward cache would go
    /// on holding the host's keyboard and mouse, so its link closes; `true` if one was open.
    pub fn page_hidden(&mut self) -> bool {
        if self.socket.take().is_none() {
            return false;
        }
        self.media_lost();
        self.left_page = true;
        self.set_state("closed", "the page was left".into());
        true
    }

    /// The page came back from the back/forward cache: a link it left opens again.
    pub fn page_shown(&mut self) {
        if std::mem::take(&mut self.left_page) && self.keys_available {
            self.set_state("connecting", "reconnecting".into());
            self.actions.push_back(ClientAction::NeedKey { request: KeyRequest::Reconnect, after_ms: 0 });
        }
    }

    /// Every second: the status bar's rates and key times, and a renewal when one is due.
    pub fn tick(&mut self, now_ms: u64) {
        let seconds = (now_ms.saturating_sub(self.last_tick_ms) as f64 / 1000.0).max(0.001);
        self.status.fps = f64::from(self.frames_since_tick) / seconds;
        self.status.kbps = self.bytes_since_tick as f64 * 8.0 / 1000.0 / seconds;
        (self.frames_since_tick, self.bytes_since_tick, self.last_tick_ms) = (0, 0, now_ms);
        let session = self.socket.as_ref().filter(|s| s.established && !s.session.is_closed()).map(|s| &s.session);
        self.status.key_expires_in_ms = session.and_then(|s| s.key_expires_in_ms(now_ms));
        self.status.key_renews_in_ms = session.and_then(|s| s.renewal_in_ms(now_ms));
        if session.is_some_and(|s| s.renewal_due(now_ms)) && !self.renewing && self.keys_available {
            self.renewing = true;
            self.status.message = "renewing the console key".into();
            self.actions.push_back(ClientAction::NeedKey { request: KeyRequest::Renew, after_ms: 0 });
        }
    }

    /// When the next typing tick is due, while the user is typing.
    pub fn typing_tick_in_ms(&self, now_ms: u64) -> Option<u64> {
        self.socket.as_ref().and_then(|s| s.session.typing_tick_in_ms(now_ms))
    }

    /// The typing tick: the next waiting key, or chaff, goes out.
    pub fn typing_tick(&mut self, now_ms: u64) {
        if let Some(socket) = self.socket.as_mut().filter(|s| s.established) {
            let _ = socket.session.poll_typing(now_ms);
        }
    }

    /// Input for the host. The mouse means nothing on a text screen: its events go nowhere.
    /// A key other than a modifier carries the latched modifiers, and its release lets them go.
    pub fn send_input(&mut self, mut event: InputEvent, now_ms: u64) {
        if matches!(event, InputEvent::Pointer(_)) && !self.screen.is_graphical() {
            return;
        }
        let release_latched = match &mut event {
            InputEvent::Key(key) if !self.latched.is_empty() && modifier_bit(&key.key).is_none() => {
                key.modifiers.0 |= self.latched_modifiers();
                !key.down
            }
            _ => false,
        };
        self.send(AppMessage::Input(event), now_ms);
        if release_latched {
            self.release_latched(now_ms);
        }
    }

    fn release_latched(&mut self, now_ms: u64) {
        for mut key in std::mem::take(&mut self.latched).into_iter().rev() {
            key.down = false;
            self.send(AppMessage::Input(InputEvent::Key(key)), now_ms);
        }
        self.status.latched.clear();
    }

    /// Latches modifier `key` (`KeyboardEvent.key` and `.code`, as `Control`, `ControlLeft`)
    /// down on the host until the next other key, or lets it go if it is latched already.
    /// Keys that are not modifiers are ignored.
    pub fn toggle_latch(&mut self, key: &str, code: &str, now_ms: u64) {
        if modifier_bit(key).is_none() {
            return;
        }
        if let Some(i) = self.latched.iter().position(|k| k.code == code) {
            let mut up = self.latched.remove(i);
            up.down = false;
            self.send(AppMessage::Input(InputEvent::Key(up)), now_ms);
        } else {
            let modifiers = Modifiers(self.latched_modifiers() | modifier_bit(key).unwrap_or(0));
            let down = KeyEvent { down: true, modifiers, key: key.into(), code: code.into() };
            self.send(AppMessage::Input(InputEvent::Key(down.clone())), now_ms);
            self.latched.push(down);
        }
        self.status.latched = self.latched.iter().map(|k| k.code.clone()).collect();
    }

    /// Presses `keys` (key and code, as the browser names them) in order and lets them go in
    /// reverse: the combinations a browser or the user's own system would take (Ctrl-Alt-F1,
    /// Alt-SysRq-h). Latched modifiers are held around it and let go after.
    pub fn chord(&mut self, keys: &[(&str, &str)], now_ms: u64) {
        let mut held = self.latched_modifiers();
        let mut events = Vec::new();
        for &(key, code) in keys {
            held |= modifier_bit(key).unwrap_or(0);
            events.push(KeyEvent { down: true, modifiers: Modifiers(held), key: key.into(), code: code.into() });
        }
        for event in &events {
            self.send(AppMessage::Input(InputEvent::Key(event.clone())), now_ms);
        }
        for mut event in events.into_iter().rev() {
            event.down = false;
            self.send(AppMessage::Input(InputEvent::Key(event)), now_ms);
        }
        self.release_latched(now_ms);
    }

    fn latched_modifiers(&self) -> u8 {
        self.latched.iter().fold(0, |m, k| m | modifier_bit(&k.key).unwrap_or(0))
    }

    /// Puts `text` on the host's clipboard (cut to what the protocol carries).
    pub fn set_host_clipboard(&mut self, text: &str, now_ms: u64) {
        let text = crate::text::truncated(text, crate::wire::message::MAX_CLIPBOARD);
        self.send_input(InputEvent::Clipboard(text.to_string()), now_ms);
    }

    /// The keyboard layout the host uses, for this socket and every later one.
    pub fn set_layout(&mut self, layout: Layout, now_ms: u64) {
        self.layout = layout;
        self.send(AppMessage::Input(InputEvent::Layout(layout)), now_ms);
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    pub fn ctrl_alt_del(&mut self, now_ms: u64) {
        self.send_input(InputEvent::Special(SpecialKey::CtrlAltDel), now_ms);
    }

    /// Types `text` as keystrokes, in pieces the protocol allows (cut between characters).
    pub fn paste(&mut self, text: &str, now_ms: u64) {
        let mut piece = String::new();
        for c in text.chars() {
            if piece.len() + c.len_utf8() > MAX_PASTE {
                self.send_input(InputEvent::Paste(std::mem::take(&mut piece)), now_ms);
            }
            piece.push(c);
        }
        if !piece.is_empty() {
            self.send_input(InputEvent::Paste(piece), now_ms);
        }
    }

    /// Bytes for the host's serial port, in pieces the protocol allows.
    pub fn serial_input(&mut self, bytes: &[u8], now_ms: u64) {
        for piece in bytes.chunks(MAX_SERIAL_INPUT) {
            self.send(AppMessage::Serial(piece.to_vec()), now_ms);
        }
    }

    /// The page shows the serial console: this socket and every later one ask for its stream.
    pub fn open_serial(&mut self, now_ms: u64) {
        self.serial_wanted = true;
        self.send(AppMessage::SerialOpen, now_ms);
    }

    /// Asks for the host's keyboard and mouse (another viewer holds them).
    pub fn request_control(&mut self, now_ms: u64) {
        self.send(AppMessage::RequestControl, now_ms);
    }

    /// Hands the keyboard and mouse to viewer `to` (this console holds them).
    pub fn give_control(&mut self, to: u32, now_ms: u64) {
        self.send(AppMessage::GiveControl { to }, now_ms);
    }

    /// Offers the file the user picked for `device` (`size` bytes, named `name`); the host
    /// reads it through [`ClientAction::MediaRead`] while this socket lasts.
    pub fn offer_media(&mut self, device: MediaDevice, writable: bool, size: u64, name: &str, now_ms: u64) {
        if !self.is_established() {
            let reason = "the console is not connected".to_string();
            return self.actions.push_back(ClientAction::MediaChanged { device, attached: false, reason });
        }
        if !self.media_offered.contains(&device) {
            self.media_offered.push(device);
        }
        self.send(AppMessage::Media(MediaMessage::Offer { device, writable, size, name: name.into() }), now_ms);
    }

    pub fn eject_media(&mut self, device: MediaDevice, now_ms: u64) {
        self.send(AppMessage::Media(MediaMessage::Eject { device }), now_ms);
    }

    /// The bytes for [`ClientAction::MediaRead`] `id`.
    pub fn media_data(&mut self, id: u32, bytes: Vec<u8>, now_ms: u64) {
        self.send(AppMessage::Media(MediaMessage::Data { id, bytes }), now_ms);
    }

    /// The file could not be read for [`ClientAction::MediaRead`] `id`.
    pub fn media_failed(&mut self, id: u32, reason: &str, now_ms: u64) {
        self.send(AppMessage::Media(MediaMessage::Failed { id, reason: reason.into() }), now_ms);
    }

    /// The socket is gone, and with it every file it offered.
    fn media_lost(&mut self) {
        for device in std::mem::take(&mut self.media_offered) {
            let reason = "the console connection closed".to_string();
            self.actions.push_back(ClientAction::MediaChanged { device, attached: false, reason });
        }
    }

    fn on_media(&mut self, message: MediaMessage) {
        match message {
            MediaMessage::Read { id, device, offset, length } => {
                self.actions.push_back(ClientAction::MediaRead { id, device, offset, length })
            }
            MediaMessage::Attached { device } => {
                let reason = "attached".to_string();
                self.actions.push_back(ClientAction::MediaChanged { device, attached: true, reason });
            }
            MediaMessage::Detached { device, reason } => {
                self.media_offered.retain(|d| *d != device);
                self.actions.push_back(ClientAction::MediaChanged { device, attached: false, reason });
            }
            // The applet's own messages, sent back: nothing a controller says.
            MediaMessage::Offer { .. }
            | MediaMessage::Eject { .. }
            | MediaMessage::Data { .. }
            | MediaMessage::Failed { .. } => {}
        }
    }

    fn send(&mut self, message: AppMessage, now_ms: u64) {
        if let Some(socket) = self.socket.as_mut().filter(|s| s.established) {
            // A send error means the link is closing; the close reports it.
            let _ = socket.session.send(message, now_ms);
        }
    }

    fn on_event(&mut self, event: ClientEvent, now_ms: u64) {
        match event {
            ClientEvent::Established(info) => {
                if let Some(socket) = self.socket.as_mut() {
                    socket.established = true;
                    // A new socket: the serial stream starts over from the backlog.
                    if self.serial_wanted {
                        self.actions.push_back(ClientAction::SerialReset);
                        let _ = socket.session.send(AppMessage::SerialOpen, now_ms);
                    }
                    if self.layout != Layout::Us {
                        let _ = socket.session.send(AppMessage::Input(InputEvent::Layout(self.layout)), now_ms);
                    }
                }
                self.reconnect_attempts = 0;
                self.status.state = "connected";
                self.status.suite = Some(info.suite.name());
                self.status.message = format!("connected ({})", info.suite);
            }
            ClientEvent::Message(AppMessage::Video(update)) => match self.screen.apply(&update, &mut self.actions) {
                Ok(()) => {
                    if self.status.frames == 0 {
                        self.actions.push_back(ClientAction::FirstPicture);
                    }
                    self.frames_since_tick += 1;
                    self.status.frames += 1;
                }
                Err(err) => {
                    // A full frame brings the screen back; the bad update changed nothing.
                    self.status.message = format!("bad video update ({err}); resynchronising");
                    self.send(AppMessage::RefreshRequest, now_ms);
                }
            },
            ClientEvent::Message(AppMessage::HostStatus(s)) => self.status.host_status = s.text,
            ClientEvent::Message(AppMessage::Presence(p)) => self.status.presence = p,
            ClientEvent::Message(AppMessage::Clipboard(text)) => self.status.host_clipboard = Some(text.into()),
            ClientEvent::Message(AppMessage::Serial(bytes)) => {
                self.status.serial_bytes += bytes.len() as u64;
                self.actions.push_back(ClientAction::Serial(bytes));
            }
            ClientEvent::Message(AppMessage::Media(m)) => self.on_media(m),
            ClientEvent::Message(_) => {}
            ClientEvent::RekeyComplete { generation } => {
                self.renewing = false;
                self.status.renewals += 1;
                self.status.message = format!("key renewed in-band (generation {generation})");
            }
            ClientEvent::RekeyFailed(alert) => {
                self.renewing = false;
                self.status.message = format!("key renewal failed: {alert}; still on the current key");
            }
        }
    }

    fn set_state(&mut self, state: &'static str, message: String) {
        self.status.state = state;
        self.status.message = message;
        if state != "connected" {
            self.clear_key_times();
        }
    }

    fn clear_key_times(&mut self) {
        self.status.key_expires_in_ms = None;
        self.status.key_renews_in_ms = None;
    }
}
