//! Host backends: how the controller reaches a managed machine.
//!
//! Every host publishes its screen through a [`VideoHub`] (encoded once, whoever watches) and
//! takes input through a channel. Backends: `local` (a pseudo-terminal).

pub mod hub;
pub mod local;
pub mod media;
pub mod qemu;
pub mod screenshot;
pub mod serial;
pub mod supervisor;
pub mod terminal;
pub mod vnc;

use std::sync::Arc;

use shared::video::text::{Cell, TextScreen};
use shared::wire::message::HostStatus;
use shared::wire::InputEvent;
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::{BackendConfig, HostConfig};
pub use hub::VideoHub;

/// A managed host as the rest of the controller sees it.
pub struct Host {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub video: Arc<VideoHub>,
    pub input: mpsc::Sender<InputEvent>,
    pub status: watch::Receiver<HostStatus>,
    /// Power control, for backends that have it.
    pub power: Option<mpsc::Sender<PowerRequest>>,
    /// The power buttons the backend has (none without power control).
    pub power_actions: &'static [PowerAction],
    /// Heartbeats for the recovery timer, named by where they came from ("guest agent",
    /// "api"). Sending never blocks: a full channel already holds beats.
    pub heartbeat: mpsc::Sender<&'static str>,
    /// The receiving end, taken once by the host's recovery timer.
    pub heartbeats: std::sync::Mutex<Option<mpsc::Receiver<&'static str>>>,
    /// The serial console, for backends that have one: output, and where input goes.
    pub serial: Option<Arc<serial::SerialHub>>,
    pub serial_input: Option<mpsc::Sender<Vec<u8>>>,
    /// Virtual media, for backends that take them.
    pub media: Option<mpsc::Sender<media::MediaRequest>>,
}

/// What a power button does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PowerAction {
    On,
    /// Forced off: the plug is pulled.
    Off,
    /// Graceful: the host is asked to shut down (ACPI power button) and decides itself.
    Shutdown,
    Reset,
    /// A non-maskable interrupt (makes a hung kernel dump its state), where the backend can.
    Nmi,
}

impl PowerAction {
    pub const ALL: &'static [PowerAction] =
        &[PowerAction::On, PowerAction::Off, PowerAction::Shutdown, PowerAction::Reset, PowerAction::Nmi];

    /// The name used on the wire and in logs.
    pub fn name(self) -> &'static str {
        match self {
            PowerAction::On => "on",
            PowerAction::Off => "off",
            PowerAction::Shutdown => "shutdown",
            PowerAction::Reset => "reset",
            PowerAction::Nmi => "nmi",
        }
    }
}

/// A power action, with where the backend says whether it could do it.
pub struct PowerRequest {
    pub action: PowerAction,
    pub done: oneshot::Sender<Result<(), String>>,
}

impl PowerRequest {
    /// Answers the request; a caller that stopped waiting is no error.
    pub fn answer(self, result: Result<(), String>) {
        let _ = self.done.send(result);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PowerError {
    #[error("this host's backend has no such power control")]
    Unsupported,
    #[error("the host's backend is not running")]
    Gone,
    #[error("{0}")]
    Refused(String),
    #[error("the host's backend did not answer within {} s", POWER_TIMEOUT.as_secs())]
    Timeout,
}

/// How long a power request may take: starting a machine included, a backend that has not
/// answered by then is stuck.
pub const POWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The backend's ends of a host's channels.
pub struct Backend {
    pub video: Arc<VideoHub>,
    pub input: mpsc::Receiver<InputEvent>,
    /// Power requests; nothing arrives here for a host made without power control.
    pub power: mpsc::Receiver<PowerRequest>,
    pub status: watch::Sender<HostStatus>,
    /// Where a backend that can tell the host is alive (a guest agent) sends heartbeats.
    pub heartbeat: mpsc::Sender<&'static str>,
    /// The serial console's output (published whether or not anyone watches) and input.
    pub serial: Arc<serial::SerialHub>,
    pub serial_input: mpsc::Receiver<Vec<u8>>,
    /// Media requests; nothing arrives here for a host made without media.
    pub media: mpsc::Receiver<media::MediaRequest>,
}

impl Host {
    /// A new host: the handle the controller keeps, and the ends its backend drives.
    pub fn new(
        id: &str,
        name: &str,
        kind: &'static str,
        power_actions: &'static [PowerAction],
        has_serial: bool,
        takes_media: bool,
        status: HostStatus,
    ) -> (Arc<Host>, Backend) {
        let video = Arc::new(VideoHub::default());
        // Room for a long paste (sent in 16 KiB pieces) without blocking the link.
        let (input_tx, input) = mpsc::channel(1024);
        let (power_tx, power) = mpsc::channel(16);
        let (status, status_rx) = watch::channel(status);
        let (heartbeat, heartbeats) = mpsc::channel(4);
        let serial = Arc::new(serial::SerialHub::default());
        let (serial_tx, serial_input) = mpsc::channel(256);
        let (media_tx, media) = mpsc::channel(4);
        let host = Arc::new(Host {
            id: id.to_string(),
            name: name.to_string(),
            kind,
            video: video.clone(),
            input: input_tx,
            status: status_rx,
            power: (!power_actions.is_empty()).then_some(power_tx),
            power_actions,
            heartbeat: heartbeat.clone(),
            heartbeats: std::sync::Mutex::new(Some(heartbeats)),
            serial: has_serial.then(|| serial.clone()),
            serial_input: has_serial.then_some(serial_tx),
            media: takes_media.then_some(media_tx),
        });
        (host, Backend { video, input, power, status, heartbeat, serial, serial_input, media })
    }

    /// Asks the backend to act on the host's power and waits for its answer.
    pub async fn press_power(&self, action: PowerAction) -> Result<(), PowerError> {
        let power = self.power.as_ref().ok_or(PowerError::Unsupported)?;
        if !self.power_actions.contains(&action) {
            return Err(PowerError::Unsupported);
        }
        let (done, answer) = oneshot::channel();
        let asked = async {
            power.send(PowerRequest { action, done }).await.map_err(|_| PowerError::Gone)?;
            answer.await.map_err(|_| PowerError::Gone)?.map_err(PowerError::Refused)
        };
        tokio::time::timeout(POWER_TIMEOUT, asked).await.map_err(|_| PowerError::Timeout)?
    }
}

/// The hosts the controller manages: the configured ones from the start, agents' as they
/// enrol and until they are revoked. Each host has its sharing (who watches, who holds the
/// keyboard) beside it.
pub struct HostRegistry {
    hosts: std::sync::RwLock<Vec<Registered>>,
    control_idle: std::time::Duration,
}

struct Registered {
    host: Arc<Host>,
    sharing: Arc<crate::console::sharing::Sharing>,
}

#[derive(Debug, thiserror::Error)]
#[error("host id {0:?} is taken")]
pub struct HostTaken(pub String);

impl HostRegistry {
    /// Starts every configured backend. Needs a running tokio runtime. Backends keep their
    /// sockets under `data_dir`.
    pub fn start(configs: &[HostConfig], data_dir: &std::path::Path, control_idle: std::time::Duration) -> Self {
        let registry = Self { hosts: std::sync::RwLock::new(Vec::new()), control_idle };
        for c in configs {
            let host = match &c.backend {
                BackendConfig::Local { command, args, run_as, cols, rows, .. } => local::spawn(local::LocalHost {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    command: command.clone(),
                    args: args.clone(),
                    run_as: run_as.clone(),
                    cols: *cols,
                    rows: *rows,
                }),
                BackendConfig::Vnc { address, password_file } => vnc::spawn(vnc::VncHost {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    address: address.clone(),
                    password_file: password_file.clone(),
                }),
                BackendConfig::Qemu { program, args, guest_agent, serial, serial_log } => qemu::spawn(qemu::QemuHost {
                    guest_agent: *guest_agent,
                    serial: *serial,
                    serial_log: serial_log.clone(),
                    id: c.id.clone(),
                    name: c.name.clone(),
                    program: program.clone(),
                    args: args.clone(),
                    run_dir: qemu::run_dir(data_dir, &c.id),
                }),
            };
            // The configuration's ids were checked unique when it was read.
            let _ = registry.add(host);
        }
        registry
    }

    /// Adds a host made at run time; its id must be free. Returns its sharing.
    pub fn add(&self, host: Arc<Host>) -> Result<Arc<crate::console::sharing::Sharing>, HostTaken> {
        let mut hosts = crate::sync::LockedRw::locked_write(&self.hosts);
        if hosts.iter().any(|r| r.host.id == host.id) {
            return Err(HostTaken(host.id.clone()));
        }
        let sharing = Arc::new(crate::console::sharing::Sharing::new(self.control_idle));
        hosts.push(Registered { host, sharing: sharing.clone() });
        Ok(sharing)
    }

    /// Removes a host made at run time (a revoked agent's).
    pub fn remove(&self, id: &str) -> Option<Arc<Host>> {
        let mut hosts = crate::sync::LockedRw::locked_write(&self.hosts);
        let at = hosts.iter().position(|r| r.host.id == id)?;
        Some(hosts.remove(at).host)
    }

    pub fn get(&self, id: &str) -> Option<Arc<Host>> {
        crate::sync::LockedRw::locked_read(&self.hosts).iter().find(|r| r.host.id == id).map(|r| r.host.clone())
    }

    /// Who watches the host and who holds its keyboard and mouse.
    pub fn sharing(&self, id: &str) -> Option<Arc<crate::console::sharing::Sharing>> {
        crate::sync::LockedRw::locked_read(&self.hosts).iter().find(|r| r.host.id == id).map(|r| r.sharing.clone())
    }

    /// Every host now, in the order they were added.
    pub fn all(&self) -> Vec<Arc<Host>> {
        crate::sync::LockedRw::locked_read(&self.hosts).iter().map(|r| r.host.clone()).collect()
    }
}

/// A blank text screen with `lines` centred on it: what a host shows instead of a picture
/// ("The host is powered off.", "No signal").
pub fn notice_screen(cols: u16, rows: u16, lines: &[&str]) -> TextScreen {
    let mut screen = TextScreen::new(cols.max(1), rows.max(1))
        .or_else(|_| TextScreen::new(80, 25))
        .unwrap_or_else(|_| unreachable!("80x25 is a valid text screen"));
    let (cols, rows) = (screen.cols(), screen.rows());
    let top = rows.saturating_sub(lines.len() as u16) / 2;
    for (i, line) in lines.iter().enumerate() {
        let text: Vec<char> = line.chars().take(usize::from(cols)).collect();
        let left = (usize::from(cols) - text.len()) / 2;
        for (j, ch) in text.into_iter().enumerate() {
            screen.set(top + i as u16, (left + j) as u16, Cell { ch, ..Cell::default() });
        }
    }
    screen.cursor.visible = false;
    screen
}

/// While a host is off: keystrokes go nowhere, power on or reset turns it on, off and
/// shutdown are already done, an NMI is refused. Returns false when the controller is
/// shutting down.
pub async fn wait_for_power_on(
    input: &mut mpsc::Receiver<InputEvent>,
    power: &mut mpsc::Receiver<PowerRequest>,
) -> bool {
    loop {
        tokio::select! {
            request = power.recv() => match request {
                Some(request) => match request.action {
                    PowerAction::On | PowerAction::Reset => {
                        request.answer(Ok(()));
                        return true;
                    }
                    PowerAction::Off | PowerAction::Shutdown => request.answer(Ok(())),
                    PowerAction::Nmi => request.answer(Err("the host is powered off".into())),
                },
                None => return false,
            },
            event = input.recv() => if event.is_none() { return false },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_power_request_the_backend_never_answers_ends_at_its_deadline() {
        let status = HostStatus { state: shared::wire::message::HostState::Running, text: "on".into() };
        let (host, mut backend) = Host::new("h", "h", "qemu", PowerAction::ALL, false, false, status);
        // A stuck backend: it takes the request and never answers.
        let stuck = tokio::spawn(async move {
            let request = backend.power.recv().await;
            std::future::pending::<()>().await;
            drop(request);
        });
        let started = tokio::time::Instant::now();
        assert!(matches!(host.press_power(PowerAction::Reset).await, Err(PowerError::Timeout)));
        assert_eq!(started.elapsed(), POWER_TIMEOUT);
        stuck.abort();
    }
}
