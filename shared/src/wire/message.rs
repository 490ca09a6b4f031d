//! Channel messages: the plaintext of sealed records.

use super::codec::{Reader, Writer};
use super::handshake::Alert;
use super::media::MediaMessage;
use super::{DecodeError, KeyId, Nonce, KEY_ID_LEN, NONCE_LEN};
use crate::crypto::derive::PROOF_LEN;
use crate::text::truncated;

const MAX_KEY_NAME: usize = 32;
/// Largest paste carried in one message; the applet splits longer pastes.
pub const MAX_PASTE: usize = 16 << 10;
/// Largest serial input message a viewer may send (the applet sends pastes in pieces of this).
pub const MAX_SERIAL_INPUT: usize = 4 << 10;
/// The most clipboard text carried either way, in bytes.
pub const MAX_CLIPBOARD: usize = 1 << 20;
const MAX_STATUS_TEXT: usize = 256;
/// Viewers listed in one presence message; more are left out of the list (not of the host).
pub const MAX_VIEWERS: usize = 64;
const MAX_VIEWER_NAME: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Control = 0,
    Video = 1,
    Input = 2,
    Serial = 3,
    /// A message with zero bytes after it, so that records do not tell its size.
    Padded = 4,
    /// Virtual media streamed from the browser (`super::media`).
    Media = 5,
}

/// The plaintext size of a padded keystroke or pointer record: every one looks the same.
pub const PADDED_INPUT: usize = 64;

/// The plaintext size a padded `message` takes: [`PADDED_INPUT`] for keys and pointer events,
/// and for a paste the next power of two from 1 KiB (what it reveals is its length to within a
/// factor of two).
pub fn padded_size(message: &Message) -> usize {
    let mut plain = Vec::new();
    message.encode(&mut plain);
    // channel (1) + inner length (2) + the message
    let needed = 3 + plain.len();
    if needed <= PADDED_INPUT {
        PADDED_INPUT
    } else {
        needed.next_power_of_two().max(1024)
    }
}

/// A video update as it arrived: the opened record it came in, read from `start` on, so an
/// update (up to megabytes of a full frame) is never copied out of its record.
#[derive(Clone, Default)]
pub struct Payload {
    buf: Vec<u8>,
    start: usize,
}

impl Payload {
    /// The bytes of `buf` from `start` on (none if `start` is past its end).
    pub fn new(buf: Vec<u8>, start: usize) -> Self {
        let start = start.min(buf.len());
        Self { buf, start }
    }
}

impl From<Vec<u8>> for Payload {
    fn from(buf: Vec<u8>) -> Self {
        Self { buf, start: 0 }
    }
}

impl core::ops::Deref for Payload {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Payload {}

impl core::fmt::Debug for Payload {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Payload({} bytes)", self.len())
    }
}

/// Everything a sealed record can carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Control(ControlMessage),
    /// An encoded video update (see [`crate::video`]); opaque here so the controller can encode
    /// once per host and seal per viewer.
    Video(Payload),
    Input(InputEvent),
    Serial(Vec<u8>),
    Media(MediaMessage),
}

/// Control channel: alerts, the in-band key switch, and host status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlMessage {
    /// The sender is closing the link for this reason.
    Alert(Alert),
    /// Step 1 of a key switch (applet): "I hold this fresh key".
    RekeyReady { key_id: KeyId, client_nonce: Nonce },
    /// Step 2 (controller): "so do I", with proof.
    RekeyAck { server_nonce: Nonce, proof: [u8; PROOF_LEN] },
    /// Step 3 (applet): its proof; the applet seals everything after this under the new keys.
    RekeyConfirm { proof: [u8; PROOF_LEN] },
    /// The controller refused the fresh key; both sides stay on the current one.
    RekeyRefused(Alert),
    /// The applet gave up the switch (the controller's proof was wrong); keep the current keys.
    RekeyAbort,
    /// The applet asks for a full video frame (after it lost track, or on start).
    RefreshRequest,
    /// What the host is doing, for the status bar.
    HostStatus(HostStatus),
    /// Who watches the host and who holds its keyboard and mouse (controller to applet).
    Presence(Presence),
    /// The applet asks for the keyboard and mouse.
    RequestControl,
    /// The holder hands the keyboard and mouse to another viewer.
    GiveControl { to: u32 },
    /// The applet opens the host's serial console: the controller sends its backlog, then the
    /// output as it comes. Links that never ask carry no serial traffic.
    SerialOpen,
    /// Nothing: sent (padded like a keystroke) on the typing tick when no key is waiting, so
    /// that the records' timing does not tell when keys were pressed. The receiver drops it.
    Chaff,
    /// The text on the host's clipboard (controller to applet), as the host copied it.
    Clipboard(String),
}

/// One host's viewers, as one of them sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Presence {
    /// The receiving viewer's own id.
    pub you: u32,
    /// Who holds the keyboard and mouse, if anyone.
    pub holder: Option<u32>,
    /// A viewer waiting for control, if any.
    pub requested_by: Option<u32>,
    pub viewers: Vec<Viewer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub id: u32,
    /// The user's name, as the audit trail knows them.
    pub name: String,
    /// May hold the keyboard and mouse (a view-only viewer may not).
    pub may_control: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostStatus {
    pub state: HostState,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostState {
    Running,
    Stopped,
    NoSignal,
}

impl HostState {
    /// The name the API and the metrics give it.
    pub fn name(self) -> &'static str {
        match self {
            HostState::Running => "running",
            HostState::Stopped => "stopped",
            HostState::NoSignal => "no-signal",
        }
    }
}

/// Keyboard, pointer and paste from the applet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputEvent {
    Key(KeyEvent),
    /// Text to type as keystrokes.
    Paste(String),
    Pointer(PointerEvent),
    Special(SpecialKey),
    /// The keyboard layout the host's system uses: the controller types keys and pastes so
    /// that they arrive as the user meant them there.
    Layout(Layout),
    /// Asks the host to make its desktop this size (VNC servers that take SetDesktopSize).
    DesktopSize {
        width: u16,
        height: u16,
    },
    /// Text for the host's clipboard.
    Clipboard(String),
    /// The mouse moved by this much with these buttons held (relative mode, Pointer Lock).
    PointerMotion {
        dx: i16,
        dy: i16,
        buttons: u8,
    },
}

/// The keyboard layouts the controller can type for (on hosts that take scancodes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Layout {
    #[default]
    Us,
    Gb,
    De,
    Fr,
    Es,
    It,
}

impl Layout {
    pub const ALL: [Layout; 6] = [Layout::Us, Layout::Gb, Layout::De, Layout::Fr, Layout::Es, Layout::It];

    /// The short name users and the preference store know it by.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Us => "us",
            Layout::Gb => "gb",
            Layout::De => "de",
            Layout::Fr => "fr",
            Layout::Es => "es",
            Layout::It => "it",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Layout::Us => "English (US)",
            Layout::Gb => "English (UK)",
            Layout::De => "German",
            Layout::Fr => "French",
            Layout::Es => "Spanish",
            Layout::It => "Italian",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.name() == name)
    }

    fn code(self) -> u8 {
        self as u8
    }

    fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }
}

/// A key as the browser names it (`KeyboardEvent.key` and `.code`), so each backend can map it
/// to what its host understands: terminal bytes, X keysyms or scancodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEvent {
    pub down: bool,
    pub modifiers: Modifiers,
    pub key: String,
    pub code: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Modifiers(pub u8);

impl Modifiers {
    pub const SHIFT: u8 = 1;
    pub const CTRL: u8 = 2;
    pub const ALT: u8 = 4;
    pub const META: u8 = 8;
    /// AltGr (`getModifierState("AltGraph")`), which some systems report as Ctrl+Alt too.
    pub const ALT_GRAPH: u8 = 16;

    pub fn shift(self) -> bool {
        self.0 & Self::SHIFT != 0
    }
    pub fn ctrl(self) -> bool {
        self.0 & Self::CTRL != 0
    }
    pub fn alt(self) -> bool {
        self.0 & Self::ALT != 0
    }
    pub fn meta(self) -> bool {
        self.0 & Self::META != 0
    }
    pub fn alt_graph(self) -> bool {
        self.0 & Self::ALT_GRAPH != 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PointerEvent {
    pub x: u16,
    pub y: u16,
    /// Bit 0 left, 1 middle, 2 right, 3/4 wheel up/down.
    pub buttons: u8,
}

/// Key combinations a browser cannot send itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecialKey {
    CtrlAltDel,
}

/// The subset of messages the application layer sends and receives; the session handles the
/// rest (alerts and the key switch) itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppMessage {
    Video(Payload),
    Input(InputEvent),
    Serial(Vec<u8>),
    RefreshRequest,
    HostStatus(HostStatus),
    Presence(Presence),
    RequestControl,
    GiveControl {
        to: u32,
    },
    SerialOpen,
    Media(MediaMessage),
    /// The host's clipboard (controller to applet).
    Clipboard(String),
}

impl From<AppMessage> for Message {
    fn from(m: AppMessage) -> Self {
        match m {
            AppMessage::Video(v) => Message::Video(v),
            AppMessage::Input(i) => Message::Input(i),
            AppMessage::Serial(s) => Message::Serial(s),
            AppMessage::RefreshRequest => Message::Control(ControlMessage::RefreshRequest),
            AppMessage::HostStatus(s) => Message::Control(ControlMessage::HostStatus(s)),
            AppMessage::Presence(p) => Message::Control(ControlMessage::Presence(p)),
            AppMessage::RequestControl => Message::Control(ControlMessage::RequestControl),
            AppMessage::GiveControl { to } => Message::Control(ControlMessage::GiveControl { to }),
            AppMessage::SerialOpen => Message::Control(ControlMessage::SerialOpen),
            AppMessage::Media(m) => Message::Media(m),
            AppMessage::Clipboard(text) => Message::Control(ControlMessage::Clipboard(text)),
        }
    }
}

impl Message {
    /// Encodes the message inside a padded container of `size` bytes (at least what it needs):
    /// channel `Padded`, the inner message's length (u16), the inner message, then zeros.
    pub fn encode_padded(&self, size: usize, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u8(Channel::Padded as u8);
        // The inner message is written in place, its length filled in after.
        out.put_u16(0);
        self.encode(out);
        // Inner messages are input, at most a 16 KiB paste: they fit a u16.
        let inner = u16::try_from(out.len() - start - 3).unwrap_or(u16::MAX);
        if let Some(length) = out.get_mut(start + 1..start + 3) {
            length.copy_from_slice(&inner.to_be_bytes());
        }
        let used = out.len() - start;
        out.resize(start + used.max(size), 0);
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Message::Control(c) => {
                out.put_u8(Channel::Control as u8);
                c.encode(out);
            }
            Message::Video(v) => {
                out.put_u8(Channel::Video as u8);
                out.put_bytes(v);
            }
            Message::Input(i) => {
                out.put_u8(Channel::Input as u8);
                i.encode(out);
            }
            Message::Serial(s) => {
                out.put_u8(Channel::Serial as u8);
                out.put_bytes(s);
            }
            Message::Media(m) => {
                out.put_u8(Channel::Media as u8);
                m.encode(out);
            }
        }
    }

    /// Decodes the message in `record[start..]` (an opened record): a video update stays in
    /// the record's buffer, other messages are read out of it.
    pub fn decode_in(record: Vec<u8>, start: usize) -> Result<Self, DecodeError> {
        match record.get(start) {
            Some(&channel) if channel == Channel::Video as u8 => Ok(Message::Video(Payload::new(record, start + 1))),
            _ => Message::decode(record.get(start..).unwrap_or_default()),
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let msg = match r.u8("channel")? {
            0 => Message::Control(ControlMessage::decode(&mut r)?),
            1 => Message::Video(r.rest().to_vec().into()),
            2 => Message::Input(InputEvent::decode(&mut r)?),
            3 => Message::Serial(r.rest().to_vec()),
            5 => Message::Media(MediaMessage::decode(&mut r)?),
            4 => {
                let len = usize::from(r.u16("padded length")?);
                let inner = r.bytes(len, "padded message")?;
                if r.rest().iter().any(|&b| b != 0) {
                    return Err(DecodeError::Invalid { field: "padding", reason: "padding must be zeros" });
                }
                // Padding holds one plain message, never another container.
                if inner.first() == Some(&(Channel::Padded as u8)) {
                    return Err(DecodeError::Invalid { field: "padded message", reason: "nested padding" });
                }
                return Message::decode(inner);
            }
            other => return Err(DecodeError::Unknown { field: "channel", value: other }),
        };
        r.finish("channel message")?;
        Ok(msg)
    }

    /// Splits off the messages the application sees.
    pub fn into_app(self) -> Result<AppMessage, ControlMessage> {
        match self {
            Message::Video(v) => Ok(AppMessage::Video(v)),
            Message::Input(i) => Ok(AppMessage::Input(i)),
            Message::Serial(s) => Ok(AppMessage::Serial(s)),
            Message::Media(m) => Ok(AppMessage::Media(m)),
            Message::Control(ControlMessage::RefreshRequest) => Ok(AppMessage::RefreshRequest),
            Message::Control(ControlMessage::HostStatus(s)) => Ok(AppMessage::HostStatus(s)),
            Message::Control(ControlMessage::Presence(p)) => Ok(AppMessage::Presence(p)),
            Message::Control(ControlMessage::RequestControl) => Ok(AppMessage::RequestControl),
            Message::Control(ControlMessage::GiveControl { to }) => Ok(AppMessage::GiveControl { to }),
            Message::Control(ControlMessage::SerialOpen) => Ok(AppMessage::SerialOpen),
            Message::Control(ControlMessage::Clipboard(text)) => Ok(AppMessage::Clipboard(text)),
            Message::Control(other) => Err(other),
        }
    }
}

impl ControlMessage {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ControlMessage::Alert(a) => {
                out.put_u8(1);
                a.encode_body(out);
            }
            ControlMessage::RekeyReady { key_id, client_nonce } => {
                out.put_u8(2);
                out.put_bytes(&key_id.0);
                out.put_bytes(client_nonce);
            }
            ControlMessage::RekeyAck { server_nonce, proof } => {
                out.put_u8(3);
                out.put_bytes(server_nonce);
                out.put_bytes(proof);
            }
            ControlMessage::RekeyConfirm { proof } => {
                out.put_u8(4);
                out.put_bytes(proof);
            }
            ControlMessage::RekeyRefused(a) => {
                out.put_u8(5);
                a.encode_body(out);
            }
            ControlMessage::RekeyAbort => out.put_u8(6),
            ControlMessage::RefreshRequest => out.put_u8(7),
            ControlMessage::HostStatus(s) => {
                out.put_u8(8);
                out.put_u8(match s.state {
                    HostState::Running => 0,
                    HostState::Stopped => 1,
                    HostState::NoSignal => 2,
                });
                out.put_length_prefixed(s.text.as_bytes());
            }
            ControlMessage::Presence(p) => {
                out.put_u8(9);
                out.put_u32(p.you);
                for id in [p.holder, p.requested_by] {
                    match id {
                        Some(id) => {
                            out.put_u8(1);
                            out.put_u32(id);
                        }
                        None => out.put_u8(0),
                    }
                }
                let listed = &p.viewers[..p.viewers.len().min(MAX_VIEWERS)];
                out.put_u8(listed.len() as u8);
                for v in listed {
                    out.put_u32(v.id);
                    out.put_u8(u8::from(v.may_control));
                    out.put_length_prefixed(truncated(&v.name, MAX_VIEWER_NAME).as_bytes());
                }
            }
            ControlMessage::RequestControl => out.put_u8(10),
            ControlMessage::GiveControl { to } => {
                out.put_u8(11);
                out.put_u32(*to);
            }
            ControlMessage::SerialOpen => out.put_u8(12),
            ControlMessage::Chaff => out.put_u8(13),
            ControlMessage::Clipboard(text) => {
                out.put_u8(14);
                out.put_length_prefixed(truncated(text, MAX_CLIPBOARD).as_bytes());
            }
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.u8("control type")? {
            1 => ControlMessage::Alert(Alert::decode_body(r)?),
            2 => ControlMessage::RekeyReady {
                key_id: KeyId(r.array::<KEY_ID_LEN>("rekey key id")?),
                client_nonce: r.array::<NONCE_LEN>("rekey client nonce")?,
            },
            3 => ControlMessage::RekeyAck {
                server_nonce: r.array::<NONCE_LEN>("rekey server nonce")?,
                proof: r.array::<PROOF_LEN>("rekey server proof")?,
            },
            4 => ControlMessage::RekeyConfirm { proof: r.array::<PROOF_LEN>("rekey client proof")? },
            5 => ControlMessage::RekeyRefused(Alert::decode_body(r)?),
            6 => ControlMessage::RekeyAbort,
            7 => ControlMessage::RefreshRequest,
            8 => {
                let state = match r.u8("host state")? {
                    0 => HostState::Running,
                    1 => HostState::Stopped,
                    2 => HostState::NoSignal,
                    other => return Err(DecodeError::Unknown { field: "host state", value: other }),
                };
                let text = r.string(MAX_STATUS_TEXT, "host status text")?.into();
                ControlMessage::HostStatus(HostStatus { state, text })
            }
            9 => {
                let you = r.u32("presence you")?;
                let holder = optional_id(r, "presence holder")?;
                let requested_by = optional_id(r, "presence request")?;
                let count = usize::from(r.u8("viewer count")?);
                if count > MAX_VIEWERS {
                    return Err(DecodeError::TooLong { field: "viewers", max: MAX_VIEWERS });
                }
                let mut viewers = Vec::with_capacity(count);
                for _ in 0..count {
                    let id = r.u32("viewer id")?;
                    let may_control = match r.u8("viewer may control")? {
                        0 => false,
                        1 => true,
                        other => return Err(DecodeError::Unknown { field: "viewer may control", value: other }),
                    };
                    let name = r.string(MAX_VIEWER_NAME, "viewer name")?.into();
                    viewers.push(Viewer { id, name, may_control });
                }
                ControlMessage::Presence(Presence { you, holder, requested_by, viewers })
            }
            10 => ControlMessage::RequestControl,
            11 => ControlMessage::GiveControl { to: r.u32("give control to")? },
            12 => ControlMessage::SerialOpen,
            13 => ControlMessage::Chaff,
            14 => ControlMessage::Clipboard(r.string(MAX_CLIPBOARD, "clipboard")?.into()),
            other => return Err(DecodeError::Unknown { field: "control type", value: other }),
        })
    }
}

impl InputEvent {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            InputEvent::Key(k) => {
                out.put_u8(1);
                out.put_u8(u8::from(k.down));
                out.put_u8(k.modifiers.0);
                out.put_length_prefixed(truncated(&k.key, MAX_KEY_NAME).as_bytes());
                out.put_length_prefixed(truncated(&k.code, MAX_KEY_NAME).as_bytes());
            }
            InputEvent::Paste(text) => {
                out.put_u8(2);
                out.put_length_prefixed(truncated(text, MAX_PASTE).as_bytes());
            }
            InputEvent::Pointer(p) => {
                out.put_u8(3);
                out.put_u16(p.x);
                out.put_u16(p.y);
                out.put_u8(p.buttons);
            }
            InputEvent::Special(SpecialKey::CtrlAltDel) => {
                out.put_u8(4);
                out.put_u8(1);
            }
            InputEvent::Layout(layout) => {
                out.put_u8(5);
                out.put_u8(layout.code());
            }
            InputEvent::DesktopSize { width, height } => {
                out.put_u8(6);
                out.put_u16(*width);
                out.put_u16(*height);
            }
            InputEvent::Clipboard(text) => {
                out.put_u8(7);
                out.put_length_prefixed(truncated(text, MAX_CLIPBOARD).as_bytes());
            }
            InputEvent::PointerMotion { dx, dy, buttons } => {
                out.put_u8(8);
                out.put_u16(*dx as u16);
                out.put_u16(*dy as u16);
                out.put_u8(*buttons);
            }
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.u8("input type")? {
            1 => InputEvent::Key(KeyEvent {
                down: match r.u8("key direction")? {
                    0 => false,
                    1 => true,
                    other => return Err(DecodeError::Unknown { field: "key direction", value: other }),
                },
                modifiers: Modifiers(r.u8("modifiers")?),
                key: r.string(MAX_KEY_NAME, "key name")?.into(),
                code: r.string(MAX_KEY_NAME, "key code")?.into(),
            }),
            2 => InputEvent::Paste(r.string(MAX_PASTE, "paste")?.into()),
            3 => InputEvent::Pointer(PointerEvent {
                x: r.u16("pointer x")?,
                y: r.u16("pointer y")?,
                buttons: r.u8("buttons")?,
            }),
            4 => match r.u8("special key")? {
                1 => InputEvent::Special(SpecialKey::CtrlAltDel),
                other => return Err(DecodeError::Unknown { field: "special key", value: other }),
            },
            5 => {
                let code = r.u8("keyboard layout")?;
                InputEvent::Layout(
                    Layout::from_code(code).ok_or(DecodeError::Unknown { field: "keyboard layout", value: code })?,
                )
            }
            6 => InputEvent::DesktopSize { width: r.u16("desktop width")?, height: r.u16("desktop height")? },
            7 => InputEvent::Clipboard(r.string(MAX_CLIPBOARD, "clipboard")?.into()),
            8 => InputEvent::PointerMotion {
                dx: r.u16("pointer dx")? as i16,
                dy: r.u16("pointer dy")? as i16,
                buttons: r.u8("buttons")?,
            },
            other => return Err(DecodeError::Unknown { field: "input type", value: other }),
        })
    }
}

fn optional_id(r: &mut Reader<'_>, field: &'static str) -> Result<Option<u32>, DecodeError> {
    match r.u8(field)? {
        0 => Ok(None),
        1 => Ok(Some(r.u32(field)?)),
        other => Err(DecodeError::Unknown { field, value: other }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::AlertCode;

    fn round_trip(m: Message) {
        let mut buf = Vec::new();
        m.encode(&mut buf);
        assert_eq!(Message::decode(&buf).unwrap(), m);
    }

    #[test]
    fn every_message_round_trips() {
        round_trip(Message::Control(ControlMessage::Alert(Alert::new(AlertCode::ReusedKey))));
        round_trip(Message::Control(ControlMessage::RekeyReady { key_id: KeyId([3; 16]), client_nonce: [4; 32] }));
        round_trip(Message::Control(ControlMessage::RekeyAck { server_nonce: [5; 32], proof: [6; 20] }));
        round_trip(Message::Control(ControlMessage::RekeyConfirm { proof: [7; 20] }));
        round_trip(Message::Control(ControlMessage::RekeyRefused(Alert::new(AlertCode::ExpiredKey))));
        round_trip(Message::Control(ControlMessage::RekeyAbort));
        round_trip(Message::Control(ControlMessage::RefreshRequest));
        round_trip(Message::Control(ControlMessage::HostStatus(HostStatus {
            state: HostState::NoSignal,
            text: "no signal".into(),
        })));
        round_trip(Message::Control(ControlMessage::Presence(Presence {
            you: 7,
            holder: Some(3),
            requested_by: None,
            viewers: vec![
                Viewer { id: 3, name: "admin".into(), may_control: true },
                Viewer { id: 7, name: "bob@peer".into(), may_control: false },
            ],
        })));
        round_trip(Message::Control(ControlMessage::Presence(Presence::default())));
        round_trip(Message::Control(ControlMessage::GiveControl { to: 42 }));
        round_trip(Message::Control(ControlMessage::SerialOpen));
        round_trip(Message::Control(ControlMessage::GiveControl { to: 42 }));
        round_trip(Message::Video(vec![1, 2, 3].into()));
        round_trip(Message::Serial(b"login: ".to_vec()));
        round_trip(Message::Input(InputEvent::Key(KeyEvent {
            down: true,
            modifiers: Modifiers(Modifiers::CTRL),
            key: "c".into(),
            code: "KeyC".into(),
        })));
        round_trip(Message::Input(InputEvent::Paste("ls -l ✓".into())));
        round_trip(Message::Input(InputEvent::Pointer(PointerEvent { x: 1919, y: 1079, buttons: 1 })));
        round_trip(Message::Input(InputEvent::Special(SpecialKey::CtrlAltDel)));
        round_trip(Message::Input(InputEvent::DesktopSize { width: 1920, height: 1080 }));
        round_trip(Message::Input(InputEvent::Clipboard("grüße ✓\n".into())));
        round_trip(Message::Input(InputEvent::PointerMotion { dx: -300, dy: 7, buttons: 5 }));
        round_trip(Message::Control(ControlMessage::Clipboard("всем €".into())));
        for layout in Layout::ALL {
            round_trip(Message::Input(InputEvent::Layout(layout)));
            assert_eq!(Layout::from_name(layout.name()), Some(layout));
        }
    }

    #[test]
    fn junk_is_an_error_not_a_panic() {
        let bad_presence = [0, 9, 0, 0, 0, 1, 2, 0, 0];
        for bad in [&[][..], &[9], &[0, 99], &[2, 1, 2], &[0, 8, 7, 0], &[2, 2, 5, b'a'], &bad_presence, &[0, 11, 1]] {
            assert!(Message::decode(bad).is_err(), "{bad:?}");
        }
    }
}
