//! The client state machine: handshake, then server messages, decoded as bytes arrive.
//!
//! Large rectangles (a 1080p Raw frame is 8 MiB) are decoded row by row and tile by tile as
//! their bytes arrive, so the input buffer stays small and nothing is parsed twice.

use shared::video::cursor::{Cursor, MAX_CURSOR};
use shared::video::frame::{Framebuffer, Rect, BYTES_PER_PIXEL};
use shared::video::tiles::Copy;
use zeroize::Zeroizing;

use crate::auth::{self, CHALLENGE_LEN};
use crate::clipboard::{Clipboard, ENC_EXTENDED_CLIPBOARD};
use crate::encodings::{hextile_tile_len, paint_hextile_tile, put_row, Zrle, HEXTILE};
use crate::input::Input;
use crate::tight::Tight;
use crate::{Error, Result};

const ENC_RAW: i32 = 0;
const ENC_COPY_RECT: i32 = 1;
const ENC_HEXTILE: i32 = 5;
const ENC_TIGHT: i32 = 7;
const ENC_ZRLE: i32 = 16;
const ENC_CURSOR: i32 = -239;
const ENC_DESKTOP_SIZE: i32 = -223;
const ENC_LAST_RECT: i32 = -224;
const ENC_QEMU_EXTENDED_KEY: i32 = -258;
const ENC_QEMU_POINTER_MOTION_CHANGE: i32 = -257;
const ENC_EXTENDED_DESKTOP_SIZE: i32 = -308;

/// Encodings asked for, most preferred first: ZRLE (lossless and cheapest to decode), then
/// Tight for a server without it (no JPEG quality level is asked for, so it stays lossless).
const ENCODINGS: [i32; 12] = [
    ENC_ZRLE,
    ENC_TIGHT,
    ENC_HEXTILE,
    ENC_COPY_RECT,
    ENC_RAW,
    ENC_CURSOR,
    ENC_DESKTOP_SIZE,
    ENC_EXTENDED_DESKTOP_SIZE,
    ENC_LAST_RECT,
    ENC_QEMU_EXTENDED_KEY,
    ENC_QEMU_POINTER_MOTION_CHANGE,
    ENC_EXTENDED_CLIPBOARD,
];

const SECURITY_NONE: u8 = 1;
const SECURITY_VNC: u8 = 2;
const MAX_REASON: usize = 4096;
const MAX_NAME: usize = 4096;
const MAX_CUT_TEXT: usize = crate::clipboard::MAX_TEXT;
const MAX_ZRLE: usize = 64 << 20;
const MAX_SERVER_CURSOR: u16 = 1024;

/// What the client needs to know before it connects.
#[derive(Default)]
pub struct Config {
    /// For VNC Authentication; servers without a password need none.
    pub password: Option<Zeroizing<String>>,
    /// Leave other viewers of the server connected (RFB "shared" flag).
    pub shared: bool,
    /// Ask for Tight before ZRLE.
    pub prefer_tight: bool,
}

/// What happened, for the caller to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The handshake is done; the framebuffer exists (black) and a full update is on its way.
    Connected {
        width: u16,
        height: u16,
        name: String,
    },
    /// The server changed the screen size; the framebuffer is black until updated.
    Resized {
        width: u16,
        height: u16,
    },
    /// Pixels in this rectangle changed.
    Updated(Rect),
    /// The server moved a region (already applied to the framebuffer).
    Copied(Copy),
    /// The end of one framebuffer update: a good moment to show the frame and ask for the next.
    UpdateDone,
    Bell,
    /// The server's clipboard (UTF-8 with the Extended Clipboard, Latin-1 cut text otherwise).
    CutText(String),
    /// The server accepts QEMU extended key events (scancodes).
    ExtendedKeys,
    /// The server's pointer is absolute (a tablet) or relative (a PS/2 mouse): QEMU's pointer
    /// motion change, which also makes relative pointer events exact deltas.
    PointerMode {
        absolute: bool,
    },
    /// The pointer's new shape. The server no longer paints the pointer into the framebuffer:
    /// the viewer draws it.
    Cursor(Cursor),
}

#[derive(Debug, Clone, Copy)]
enum State {
    Version,
    SecurityTypes { minor: u16 },
    SecurityType33,
    Challenge { minor: u16 },
    SecurityResult { minor: u16 },
    ServerInit,
    Idle,
    Rects { left: u16 },
    Raw { rect: Rect, row: u16, left: u16 },
    Hextile { rect: Rect, tile: u32, bg: [u8; 4], fg: [u8; 4], left: u16 },
    Failed,
}

/// Why a parse step stopped.
pub(crate) enum Halt {
    /// Wait for more bytes; nothing was consumed.
    Incomplete,
    Error(Error),
}

impl From<Error> for Halt {
    fn from(e: Error) -> Self {
        Halt::Error(e)
    }
}

pub(crate) type Step<T> = core::result::Result<T, Halt>;

pub struct Client {
    config: Config,
    state: State,
    /// Received bytes not yet consumed.
    buf: Vec<u8>,
    out: Vec<u8>,
    frame: Option<Framebuffer>,
    zrle: Zrle,
    tight: Tight,
    tight_rects: u64,
    extended_keys: bool,
    /// The server's first screen (id and flags) once it has said it takes ExtendedDesktopSize,
    /// which is what a SetDesktopSize asks to resize.
    screen: Option<(u32, u32)>,
    clipboard: Clipboard,
    /// What QEMU said of its pointer (pointer motion change), once it has.
    pointer_absolute: Option<bool>,
}

impl Client {
    pub fn new(config: Config) -> Self {
        Self {
            config,
            state: State::Version,
            buf: Vec::new(),
            out: Vec::new(),
            frame: None,
            zrle: Zrle::new(),
            tight: Tight::new(),
            tight_rects: 0,
            extended_keys: false,
            screen: None,
            clipboard: Clipboard::default(),
            pointer_absolute: None,
        }
    }

    /// The screen as decoded so far; `None` before the handshake is done.
    pub fn framebuffer(&self) -> Option<&Framebuffer> {
        self.frame.as_ref()
    }

    /// How many Tight rectangles were decoded (the server chooses the encoding).
    pub fn tight_rects(&self) -> u64 {
        self.tight_rects
    }

    pub fn supports_extended_keys(&self) -> bool {
        self.extended_keys
    }

    /// Whether the server said its pointer is relative and takes motions as deltas (QEMU's
    /// pointer motion change: a guest with a PS/2 mouse and no tablet).
    pub fn takes_pointer_motion(&self) -> bool {
        self.pointer_absolute == Some(false)
    }

    /// Moves the pointer by `dx`, `dy` with `buttons` held, as QEMU's pointer motion change
    /// has it (the position fields carry the deltas biased by 0x7FFF). Only for a server that
    /// `takes_pointer_motion`; false, and nothing sent, otherwise.
    pub fn pointer_motion(&mut self, dx: i16, dy: i16, buttons: u8) -> bool {
        if !self.takes_pointer_motion() {
            return false;
        }
        let biased = |d: i16| (0x7fff_i32 + i32::from(d)) as u16;
        self.pointer(biased(dx), biased(dy), buttons);
        true
    }

    /// Puts `text` on the server's clipboard (UTF-8 where the server has the Extended
    /// Clipboard, Latin-1 otherwise).
    pub fn set_clipboard(&mut self, text: &str) {
        self.clipboard.set(text, &mut self.out);
    }

    /// Whether the server's clipboard is UTF-8 (the Extended Clipboard).
    pub fn clipboard_is_unicode(&self) -> bool {
        self.clipboard.extended()
    }

    /// Whether the server said it takes SetDesktopSize (it sent ExtendedDesktopSize).
    pub fn can_resize(&self) -> bool {
        self.screen.is_some()
    }

    /// Asks the server to make its desktop `width` x `height` (one screen, at the origin);
    /// false, and nothing sent, when it cannot be asked. The answer is an ExtendedDesktopSize.
    pub fn set_desktop_size(&mut self, width: u16, height: u16) -> bool {
        let Some((id, flags)) = self.screen else { return false };
        if width == 0 || height == 0 {
            return false;
        }
        self.out.extend_from_slice(&[251, 0]);
        self.out.extend_from_slice(&width.to_be_bytes());
        self.out.extend_from_slice(&height.to_be_bytes());
        self.out.extend_from_slice(&[1, 0]);
        self.out.extend_from_slice(&id.to_be_bytes());
        self.out.extend_from_slice(&[0, 0, 0, 0]);
        self.out.extend_from_slice(&width.to_be_bytes());
        self.out.extend_from_slice(&height.to_be_bytes());
        self.out.extend_from_slice(&flags.to_be_bytes());
        true
    }

    /// Bytes to send to the server.
    pub fn take_outgoing(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.out)
    }

    /// Takes bytes from the server and returns what they meant. After an error the client is
    /// failed for good: drop it and connect again.
    pub fn feed(&mut self, data: &[u8]) -> Result<Vec<Event>> {
        if matches!(self.state, State::Failed) {
            return Err(Error::Failed);
        }
        self.buf.extend_from_slice(data);
        let buf = core::mem::take(&mut self.buf);
        let mut pos = 0;
        let mut events = Vec::new();
        let outcome = loop {
            let mut input = Input::new(&buf[pos..]);
            match self.step(&mut input, &mut events) {
                Ok(()) => pos += input.consumed(),
                Err(Halt::Incomplete) => break Ok(()),
                Err(Halt::Error(e)) => break Err(e),
            }
        };
        self.buf = buf;
        self.buf.drain(..pos);
        match outcome {
            Ok(()) => Ok(events),
            Err(e) => {
                self.state = State::Failed;
                Err(e)
            }
        }
    }

    /// Asks for the whole screen (`incremental` false) or for what changed since the last
    /// update (true).
    pub fn request_update(&mut self, incremental: bool) {
        let Some(frame) = &self.frame else { return };
        let (w, h) = (frame.width(), frame.height());
        self.out.push(3); // message type: FramebufferUpdateRequest
        self.out.push(u8::from(incremental));
        for v in [0, 0, w, h] {
            self.out.extend_from_slice(&v.to_be_bytes());
        }
    }

    /// A key as an X keysym.
    pub fn key(&mut self, keysym: u32, down: bool) {
        self.out.extend_from_slice(&[4, u8::from(down), 0, 0]); // KeyEvent, down, padding
        self.out.extend_from_slice(&keysym.to_be_bytes());
    }

    /// A key with its XT scancode as well (QEMU extended key event), for servers that offer it:
    /// the guest then sees the physical key whatever the keyboard layouts on either side.
    pub fn scancode_key(&mut self, keysym: u32, scancode: u32, down: bool) {
        self.out.extend_from_slice(&[255, 0]); // QEMU client message, extended key event
        self.out.extend_from_slice(&u16::from(down).to_be_bytes());
        self.out.extend_from_slice(&keysym.to_be_bytes());
        self.out.extend_from_slice(&scancode.to_be_bytes());
    }

    /// The pointer at (x, y) with buttons held (bit 0 left, 1 middle, 2 right, 3/4 wheel).
    pub fn pointer(&mut self, x: u16, y: u16, buttons: u8) {
        self.out.extend_from_slice(&[5, buttons]);
        self.out.extend_from_slice(&x.to_be_bytes());
        self.out.extend_from_slice(&y.to_be_bytes());
    }

    fn step(&mut self, input: &mut Input<'_>, events: &mut Vec<Event>) -> Step<()> {
        match self.state {
            State::Version => self.version(input),
            State::SecurityTypes { minor } => self.security_types(input, minor),
            State::SecurityType33 => self.security_type_33(input),
            State::Challenge { minor } => self.challenge(input, minor),
            State::SecurityResult { minor } => self.security_result(input, minor),
            State::ServerInit => self.server_init(input, events),
            State::Idle => self.server_message(input, events),
            State::Rects { left } => self.rect_header(input, left, events),
            State::Raw { rect, row, left } => self.raw_rows(input, rect, row, left, events),
            State::Hextile { rect, tile, bg, fg, left } => self.hextile_tiles(input, rect, tile, bg, fg, left, events),
            State::Failed => Err(Error::Failed.into()),
        }
    }

    fn version(&mut self, input: &mut Input<'_>) -> Step<()> {
        let greeting = input.bytes(12)?;
        // "RFB xxx.yyy\n", read as bytes: a greeting is not text until it has proven to be one.
        let three_digits = |d: [u8; 3]| -> Option<u16> {
            d.iter().try_fold(0u16, |n, &c| c.is_ascii_digit().then(|| n * 10 + u16::from(c - b'0')))
        };
        let not_rfb = || Error::NotRfb(String::from_utf8_lossy(greeting).into_owned());
        let (major, minor) = match *greeting {
            [b'R', b'F', b'B', b' ', a, b, c, b'.', d, e, f, b'\n'] => {
                match (three_digits([a, b, c]), three_digits([d, e, f])) {
                    (Some(major), Some(minor)) => (major, minor),
                    _ => return Err(not_rfb().into()),
                }
            }
            _ => return Err(not_rfb().into()),
        };
        if major < 3 {
            return Err(Error::Version(major, minor).into());
        }
        // RFC 6143: anything newer than 3.8 is answered with 3.8; unknown 3.x minors as 3.3.
        let minor = match (major, minor) {
            (3, 7) => 7,
            (3, m) if m >= 8 => 8,
            (3, _) => 3,
            _ => 8,
        };
        self.out.extend_from_slice(format!("RFB 003.{minor:03}\n").as_bytes());
        self.state = if minor == 3 { State::SecurityType33 } else { State::SecurityTypes { minor } };
        Ok(())
    }

    fn security_types(&mut self, input: &mut Input<'_>, minor: u16) -> Step<()> {
        let count = input.u8()?;
        if count == 0 {
            return Err(Error::Refused(reason(input)?).into());
        }
        let offered = input.bytes(usize::from(count))?.to_vec();
        let chosen = if self.config.password.is_some() && offered.contains(&SECURITY_VNC) {
            SECURITY_VNC
        } else if offered.contains(&SECURITY_NONE) {
            SECURITY_NONE
        } else if offered.contains(&SECURITY_VNC) {
            return Err(Error::PasswordNeeded.into());
        } else {
            return Err(Error::NoSecurityType(offered).into());
        };
        self.out.push(chosen);
        self.state = match chosen {
            SECURITY_VNC => State::Challenge { minor },
            _ if minor >= 8 => State::SecurityResult { minor },
            _ => self.client_init(),
        };
        Ok(())
    }

    fn security_type_33(&mut self, input: &mut Input<'_>) -> Step<()> {
        self.state = match input.u32()? {
            0 => return Err(Error::Refused(reason(input)?).into()),
            1 => self.client_init(),
            2 if self.config.password.is_some() => State::Challenge { minor: 3 },
            2 => return Err(Error::PasswordNeeded.into()),
            other => return Err(Error::NoSecurityType(vec![other.min(255) as u8]).into()),
        };
        Ok(())
    }

    fn challenge(&mut self, input: &mut Input<'_>, minor: u16) -> Step<()> {
        let challenge: [u8; CHALLENGE_LEN] = input.array()?;
        let password = self.config.password.as_deref().map(String::as_str).unwrap_or_default();
        self.out.extend_from_slice(&auth::response(password, &challenge));
        self.state = State::SecurityResult { minor };
        Ok(())
    }

    fn security_result(&mut self, input: &mut Input<'_>, minor: u16) -> Step<()> {
        match input.u32()? {
            0 => {
                self.state = self.client_init();
                Ok(())
            }
            _ if minor >= 8 => Err(Error::AuthenticationFailed(reason(input)?).into()),
            _ => Err(Error::AuthenticationFailed("the server gave no reason".into()).into()),
        }
    }

    fn client_init(&mut self) -> State {
        self.out.push(u8::from(self.config.shared));
        State::ServerInit
    }

    fn server_init(&mut self, input: &mut Input<'_>, events: &mut Vec<Event>) -> Step<()> {
        let width = input.u16()?;
        let height = input.u16()?;
        input.bytes(16)?; // the server's pixel format: replaced by ours below
        let name_len = input.u32()? as usize;
        if name_len > MAX_NAME {
            return Err(Error::TooLong("desktop name", MAX_NAME).into());
        }
        let name = String::from_utf8_lossy(input.bytes(name_len)?).into_owned();
        self.frame = Some(Framebuffer::new(width, height).map_err(Error::from)?);
        // 32 bits per pixel, depth 24, little-endian true colour, red at bit 0: each pixel
        // arrives as the bytes R G B x, the framebuffer's own layout.
        self.out.extend_from_slice(&[0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 0, 8, 16, 0, 0, 0]);
        self.out.extend_from_slice(&[2, 0]); // SetEncodings, padding
        self.out.extend_from_slice(&(ENCODINGS.len() as u16).to_be_bytes());
        let mut encodings = ENCODINGS;
        if self.config.prefer_tight {
            encodings.swap(0, 1);
        }
        for e in encodings {
            self.out.extend_from_slice(&e.to_be_bytes());
        }
        self.state = State::Idle;
        self.request_update(false);
        events.push(Event::Connected { width, height, name });
        Ok(())
    }

    fn server_message(&mut self, input: &mut Input<'_>, events: &mut Vec<Event>) -> Step<()> {
        match input.u8()? {
            0 => {
                input.u8()?; // padding
                let count = input.u16()?;
                self.state = State::Rects { left: count };
            }
            1 => {
                // SetColourMapEntries: only for colour-mapped formats, which we never ask for.
                input.u8()?;
                let _first = input.u16()?;
                let count = input.u16()?;
                input.bytes(usize::from(count) * 6)?;
            }
            2 => events.push(Event::Bell),
            3 => {
                input.bytes(3)?;
                // A negative length is the Extended Clipboard's: flags, then the rest.
                let len = input.u32()? as i32;
                let size = len.unsigned_abs() as usize;
                if size > MAX_CUT_TEXT + 64 {
                    return Err(Error::TooLong("server cut text", MAX_CUT_TEXT).into());
                }
                if len >= 0 {
                    events.push(Event::CutText(input.bytes(size)?.iter().map(|&b| char::from(b)).collect()));
                } else {
                    if size < 4 {
                        return Err(Error::Invalid("extended clipboard message without flags").into());
                    }
                    let flags = input.u32()?;
                    let payload = input.bytes(size - 4)?;
                    if let Some(text) = self.clipboard.server_message(flags, payload, &mut self.out)? {
                        events.push(Event::CutText(text));
                    }
                }
            }
            other => return Err(Error::UnknownMessage(other).into()),
        }
        Ok(())
    }

    fn rect_header(&mut self, input: &mut Input<'_>, left: u16, events: &mut Vec<Event>) -> Step<()> {
        if left == 0 {
            self.state = State::Idle;
            events.push(Event::UpdateDone);
            return Ok(());
        }
        let rect = Rect::new(input.u16()?, input.u16()?, input.u16()?, input.u16()?);
        let encoding = input.u32()? as i32;
        let next = State::Rects { left: left - 1 };
        match encoding {
            ENC_RAW => {
                self.check_bounds(rect)?;
                self.state = State::Raw { rect, row: 0, left: left - 1 };
                return Ok(());
            }
            ENC_HEXTILE => {
                self.check_bounds(rect)?;
                self.state = State::Hextile { rect, tile: 0, bg: [0, 0, 0, 255], fg: [0, 0, 0, 255], left: left - 1 };
                return Ok(());
            }
            ENC_COPY_RECT => {
                let (src_x, src_y) = (input.u16()?, input.u16()?);
                self.check_bounds(rect)?;
                self.check_bounds(Rect::new(src_x, src_y, rect.w, rect.h))?;
                let frame = self.frame_mut()?;
                frame.copy_within(src_x, src_y, rect);
                events.push(Event::Copied(Copy { src_x, src_y, dst: rect }));
            }
            ENC_ZRLE => {
                let len = input.u32()? as usize;
                if len > MAX_ZRLE {
                    return Err(Error::TooLong("ZRLE data", MAX_ZRLE).into());
                }
                let data = input.bytes(len)?;
                self.check_bounds(rect)?;
                let frame = self.frame.as_mut().ok_or(Error::Invalid("update before the handshake"))?;
                self.zrle.decode(data, frame, rect)?;
                events.push(Event::Updated(rect));
            }
            ENC_TIGHT => {
                self.check_bounds(rect)?;
                let frame = self.frame.as_mut().ok_or(Error::Invalid("update before the handshake"))?;
                self.tight.read(input, frame, rect)?;
                self.tight_rects += 1;
                events.push(Event::Updated(rect));
            }
            ENC_DESKTOP_SIZE => self.resize(rect.w, rect.h, events)?,
            ENC_EXTENDED_DESKTOP_SIZE => {
                let screens = input.u8()?;
                let layout = input.bytes(3 + usize::from(screens) * 16)?;
                // Each screen: id (4), x, y, width, height (2 each), flags (4).
                if let (Some(id), Some(flags)) = (layout.get(3..7), layout.get(15..19)) {
                    let word = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                    self.screen = Some((word(id), word(flags)));
                }
                // x says why (0 the server, 1 this client, 2 another); y is the answer to a
                // request (0 done); a refused request keeps the size.
                if rect.y == 0 {
                    self.resize(rect.w, rect.h, events)?;
                }
            }
            ENC_LAST_RECT => {
                self.state = State::Idle;
                events.push(Event::UpdateDone);
                return Ok(());
            }
            ENC_CURSOR => {
                // Bounds what is buffered; real pointers are 16 to 256 pixels across.
                if rect.w > MAX_SERVER_CURSOR || rect.h > MAX_SERVER_CURSOR {
                    return Err(Error::Invalid("cursor larger than 1024 pixels").into());
                }
                let (w, h) = (usize::from(rect.w), usize::from(rect.h));
                let pixels = input.bytes(w * h * BYTES_PER_PIXEL)?;
                let mask = input.bytes(w.div_ceil(8) * h)?;
                events.push(Event::Cursor(cursor_shape(rect, pixels, mask)));
            }
            ENC_QEMU_POINTER_MOTION_CHANGE => {
                let absolute = rect.x != 0;
                if self.pointer_absolute != Some(absolute) {
                    self.pointer_absolute = Some(absolute);
                    events.push(Event::PointerMode { absolute });
                }
            }
            ENC_QEMU_EXTENDED_KEY => {
                if !self.extended_keys {
                    self.extended_keys = true;
                    events.push(Event::ExtendedKeys);
                }
            }
            other => return Err(Error::UnknownEncoding(other).into()),
        }
        self.state = next;
        Ok(())
    }

    fn raw_rows(
        &mut self,
        input: &mut Input<'_>,
        rect: Rect,
        row: u16,
        left: u16,
        events: &mut Vec<Event>,
    ) -> Step<()> {
        let row_len = usize::from(rect.w) * BYTES_PER_PIXEL;
        // Whole rows that have arrived (all of them at once for a zero-width rectangle).
        let rows =
            input.remaining().checked_div(row_len).map_or(rect.h - row, |n| n.min(usize::from(rect.h - row)) as u16);
        if rows == 0 && row < rect.h {
            return Err(Halt::Incomplete);
        }
        let frame = self.frame_mut()?;
        for r in row..row + rows {
            put_row(frame, rect.x, rect.y + r, input.bytes(row_len)?);
        }
        if row + rows == rect.h {
            events.push(Event::Updated(rect));
            self.state = State::Rects { left };
        } else {
            self.state = State::Raw { rect, row: row + rows, left };
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)] // the tile walk's state, spelled out
    fn hextile_tiles(
        &mut self,
        input: &mut Input<'_>,
        rect: Rect,
        mut tile: u32,
        mut bg: [u8; 4],
        mut fg: [u8; 4],
        left: u16,
        events: &mut Vec<Event>,
    ) -> Step<()> {
        let cols = u32::from(rect.w.div_ceil(HEXTILE));
        let total = cols * u32::from(rect.h.div_ceil(HEXTILE));
        let frame = self.frame.as_mut().ok_or(Error::Invalid("update before the handshake"))?;
        while tile < total {
            let x = rect.x + (tile % cols) as u16 * HEXTILE;
            let y = rect.y + (tile / cols) as u16 * HEXTILE;
            let t = Rect::new(x, y, HEXTILE.min(rect.x + rect.w - x), HEXTILE.min(rect.y + rect.h - y));
            let Some(len) = hextile_tile_len(input.peek(), t)? else { break };
            paint_hextile_tile(input.bytes(len)?, t, frame, &mut bg, &mut fg)?;
            tile += 1;
        }
        if tile == total {
            events.push(Event::Updated(rect));
            self.state = State::Rects { left };
            Ok(())
        } else if input.consumed() == 0 {
            Err(Halt::Incomplete)
        } else {
            self.state = State::Hextile { rect, tile, bg, fg, left };
            Ok(())
        }
    }

    /// Follows a size announcement. Servers repeat the current size (ExtendedDesktopSize
    /// answers every full update request with it): only a real change clears the frame.
    fn resize(&mut self, width: u16, height: u16, events: &mut Vec<Event>) -> Result<()> {
        if self.frame.as_ref().is_some_and(|f| (f.width(), f.height()) == (width, height)) {
            return Ok(());
        }
        self.frame = Some(Framebuffer::new(width, height)?);
        events.push(Event::Resized { width, height });
        Ok(())
    }

    fn frame_mut(&mut self) -> Result<&mut Framebuffer> {
        self.frame.as_mut().ok_or(Error::Invalid("update before the handshake"))
    }

    fn check_bounds(&self, rect: Rect) -> Result<()> {
        let frame = self.frame.as_ref().ok_or(Error::Invalid("update before the handshake"))?;
        if rect.fits(frame.width(), frame.height()) {
            Ok(())
        } else {
            let (width, height) = (frame.width(), frame.height());
            Err(Error::OutOfBounds { x: rect.x, y: rect.y, w: rect.w, h: rect.h, width, height })
        }
    }
}

/// A Cursor pseudo-rectangle as a [`Cursor`]: `rect` holds the hotspot and the size, `pixels`
/// are in our pixel format (R G B x) and `mask` has a bit per pixel, set where it shows.
fn cursor_shape(rect: Rect, pixels: &[u8], mask: &[u8]) -> Cursor {
    if rect.is_empty() {
        return Cursor::hidden();
    }
    // Browsers show no CSS cursor over 128 pixels: a bigger one is cut to its top-left corner,
    // where pointers have their hotspot.
    let (w, h) = (rect.w.min(MAX_CURSOR), rect.h.min(MAX_CURSOR));
    let row_mask = usize::from(rect.w).div_ceil(8);
    let mut rgba = Vec::with_capacity(usize::from(w) * usize::from(h) * 4);
    for y in 0..usize::from(h) {
        for x in 0..usize::from(w) {
            let px = &pixels[(y * usize::from(rect.w) + x) * BYTES_PER_PIXEL..][..3];
            let shows = mask[y * row_mask + x / 8] & (0x80 >> (x % 8)) != 0;
            rgba.extend_from_slice(&[px[0], px[1], px[2], if shows { 255 } else { 0 }]);
        }
    }
    // Some servers put the hotspot on the edge or past it; the nearest pixel is what they mean.
    Cursor { hotspot_x: rect.x.min(w - 1), hotspot_y: rect.y.min(h - 1), width: w, height: h, rgba }
}

/// A length-prefixed reason string from the server.
fn reason(input: &mut Input<'_>) -> Step<String> {
    let len = input.u32()? as usize;
    if len > MAX_REASON {
        return Err(Error::TooLong("reason", MAX_REASON).into());
    }
    Ok(String::from_utf8_lossy(input.bytes(len)?).into_owned())
}
