//! The `vnc` backend: any RFB server (QEMU's `-vnc` display, TigerVNC, x11vnc) as a host's
//! screen, keyboard and mouse. This is the I/O around the sans-IO `rfb` client: a TCP socket,
//! a pace for update requests, reconnection with backoff, and a "no signal" screen meanwhile.

pub mod keymap;
pub mod layout;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use rfb::{Client, Event, Framebuffer, Rect};
use shared::video::tiles::Copy;
use shared::wire::message::{HostState, HostStatus};
use shared::wire::{InputEvent, KeyEvent, Layout, SpecialKey};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::{mpsc, oneshot, watch};
use zeroize::Zeroizing;

use super::{Host, VideoHub};

use crate::sync::Locked;

/// At most this many frames a second go to viewers: the next update is asked for no sooner.
const FRAME_INTERVAL: Duration = Duration::from_millis(1000 / 30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(10);
/// A connection that lasted this long was healthy: the next retry starts from the shortest wait.
const HEALTHY: Duration = Duration::from_secs(30);
/// After the server refused our password, try again only this seldom, or as soon as the password
/// file changes: retrying a wrong password every few seconds gets the controller's address
/// blacklisted (TigerVNC does after 5), which locks out every other client on this machine.
const AFTER_REFUSED_PASSWORD: Duration = Duration::from_secs(300);
const PASSWORD_FILE_POLL: Duration = Duration::from_secs(2);
/// The server must finish the handshake (greeting, security, ServerInit) within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub struct VncHost {
    pub id: String,
    pub name: String,
    /// `host:port` of the RFB server.
    pub address: String,
    /// The VNC password's file (first line), read again before every attempt.
    pub password_file: Option<PathBuf>,
}

/// Where an RFB server listens.
#[derive(Clone)]
pub enum Target {
    Tcp(String),
    Unix(PathBuf),
    /// A server reached some other way: an agent's screen, over its link.
    Dialer(Arc<dyn Dialer>),
}

/// A connection to an RFB server that is not a socket of ours to open.
pub trait Dialer: Send + Sync {
    /// What the "no signal" screen names as the source.
    fn describe(&self) -> String;
    /// A connection: ready once the server can be read from.
    fn dial(&self) -> futures_util::future::BoxFuture<'_, std::io::Result<(Reader, Writer)>>;
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Tcp(address) => f.write_str(address),
            Target::Unix(path) => write!(f, "unix:{}", path.display()),
            Target::Dialer(dialer) => f.write_str(&dialer.describe()),
        }
    }
}

pub fn spawn(config: VncHost) -> Arc<Host> {
    let connecting = HostStatus { state: HostState::NoSignal, text: format!("connecting to {}", config.address) };
    let (host, backend) = Host::new(&config.id, &config.name, "vnc", &[], false, false, connecting);
    super::supervisor::spawn(config, host.id.clone(), backend, |config, backend| {
        async move {
            let display = Display {
                id: &config.id,
                target: Target::Tcp(config.address.clone()),
                password_file: config.password_file.clone(),
            };
            display.drive(&backend.video, &mut backend.input, &backend.status).await
        }
        .boxed()
    });
    host
}

/// A host's screen, keyboard and mouse on an RFB server.
pub struct Display<'a> {
    pub id: &'a str,
    pub target: Target,
    /// Where the VNC password is, for servers that ask for one.
    pub password_file: Option<PathBuf>,
}

impl Display<'_> {
    /// Keeps the host's screen connected: mirrors it while the server answers, shows "no
    /// signal" and tries again with backoff when it does not. Returns when the input channel
    /// closes (the controller is shutting down).
    pub async fn drive(
        &self,
        video: &Arc<VideoHub>,
        input: &mut mpsc::Receiver<InputEvent>,
        status: &watch::Sender<HostStatus>,
    ) {
        let mut retry = FIRST_RETRY;
        loop {
            let started = Instant::now();
            let password = self.password_file.as_deref().and_then(|path| read_password(self.id, path));
            let outcome = match Publisher::start(video.clone()) {
                Ok(publisher) => {
                    let outcome = run_once(self, password, &publisher, video, input, status).await;
                    // Its last frame goes out before the "no signal" screen, never after.
                    publisher.close().await;
                    outcome
                }
                Err(err) => Err(LinkError::Encoder(err)),
            };
            let refused = matches!(
                outcome,
                Err(LinkError::Protocol(rfb::Error::AuthenticationFailed(_) | rfb::Error::PasswordNeeded))
            );
            let mut reason = match outcome {
                Ok(()) => "the VNC server closed the connection".to_string(),
                Err(err) => err.to_string(),
            };
            if started.elapsed() > HEALTHY {
                retry = FIRST_RETRY;
            }
            let wait = if refused {
                reason = match &self.password_file {
                    Some(path) => format!(
                        "{reason}; correct the password in {} (tried again when the file changes, else in {} min)",
                        path.display(),
                        AFTER_REFUSED_PASSWORD.as_secs() / 60
                    ),
                    None => format!(
                        "{reason}; set password_file for this host (tried again in {} min)",
                        AFTER_REFUSED_PASSWORD.as_secs() / 60
                    ),
                };
                AFTER_REFUSED_PASSWORD
            } else {
                retry
            };
            tracing::info!(host = %self.id, %reason, retry_ms = wait.as_millis() as u64, "no signal");
            let source = format!("source: {}", self.target);
            video.publish(super::notice_screen(80, 25, &["No signal", "", &source, &reason]));
            let _ = status.send(HostStatus { state: HostState::NoSignal, text: format!("no signal: {reason}") });
            if !self.wait_to_retry(wait, refused, input).await {
                return;
            }
            if !refused {
                retry = (retry * 2).min(MAX_RETRY);
            }
        }
    }

    /// Waits `wait` (or, after a refused password, until the password file changes). Keystrokes
    /// meant for a screen that is not there go nowhere, and do not pile up. False when the
    /// controller is shutting down.
    async fn wait_to_retry(
        &self,
        wait: Duration,
        watch_password: bool,
        input: &mut mpsc::Receiver<InputEvent>,
    ) -> bool {
        let watched = self.password_file.as_deref().filter(|_| watch_password);
        let fingerprint = |path: &std::path::Path| std::fs::read(path).ok().map(<sha2::Sha256 as sha2::Digest>::digest);
        let before = watched.map(fingerprint);
        let deadline = tokio::time::sleep(wait);
        tokio::pin!(deadline);
        let mut poll = tokio::time::interval(PASSWORD_FILE_POLL);
        loop {
            tokio::select! {
                _ = &mut deadline => return true,
                _ = poll.tick(), if watched.is_some() => {
                    if watched.map(fingerprint) != before {
                        tracing::info!(host = %self.id, "the VNC password file changed; connecting again");
                        return true;
                    }
                }
                event = input.recv() => if event.is_none() { return false },
            }
        }
    }
}

/// A backend's password from its file (first line). An unreadable file is logged (never the
/// password) and the backend connects without one, so its status says what the server wants.
fn read_password(host: &str, path: &std::path::Path) -> Option<Zeroizing<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let text = Zeroizing::new(text);
            Some(Zeroizing::new(text.lines().next().unwrap_or_default().to_string()))
        }
        Err(err) => {
            tracing::error!(%host, path = %path.display(), %err, "cannot read the VNC password file");
            None
        }
    }
}

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
enum LinkError {
    #[error("cannot reach {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("{0} did not answer within {1:?}")]
    Timeout(String, Duration),
    #[error("connection lost: {0}")]
    Io(#[from] std::io::Error),
    #[error("VNC protocol error: {0}")]
    Protocol(#[from] rfb::Error),
    #[error("cannot start the frame encoder: {0}")]
    Encoder(std::io::Error),
    #[error("the VNC server did not finish its handshake within {0:?}")]
    Handshake(Duration),
}

pub type Reader = Box<dyn AsyncRead + Unpin + Send>;
pub type Writer = Box<dyn AsyncWrite + Unpin + Send>;

async fn connect(target: &Target) -> Result<(Reader, Writer), LinkError> {
    let name = target.to_string();
    let timed = |e| LinkError::Connect(name.clone(), e);
    let connecting = async {
        Ok::<_, LinkError>(match target {
            Target::Tcp(address) => {
                let stream = TcpStream::connect(address).await.map_err(timed)?;
                stream.set_nodelay(true)?;
                let (r, w) = stream.into_split();
                (Box::new(r) as Reader, Box::new(w) as Writer)
            }
            Target::Unix(path) => {
                let (r, w) = UnixStream::connect(path).await.map_err(timed)?.into_split();
                (Box::new(r) as Reader, Box::new(w) as Writer)
            }
            Target::Dialer(dialer) => dialer.dial().await.map_err(timed)?,
        })
    };
    tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .map_err(|_| LinkError::Timeout(name.clone(), CONNECT_TIMEOUT))?
}

async fn run_once(
    source: &Display<'_>,
    password: Option<Zeroizing<String>>,
    publisher: &Publisher,
    video: &VideoHub,
    input: &mut mpsc::Receiver<InputEvent>,
    status: &watch::Sender<HostStatus>,
) -> Result<(), LinkError> {
    let (mut reader, mut writer) = connect(&source.target).await?;
    let mut client = Client::new(rfb::Config { password, shared: true, ..Default::default() });
    // Until ServerInit, a server that goes quiet is stuck; after it, quiet means an idle screen.
    let handshake_ends = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
    let mut connected = false;
    let mut server_name = String::new();
    let mut keys = Keyboard::default();
    let mut hints: Vec<Copy> = Vec::new();
    // What the server said it repainted since the last frame went out.
    let mut reported: Vec<Rect> = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    // When the next incremental update may be asked for (after the current one arrived).
    let mut next_request: Option<Instant> = None;
    let mut last_request = Instant::now();
    // After a resize the whole new screen is asked for, not just what changed.
    let mut full_next = false;
    loop {
        let request_at = next_request.map(tokio::time::Instant::from_std);
        tokio::select! {
            read = reader.read(&mut buf) => {
                let n = read?;
                if n == 0 {
                    return Ok(());
                }
                for event in client.feed(&buf[..n])? {
                    match event {
                        Event::Connected { width, height, name } => {
                            tracing::info!(host = %source.id, %name, width, height, "VNC connected");
                            connected = true;
                            let _ = status.send(HostStatus {
                                state: HostState::Running,
                                text: format!("{name} ({width}x{height})"),
                            });
                            server_name = name;
                        }
                        Event::Copied(c) => hints.push(c),
                        Event::Resized { width, height } => {
                            // The status bar says the size the host has now.
                            let _ = status.send(HostStatus {
                                state: HostState::Running,
                                text: format!("{server_name} ({width}x{height})"),
                            });
                            hints.clear();
                            reported.clear();
                            full_next = true;
                        }
                        Event::UpdateDone => {
                            if let Some(frame) = client.framebuffer() {
                                publisher.publish(frame, &hints, &reported);
                            }
                            hints.clear();
                            reported.clear();
                            next_request = Some(last_request + FRAME_INTERVAL);
                        }
                        Event::Cursor(pointer) => video.publish_pointer(&pointer),
                        Event::Updated(rect) => reported.push(rect),
                        Event::CutText(text) => video.publish_clipboard(&text),
                        Event::PointerMode { absolute } => {
                            tracing::info!(absolute, "the host's pointer mode");
                        }
                        Event::Bell | Event::ExtendedKeys => {}
                    }
                }
            }
            _ = tokio::time::sleep_until(handshake_ends), if !connected => {
                return Err(LinkError::Handshake(HANDSHAKE_TIMEOUT));
            }
            _ = sleep_until(request_at) => {
                client.request_update(!full_next);
                full_next = false;
                last_request = Instant::now();
                next_request = None;
            }
            event = input.recv() => match event {
                Some(event) => {
                    keys.send(&mut client, event);
                    // Someone is waiting to see what they typed: ask for it now, not at the pace.
                    if next_request.is_some() {
                        next_request = Some(Instant::now());
                    }
                }
                None => return Ok(()),
            },
        }
        let out = client.take_outgoing();
        if !out.is_empty() {
            writer.write_all(&out).await?;
        }
    }
}

/// Most copies and reported rectangles carried over skipped frames before the encoder just
/// compares the whole frame.
const MAX_REPORTED: usize = 4096;

/// Hands frames to a thread that encodes and publishes them, so that the next update is read
/// and decoded while the last one is encoded (a 1080p frame of motion takes longer to encode
/// than to decode). The thread always takes the newest frame; the copies and reported regions
/// of the frames it skipped are carried into it, so nothing that changed is missed.
struct Publisher {
    shared: Arc<(Mutex<Slot>, Condvar)>,
    stopped: Option<oneshot::Receiver<()>>,
}

#[derive(Default)]
struct Slot {
    pending: Option<Pending>,
    closed: bool,
}

struct Pending {
    frame: Framebuffer,
    hints: Vec<Copy>,
    /// `None`: too many to be worth it; compare everything.
    reported: Option<Vec<Rect>>,
}

impl Publisher {
    fn start(video: Arc<VideoHub>) -> std::io::Result<Self> {
        let shared: Arc<(Mutex<Slot>, Condvar)> = Arc::default();
        let (done, stopped) = oneshot::channel();
        let slot = shared.clone();
        std::thread::Builder::new().name("vnc-frames".into()).spawn(move || {
            while let Some(job) = next_job(&slot) {
                video.publish_frame(&job.frame, &job.hints, job.reported.as_deref());
            }
            let _ = done.send(());
        })?;
        Ok(Self { shared, stopped: Some(stopped) })
    }

    /// Queues a frame, replacing one still waiting (whose changes it takes on).
    fn publish(&self, frame: &Framebuffer, hints: &[Copy], reported: &[Rect]) {
        let (slot, wake) = &*self.shared;
        let mut slot = slot.locked();
        match &mut slot.pending {
            Some(waiting) => {
                waiting.frame.clone_from(frame);
                waiting.hints.extend_from_slice(hints);
                if let Some(r) = &mut waiting.reported {
                    r.extend_from_slice(reported);
                }
                // Many frames behind: compare everything, and let the encoder find the moves.
                if waiting.hints.len() + waiting.reported.as_ref().map_or(0, Vec::len) > MAX_REPORTED {
                    waiting.hints.clear();
                    waiting.reported = None;
                }
            }
            None => {
                slot.pending =
                    Some(Pending { frame: frame.clone(), hints: hints.to_vec(), reported: Some(reported.to_vec()) })
            }
        }
        wake.notify_one();
    }

    /// Publishes what is waiting, stops the thread and returns once it has.
    async fn close(mut self) {
        self.stop();
        if let Some(stopped) = self.stopped.take() {
            let _ = stopped.await;
        }
    }

    fn stop(&self) {
        let (slot, wake) = &*self.shared;
        slot.locked().closed = true;
        wake.notify_one();
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The next frame to publish, waiting for one; `None` once closed with nothing waiting.
fn next_job(shared: &(Mutex<Slot>, Condvar)) -> Option<Pending> {
    let (slot, wake) = shared;
    let mut slot = slot.locked();
    loop {
        if let Some(job) = slot.pending.take() {
            return Some(job);
        }
        if slot.closed {
            return None;
        }
        slot = crate::sync::wait(wake, slot);
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Turns the applet's input into RFB key and pointer events, remembering which keysym each
/// physical key pressed so that its release matches even if Shift changed in between. On
/// hosts that take scancodes, characters are typed with the keys of the host's layout.
#[derive(Default)]
struct Keyboard {
    pressed: HashMap<String, u32>,
    /// Keys typed whole (pressed and released) as a character of the host's layout when the
    /// browser pressed them: their release has been sent already.
    typed: HashSet<String>,
    layout: Layout,
    /// Where the pointer was last sent.
    pointer: (u16, u16),
}

impl Keyboard {
    fn send(&mut self, client: &mut Client, event: InputEvent) {
        match event {
            InputEvent::Key(key) => self.key(client, &key),
            InputEvent::Pointer(p) => {
                let (x, y) = client.framebuffer().map_or((0, 0), |f| (p.x.min(f.width() - 1), p.y.min(f.height() - 1)));
                self.pointer = (x, y);
                client.pointer(x, y, p.buttons);
            }
            InputEvent::PointerMotion { dx, dy, buttons } => {
                // Exact deltas where QEMU takes them; elsewhere a position moved by them, which
                // a server with a relative mouse turns back into a motion.
                if !client.pointer_motion(dx, dy, buttons) {
                    let (w, h) = client.framebuffer().map_or((1, 1), |f| (f.width(), f.height()));
                    let moved = |at: u16, d: i16, size: u16| {
                        (i32::from(at) + i32::from(d)).clamp(0, i32::from(size) - 1) as u16
                    };
                    self.pointer = (moved(self.pointer.0, dx, w), moved(self.pointer.1, dy, h));
                    client.pointer(self.pointer.0, self.pointer.1, buttons);
                }
            }
            InputEvent::Paste(text) => {
                for c in text.chars() {
                    self.type_char(client, c);
                }
            }
            InputEvent::Layout(layout) => self.layout = layout,
            InputEvent::Clipboard(text) => client.set_clipboard(&text),
            InputEvent::DesktopSize { width, height } => {
                if !client.set_desktop_size(width, height) {
                    crate::quiet_warn!(
                        "vnc resize",
                        "the VNC server does not take desktop sizes (no ExtendedDesktopSize)"
                    );
                }
            }
            InputEvent::Special(SpecialKey::CtrlAltDel) => {
                for (code, sym) in
                    [("ControlLeft", keymap::CONTROL_L), ("AltLeft", keymap::ALT_L), ("Delete", keymap::DELETE)]
                {
                    press(client, sym, code, true);
                }
                for (code, sym) in
                    [("Delete", keymap::DELETE), ("AltLeft", keymap::ALT_L), ("ControlLeft", keymap::CONTROL_L)]
                {
                    press(client, sym, code, false);
                }
            }
        }
    }

    fn key(&mut self, client: &mut Client, key: &KeyEvent) {
        if !key.down && self.typed.remove(&key.code) {
            return;
        }
        if key.down && client.supports_extended_keys() {
            if let Some((sym, stroke, shortcut)) = self.as_layout_key(key) {
                self.typed.insert(key.code.clone());
                if shortcut {
                    // Ctrl+C and the like: the key of that letter, with what the user holds.
                    client.scancode_key(sym, stroke.scancode, true);
                    client.scancode_key(sym, stroke.scancode, false);
                } else {
                    self.tap(client, sym, stroke);
                }
                return;
            }
        }
        let sym = if key.down {
            let Some(sym) = keymap::keysym(key) else { return };
            self.pressed.insert(key.code.clone(), sym);
            sym
        } else {
            match self.pressed.remove(&key.code).or_else(|| keymap::keysym(key)) {
                Some(sym) => sym,
                None => return,
            }
        };
        // A shifted key whose Shift press never came (some input tools send only the
        // modifier flag) gets one around it, or a scancode host would see the plain key.
        let needs_shift = key.down && key.modifiers.shift() && client.supports_extended_keys();
        self.with_shift(client, needs_shift, |client| press(client, sym, &key.code, key.down));
    }

    /// A key the browser names by the character it types, as the key of the host's layout
    /// that types it: its keysym, the key, and whether it is a shortcut (Ctrl, Alt or Meta
    /// held, without AltGr), which takes the plain key of its letter. `None` for other keys
    /// and characters the layout has no key for: those go as the physical key.
    fn as_layout_key(&self, key: &KeyEvent) -> Option<(u32, layout::Stroke, bool)> {
        let mut chars = key.key.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else { return None };
        let m = key.modifiers;
        let shortcut = (m.ctrl() || m.alt() || m.meta()) && !m.alt_graph();
        if shortcut {
            let mut lower = c.to_lowercase();
            let (Some(c), None) = (lower.next(), lower.next()) else { return None };
            let stroke = layout::stroke(self.layout, c).filter(|s| s.plain())?;
            return Some((keymap::char_keysym(c), stroke, true));
        }
        Some((keymap::char_keysym(c), layout::stroke(self.layout, c)?, false))
    }

    /// Types one character of pasted text: on scancode hosts with the key of the host's
    /// layout that makes it, elsewhere (or without such a key) as its keysym.
    fn type_char(&mut self, client: &mut Client, c: char) {
        let sym = keymap::char_keysym(c);
        match layout::stroke(self.layout, c).filter(|_| client.supports_extended_keys()) {
            Some(stroke) => self.tap(client, sym, stroke),
            None => {
                client.key(sym, true);
                client.key(sym, false);
            }
        }
    }

    /// Presses and releases `stroke`'s key with exactly its Shift and AltGr: modifiers the
    /// user holds that it must not have are let go around it, and pressed again after.
    fn tap(&self, client: &mut Client, sym: u32, stroke: layout::Stroke) {
        let mut around: Vec<(&str, u32, bool)> = Vec::new();
        let shifts: Vec<&str> =
            ["ShiftLeft", "ShiftRight"].into_iter().filter(|c| self.pressed.contains_key(*c)).collect();
        match (stroke.shift, shifts.is_empty()) {
            (true, true) => around.push(("ShiftLeft", keymap::SHIFT_L, true)),
            (false, false) => around.extend(shifts.iter().map(|c| (*c, self.pressed[*c], false))),
            _ => {}
        }
        match (stroke.alt_gr, self.pressed.get("AltRight")) {
            (true, None) => around.push(("AltRight", keymap::ALT_GR, true)),
            (false, Some(&held)) => around.push(("AltRight", held, false)),
            _ => {}
        }
        for &(code, sym, down) in &around {
            press(client, sym, code, down);
        }
        client.scancode_key(sym, stroke.scancode, true);
        client.scancode_key(sym, stroke.scancode, false);
        for &(code, sym, down) in around.iter().rev() {
            press(client, sym, code, !down);
        }
    }

    /// Runs `keys` with Shift held: pressed around them when `shift` is wanted and the user is
    /// not already holding it.
    fn with_shift(&self, client: &mut Client, shift: bool, keys: impl FnOnce(&mut Client)) {
        let held = self.pressed.contains_key("ShiftLeft") || self.pressed.contains_key("ShiftRight");
        let fake = shift && !held;
        if fake {
            press(client, keymap::SHIFT_L, "ShiftLeft", true);
        }
        keys(client);
        if fake {
            press(client, keymap::SHIFT_L, "ShiftLeft", false);
        }
    }
}

/// One key transition, with its scancode where the server takes them.
fn press(client: &mut Client, sym: u32, code: &str, down: bool) {
    match keymap::scancode(code).filter(|_| client.supports_extended_keys()) {
        Some(scancode) => client.scancode_key(sym, scancode, down),
        None => client.key(sym, down),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hosts::hub::Subscription;
    use shared::video::tiles::StreamDecoder;

    #[tokio::test]
    async fn a_burst_of_frames_ends_with_viewers_on_the_last_one_though_the_encoder_skips_some() {
        let hub = Arc::new(VideoHub::default());
        let mut frame = Framebuffer::new(320, 200).unwrap();
        hub.publish_frame(&frame, &[], None);
        let mut viewer = hub.subscribe();
        let (mut view, mut stream) = (Framebuffer::new(1, 1).unwrap(), StreamDecoder::default());
        for update in viewer.start() {
            stream.apply(&mut view, update).unwrap();
        }
        // What a console link does: apply what arrived; after a lag, start over from a full frame.
        let mut follow = |viewer: &mut Subscription, view: &mut Framebuffer| loop {
            match viewer.updates.try_recv() {
                Ok(update) => {
                    stream.apply(view, &update).unwrap();
                }
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {
                    *viewer = hub.subscribe();
                    for update in viewer.start() {
                        stream.apply(view, update).unwrap();
                    }
                }
                Err(_) => break,
            }
        };
        let publisher = Publisher::start(hub.clone()).unwrap();
        for i in 0..400u16 {
            // Each frame changes one new spot and reports only that spot.
            let spot = Rect::new((i * 7) % 310, (i * 13) % 190, 10, 10);
            frame.fill(spot, [i as u8, (i >> 8) as u8, 200]);
            publisher.publish(&frame, &[], &[spot]);
            follow(&mut viewer, &mut view);
        }
        publisher.close().await;
        follow(&mut viewer, &mut view);
        assert_eq!(view, frame, "every spot reached the viewer");
        assert_eq!(hub.frame(), Some(frame));
    }

    #[tokio::test]
    async fn an_unreachable_server_gives_no_signal_naming_the_source_and_the_reason() {
        // A port nothing listens on: bind one and let it go.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let address = format!("127.0.0.1:{port}");
        let host = spawn(VncHost { id: "v".into(), name: "v".into(), address: address.clone(), password_file: None });
        let mut status = host.status.clone();
        while !status.borrow_and_update().text.starts_with("no signal") {
            status.changed().await.unwrap();
        }
        let text = host.video.text().unwrap();
        assert!(text.contains("No signal"), "{text}");
        assert!(text.contains(&format!("source: {address}")), "{text}");
        assert!(text.contains("cannot reach"), "{text}");
    }

    async fn next_status(status: &mut watch::Receiver<HostStatus>, wanted: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let text = status.borrow_and_update().text.clone();
            if text.contains(wanted) {
                return text;
            }
            tokio::time::timeout_at(deadline, status.changed()).await.expect("status in time").unwrap();
        }
    }

    #[tokio::test]
    async fn a_greeting_that_is_not_text_gives_no_signal_and_the_host_keeps_trying() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let host = spawn(VncHost { id: "v".into(), name: "v".into(), address, password_file: None });
        let mut status = host.status.clone();
        for _ in 0..2 {
            let (mut socket, _) =
                tokio::time::timeout(Duration::from_secs(20), listener.accept()).await.unwrap().unwrap();
            socket.write_all(b"RFB 003.0\xff0\n").await.unwrap();
            let text = next_status(&mut status, "not an RFB server").await;
            assert!(text.starts_with("no signal"), "{text}");
        }
    }

    #[tokio::test]
    async fn a_refused_password_is_not_retried_until_its_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("vnc.pass");
        std::fs::write(&file, "wrong\n").unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let host = spawn(VncHost { id: "v".into(), name: "v".into(), address, password_file: Some(file.clone()) });
        let mut status = host.status.clone();
        // The server: VNC authentication, and every answer refused.
        let (mut socket, _) = listener.accept().await.unwrap();
        socket.write_all(b"RFB 003.008\n\x01\x02").await.unwrap();
        let mut answer = [0u8; 12 + 1];
        socket.read_exact(&mut answer).await.unwrap();
        socket.write_all(&[0u8; 16]).await.unwrap();
        let mut first_response = [0u8; 16];
        socket.read_exact(&mut first_response).await.unwrap();
        let mut failure = 1u32.to_be_bytes().to_vec();
        failure.extend_from_slice(&9u32.to_be_bytes());
        failure.extend_from_slice(b"bad creds");
        socket.write_all(&failure).await.unwrap();
        let text = next_status(&mut status, "bad creds").await;
        assert!(text.contains(&file.display().to_string()) && text.contains("when the file changes"), "{text}");
        // No second attempt with the same password (the quick back-off would retry in 0.5 s).
        assert!(
            tokio::time::timeout(Duration::from_secs(3), listener.accept()).await.is_err(),
            "retried a refused password"
        );
        // Fixed: it connects again at once and reads the new password.
        std::fs::write(&file, "right\n").unwrap();
        let (mut socket, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept()).await.unwrap().unwrap();
        socket.write_all(b"RFB 003.008\n\x01\x02").await.unwrap();
        socket.read_exact(&mut answer).await.unwrap();
        socket.write_all(&[0u8; 16]).await.unwrap();
        let mut response = [0u8; 16];
        socket.read_exact(&mut response).await.unwrap();
        assert_ne!(response, first_response, "the same challenge answered with the file's new password");
    }
}
