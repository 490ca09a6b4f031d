//! The console engine: one console in the browser. A pump between the page and `shared`'s
//! `ClientLink`: socket events, records, input and the clock go in; the link's actions (paint,
//! send, ask for a key, close) are carried out here. It knows nothing of pages: a key provider
//! supplies fresh keys, a listener receives status. Every protocol decision is the link's.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};

use shared::link::{ClientAction, ClientLink, LinkKey, Screen};
use shared::video::text::Damage;
use shared::wire::{InputEvent, Layout, MediaDevice};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::HtmlCanvasElement;

pub use shared::link::{KeyRequest, Status};

use super::input::{self, EventListener, InputSink};
use super::media::{BrowserMedia, MediaView};
use super::page::{self, Interval, PageListeners};
use super::painter::Painter;
use super::socket::{Socket, SocketEvents};
use shared::video::font::Font;

/// What the page hands the applet to open (or renew) a link: where, and the key itself.
pub struct ConsoleKey {
    pub url: String,
    pub key: LinkKey,
}

pub type KeyFuture = Pin<Box<dyn Future<Output = Result<ConsoleKey, String>>>>;
pub type KeyProvider = Rc<dyn Fn(KeyRequest) -> KeyFuture>;
pub type StatusListener = Rc<dyn Fn(&Status)>;
pub type MediaListener = Rc<dyn Fn(&[MediaView])>;

struct Inner {
    link: ClientLink,
    socket: Option<Socket>,
    painter: Painter,
    serial: super::serial::SerialConsole,
    _serial_listeners: Vec<EventListener>,
    key_provider: Option<KeyProvider>,
    on_status: Option<StatusListener>,
    origin_ms: f64,
    _timer: Option<Interval>,
    _input_listeners: Vec<EventListener>,
    _page_listeners: Option<PageListeners>,
    /// A typing tick is scheduled (keystroke timing is obscured while the user types).
    typing_tick_pending: bool,
    media: BrowserMedia,
    on_media: Option<MediaListener>,
}

/// A console bound to one canvas. Cheap to clone; all clones drive the same console.
#[derive(Clone)]
pub struct Console(Rc<RefCell<Inner>>);

const TICK_MS: i32 = 1000;

impl Console {
    pub fn new(canvas: HtmlCanvasElement) -> Result<Self, JsValue> {
        let font = Font::terminus().map_err(|e| JsValue::from_str(&format!("console font: {e:?}")))?;
        let painter = Painter::new(canvas.clone(), font)?;
        let link = ClientLink::new();
        if let Screen::Text(screen) = link.screen() {
            painter.paint(screen, &Damage { resized: true, ..Damage::default() })?;
        }
        canvas.set_tab_index(0);
        let console = Self(Rc::new(RefCell::new(Inner {
            link,
            socket: None,
            painter,
            serial: super::serial::SerialConsole::default(),
            _serial_listeners: Vec::new(),
            key_provider: None,
            on_status: None,
            origin_ms: page::now_ms(),
            _timer: None,
            _input_listeners: Vec::new(),
            _page_listeners: None,
            typing_tick_pending: false,
            media: BrowserMedia::default(),
            on_media: None,
        })));
        let listeners = input::listen(&canvas, console.weak())?;
        let (hide, show) = (console.weak(), console.weak());
        let page =
            PageListeners::new(move || hide.with(|c| c.leave_page()), move || show.with(|c| c.return_to_page()))?;
        let tick = console.weak();
        let timer = Interval::every(TICK_MS, move || tick.with(|c| c.tick()))?;
        {
            let mut inner = console.0.borrow_mut();
            inner._input_listeners = listeners;
            inner._page_listeners = Some(page);
            inner._timer = Some(timer);
        }
        Ok(console)
    }

    pub fn set_key_provider(&self, provider: KeyProvider) {
        let mut inner = self.0.borrow_mut();
        inner.key_provider = Some(provider);
        inner.link.set_keys_available(true);
    }

    pub fn set_status_listener(&self, listener: StatusListener) {
        self.0.borrow_mut().on_status = Some(listener);
    }

    /// Told whenever a file offered as the host's media changes (state, bytes read, rate).
    pub fn set_media_listener(&self, listener: MediaListener) {
        self.0.borrow_mut().on_media = Some(listener);
    }

    /// Offers `file` as the host's `device` (read-only unless `writable`): the host reads it
    /// from this page for as long as the link lasts.
    pub fn attach_media(&self, device: MediaDevice, file: web_sys::File, writable: bool) {
        let (size, name) = (file.size() as u64, file.name());
        self.0.borrow_mut().media.offer(device, file, page::now_ms());
        self.drive(|link, now| link.offer_media(device, writable, size, &name, now));
        self.notify_media();
    }

    pub fn eject_media(&self, device: MediaDevice) {
        self.drive(|link, now| link.eject_media(device, now));
    }

    pub fn media(&self) -> Vec<MediaView> {
        self.0.borrow().media.views()
    }

    pub fn status(&self) -> Status {
        self.0.borrow().link.status().clone()
    }

    /// Whether the host shows a picture rather than text.
    pub fn shows_graphics(&self) -> bool {
        self.0.borrow().link.screen().is_graphical()
    }

    /// The screen's text, one line per row (empty while the host shows graphics).
    pub fn screen_text(&self) -> String {
        self.0.borrow().link.screen().text()
    }

    /// Opens a link with `key`, replacing any current one.
    pub fn connect(&self, key: ConsoleKey) -> Result<(), JsValue> {
        self.drop_socket();
        let ConsoleKey { url, key } = key;
        let socket = Socket::open(&url, self.weak())?;
        let nonce = page::random_nonce()?;
        {
            let mut inner = self.0.borrow_mut();
            inner.link.connect(key, nonce);
            inner.socket = Some(socket);
        }
        self.notify();
        Ok(())
    }

    /// Switches the open link to a fresh key, in-band.
    pub fn renew(&self, key: ConsoleKey) -> Result<(), String> {
        let now = self.now();
        let nonce = page::random_nonce().map_err(|_| "no random source".to_string())?;
        let result = self.0.borrow_mut().link.renew(key.key, nonce, now);
        self.flush();
        self.notify();
        result
    }

    pub fn send_input(&self, event: InputEvent) {
        self.drive(|link, now| link.send_input(event, now));
    }

    /// Asks for the host's keyboard and mouse (another viewer holds them).
    pub fn request_control(&self) {
        self.drive(ClientLink::request_control);
    }

    /// Hands the keyboard and mouse to viewer `to` (this console holds them).
    pub fn give_control(&self, to: u32) {
        self.drive(|link, now| link.give_control(to, now));
    }

    pub fn ctrl_alt_del(&self) {
        self.drive(ClientLink::ctrl_alt_del);
    }

    /// Presses `keys` (key and code, as the browser names them) in order and lets them go in
    /// reverse, for the combinations the browser or the system keeps for itself.
    pub fn chord(&self, keys: &[(&str, &str)]) {
        self.drive(|link, now| link.chord(keys, now));
    }

    /// Puts `text` on the host's clipboard.
    pub fn set_host_clipboard(&self, text: &str) {
        self.drive(|link, now| link.set_host_clipboard(text, now));
    }

    /// Asks the host to make its desktop `width` x `height` (servers that allow it).
    pub fn resize_host(&self, width: u16, height: u16) {
        self.drive(|link, now| link.send_input(InputEvent::DesktopSize { width, height }, now));
    }

    /// Latches a modifier down until the next key, or lets it go.
    pub fn toggle_latch(&self, key: &str, code: &str) {
        self.drive(|link, now| link.toggle_latch(key, code, now));
    }

    /// The keyboard layout the host uses: the controller types keys and pastes for it.
    pub fn set_layout(&self, layout: Layout) {
        self.drive(|link, now| link.set_layout(layout, now));
    }

    /// Types `text` as keystrokes.
    pub fn paste(&self, text: &str) {
        self.drive(|link, now| link.paste(text, now));
    }

    /// Shows the host's serial console on `canvas`, and sends what is typed there to the
    /// host's serial port (when this console holds the keyboard).
    pub fn attach_serial(&self, canvas: HtmlCanvasElement) -> Result<(), JsValue> {
        let font = Font::terminus().map_err(|e| JsValue::from_str(&format!("console font: {e:?}")))?;
        let painter = Painter::new(canvas.clone(), font)?;
        self.0.borrow_mut().serial.attach(painter)?;
        canvas.set_tab_index(0);
        let weak = self.weak();
        let keys = EventListener::new(move |ev: web_sys::Event| {
            let Some(key) = input::key_event(&ev, true) else { return };
            weak.with(|c| {
                let bytes = c.0.borrow().serial.key(&key);
                if let Some(bytes) = bytes {
                    c.drive(|link, now| link.serial_input(&bytes, now));
                }
            });
        });
        canvas.add_event_listener_with_callback("keydown", keys.as_ref().unchecked_ref())?;
        let weak = self.weak();
        let paste = input::on_paste(&canvas, move |text| weak.with(|c| c.serial_paste(text)))?;
        self.0.borrow_mut()._serial_listeners = vec![keys, paste];
        // Only now does this link ask for the serial stream (backlog first).
        self.drive(ClientLink::open_serial);
        Ok(())
    }

    /// Types `text` on the host's serial port.
    pub fn serial_paste(&self, text: &str) {
        let bytes = self.0.borrow().serial.paste(text);
        self.drive(|link, now| link.serial_input(&bytes, now));
    }

    /// The serial console's screen as text.
    pub fn serial_text(&self) -> String {
        self.0.borrow().serial.text()
    }

    /// Closes the link on purpose (no reconnect).
    pub fn disconnect(&self) {
        let now = self.now();
        self.0.borrow_mut().link.disconnect(now);
        self.flush();
        self.drop_socket();
        self.0.borrow_mut().link.disconnected();
        self.notify();
    }

    fn now(&self) -> u64 {
        (page::now_ms() - self.0.borrow().origin_ms).max(0.0) as u64
    }

    fn weak(&self) -> WeakConsole {
        WeakConsole(Rc::downgrade(&self.0))
    }

    /// Lets the link act on the page's behalf (input, mostly), then carries out what it asks.
    /// The status bar is not told: input changes nothing it shows, and a mouse move must not
    /// re-render the page.
    fn drive(&self, act: impl FnOnce(&mut ClientLink, u64)) {
        let now = self.now();
        let latched = self.0.borrow().link.status().latched.len();
        act(&mut self.0.borrow_mut().link, now);
        self.pump();
        self.schedule_typing_tick();
        // The Keys menu shows which modifiers are latched: a key lets them go.
        if self.0.borrow().link.status().latched.len() != latched {
            self.notify();
        }
    }

    fn on_record(&self, bytes: Vec<u8>) {
        let now = self.now();
        self.0.borrow_mut().link.handle_record(bytes, now);
        self.after_link_changed();
    }

    fn on_close(&self) {
        if let Some(socket) = self.0.borrow_mut().socket.take() {
            socket.close();
        }
        self.0.borrow_mut().link.socket_closed();
        self.after_link_changed();
    }

    fn tick(&self) {
        let now = self.now();
        self.0.borrow_mut().link.tick(now);
        self.0.borrow_mut().media.tick(page::now_ms());
        self.after_link_changed();
        self.notify_media();
    }

    /// Reads what the controller asked of the file for `device`, and answers.
    fn read_media(&self, id: u32, device: MediaDevice, offset: u64, length: u32) {
        let range = self.0.borrow_mut().media.range(device, offset, length);
        let weak = self.weak();
        wasm_bindgen_futures::spawn_local(async move {
            let result = match range {
                Ok(range) => range.read().await,
                Err(why) => Err(why),
            };
            weak.with(|c| match result {
                Ok(bytes) => {
                    c.0.borrow_mut().media.count_read(device, bytes.len());
                    c.drive(|link, now| link.media_data(id, bytes, now));
                }
                Err(reason) => {
                    c.0.borrow_mut().media.forget_slices(device);
                    c.drive(|link, now| link.media_failed(id, &reason, now));
                }
            });
        });
    }

    fn notify_media(&self) {
        let (listener, views) = {
            let inner = self.0.borrow();
            (inner.on_media.clone(), inner.media.views())
        };
        if let Some(listener) = listener {
            listener(&views);
        }
    }

    fn leave_page(&self) {
        if self.0.borrow_mut().link.page_hidden() {
            self.drop_socket();
            self.notify();
        }
    }

    fn return_to_page(&self) {
        self.0.borrow_mut().link.page_shown();
        self.after_link_changed();
    }

    /// Carries out the link's actions and sends what it queued, then tells the page.
    fn after_link_changed(&self) {
        self.pump();
        self.notify();
    }

    /// Carries out the link's actions and sends what it queued.
    fn pump(&self) {
        let mut later = Vec::new();
        // The media listener is told once the link's borrow is over (it may call back in).
        let mut media_changed = false;
        {
            let mut guard = self.0.borrow_mut();
            let inner = &mut *guard;
            while let Some(action) = inner.link.next_action() {
                // Painting never fails the link: a canvas that cannot draw shows the old picture.
                match (action, inner.link.screen()) {
                    (ClientAction::PaintText(damage), Screen::Text(screen)) => {
                        let _ = inner.painter.paint(screen, &damage);
                    }
                    (ClientAction::PaintFrame(damage), Screen::Graphics(frame, _)) => {
                        let _ = inner.painter.paint_frame(frame, &damage);
                    }
                    (ClientAction::PaintText(_) | ClientAction::PaintFrame(_), _) => {}
                    (ClientAction::Pointer(pointer), _) => {
                        let _ = inner.painter.set_pointer(pointer.as_ref());
                    }
                    (ClientAction::FirstPicture, _) => page::mark_first_picture(),
                    (ClientAction::Serial(bytes), _) => inner.serial.feed(&bytes),
                    (ClientAction::SerialReset, _) => inner.serial.reset(),
                    (ClientAction::MediaChanged { device, attached, reason }, _) => {
                        inner.media.changed(device, attached, reason);
                        media_changed = true;
                    }
                    (
                        action @ (ClientAction::NeedKey { .. }
                        | ClientAction::CloseSocket
                        | ClientAction::MediaRead { .. }),
                        _,
                    ) => later.push(action),
                }
            }
        }
        self.flush();
        if media_changed {
            self.notify_media();
        }
        for action in later {
            match action {
                ClientAction::NeedKey { request, after_ms: 0 } => self.request_key(request),
                ClientAction::NeedKey { request, after_ms } => {
                    let weak = self.weak();
                    let _ = page::set_timeout(after_ms, move || weak.with(|c| c.request_key(request)));
                }
                ClientAction::MediaRead { id, device, offset, length } => self.read_media(id, device, offset, length),
                _ => {
                    if let Some(socket) = self.0.borrow().socket.as_ref() {
                        socket.request_close();
                    }
                }
            }
        }
    }

    /// Sends whatever the link queued, once the socket is open.
    fn flush(&self) {
        let mut guard = self.0.borrow_mut();
        let inner = &mut *guard;
        let Some(socket) = inner.socket.as_ref().filter(|s| s.is_open()) else { return };
        for record in inner.link.take_outgoing() {
            socket.send(&record);
        }
    }

    /// Sets the next typing tick, while the link has a burst of typing going.
    fn schedule_typing_tick(&self) {
        let now = self.now();
        let wait = {
            let mut inner = self.0.borrow_mut();
            if inner.typing_tick_pending {
                return;
            }
            let Some(wait) = inner.link.typing_tick_in_ms(now) else { return };
            inner.typing_tick_pending = true;
            wait
        };
        let weak = self.weak();
        let scheduled = page::set_timeout(wait, move || {
            weak.with(|c| {
                c.0.borrow_mut().typing_tick_pending = false;
                c.drive(ClientLink::typing_tick);
            })
        });
        if scheduled.is_err() {
            self.0.borrow_mut().typing_tick_pending = false;
        }
    }

    fn request_key(&self, request: KeyRequest) {
        let Some(provider) = self.0.borrow().key_provider.clone() else { return };
        let weak = self.weak();
        let future = provider(request);
        wasm_bindgen_futures::spawn_local(async move {
            let result = future.await;
            weak.with(|c| match (result, request) {
                // A refused renewal is the link's to report.
                (Ok(key), KeyRequest::Renew) => {
                    let _ = c.renew(key);
                }
                (Ok(key), KeyRequest::Reconnect) => {
                    if let Err(err) = c.connect(key) {
                        c.0.borrow_mut().link.connect_failed(&err.as_string().unwrap_or_default());
                        c.notify();
                    }
                }
                (Err(err), request) => {
                    c.0.borrow_mut().link.key_failed(request, &err);
                    c.notify();
                }
            });
        });
    }

    fn drop_socket(&self) {
        let socket = self.0.borrow_mut().socket.take();
        if let Some(socket) = socket {
            socket.close();
        }
    }

    /// Calls the status listener outside any borrow, so it may call back into the console.
    fn notify(&self) {
        let (listener, status) = {
            let inner = self.0.borrow();
            (inner.on_status.clone(), inner.link.status().clone())
        };
        if let Some(listener) = listener {
            listener(&status);
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(socket) = self.socket.take() {
            socket.close();
        }
    }
}

/// A console that may be gone: page and socket handlers hold this, not the console.
#[derive(Clone)]
struct WeakConsole(Weak<RefCell<Inner>>);

impl WeakConsole {
    fn with(&self, f: impl FnOnce(&Console)) {
        if let Some(rc) = self.0.upgrade() {
            f(&Console(rc));
        }
    }
}

impl SocketEvents for WeakConsole {
    fn opened(&self) {
        self.with(|c| c.flush());
    }

    fn record(&self, bytes: Vec<u8>) {
        self.with(|c| c.on_record(bytes));
    }

    fn closed(&self) {
        self.with(|c| c.on_close());
    }
}

impl InputSink for WeakConsole {
    fn input(&self, event: InputEvent) {
        self.with(|c| c.send_input(event));
    }

    fn paste(&self, text: &str) {
        self.with(|c| c.paste(text));
    }

    fn is_graphical(&self) -> bool {
        self.0.upgrade().is_some_and(|rc| rc.borrow().link.screen().is_graphical())
    }
}
