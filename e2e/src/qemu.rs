//! A real QEMU virtual machine for the graphics tests: software emulation, its VNC display on
//! loopback, QMP on a unix socket (for `screendump`, the picture taken straight from QEMU) and
//! the serial port in a file (so a test can see what the guest did with what was typed).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use controller_server::hosts::qemu::qmp::Qmp;
use serde_json::{json, Value};
use tokio::process::{Child, Command};

use crate::{wait_for, workspace_root};

const QEMU: &str = "qemu-system-x86_64";

/// What the machine boots.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Boot {
    /// No disk: SeaBIOS, then "No bootable device".
    Firmware,
    /// The test guest from `scripts/guest-image.sh`: a kernel and a busybox shell on tty0.
    Linux,
}

pub struct Qemu {
    child: Child,
    qmp: Qmp,
    pub vnc_port: u16,
    dir: tempfile::TempDir,
}

impl Qemu {
    /// Starts a machine whose VNC display takes the first free port from 5900 (or `port`).
    pub async fn start(boot: Boot, port: Option<u16>) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let qmp_path = dir.path().join("qmp.sock");
        let vnc = match port {
            Some(p) => format!("127.0.0.1:{}", p.checked_sub(5900).context("VNC ports start at 5900")?),
            None => "127.0.0.1:0,to=99".to_string(),
        };
        let mut command = Command::new(QEMU);
        command
            .args(["-nodefaults", "-no-user-config", "-machine", "pc", "-accel", "tcg", "-m", "128"])
            .args(["-vga", "std", "-display", "none", "-vnc", &vnc])
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", qmp_path.display()))
            .arg("-serial")
            .arg(format!("file:{}", dir.path().join("serial.log").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if boot == Boot::Linux {
            let guest = guest_image()?;
            command
                .arg("-kernel")
                .arg(guest.join("vmlinuz"))
                .arg("-initrd")
                .arg(guest.join("initrd.gz"))
                .args(["-append", "console=ttyS0 console=tty0 quiet"]);
        }
        let child =
            command.spawn().with_context(|| format!("cannot start {QEMU} (apt-get install qemu-system-x86)"))?;
        let qmp = wait_for("QEMU's QMP socket", Duration::from_secs(20), || async {
            Ok(match Qmp::connect(&qmp_path).await {
                Ok(q) => Ok(q),
                Err(e) => Err(e.to_string()),
            })
        })
        .await?;
        let mut vm = Self { child, qmp, vnc_port: 0, dir };
        let vnc = vm.qmp("query-vnc", json!({})).await?;
        vm.vnc_port = vnc["service"].as_str().and_then(|s| s.parse().ok()).context("query-vnc gave no port")?;
        Ok(vm)
    }

    pub fn vnc_address(&self) -> String {
        format!("127.0.0.1:{}", self.vnc_port)
    }

    /// The screen as QEMU itself has it: (width, height, RGB bytes).
    pub async fn screendump(&mut self) -> anyhow::Result<(u16, u16, Vec<u8>)> {
        let path = self.dir.path().join("screen.ppm");
        self.qmp("screendump", json!({ "filename": path })).await?;
        parse_ppm(&std::fs::read(&path)?)
    }

    /// What the guest wrote to its serial port so far.
    pub fn serial(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serial.log")).unwrap_or_default()
    }

    /// Waits for the Linux guest's shell.
    pub async fn wait_for_guest(&self) -> anyhow::Result<()> {
        wait_for("the guest to boot", Duration::from_secs(90), || async {
            let serial = self.serial();
            Ok(if serial.contains("LANTERN-GUEST-READY") { Ok(()) } else { Err(serial) })
        })
        .await
    }

    pub async fn qmp(&mut self, command: &str, arguments: Value) -> anyhow::Result<Value> {
        Ok(self.qmp.execute(command, arguments).await?)
    }

    /// Ends the machine at once, as pulling its plug would.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The guest image, built by `scripts/guest-image.sh` (the test script runs it first).
fn guest_image() -> anyhow::Result<PathBuf> {
    let dir = workspace_root().join("target/guest");
    if !dir.join("vmlinuz").exists() || !dir.join("initrd.gz").exists() {
        bail!("no test guest in {}: run scripts/guest-image.sh first", dir.display());
    }
    Ok(dir)
}

/// A binary PPM (P6, maxval 255), as QEMU's screendump writes it.
fn parse_ppm(data: &[u8]) -> anyhow::Result<(u16, u16, Vec<u8>)> {
    let mut fields = Vec::new();
    let mut pos = 0;
    while fields.len() < 4 {
        while pos < data.len() && data[pos].is_ascii_whitespace() {
            pos += 1;
        }
        let start = pos;
        while pos < data.len() && !data[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if start == pos {
            bail!("truncated PPM header");
        }
        fields.push(std::str::from_utf8(&data[start..pos])?.to_string());
    }
    if fields[0] != "P6" || fields[3] != "255" {
        bail!("not an 8-bit binary PPM: {fields:?}");
    }
    let (w, h): (u16, u16) = (fields[1].parse()?, fields[2].parse()?);
    let pixels = data.get(pos + 1..).context("no PPM pixels")?;
    if pixels.len() != usize::from(w) * usize::from(h) * 3 {
        bail!("PPM has {} pixel bytes for {w}x{h}", pixels.len());
    }
    Ok((w, h, pixels.to_vec()))
}

/// The RGB bytes of an RGBA picture (a framebuffer or a canvas), for comparing with a dump.
pub fn rgb_of_rgba(rgba: &[u8]) -> Vec<u8> {
    rgba.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect()
}

/// A `qemu` host booting the test guest; the controller's serial console is also logged to
/// `serial`.
pub fn qemu_host(serial: &std::path::Path) -> controller_server::config::HostConfig {
    qemu_host_with(serial, "")
}

/// The test guests `scripts/guest-image.sh` builds.
#[derive(Debug, Clone, Copy)]
pub enum Guest {
    /// Debian's cloud kernel: small, quick to boot, no USB.
    Cloud,
    /// Debian's generic kernel with USB (xHCI) and USB mass storage.
    Usb,
}

impl Guest {
    pub fn dir(self) -> std::path::PathBuf {
        crate::workspace_root().join(match self {
            Guest::Cloud => "target/guest",
            Guest::Usb => "target/guest-usb",
        })
    }
}

/// The same, with words added to the guest kernel's command line (`lantern.agent=N`...).
pub fn qemu_host_with(serial: &std::path::Path, cmdline: &str) -> controller_server::config::HostConfig {
    qemu_host_of(Guest::Cloud, serial, cmdline)
}

/// A `qemu` host booting `guest`, with `cmdline` added to its kernel's command line.
pub fn qemu_host_of(guest: Guest, serial: &std::path::Path, cmdline: &str) -> controller_server::config::HostConfig {
    let guest = guest.dir();
    let mut args: Vec<String> =
        ["-nodefaults", "-no-user-config", "-machine", "pc", "-accel", "tcg", "-m", "128", "-vga", "std"]
            .map(String::from)
            .to_vec();
    args.extend(["-kernel".into(), guest.join("vmlinuz").display().to_string()]);
    args.extend(["-initrd".into(), guest.join("initrd.gz").display().to_string()]);
    args.extend(["-append".into(), format!("console=ttyS0 console=tty0 quiet {cmdline}").trim_end().to_string()]);
    controller_server::config::HostConfig {
        recovery: None,
        id: "vm".into(),
        name: "Test VM".into(),
        backend: controller_server::config::BackendConfig::Qemu {
            program: "qemu-system-x86_64".into(),
            args,
            guest_agent: true,
            serial: true,
            serial_log: Some(serial.to_path_buf()),
        },
    }
}

/// How many times the guest has booted since its QEMU process started (QEMU truncates the
/// serial log when it starts).
pub fn boots(serial: &std::path::Path) -> usize {
    std::fs::read_to_string(serial).unwrap_or_default().matches("LANTERN-GUEST-READY").count()
}

/// A check for `wait_for`: the guest has booted at least `n` times (else: its serial log).
pub fn booted(
    serial: &std::path::Path,
    n: usize,
) -> impl FnMut() -> std::future::Ready<anyhow::Result<Result<(), String>>> {
    let serial = serial.to_path_buf();
    move || {
        std::future::ready(Ok(if boots(&serial) >= n {
            Ok(())
        } else {
            Err(std::fs::read_to_string(&serial).unwrap_or_default())
        }))
    }
}

/// Once the guest logging to `serial` has booted: logs in to `controller` for the first time
/// and opens the console of its `vm` host, as a new administrator would.
pub async fn open_booted_console(
    controller: &crate::Controller,
    browser: &crate::browser::Browser,
    serial: &std::path::Path,
) -> anyhow::Result<()> {
    wait_for("the guest's boot", Duration::from_secs(60), booted(serial, 1)).await?;
    browser.first_login(controller).await?;
    browser.open_console("vm").await
}

/// The test VM `vm` booting from its firmware's boot order, with `disk` (a hybrid ISO from
/// `e2e::media::make_boot_iso`) as its hard disk, written to a scratch copy only.
pub fn qemu_host_booting(serial: &std::path::Path, disk: &std::path::Path) -> controller_server::config::HostConfig {
    let mut host = qemu_host(serial);
    if let controller_server::config::BackendConfig::Qemu { args, .. } = &mut host.backend {
        let at = args.iter().position(|a| a == "-kernel").unwrap_or(args.len());
        args.truncate(at);
        args.extend(["-drive".into(), format!("file={},format=raw,if=ide,snapshot=on", disk.display())]);
    }
    host
}
