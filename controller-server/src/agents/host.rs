//! An agent's host: a text console that is a login shell on the machine (its pseudo-terminal's
//! bytes come over the agent's console stream and are emulated here, as the `local` backend
//! does with its own), the same bytes as the serial console, and power through the OS.
//!
//! The shell runs while someone watches: it starts when the first viewer opens the console and
//! ends `LINGER` after the last one left (a reload keeps it). An idle machine runs no shell for
//! nobody, and ten thousand idle agents cost the controller no terminal each.

use std::sync::Arc;
use std::time::Duration;

use agent_link::{OpenKind, PowerVerb};
use futures_util::FutureExt;
use shared::wire::message::{HostState, HostStatus};
use shared::wire::InputEvent;
use tokio::sync::{mpsc, oneshot, watch};

use super::{Command, LiveLink};
use crate::console::sharing::Sharing;
use crate::hosts::terminal::TerminalScreen;
use crate::hosts::vnc::{Display, Target};
use crate::hosts::{Backend, Host, PowerAction, VideoHub};

/// What the OS can do: reboot (the Reset button) and shut down. It cannot power a machine on.
const POWER_ACTIONS: &[PowerAction] = &[PowerAction::Shutdown, PowerAction::Reset];
const COLS: u16 = 80;
const ROWS: u16 = 25;
/// A console whose shell ended is opened again after this long.
const REOPEN: Duration = Duration::from_secs(1);
/// The shell outlives its last viewer by this much.
const LINGER: Duration = Duration::from_secs(300);
/// Input kept from a viewer who typed while the shell was starting, at most.
const EARLY_INPUT: usize = 256;

struct AgentHost {
    id: String,
    link: watch::Receiver<Option<LiveLink>>,
    sharing: Arc<Sharing>,
}

/// The host, and the ends its driver takes once it is registered (`start`).
pub fn new(id: &str, name: &str) -> (Arc<Host>, Backend) {
    let offline = HostStatus { state: HostState::NoSignal, text: "agent not connected".into() };
    Host::new(id, name, "agent", POWER_ACTIONS, true, false, offline)
}

/// Starts the host's driver: it follows the agent's link and who watches the host.
pub fn start(id: &str, backend: Backend, link: watch::Receiver<Option<LiveLink>>, sharing: Arc<Sharing>) {
    let config = AgentHost { id: id.to_string(), link, sharing };
    crate::hosts::supervisor::spawn(config, id.to_string(), backend, |config, backend| drive(config, backend).boxed());
}

async fn drive(config: &AgentHost, backend: &mut Backend) {
    let mut link = config.link.clone();
    loop {
        let live = link.borrow_and_update().clone();
        let carry_on = match live {
            None => offline(backend, &mut link).await,
            Some(live) => online(config, &live, backend, &mut link).await,
        };
        if !carry_on {
            return;
        }
    }
}

/// No agent: a screen that says so, keys go nowhere, power requests are refused, until the
/// link changes. False when the controller is stopping.
async fn offline(backend: &mut Backend, link: &mut watch::Receiver<Option<LiveLink>>) -> bool {
    let Backend { video, input, power, status, serial_input, .. } = backend;
    video.publish(crate::hosts::notice_screen(COLS, ROWS, &["The agent is not connected."]));
    let _ = status.send(HostStatus { state: HostState::NoSignal, text: "agent not connected".into() });
    loop {
        tokio::select! {
            changed = link.changed() => return changed.is_ok(),
            event = input.recv() => if event.is_none() { return false },
            bytes = serial_input.recv() => if bytes.is_none() { return false },
            request = power.recv() => match request {
                Some(request) => request.answer(Err("the agent is not connected".into())),
                None => return false,
            },
        }
    }
}

/// Forwards a power request to the agent's OS; the answer comes when the agent's does.
async fn power(live: &LiveLink, request: crate::hosts::PowerRequest) {
    let verb = match request.action {
        PowerAction::Reset => PowerVerb::Reboot,
        PowerAction::Shutdown => PowerVerb::Shutdown,
        _ => {
            request.answer(Err("an agent's machine powers only through its OS: reboot or shut down".into()));
            return;
        }
    };
    let (done, result) = oneshot::channel();
    if live.commands.send(Command::Power { verb, done }).await.is_err() {
        request.answer(Err("the agent is not connected".into()));
        return;
    }
    tokio::spawn(async move {
        let answer = result.await.unwrap_or_else(|_| Err("the agent disconnected".into()));
        request.answer(answer);
    });
}

/// The agent is connected: its console runs while someone watches, until the link changes.
/// False when stopping.
async fn online(
    config: &AgentHost,
    live: &LiveLink,
    backend: &mut Backend,
    link: &mut watch::Receiver<Option<LiveLink>>,
) -> bool {
    let _ = backend.status.send(HostStatus { state: HostState::Running, text: "agent connected".into() });
    let mut watchers = config.sharing.subscribe();
    loop {
        let early = match unwatched(config, live, backend, link, &mut watchers).await {
            Ok(early) => early,
            Err(carry_on) => return carry_on,
        };
        let Backend { video, input, power, status, serial, serial_input, .. } = &mut *backend;
        let mut shells = Shells {
            config,
            live,
            power,
            serial,
            serial_input,
            watchers: &mut watchers,
            link: &mut *link,
            alone_since: None,
        };
        let ended = if live.screen {
            // The screen is the machine's own VNC server; the shell is its serial console.
            let display = Display {
                id: &config.id,
                target: Target::Dialer(super::screen::AgentScreen::dialer(live.commands.clone())),
                password_file: None,
            };
            tokio::select! {
                () = display.drive(video, input, status) => Some(false),
                ended = shells.run(None, early) => ended,
            }
        } else {
            shells.run(Some((video, input)), early).await
        };
        match ended {
            Some(carry_on) => return carry_on,
            None => {
                let _ = backend.status.send(HostStatus { state: HostState::Running, text: "agent connected".into() });
            }
        }
    }
}

/// What a viewer typed before the console was there, kept for it.
#[derive(Default)]
struct Early {
    keys: Vec<InputEvent>,
    serial: Vec<Vec<u8>>,
}

/// Nobody watches: no shell and no screen. Input can only come from a viewer who just joined
/// (before the join was seen here): it is kept for the console about to start. Returns once
/// someone watches, or `Err` (carry on or not) when the link changed.
async fn unwatched(
    config: &AgentHost,
    live: &LiveLink,
    backend: &mut Backend,
    link: &mut watch::Receiver<Option<LiveLink>>,
    watchers: &mut watch::Receiver<u64>,
) -> Result<Early, bool> {
    let Backend { video, input, power: power_requests, serial_input, .. } = backend;
    let mut early = Early::default();
    if config.sharing.viewers() > 0 {
        return Ok(early);
    }
    video.publish(crate::hosts::notice_screen(COLS, ROWS, &["The agent is connected."]));
    while config.sharing.viewers() == 0 {
        tokio::select! {
            changed = link.changed() => return Err(changed.is_ok()),
            changed = watchers.changed() => if changed.is_err() { return Err(false) },
            event = input.recv() => match event {
                Some(event) if early.keys.len() < EARLY_INPUT => early.keys.push(event),
                Some(_) => {}
                None => return Err(false),
            },
            bytes = serial_input.recv() => match bytes {
                Some(bytes) if early.serial.len() < EARLY_INPUT => early.serial.push(bytes),
                Some(_) => {}
                None => return Err(false),
            },
            request = power_requests.recv() => match request {
                Some(request) => power(live, request).await,
                None => return Err(false),
            },
        }
    }
    Ok(early)
}

/// The machine's shell while someone watches: opened, and again a moment after it ended.
struct Shells<'a> {
    config: &'a AgentHost,
    live: &'a LiveLink,
    power: &'a mut mpsc::Receiver<crate::hosts::PowerRequest>,
    serial: &'a crate::hosts::serial::SerialHub,
    serial_input: &'a mut mpsc::Receiver<Vec<u8>>,
    watchers: &'a mut watch::Receiver<u64>,
    link: &'a mut watch::Receiver<Option<LiveLink>>,
    /// The last viewer left: the shell lingers until `LINGER` after this.
    alone_since: Option<tokio::time::Instant>,
}

/// Where the text console's screen goes and its keys come from (not when the host shows the
/// machine's VNC screen instead).
type TextConsole<'a> = (&'a VideoHub, &'a mut mpsc::Receiver<InputEvent>);

impl Shells<'_> {
    /// Until the link changes (`Some`: carry on or not) or nobody watched for `LINGER` (`None`).
    /// What was typed before goes to the first shell (keys only to a text console).
    async fn run(&mut self, mut text: Option<TextConsole<'_>>, mut early: Early) -> Option<bool> {
        loop {
            let text_now = text.as_mut().map(|(video, input)| (&**video, &mut **input));
            if let Some(ended) = self.one(text_now, std::mem::take(&mut early)).await {
                return ended;
            }
            tokio::select! {
                changed = self.link.changed() => return Some(changed.is_ok()),
                () = tokio::time::sleep(REOPEN) => {}
            }
        }
    }

    /// One shell, from opening to its end (`None`) or the session's (`Some`, as `run`).
    async fn one(&mut self, mut text: Option<TextConsole<'_>>, early: Early) -> Option<Option<bool>> {
        let (output, mut console) = mpsc::channel(64);
        let (ended, mut why) = oneshot::channel();
        let (opened, answer) = oneshot::channel();
        let kind = OpenKind::Console { cols: COLS, rows: ROWS };
        let _ = self.live.commands.send(Command::Stream { kind, output, ended, opened }).await;
        let stream = match answer.await {
            Ok(Ok(stream)) => Some(stream),
            Ok(Err(err)) => {
                tracing::warn!(host = %self.config.id, error = %err, "the agent's console did not open");
                None
            }
            Err(_) => None,
        };
        let mut screen = text.as_ref().map(|(video, _)| TerminalScreen::start(COLS, ROWS, video));
        if let Some(stream) = stream {
            let typed = early.keys.into_iter().filter_map(|event| screen.as_ref()?.input_bytes(event));
            for bytes in typed.chain(early.serial) {
                let _ = self.live.commands.try_send(Command::Input { stream, bytes });
            }
        }
        let linger = tokio::time::sleep(LINGER);
        tokio::pin!(linger);
        if let Some(since) = self.alone_since {
            linger.as_mut().reset(since + LINGER);
        }
        let outcome = loop {
            tokio::select! {
                changed = self.link.changed() => break Some(Some(changed.is_ok())),
                changed = self.watchers.changed() => {
                    if changed.is_err() {
                        break Some(Some(false));
                    }
                    let alone = self.config.sharing.viewers() == 0;
                    match (alone, self.alone_since) {
                        (true, None) => {
                            let now = tokio::time::Instant::now();
                            self.alone_since = Some(now);
                            linger.as_mut().reset(now + LINGER);
                        }
                        (false, Some(_)) => self.alone_since = None,
                        _ => {}
                    }
                },
                () = &mut linger, if self.alone_since.is_some() => {
                    if let Some(stream) = stream {
                        let _ = self.live.commands.send(Command::CloseStream { stream }).await;
                    }
                    self.alone_since = None;
                    break Some(None);
                },
                bytes = console.recv(), if stream.is_some() => match bytes {
                    Some(bytes) => {
                        self.serial.publish(&bytes);
                        if let Some(screen) = &mut screen {
                            screen.feed(&bytes);
                        }
                    }
                    // The shell ended: a new one a moment later, as a machine's getty would.
                    None => break None,
                },
                event = next_key(&mut text) => {
                    let Some(event) = event else { break Some(Some(false)) };
                    if let (Some(bytes), Some(stream)) = (screen.as_ref().and_then(|s| s.input_bytes(event)), stream) {
                        let _ = self.live.commands.try_send(Command::Input { stream, bytes });
                    }
                },
                bytes = self.serial_input.recv() => {
                    let Some(bytes) = bytes else { break Some(Some(false)) };
                    if let Some(stream) = stream {
                        let _ = self.live.commands.try_send(Command::Input { stream, bytes });
                    }
                },
                request = self.power.recv() => match request {
                    Some(request) => power(self.live, request).await,
                    None => break Some(Some(false)),
                },
                () = due(&mut screen) => {
                    if let (Some(screen), Some((video, _))) = (&mut screen, &text) {
                        screen.publish(video);
                    }
                },
            }
        };
        if let (Some(screen), Some((video, _))) = (&mut screen, &text) {
            screen.publish(video);
        }
        if outcome.is_none() {
            if let Ok(reason) = why.try_recv() {
                if !reason.is_empty() {
                    tracing::warn!(host = %self.config.id, %reason, "the agent's console ended");
                }
            }
        }
        outcome
    }
}

/// The text console's next key; never, when the host shows the VNC screen.
async fn next_key(text: &mut Option<TextConsole<'_>>) -> Option<InputEvent> {
    match text {
        Some((_, input)) => input.recv().await,
        None => std::future::pending().await,
    }
}

async fn due(screen: &mut Option<TerminalScreen>) {
    match screen {
        Some(screen) => screen.due().await,
        None => std::future::pending().await,
    }
}
