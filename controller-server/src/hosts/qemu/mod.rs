//! The `qemu` backend: a QEMU virtual machine the controller starts itself, the stand-in for
//! a physical server. Its screen, keyboard and mouse are its VNC display and power is QMP,
//! both on unix sockets in the controller's data directory, so nothing listens on a network.
//!
//! Power on starts QEMU, forced off quits it, graceful shutdown presses the ACPI power button
//! (the guest decides), reset and NMI go to the machine. A guest that powers itself off ends
//! the QEMU process and the host shows as powered off until power on.

pub mod agent;
pub mod boot;
pub mod drive;
pub mod qmp;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use serde_json::json;
use shared::wire::message::{HostState, HostStatus};
use shared::wire::InputEvent;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};

use super::media::{MediaAction, MediaRequest, MediaStatus};
use super::vnc::{Display, Target};
use super::{Host, PowerAction, PowerRequest, VideoHub};
use qmp::Qmp;

const QMP_WAIT: Duration = Duration::from_secs(20);
const QUIT_WAIT: Duration = Duration::from_secs(10);

pub struct QemuHost {
    pub id: String,
    pub name: String,
    /// The QEMU program, e.g. `qemu-system-x86_64`.
    pub program: String,
    /// The machine: memory, disks, kernel... The controller adds display, VNC and QMP options.
    pub args: Vec<String>,
    /// Where the machine's sockets live (made if missing).
    pub run_dir: PathBuf,
    /// Give the machine the guest agent's port and ping it (heartbeats for recovery).
    pub guest_agent: bool,
    /// Attach COM1 as the serial console, and where to log it too.
    pub serial: bool,
    pub serial_log: Option<PathBuf>,
}

pub fn spawn(config: QemuHost) -> Arc<Host> {
    let starting = HostStatus { state: HostState::Stopped, text: "starting".into() };
    let (host, backend) = Host::new(&config.id, &config.name, "qemu", PowerAction::ALL, config.serial, true, starting);
    super::supervisor::spawn(config, host.id.clone(), backend, |config, backend| drive(config, backend).boxed());
    host
}

/// How a powered-on spell ended.
enum End {
    PoweredOff(String),
    /// The controller is shutting down.
    Stop,
}

async fn drive(config: &QemuHost, backend: &mut super::Backend) {
    let super::Backend { video, input, power, status, heartbeat, serial, serial_input, media } = backend;
    // A boot override set while the machine is off waits for its next start.
    let mut boot = boot::BootOnce::new(config.args.iter().any(|a| a == "-kernel"));
    loop {
        let serial = SerialPort { hub: serial, input: serial_input };
        let machine_media = MachineMedia { requests: media, boot: &mut boot };
        match run_machine(config, video, input, power, status, heartbeat, serial, machine_media).await {
            End::PoweredOff(reason) => tracing::info!(host = %config.id, %reason, "powered off"),
            End::Stop => return,
        }
        boot.machine_stopped();
        if !stay_off(video, input, power, status, MachineMedia { requests: media, boot: &mut boot }).await {
            return;
        }
    }
}

/// Sleeps until `at`; forever if there is none.
async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The machine's media requests and its boot override, which outlive each run.
struct MachineMedia<'a> {
    requests: &'a mut mpsc::Receiver<MediaRequest>,
    boot: &'a mut boot::BootOnce,
}

impl MachineMedia<'_> {
    /// Carries out `request` on the running machine and answers with what its drive holds
    /// and its boot override.
    async fn handle(&mut self, drives: &mut drive::Drives, qmp: &mut Qmp, request: MediaRequest) {
        let MediaRequest { action, done } = request;
        let done_with = match action {
            MediaAction::SetBoot(target) => self.boot.set(qmp, target, drives).await,
            MediaAction::Status => Ok(()),
            MediaAction::Insert { device, source, image, owner, writable } => {
                drives.get_mut(device).insert(qmp, source, image, owner, writable).await
            }
            MediaAction::Eject { device, owner } => drives.get_mut(device).eject_owned(qmp, owner).await,
        };
        if drives.usb.device_path().is_none() {
            self.boot.usb_gone();
        }
        let status = MediaStatus {
            cd: drives.cd.status(),
            usb: drives.usb.status(),
            boot_once: self.boot.pending(),
            boot_targets: self.boot.targets(Some(drives)),
        };
        let _ = done.send(done_with.map(|()| status));
    }

    /// While the machine is off: only the boot override (for its next start) and the status.
    fn handle_off(&mut self, request: MediaRequest) {
        let MediaRequest { action, done } = request;
        let done_with = match action {
            MediaAction::SetBoot(target) => self.boot.set_off(target),
            MediaAction::Status => Ok(()),
            _ => Err("the host is powered off: media go in while it runs".into()),
        };
        let status =
            MediaStatus { boot_once: self.boot.pending(), boot_targets: self.boot.targets(None), ..Default::default() };
        let _ = done.send(done_with.map(|()| status));
    }
}

/// The serial console's ends while the machine runs.
struct SerialPort<'a> {
    hub: &'a super::serial::SerialHub,
    input: &'a mut mpsc::Receiver<Vec<u8>>,
}

/// Starts QEMU and runs it until it is powered off or exits.
#[allow(clippy::too_many_arguments)] // one call site: the backend's channels, spelled out
async fn run_machine(
    config: &QemuHost,
    video: &Arc<VideoHub>,
    input: &mut mpsc::Receiver<InputEvent>,
    power: &mut mpsc::Receiver<PowerRequest>,
    status: &watch::Sender<HostStatus>,
    heartbeat: &mpsc::Sender<&'static str>,
    serial: SerialPort<'_>,
    mut media: MachineMedia<'_>,
) -> End {
    let _ = status.send(HostStatus { state: HostState::Stopped, text: "starting QEMU".into() });
    // The media's exports live as long as this machine: they go when QEMU does.
    let mut drives = drive::Drives::new(&config.run_dir);
    let (mut child, mut qmp, serial_stream) = match start(config, media.boot, &drives).await {
        Ok(started) => started,
        Err(reason) => {
            tracing::warn!(host = %config.id, %reason, "QEMU did not start");
            return End::PoweredOff(reason);
        }
    };
    let display =
        Display { id: &config.id, target: Target::Unix(config.run_dir.join("vnc.sock")), password_file: None };
    let driving = display.drive(video, input, status);
    tokio::pin!(driving);
    // Pings run while this machine runs (dropped with this future when it stops).
    let pinging = async {
        if config.guest_agent {
            agent::ping(config.run_dir.join("qga.sock"), heartbeat.clone()).await;
        }
        std::future::pending::<()>().await
    };
    tokio::pin!(pinging);
    let (mut serial_out, mut serial_in) = match serial_stream {
        Some(stream) => {
            let (read, write) = stream.into_split();
            (Some(read), Some(write))
        }
        None => (None, None),
    };
    let mut chunk = vec![0u8; 4096];
    let mut qmp_events = true;
    loop {
        tokio::select! {
            () = &mut driving => return End::Stop,
            Some(request) = media.requests.recv() => media.handle(&mut drives, &mut qmp, request).await,
            () = sleep_until_some(media.boot.put_back_due()) => media.boot.put_back_now(&mut qmp).await,
            event = qmp.next_event(), if qmp_events => match event {
                Ok(event) if event["event"] == "RESET" => media.boot.on_reset(),
                Ok(_) => {}
                // QEMU is going away; its exit says why.
                Err(_) => qmp_events = false,
            },
            () = &mut pinging => return End::Stop,
            read = async { serial_out.as_mut()?.read(&mut chunk).await.ok() }, if serial_out.is_some() => match read {
                Some(n) if n > 0 => serial.hub.publish(&chunk[..n]),
                // The port closed (QEMU is going away); the child's exit says why.
                _ => serial_out = None,
            },
            // Only while the port is open: a host without one has no sender, and a closed
            // channel would be ready at every turn.
            bytes = serial.input.recv(), if serial_in.is_some() => match (bytes, serial_in.as_mut()) {
                (Some(bytes), Some(port)) => {
                    if port.write_all(&bytes).await.is_err() {
                        serial_in = None;
                    }
                }
                // The controller is shutting down.
                (None, _) => return End::Stop,
                (Some(_), None) => {}
            },
            exit = child.wait() => {
                let reason = exit.map_or_else(|e| e.to_string(), |s| format!("QEMU exited ({s})"));
                return End::PoweredOff(reason);
            }
            request = power.recv() => {
                let Some(request) = request else { return End::Stop };
                let command = match request.action {
                    PowerAction::On => {
                        request.answer(Ok(()));
                        continue;
                    }
                    PowerAction::Off => {
                        // Quit at once; a QEMU that does not answer is killed.
                        let _ = qmp.execute("quit", json!({})).await;
                        if tokio::time::timeout(QUIT_WAIT, child.wait()).await.is_err() {
                            let _ = child.kill().await;
                        }
                        request.answer(Ok(()));
                        return End::PoweredOff("forced off".into());
                    }
                    PowerAction::Shutdown => "system_powerdown",
                    PowerAction::Reset => "system_reset",
                    PowerAction::Nmi => "inject-nmi",
                };
                request.answer(qmp.execute(command, json!({})).await.map(|_| ()).map_err(|e| e.to_string()));
            }
        }
    }
}

/// Starts QEMU with its display, QMP and serial port on unix sockets, connects to them, and
/// only then lets the machine run, so that the serial console misses nothing of the boot.
async fn start(
    config: &QemuHost,
    boot: &mut boot::BootOnce,
    drives: &drive::Drives,
) -> Result<(Child, Qmp, Option<UnixStream>), String> {
    std::fs::create_dir_all(&config.run_dir).map_err(|e| format!("cannot make {}: {e}", config.run_dir.display()))?;
    let (vnc, qmp_path) = (config.run_dir.join("vnc.sock"), config.run_dir.join("qmp.sock"));
    let agent_path = config.run_dir.join("qga.sock");
    let serial_path = config.run_dir.join("serial.sock");
    for stale in [&vnc, &qmp_path, &agent_path, &serial_path] {
        let _ = std::fs::remove_file(stale);
    }
    let agent_args = if config.guest_agent { agent::qemu_args(&agent_path) } else { Vec::new() };
    let serial_args = if config.serial { serial_args(&serial_path, config.serial_log.as_deref()) } else { Vec::new() };
    let mut child = Command::new(&config.program)
        .args(&config.args)
        .args(agent_args)
        .args(serial_args)
        .args(drive::qemu_args())
        .arg("-S")
        .args(["-display", "none", "-vnc"])
        .arg(format!("unix:{}", vnc.display()))
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", qmp_path.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", config.program))?;
    let deadline = tokio::time::Instant::now() + QMP_WAIT;
    let mut qmp = loop {
        if let Ok(Some(exit)) = child.try_wait() {
            return Err(format!("QEMU exited at start ({exit})"));
        }
        match Qmp::connect(&qmp_path).await {
            Ok(qmp) => break qmp,
            Err(e) if tokio::time::Instant::now() > deadline => {
                let _ = child.kill().await;
                return Err(format!("QEMU's QMP socket did not answer: {e}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    // QMP answers only once every chardev socket is listening.
    let serial = if config.serial {
        match UnixStream::connect(&serial_path).await {
            Ok(stream) => Some(stream),
            Err(e) => {
                let _ = child.kill().await;
                return Err(format!("QEMU's serial socket did not answer: {e}"));
            }
        }
    } else {
        None
    };
    if let Err(e) = boot.at_start(&mut qmp, drives).await {
        tracing::warn!(host = %config.id, reason = %e, "the one-time boot override could not be used");
    }
    if let Err(e) = qmp.execute("cont", json!({})).await {
        let _ = child.kill().await;
        return Err(format!("QEMU did not start the machine: {e}"));
    }
    Ok((child, qmp, serial))
}

/// The options that attach COM1 to a socket the controller reads (and log it, if asked).
fn serial_args(socket: &Path, log: Option<&Path>) -> Vec<String> {
    let log = log.map(|path| format!(",logfile={}", path.display())).unwrap_or_default();
    vec![
        "-chardev".into(),
        format!("socket,id=lantern-serial,path={},server=on,wait=off{log}", socket.display()),
        "-serial".into(),
        "chardev:lantern-serial".into(),
    ]
}

/// Powered off: a screen that says so; keys go nowhere; power on (or reset) starts QEMU.
/// Returns false when the controller is shutting down.
async fn stay_off(
    video: &VideoHub,
    input: &mut mpsc::Receiver<InputEvent>,
    power: &mut mpsc::Receiver<PowerRequest>,
    status: &watch::Sender<HostStatus>,
    mut media: MachineMedia<'_>,
) -> bool {
    video.publish(super::notice_screen(80, 25, &["The host is powered off."]));
    let _ = status.send(HostStatus { state: HostState::Stopped, text: "powered off".into() });
    loop {
        tokio::select! {
            on = super::wait_for_power_on(input, power) => return on,
            Some(request) = media.requests.recv() => media.handle_off(request),
        }
    }
}

/// The run directory of host `id` under the controller's data directory.
pub fn run_dir(data_dir: &Path, id: &str) -> PathBuf {
    data_dir.join("qemu").join(id)
}
