//! The `qemu` backend: a QEMU virtual machine the controller starts itself, the stand-in for
//! a physical server. Its screen, keyboard and mouse are its VNC display and power is QMP,
//! both on unix sockets in the controller's data directory, so nothing listens on a network.
//!
//! Power on starts QEMU, forced off quits it, graceful shutdown presses the ACPI power button
//! (the guest decides), reset and NMI go to the machine. A guest that powers itself off ends
//! the QEMU process and the host shows as powered off until power on.

pub mod agent;
pub mod qmp;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use shared::wire::message::{HostState, HostStatus};
use shared::wire::InputEvent;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};

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
}

pub fn spawn(config: QemuHost) -> Arc<Host> {
    let starting = HostStatus { state: HostState::Stopped, text: "starting".into() };
    let (host, backend) = Host::new(&config.id, &config.name, "qemu", PowerAction::ALL, starting);
    tokio::spawn(supervise(config, backend));
    host
}

/// How a powered-on spell ended.
enum End {
    PoweredOff(String),
    /// The controller is shutting down.
    Stop,
}

async fn supervise(config: QemuHost, backend: super::Backend) {
    let super::Backend { video, mut input, mut power, status, heartbeat } = backend;
    loop {
        match run_machine(&config, &video, &mut input, &mut power, &status, &heartbeat).await {
            End::PoweredOff(reason) => tracing::info!(host = %config.id, %reason, "powered off"),
            End::Stop => return,
        }
        if !stay_off(&video, &mut input, &mut power, &status).await {
            return;
        }
    }
}

/// Starts QEMU and runs it until it is powered off or exits.
async fn run_machine(
    config: &QemuHost,
    video: &VideoHub,
    input: &mut mpsc::Receiver<InputEvent>,
    power: &mut mpsc::Receiver<PowerRequest>,
    status: &watch::Sender<HostStatus>,
    heartbeat: &mpsc::Sender<&'static str>,
) -> End {
    let _ = status.send(HostStatus { state: HostState::Stopped, text: "starting QEMU".into() });
    let (mut child, mut qmp) = match start(config).await {
        Ok(started) => started,
        Err(reason) => {
            tracing::warn!(host = %config.id, %reason, "QEMU did not start");
            return End::PoweredOff(reason);
        }
    };
    let display = Display { id: &config.id, target: Target::Unix(config.run_dir.join("vnc.sock")), password: None };
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
    loop {
        tokio::select! {
            () = &mut driving => return End::Stop,
            () = &mut pinging => return End::Stop,
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

/// Starts QEMU with its display and QMP on unix sockets and connects to QMP.
async fn start(config: &QemuHost) -> Result<(Child, Qmp), String> {
    std::fs::create_dir_all(&config.run_dir).map_err(|e| format!("cannot make {}: {e}", config.run_dir.display()))?;
    let (vnc, qmp_path) = (config.run_dir.join("vnc.sock"), config.run_dir.join("qmp.sock"));
    let agent_path = config.run_dir.join("qga.sock");
    for stale in [&vnc, &qmp_path, &agent_path] {
        let _ = std::fs::remove_file(stale);
    }
    let agent_args = if config.guest_agent { agent::qemu_args(&agent_path) } else { Vec::new() };
    let mut child = Command::new(&config.program)
        .args(&config.args)
        .args(agent_args)
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
    loop {
        if let Ok(Some(exit)) = child.try_wait() {
            return Err(format!("QEMU exited at start ({exit})"));
        }
        match Qmp::connect(&qmp_path).await {
            Ok(qmp) => return Ok((child, qmp)),
            Err(e) if tokio::time::Instant::now() > deadline => {
                let _ = child.kill().await;
                return Err(format!("QEMU's QMP socket did not answer: {e}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Powered off: a screen that says so; keys go nowhere; power on (or reset) starts QEMU.
/// Returns false when the controller is shutting down.
async fn stay_off(
    video: &VideoHub,
    input: &mut mpsc::Receiver<InputEvent>,
    power: &mut mpsc::Receiver<PowerRequest>,
    status: &watch::Sender<HostStatus>,
) -> bool {
    video.publish(super::notice_screen(80, 25, &["The host is powered off."]));
    let _ = status.send(HostStatus { state: HostState::Stopped, text: "powered off".into() });
    super::wait_for_power_on(input, power).await
}

/// The run directory of host `id` under the controller's data directory.
pub fn run_dir(data_dir: &Path, id: &str) -> PathBuf {
    data_dir.join("qemu").join(id)
}
