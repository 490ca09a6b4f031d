//! The console engine: one console link in the browser. It owns the shared `ClientSession`,
//! the decoded screen and the painter, and moves bytes between them and a WebSocket. It knows
//! nothing of pages: a key provider supplies fresh keys, a listener receives status.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};

use shared::crypto::{CipherSuite, Pms};
use shared::session::{ClientConfig, ClientEvent, ClientSession, KeystrokeTiming};
use shared::video::frame::Framebuffer;
use shared::video::text::{self, Damage, TextScreen};
use shared::video::tiles::StreamDecoder;
use shared::video::{cursor, Mode};
use shared::wire::message::{MAX_PASTE, MAX_SERIAL_INPUT};
use shared::wire::{
    AppMessage, DecodeError, InputEvent, KeyEvent, KeyId, Modifiers, PointerEvent, Presence, SpecialKey,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{
    BinaryType, ClipboardEvent, CloseEvent, HtmlCanvasElement, KeyboardEvent, MessageEvent, MouseEvent, WebSocket,
    WheelEvent,
};

use super::font::Font;
use super::painter::Painter;

/// What the page hands the applet to open (or renew) a link.
pub struct ConsoleKey {
    pub url: String,
    pub key_id: KeyId,
    pub pms: Pms,
    pub suites: Vec<CipherSuite>,
}

/// Why the engine asks for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRequest {
    /// The current key's life is two thirds over: switch in-band.
    Renew,
    /// The link dropped: open a new one.
    Reconnect,
}

pub type KeyFuture = Pin<Box<dyn Future<Output = Result<ConsoleKey, String>>>>;
pub type KeyProvider = Rc<dyn Fn(KeyRequest) -> KeyFuture>;
pub type StatusListener = Rc<dyn Fn(&Status)>;

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
    /// Video updates shown since the console started.
    pub frames: u64,
    /// Serial console bytes received.
    pub serial_bytes: u64,
    pub host_status: String,
    pub renewals: u32,
    /// Who else watches, and who holds the keyboard and mouse.
    pub presence: Presence,
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

struct Link {
    ws: WebSocket,
    session: ClientSession,
    established: bool,
    /// Set when the link ended for a reason the user must see (a refused key, a failed
    /// integrity check): no automatic reconnect then.
    fatal: bool,
    _onopen: Closure<dyn FnMut()>,
    _onmessage: Closure<dyn FnMut(MessageEvent)>,
    _onclose: Closure<dyn FnMut(CloseEvent)>,
    _onerror: Closure<dyn FnMut()>,
}

/// What the host shows: a text grid or a framebuffer; the host's updates say which.
enum Screen {
    Text(TextScreen),
    /// A picture, and the stream its updates come in (it remembers what they refer back to).
    Graphics(Framebuffer, StreamDecoder),
}

impl Screen {
    /// Applies a video update and paints what changed. When the host switched modes (a "no
    /// signal" notice between two pictures), the update is decoded into a new screen, which
    /// replaces this one only if the update was good.
    fn apply(&mut self, update: &[u8], painter: &Painter) -> Result<(), DecodeError> {
        if update.first() == Some(&cursor::KIND_CURSOR) {
            let pointer = cursor::Cursor::decode(update)?;
            if let Screen::Graphics(..) = self {
                let _ = painter.set_pointer(Some(&pointer));
            }
            return Ok(());
        }
        match (Mode::of(update), &mut *self) {
            (Some(Mode::Text), Screen::Text(screen)) => apply_text(screen, update, painter),
            (Some(Mode::Graphics), Screen::Graphics(frame, stream)) => apply_graphics(frame, stream, update, painter),
            (Some(Mode::Text), Screen::Graphics(..)) => {
                let mut screen = TextScreen::new(80, 25)
                    .map_err(|_| DecodeError::Invalid { field: "text screen", reason: "bad default size" })?;
                apply_text(&mut screen, update, painter)?;
                let _ = painter.set_pointer(None);
                *self = Screen::Text(screen);
                Ok(())
            }
            (Some(Mode::Graphics), Screen::Text(_)) => {
                let mut frame = Framebuffer::new(1, 1)
                    .map_err(|_| DecodeError::Invalid { field: "frame", reason: "bad default size" })?;
                let mut stream = StreamDecoder::default();
                apply_graphics(&mut frame, &mut stream, update, painter)?;
                *self = Screen::Graphics(frame, stream);
                Ok(())
            }
            (None, _) => {
                Err(DecodeError::Unknown { field: "video update kind", value: update.first().copied().unwrap_or(0) })
            }
        }
    }
}

fn apply_text(screen: &mut TextScreen, update: &[u8], painter: &Painter) -> Result<(), DecodeError> {
    let damage = text::apply(screen, update)?;
    let _ = painter.paint(screen, &damage);
    Ok(())
}

fn apply_graphics(
    frame: &mut Framebuffer,
    stream: &mut StreamDecoder,
    update: &[u8],
    painter: &Painter,
) -> Result<(), DecodeError> {
    let damage = stream.apply(frame, update)?;
    let _ = painter.paint_frame(frame, &damage);
    Ok(())
}

struct Inner {
    painter: Painter,
    screen: Screen,
    serial: super::serial::SerialConsole,
    _serial_listeners: Vec<EventListener>,
    link: Option<Link>,
    status: Status,
    key_provider: Option<KeyProvider>,
    on_status: Option<StatusListener>,
    origin_ms: f64,
    bytes_since_tick: u64,
    frames_since_tick: u32,
    last_tick_ms: f64,
    renewing: bool,
    reconnect_attempts: u32,
    timer: Option<(i32, Closure<dyn FnMut()>)>,
    _input_listeners: Vec<EventListener>,
    /// `pagehide` and `pageshow` on the window, removed when the console goes.
    page_listeners: Vec<(&'static str, EventListener)>,
    /// The link was closed because the page was left, and is to be opened again if the page
    /// comes back (from the browser's back/forward cache).
    left_page: bool,
    /// A typing tick is scheduled (keystroke timing is obscured while the user types).
    typing_tick_pending: bool,
}

type EventListener = Closure<dyn FnMut(web_sys::Event)>;

/// A console bound to one canvas. Cheap to clone; all clones drive the same console.
#[derive(Clone)]
pub struct Console(Rc<RefCell<Inner>>);

const TICK_MS: i32 = 1000;

impl Console {
    pub fn new(canvas: HtmlCanvasElement) -> Result<Self, JsValue> {
        let font = Font::terminus().map_err(|e| JsValue::from_str(&format!("console font: {e:?}")))?;
        let painter = Painter::new(canvas.clone(), font)?;
        let screen = TextScreen::new(80, 25).map_err(|e| JsValue::from_str(&e.to_string()))?;
        let full = Damage { resized: true, ..Damage::default() };
        painter.paint(&screen, &full)?;
        canvas.set_tab_index(0);
        let now = now_ms();
        let console = Self(Rc::new(RefCell::new(Inner {
            painter,
            screen: Screen::Text(screen),
            serial: super::serial::SerialConsole::default(),
            _serial_listeners: Vec::new(),
            link: None,
            status: Status { state: "idle", ..Status::default() },
            key_provider: None,
            on_status: None,
            origin_ms: now,
            bytes_since_tick: 0,
            frames_since_tick: 0,
            last_tick_ms: now,
            renewing: false,
            reconnect_attempts: 0,
            timer: None,
            _input_listeners: Vec::new(),
            page_listeners: Vec::new(),
            left_page: false,
            typing_tick_pending: false,
        })));
        console.listen_for_input(&canvas)?;
        console.listen_for_page_leave()?;
        console.start_timer()?;
        Ok(console)
    }

    pub fn set_key_provider(&self, provider: KeyProvider) {
        self.0.borrow_mut().key_provider = Some(provider);
    }

    pub fn set_status_listener(&self, listener: StatusListener) {
        self.0.borrow_mut().on_status = Some(listener);
    }

    pub fn status(&self) -> Status {
        self.0.borrow().status.clone()
    }

    /// The screen's text, one line per row (empty while the host shows graphics).
    pub fn screen_text(&self) -> String {
        match &self.0.borrow().screen {
            Screen::Text(s) => s.text(),
            Screen::Graphics(..) => String::new(),
        }
    }

    /// Opens a link with `key`, replacing any current one.
    pub fn connect(&self, key: ConsoleKey) -> Result<(), JsValue> {
        self.drop_link();
        let ws = WebSocket::new(&key.url)?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let mut session =
            ClientSession::new(ClientConfig { key_id: key.key_id, pms: key.pms, suites: key.suites }, random_nonce()?);
        // Keys go out on a steady tick while the user types, with chaff between them.
        session.set_keystroke_timing(Some(KeystrokeTiming::default()));
        let weak = Rc::downgrade(&self.0);
        let onopen = Closure::<dyn FnMut()>::new({
            let weak = weak.clone();
            move || with(&weak, |c| c.flush())
        });
        let onmessage = Closure::<dyn FnMut(MessageEvent)>::new({
            let weak = weak.clone();
            move |ev: MessageEvent| {
                if let Ok(buf) = ev.data().dyn_into::<js_sys::ArrayBuffer>() {
                    let bytes = js_sys::Uint8Array::new(&buf).to_vec();
                    with(&weak, |c| c.on_record(&bytes));
                }
            }
        });
        let onclose = Closure::<dyn FnMut(CloseEvent)>::new({
            let weak = weak.clone();
            move |_: CloseEvent| with(&weak, |c| c.on_close())
        });
        // A socket refused before it opens (blocked by the page's CSP, for one) may report only
        // an error and never a close event; treat a socket that is already closed as closed.
        let onerror = Closure::<dyn FnMut()>::new({
            let ws = ws.clone();
            move || {
                if ws.ready_state() == WebSocket::CLOSED {
                    with(&weak, |c| c.on_close());
                }
            }
        });
        ws.set_onopen(Some(onopen.as_ref().unchecked_ref()));
        ws.set_onerror(Some(onerror.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        ws.set_onclose(Some(onclose.as_ref().unchecked_ref()));
        {
            let mut inner = self.0.borrow_mut();
            inner.link = Some(Link {
                ws,
                session,
                established: false,
                fatal: false,
                _onopen: onopen,
                _onmessage: onmessage,
                _onclose: onclose,
                _onerror: onerror,
            });
            inner.renewing = false;
            inner.status = Status { state: "connecting", message: "connecting".into(), ..Status::default() };
        }
        self.notify();
        Ok(())
    }

    /// Switches the open link to a fresh key, in-band.
    pub fn renew(&self, key: ConsoleKey) -> Result<(), String> {
        let now = self.now();
        let nonce = random_nonce().map_err(|_| "no random source".to_string())?;
        let result = {
            let mut inner = self.0.borrow_mut();
            let link = inner.link.as_mut().ok_or("not connected")?;
            link.session.begin_rekey(key.key_id, key.pms, nonce, now).map_err(|e| e.to_string())
        };
        self.flush();
        result
    }

    pub fn send_input(&self, event: InputEvent) {
        self.send(AppMessage::Input(event));
    }

    /// Asks for the host's keyboard and mouse (another viewer holds them).
    pub fn request_control(&self) {
        self.send(AppMessage::RequestControl);
    }

    /// Hands the keyboard and mouse to viewer `to` (this console holds them).
    pub fn give_control(&self, to: u32) {
        self.send(AppMessage::GiveControl { to });
    }

    fn send(&self, message: AppMessage) {
        let now = self.now();
        {
            let mut inner = self.0.borrow_mut();
            let Some(link) = inner.link.as_mut().filter(|l| l.established) else { return };
            // A send error means the link is closing; the close handler reports it.
            let _ = link.session.send(message, now);
        }
        self.flush();
        self.schedule_typing_tick();
    }

    /// Sets the next typing tick, while the session has a burst of typing going.
    fn schedule_typing_tick(&self) {
        let now = self.now();
        let wait = {
            let mut inner = self.0.borrow_mut();
            if inner.typing_tick_pending {
                return;
            }
            let Some(wait) = inner.link.as_ref().and_then(|l| l.session.typing_tick_in_ms(now)) else { return };
            inner.typing_tick_pending = true;
            wait
        };
        let weak = Rc::downgrade(&self.0);
        let scheduled = set_timeout(i32::try_from(wait).unwrap_or(i32::MAX), move || with(&weak, |c| c.typing_tick()));
        if scheduled.is_err() {
            self.0.borrow_mut().typing_tick_pending = false;
        }
    }

    /// The typing tick: the next waiting key, or chaff, goes out.
    fn typing_tick(&self) {
        let now = self.now();
        {
            let mut inner = self.0.borrow_mut();
            inner.typing_tick_pending = false;
            if let Some(link) = inner.link.as_mut().filter(|l| l.established) {
                let _ = link.session.poll_typing(now);
            }
        }
        self.flush();
        self.schedule_typing_tick();
    }

    /// Shows the host's serial console on `canvas`, and sends what is typed there to the
    /// host's serial port (when this console holds the keyboard).
    pub fn attach_serial(&self, canvas: HtmlCanvasElement) -> Result<(), JsValue> {
        let font = Font::terminus().map_err(|e| JsValue::from_str(&format!("console font: {e:?}")))?;
        let painter = Painter::new(canvas.clone(), font)?;
        self.0.borrow_mut().serial.attach(painter)?;
        canvas.set_tab_index(0);
        let weak = Rc::downgrade(&self.0);
        let keys = EventListener::new(move |ev: web_sys::Event| {
            let Ok(ev) = ev.dyn_into::<KeyboardEvent>() else { return };
            if ev.is_composing() || is_paste_shortcut(&ev) {
                return; // let the browser deliver the paste event
            }
            ev.prevent_default();
            let key = KeyEvent { down: true, modifiers: modifiers(&ev), key: ev.key(), code: ev.code() };
            with(&weak, |c| {
                let bytes = c.0.borrow().serial.key(&key);
                if let Some(bytes) = bytes {
                    c.send(AppMessage::Serial(bytes));
                }
            });
        });
        canvas.add_event_listener_with_callback("keydown", keys.as_ref().unchecked_ref())?;
        let weak = Rc::downgrade(&self.0);
        let paste = EventListener::new(move |ev: web_sys::Event| {
            let Ok(ev) = ev.dyn_into::<ClipboardEvent>() else { return };
            ev.prevent_default();
            if let Some(text) = ev.clipboard_data().and_then(|d| d.get_data("text").ok()) {
                with(&weak, |c| c.serial_paste(&text));
            }
        });
        canvas.add_event_listener_with_callback("paste", paste.as_ref().unchecked_ref())?;
        self.0.borrow_mut()._serial_listeners = vec![keys, paste];
        // Only now does this link ask for the serial stream (backlog first).
        self.send(AppMessage::SerialOpen);
        Ok(())
    }

    /// Types `text` on the host's serial port, in pieces the protocol allows.
    pub fn serial_paste(&self, text: &str) {
        let bytes = self.0.borrow().serial.paste(text);
        for piece in bytes.chunks(MAX_SERIAL_INPUT) {
            self.send(AppMessage::Serial(piece.to_vec()));
        }
    }

    /// The serial console's screen as text.
    pub fn serial_text(&self) -> String {
        self.0.borrow().serial.text()
    }

    pub fn ctrl_alt_del(&self) {
        self.send_input(InputEvent::Special(SpecialKey::CtrlAltDel));
    }

    /// Types `text` as keystrokes, in pieces the protocol allows.
    pub fn paste(&self, text: &str) {
        let mut rest = text;
        while !rest.is_empty() {
            let mut cut = rest.len().min(MAX_PASTE);
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            self.send_input(InputEvent::Paste(rest[..cut].to_string()));
            rest = &rest[cut..];
        }
    }

    /// Closes the link on purpose (no reconnect).
    pub fn disconnect(&self) {
        let now = self.now();
        if let Some(link) = self.0.borrow_mut().link.as_mut() {
            link.fatal = true;
            link.session.close(now);
        }
        self.flush();
        self.drop_link();
        self.set_state("closed", "disconnected".into());
    }

    fn now(&self) -> u64 {
        (now_ms() - self.0.borrow().origin_ms).max(0.0) as u64
    }

    /// Sends whatever the session queued, once the socket is open.
    fn flush(&self) {
        let (ws, records) = {
            let mut inner = self.0.borrow_mut();
            let Some(link) = inner.link.as_mut().filter(|l| l.ws.ready_state() == WebSocket::OPEN) else { return };
            (link.ws.clone(), link.session.take_outgoing())
        };
        for record in records {
            let _ = ws.send_with_u8_array(&record);
        }
    }

    fn on_record(&self, bytes: &[u8]) {
        let now = self.now();
        {
            let mut guard = self.0.borrow_mut();
            let inner = &mut *guard;
            inner.bytes_since_tick += bytes.len() as u64;
            let Some(link) = inner.link.as_mut() else { return };
            match link.session.handle_record(bytes, now) {
                Ok(events) => {
                    for event in events {
                        match event {
                            ClientEvent::Established(info) => {
                                link.established = true;
                                // A new link: the serial stream starts over from the backlog.
                                if inner.serial.is_attached() {
                                    inner.serial.reset();
                                    let _ = link.session.send(AppMessage::SerialOpen, now);
                                }
                                inner.reconnect_attempts = 0;
                                inner.status.state = "connected";
                                inner.status.suite = Some(info.suite.name());
                                inner.status.message = format!("connected ({})", info.suite);
                            }
                            ClientEvent::Message(AppMessage::Video(update)) => {
                                match inner.screen.apply(&update, &inner.painter) {
                                    Ok(()) => {
                                        inner.frames_since_tick += 1;
                                        inner.status.frames += 1;
                                    }
                                    Err(err) => {
                                        inner.status.message = format!("bad video update ({err}); resynchronising");
                                        let _ = link.session.send(AppMessage::RefreshRequest, now);
                                    }
                                }
                            }
                            ClientEvent::Message(AppMessage::HostStatus(s)) => inner.status.host_status = s.text,
                            ClientEvent::Message(AppMessage::Presence(p)) => inner.status.presence = p,
                            ClientEvent::Message(AppMessage::Serial(bytes)) => {
                                inner.serial.feed(&bytes);
                                inner.status.serial_bytes = inner.serial.bytes;
                            }
                            ClientEvent::Message(_) => {}
                            ClientEvent::RekeyComplete { generation } => {
                                inner.renewing = false;
                                inner.status.renewals += 1;
                                inner.status.message = format!("key renewed in-band (generation {generation})");
                            }
                            ClientEvent::RekeyFailed(alert) => {
                                inner.renewing = false;
                                inner.status.message = format!("key renewal failed: {alert}; still on the current key");
                            }
                        }
                    }
                    if let Some(pos) = link.session.tx_position() {
                        inner.status.generation = pos.generation;
                        inner.status.epoch = pos.epoch;
                    }
                }
                Err(err) => {
                    link.fatal = true;
                    inner.status.state = "closed";
                    inner.status.message = format!("console closed: {err}");
                }
            }
        }
        self.flush();
        let closed = self.0.borrow().link.as_ref().is_some_and(|l| l.session.is_closed());
        if closed {
            if let Some(link) = self.0.borrow().link.as_ref() {
                let _ = link.ws.close();
            }
        }
        self.notify();
    }

    fn on_close(&self) {
        let (was_established, fatal) = {
            let inner = self.0.borrow();
            match inner.link.as_ref() {
                Some(l) => (l.established, l.fatal),
                None => return,
            }
        };
        self.drop_link();
        if fatal {
            let message = self.0.borrow().status.message.clone();
            self.set_state("closed", message);
        } else if was_established && self.0.borrow().key_provider.is_some() {
            let attempt = {
                let mut inner = self.0.borrow_mut();
                inner.reconnect_attempts += 1;
                inner.reconnect_attempts
            };
            let delay = (500 * 2u32.pow(attempt.min(6))).min(30_000);
            self.set_state("connecting", format!("link dropped; reconnecting in {} s", delay / 1000));
            let weak = Rc::downgrade(&self.0);
            let _ = set_timeout(delay as i32, move || with(&weak, |c| c.request_key(KeyRequest::Reconnect)));
        } else {
            self.set_state("closed", "could not reach the console server".into());
        }
    }

    fn request_key(&self, request: KeyRequest) {
        let Some(provider) = self.0.borrow().key_provider.clone() else { return };
        let weak = Rc::downgrade(&self.0);
        let future = provider(request);
        wasm_bindgen_futures::spawn_local(async move {
            let result = future.await;
            with(&weak, |c| match (result, request) {
                (Ok(key), KeyRequest::Renew) => {
                    if let Err(err) = c.renew(key) {
                        c.0.borrow_mut().renewing = false;
                        c.set_message(format!("key renewal failed: {err}"));
                    }
                }
                (Ok(key), KeyRequest::Reconnect) => {
                    if let Err(err) = c.connect(key) {
                        c.set_state("closed", format!("reconnect failed: {}", err.as_string().unwrap_or_default()));
                    }
                }
                (Err(err), _) => {
                    c.0.borrow_mut().renewing = false;
                    c.set_message(format!("could not get a console key: {err}"));
                }
            });
        });
    }

    fn tick(&self) {
        let now = self.now();
        let renew = {
            let mut guard = self.0.borrow_mut();
            let inner = &mut *guard;
            let wall = now_ms();
            let seconds = ((wall - inner.last_tick_ms) / 1000.0).max(0.001);
            inner.status.fps = f64::from(inner.frames_since_tick) / seconds;
            inner.status.kbps = inner.bytes_since_tick as f64 * 8.0 / 1000.0 / seconds;
            inner.frames_since_tick = 0;
            inner.bytes_since_tick = 0;
            inner.last_tick_ms = wall;
            let link = inner.link.as_ref().filter(|l| l.established && !l.session.is_closed());
            inner.status.key_expires_in_ms = link.and_then(|l| l.session.key_expires_in_ms(now));
            inner.status.key_renews_in_ms = link.and_then(|l| l.session.renewal_in_ms(now));
            let due =
                link.is_some_and(|l| l.session.renewal_due(now)) && !inner.renewing && inner.key_provider.is_some();
            if due {
                inner.renewing = true;
                inner.status.message = "renewing the console key".into();
            }
            due
        };
        self.notify();
        if renew {
            self.request_key(KeyRequest::Renew);
        }
    }

    fn drop_link(&self) {
        let link = self.0.borrow_mut().link.take();
        if let Some(link) = link {
            link.ws.set_onopen(None);
            link.ws.set_onmessage(None);
            link.ws.set_onclose(None);
            link.ws.set_onerror(None);
            let _ = link.ws.close();
        }
    }

    fn set_state(&self, state: &'static str, message: String) {
        {
            let mut inner = self.0.borrow_mut();
            inner.status.state = state;
            inner.status.message = message;
            if state != "connected" {
                inner.status.key_expires_in_ms = None;
                inner.status.key_renews_in_ms = None;
            }
        }
        self.notify();
    }

    fn set_message(&self, message: String) {
        self.0.borrow_mut().status.message = message;
        self.notify();
    }

    /// Calls the status listener outside any borrow, so it may call back into the console.
    fn notify(&self) {
        let (listener, status) = {
            let inner = self.0.borrow();
            (inner.on_status.clone(), inner.status.clone())
        };
        if let Some(listener) = listener {
            listener(&status);
        }
    }

    fn listen_for_input(&self, canvas: &HtmlCanvasElement) -> Result<(), JsValue> {
        let mut listeners = Vec::new();
        for kind in ["keydown", "keyup"] {
            let weak = Rc::downgrade(&self.0);
            let down = kind == "keydown";
            let listener = Closure::<dyn FnMut(web_sys::Event)>::new(move |ev: web_sys::Event| {
                let Ok(ev) = ev.dyn_into::<KeyboardEvent>() else { return };
                if ev.is_composing() || is_paste_shortcut(&ev) {
                    return; // let the browser deliver the paste event
                }
                ev.prevent_default();
                let key = KeyEvent { down, modifiers: modifiers(&ev), key: ev.key(), code: ev.code() };
                with(&weak, |c| c.send_input(InputEvent::Key(key)));
            });
            canvas.add_event_listener_with_callback(kind, listener.as_ref().unchecked_ref())?;
            listeners.push(listener);
        }
        let weak = Rc::downgrade(&self.0);
        let paste = Closure::<dyn FnMut(web_sys::Event)>::new(move |ev: web_sys::Event| {
            let Ok(ev) = ev.dyn_into::<ClipboardEvent>() else { return };
            ev.prevent_default();
            if let Some(text) = ev.clipboard_data().and_then(|d| d.get_data("text").ok()) {
                with(&weak, |c| c.paste(&text));
            }
        });
        canvas.add_event_listener_with_callback("paste", paste.as_ref().unchecked_ref())?;
        listeners.push(paste);
        let focus_target = canvas.clone();
        let click = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            let _ = focus_target.focus();
        });
        canvas.add_event_listener_with_callback("mousedown", click.as_ref().unchecked_ref())?;
        listeners.push(click);
        listeners.extend(self.listen_for_pointer(canvas)?);
        self.0.borrow_mut()._input_listeners = listeners;
        Ok(())
    }

    /// Mouse moves, buttons and the wheel, in framebuffer pixels, for graphical hosts.
    fn listen_for_pointer(&self, canvas: &HtmlCanvasElement) -> Result<Vec<EventListener>, JsValue> {
        let mut listeners = Vec::new();
        for kind in ["mousemove", "mousedown", "mouseup", "wheel", "contextmenu"] {
            let weak = Rc::downgrade(&self.0);
            let canvas_ref = canvas.clone();
            let listener = EventListener::new(move |ev: web_sys::Event| {
                let Ok(mouse) = ev.clone().dyn_into::<MouseEvent>() else { return };
                with(&weak, |c| {
                    if !c.is_graphical() {
                        return;
                    }
                    // The host's own menus, not the browser's, answer a right click.
                    ev.prevent_default();
                    if kind == "contextmenu" {
                        return;
                    }
                    let (x, y) = frame_position(&canvas_ref, &mouse);
                    let held = pointer_buttons(mouse.buttons());
                    match ev.dyn_ref::<WheelEvent>() {
                        // A wheel notch is a press and release of button 4 (up) or 5 (down).
                        Some(wheel) if wheel.delta_y() != 0.0 => {
                            let notch = if wheel.delta_y() < 0.0 { 8 } else { 16 };
                            c.send_input(InputEvent::Pointer(PointerEvent { x, y, buttons: held | notch }));
                            c.send_input(InputEvent::Pointer(PointerEvent { x, y, buttons: held }));
                        }
                        Some(_) => {}
                        None => c.send_input(InputEvent::Pointer(PointerEvent { x, y, buttons: held })),
                    }
                });
            });
            canvas.add_event_listener_with_callback(kind, listener.as_ref().unchecked_ref())?;
            listeners.push(listener);
        }
        Ok(listeners)
    }

    fn is_graphical(&self) -> bool {
        matches!(self.0.borrow().screen, Screen::Graphics(..))
    }

    /// A page the user left may be kept, frozen, in the browser's back/forward cache with its
    /// sockets open: the link would go on holding the host's keyboard and mouse and receiving
    /// video nobody sees. So the link closes when the page is hidden, and opens again (with a
    /// fresh key) if the page is shown again from that cache.
    fn listen_for_page_leave(&self) -> Result<(), JsValue> {
        let window = window()?;
        let weak = Rc::downgrade(&self.0);
        let hide = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| with(&weak, |c| c.leave_page()));
        let weak = Rc::downgrade(&self.0);
        let show = Closure::<dyn FnMut(web_sys::Event)>::new(move |ev: web_sys::Event| {
            let restored = js_sys::Reflect::get(&ev, &JsValue::from_str("persisted")).is_ok_and(|p| p.is_truthy());
            if restored {
                with(&weak, |c| c.return_to_page());
            }
        });
        let mut listeners = Vec::new();
        for (kind, listener) in [("pagehide", hide), ("pageshow", show)] {
            window.add_event_listener_with_callback(kind, listener.as_ref().unchecked_ref())?;
            listeners.push((kind, listener));
        }
        self.0.borrow_mut().page_listeners = listeners;
        Ok(())
    }

    fn leave_page(&self) {
        if self.0.borrow().link.is_none() {
            return;
        }
        self.drop_link();
        self.0.borrow_mut().left_page = true;
        self.set_state("closed", "the page was left".into());
    }

    fn return_to_page(&self) {
        let resume = std::mem::take(&mut self.0.borrow_mut().left_page);
        if resume && self.0.borrow().key_provider.is_some() {
            self.set_state("connecting", "reconnecting".into());
            self.request_key(KeyRequest::Reconnect);
        }
    }

    fn start_timer(&self) -> Result<(), JsValue> {
        let weak = Rc::downgrade(&self.0);
        let closure = Closure::<dyn FnMut()>::new(move || with(&weak, |c| c.tick()));
        let id = window()?
            .set_interval_with_callback_and_timeout_and_arguments_0(closure.as_ref().unchecked_ref(), TICK_MS)?;
        self.0.borrow_mut().timer = Some((id, closure));
        Ok(())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(w) = window() {
            if let Some((id, _)) = &self.timer {
                w.clear_interval_with_handle(*id);
            }
            for (kind, listener) in &self.page_listeners {
                let _ = w.remove_event_listener_with_callback(kind, listener.as_ref().unchecked_ref());
            }
        }
        if let Some(link) = self.link.take() {
            link.ws.set_onclose(None);
            let _ = link.ws.close();
        }
    }
}

fn with(weak: &Weak<RefCell<Inner>>, f: impl FnOnce(&Console)) {
    if let Some(rc) = weak.upgrade() {
        f(&Console(rc));
    }
}

fn modifiers(ev: &KeyboardEvent) -> Modifiers {
    let mut m = 0;
    for (on, bit) in [
        (ev.shift_key(), Modifiers::SHIFT),
        (ev.ctrl_key(), Modifiers::CTRL),
        (ev.alt_key(), Modifiers::ALT),
        (ev.meta_key(), Modifiers::META),
    ] {
        if on {
            m |= bit;
        }
    }
    Modifiers(m)
}

/// Where the mouse is, in canvas pixels (the canvas may be scaled by CSS).
fn frame_position(canvas: &HtmlCanvasElement, ev: &MouseEvent) -> (u16, u16) {
    let scale = |offset: i32, pixels: u32, css: i32| {
        let v = f64::from(offset) * f64::from(pixels) / f64::from(css.max(1));
        v.clamp(0.0, f64::from(pixels.saturating_sub(1))) as u16
    };
    (
        scale(ev.offset_x(), canvas.width(), canvas.client_width()),
        scale(ev.offset_y(), canvas.height(), canvas.client_height()),
    )
}

/// DOM buttons (1 left, 2 right, 4 middle) to RFB's (1 left, 2 middle, 4 right).
fn pointer_buttons(dom: u16) -> u8 {
    let mut b = 0;
    for (dom_bit, rfb_bit) in [(1, 1), (4, 2), (2, 4)] {
        if dom & dom_bit != 0 {
            b |= rfb_bit;
        }
    }
    b
}

/// Ctrl+V, Ctrl+Shift+V and Shift+Insert paste from the clipboard as keystrokes.
fn is_paste_shortcut(ev: &KeyboardEvent) -> bool {
    (ev.ctrl_key() && ev.key().eq_ignore_ascii_case("v")) || (ev.shift_key() && ev.key() == "Insert")
}

fn window() -> Result<web_sys::Window, JsValue> {
    web_sys::window().ok_or_else(|| JsValue::from_str("no window"))
}

fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0)
}

fn random_nonce() -> Result<[u8; 32], JsValue> {
    let mut nonce = [0u8; 32];
    window()?.crypto()?.get_random_values_with_u8_array(&mut nonce)?;
    Ok(nonce)
}

fn set_timeout(ms: i32, f: impl FnOnce() + 'static) -> Result<(), JsValue> {
    let closure = Closure::once_into_js(f);
    window()?.set_timeout_with_callback_and_timeout_and_arguments_0(closure.unchecked_ref(), ms)?;
    Ok(())
}
