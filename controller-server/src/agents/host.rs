//! An agent's host: a text console that is a login shell on the machine (its pseudo-terminal's
//! bytes come over the agent's console stream and are emulated here, as the `local` backend
//! does with its own), the same bytes as the serial console, and power through the OS.
//!
//! The shell runs while someone watches: it starts when the first viewer opens the console and
//! ends `LINGER` after the last one left (a reload keeps it). An idle machine runs no shell for
//! nobody, and ten thousand idle agents cost the controller no terminal each.

use std::sync::Arc;
use std::time::Duration;

use agent_link::PowerVerb;
use futures_util::FutureExt;
use shared::terminal::{key_bytes, paste_bytes, Terminal};
use shared::wire::message::{HostState, HostStatus};
use shared::wire::InputEvent;
use tokio::sync::{mpsc, oneshot, watch};

use super::{Command, LiveLink};
use crate::console::sharing::Sharing;
use crate::hosts::{Backend, Host, PowerAction};

/// What the OS can do: reboot (the Reset button) and shut down. It cannot power a machine on.
const POWER_ACTIONS: &[PowerAction] = &[PowerAction::Shutdown, PowerAction::Reset];
const COLS: u16 = 80;
const ROWS: u16 = 25;
/// Screen updates are gathered for this long before they are published.
const COALESCE: Duration = Duration::from_millis(12);
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
    Host::new(id, name, "agent", POWER_ACTIONS, true, offline)
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

/// What a key or a paste types on the console's terminal, in the modes it is in.
fn input_bytes(event: InputEvent, terminal: &Terminal) -> Option<Vec<u8>> {
    let modes = terminal.modes();
    match event {
        InputEvent::Key(k) => key_bytes(&k, modes),
        InputEvent::Paste(text) => Some(paste_bytes(&text, modes)),
        InputEvent::Pointer(_) | InputEvent::Special(_) => None,
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
    let Backend { video, input, power: power_requests, status, serial, serial_input, .. } = backend;
    let _ = status.send(HostStatus { state: HostState::Running, text: "agent connected".into() });
    let mut watchers = config.sharing.subscribe();
    loop {
        // Nobody watches: no shell. Input can only come from a viewer who just joined (before
        // the join was seen here): it is kept for the shell about to start.
        let (mut early, mut early_serial) = (Vec::new(), Vec::new());
        if config.sharing.viewers() == 0 {
            video.publish(crate::hosts::notice_screen(COLS, ROWS, &["The agent is connected."]));
            while config.sharing.viewers() == 0 {
                tokio::select! {
                    changed = link.changed() => return changed.is_ok(),
                    changed = watchers.changed() => if changed.is_err() { return false },
                    event = input.recv() => match event {
                        Some(event) if early.len() < EARLY_INPUT => early.push(event),
                        Some(_) => {}
                        None => return false,
                    },
                    bytes = serial_input.recv() => match bytes {
                        Some(bytes) if early_serial.len() < EARLY_INPUT => early_serial.push(bytes),
                        Some(_) => {}
                        None => return false,
                    },
                    request = power_requests.recv() => match request {
                        Some(request) => power(live, request).await,
                        None => return false,
                    },
                }
            }
        }
        let (output, mut console) = mpsc::channel(64);
        let (opened, answer) = oneshot::channel();
        let _ = live.commands.send(Command::Console { cols: COLS, rows: ROWS, output, opened }).await;
        let stream = match answer.await {
            Ok(Ok(stream)) => Some(stream),
            Ok(Err(err)) => {
                tracing::warn!(host = %config.id, error = %err, "the agent's console did not open");
                None
            }
            Err(_) => None,
        };
        let mut terminal = Terminal::new(COLS, ROWS);
        video.publish(terminal.snapshot());
        if let Some(stream) = stream {
            let typed = early.into_iter().filter_map(|event| input_bytes(event, &terminal));
            for bytes in typed.chain(early_serial) {
                let _ = live.commands.try_send(Command::Input { stream, bytes });
            }
        }
        let mut dirty = false;
        let flush = tokio::time::sleep(COALESCE);
        tokio::pin!(flush);
        let linger = tokio::time::sleep(LINGER);
        tokio::pin!(linger);
        let mut alone = false;
        loop {
            tokio::select! {
                changed = link.changed() => return changed.is_ok(),
                changed = watchers.changed() => {
                    if changed.is_err() {
                        return false;
                    }
                    let now_alone = config.sharing.viewers() == 0;
                    if now_alone && !alone {
                        linger.as_mut().reset(tokio::time::Instant::now() + LINGER);
                    }
                    alone = now_alone;
                },
                () = &mut linger, if alone => {
                    if let Some(stream) = stream {
                        let _ = live.commands.send(Command::CloseStream { stream }).await;
                    }
                    break;
                },
                bytes = console.recv(), if stream.is_some() => match bytes {
                    Some(bytes) => {
                        serial.publish(&bytes);
                        terminal.feed(&bytes);
                        if !dirty {
                            dirty = true;
                            flush.as_mut().reset(tokio::time::Instant::now() + COALESCE);
                        }
                    }
                    // The shell ended: a new one a moment later, as a machine's getty would.
                    None => break,
                },
                event = input.recv() => {
                    let Some(event) = event else { return false };
                    if let (Some(bytes), Some(stream)) = (input_bytes(event, &terminal), stream) {
                        let _ = live.commands.try_send(Command::Input { stream, bytes });
                    }
                },
                bytes = serial_input.recv() => {
                    let Some(bytes) = bytes else { return false };
                    if let Some(stream) = stream {
                        let _ = live.commands.try_send(Command::Input { stream, bytes });
                    }
                },
                request = power_requests.recv() => match request {
                    Some(request) => power(live, request).await,
                    None => return false,
                },
                () = &mut flush, if dirty => {
                    dirty = false;
                    video.publish(terminal.snapshot());
                },
            }
        }
        if dirty {
            video.publish(terminal.snapshot());
        }
        tokio::select! {
            changed = link.changed() => return changed.is_ok(),
            () = tokio::time::sleep(REOPEN) => {}
        }
    }
}
