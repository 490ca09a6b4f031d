//! A real TigerVNC server (Xvnc) with X clients on it, for the desktop tests: the X server's
//! own picture of its screen (`xwd -root`), its pointer (`xdotool`), and clients to start.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use sha2::{Digest, Sha256};
use tokio::process::{Child, Command};

use crate::wait_for;

pub struct Xvnc {
    server: Child,
    clients: Vec<Child>,
    pub display: String,
    pub port: u16,
    /// The network namespace it and its clients run in, if not this one.
    netns: Option<String>,
}

/// Full-screen motion for a 1920x1080 desktop: an xterm of 318x82 cells running this (with the
/// number of frames as its argument) repaints every cell in colour, 30 times a second, from
/// overlapping waves that travel (the same frames every run), after a 3 s pause.
pub const MOTION_SCRIPT: &str = r#"
import math, sys, time
W, H, FRAMES = 318, 82, int(sys.argv[1])
time.sleep(3)
start = time.monotonic()
for t in range(FRAMES):
    parts = []
    for r in range(H):
        parts.append('\x1b[%d;1H' % (r + 1))
        last = -1
        for c in range(W):
            v = math.sin((c + 3 * t) / 11.0) + math.sin((r - 2 * t) / 7.0) + math.sin((c + r + t) / 17.0)
            colour = 16 + int((v + 3) * 35.9) % 216
            if colour != last:
                parts.append('\x1b[48;5;%dm' % colour)
                last = colour
            parts.append(' ')
    sys.stdout.write(''.join(parts))
    sys.stdout.flush()
    delay = start + (t + 1) / 30 - time.monotonic()
    if delay > 0:
        time.sleep(delay)
"#;

/// `program`, run in network namespace `netns` when there is one.
fn command_in(netns: Option<&str>, program: &str) -> Command {
    match netns {
        Some(ns) => {
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "exec", ns, program]);
            cmd
        }
        None => Command::new(program),
    }
}

impl Xvnc {
    /// Starts Xvnc on loopback, `width` x `height`, no VNC password, on a free display.
    pub async fn start(width: u16, height: u16) -> anyhow::Result<Self> {
        Self::start_in(width, height, None).await
    }

    /// As `start`, with Xvnc and its clients in network namespace `netns` (its port is on that
    /// namespace's loopback; its X socket is a file, reachable from here too).
    pub async fn start_in(width: u16, height: u16, netns: Option<&str>) -> anyhow::Result<Self> {
        for number in 40..99u16 {
            if display_in_use(number) {
                continue;
            }
            // A port free here is as good a guess as any inside a fresh namespace.
            let port = crate::free_port()?;
            let display = format!(":{number}");
            let server = command_in(netns, "Xvnc")
                .args([&display, "-geometry", &format!("{width}x{height}"), "-depth", "24", "-SecurityTypes", "None"])
                .args(["-localhost", "-rfbport", &port.to_string(), "-AlwaysShared", "-nolisten", "tcp"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .context("cannot start Xvnc (apt-get install tigervnc-standalone-server)")?;
            let netns = netns.map(str::to_string);
            let mut x = Self { server, clients: Vec::new(), display, port, netns };
            let ready = wait_for("Xvnc to listen", Duration::from_secs(10), || async {
                if x.netns.is_some() {
                    // Its X clients are served once it is fully up, RFB listener included.
                    return Ok(x.pointer().await.map(|_| ()).map_err(|e| e.to_string()));
                }
                Ok(match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                    Ok(_) => Ok(()),
                    Err(e) => Err(e.to_string()),
                })
            })
            .await;
            match (ready, x.server.try_wait()) {
                (Ok(()), Ok(None)) => return Ok(x),
                _ => {
                    let _ = x.server.kill().await;
                }
            }
        }
        bail!("no free X display for Xvnc")
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A `vnc` host `desk` ("Desktop") showing this server.
    pub fn desk_host(&self) -> controller_server::config::HostConfig {
        controller_server::config::HostConfig {
            recovery: None,
            id: "desk".into(),
            name: "Desktop".into(),
            backend: controller_server::config::BackendConfig::Vnc { address: self.address(), password_file: None },
        }
    }

    /// Starts an X client on this display; it ends with the server.
    pub fn run(&mut self, program: &str, args: &[&str]) -> anyhow::Result<()> {
        let child = command_in(self.netns.as_deref(), program)
            .args(args)
            .env("DISPLAY", &self.display)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {program}"))?;
        self.clients.push(child);
        Ok(())
    }

    /// Runs an X client on this display to its end; what it printed.
    pub async fn output(&self, program: &str, args: &[&str]) -> anyhow::Result<String> {
        let out = command_in(self.netns.as_deref(), program)
            .args(args)
            .env("DISPLAY", &self.display)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .with_context(|| format!("cannot run {program}"))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Where the X server has its pointer.
    pub async fn pointer(&self) -> anyhow::Result<(u16, u16)> {
        let out = command_in(self.netns.as_deref(), "xdotool")
            .arg("getmouselocation")
            .env("DISPLAY", &self.display)
            .output()
            .await?;
        if !out.status.success() {
            bail!("xdotool failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let field = |name: &str| -> Option<u16> {
            text.split_whitespace().find_map(|f| f.strip_prefix(name)).and_then(|v| v.parse().ok())
        };
        Ok((field("x:").context("no x")?, field("y:").context("no y")?))
    }

    /// The root window as the X server has it (without the pointer): (width, height, RGB).
    pub async fn screenshot(&self) -> anyhow::Result<(u16, u16, Vec<u8>)> {
        let out = command_in(self.netns.as_deref(), "xwd")
            .args(["-root", "-silent"])
            .env("DISPLAY", &self.display)
            .output()
            .await?;
        parse_xwd(&out.stdout)
    }

    /// Waits until the console canvas equals the X server's own picture of its screen, pixel
    /// for pixel: the pointer is in neither, since the server hands its shape to the browser
    /// instead of painting it.
    pub async fn wait_for_canvas(&self, browser: &crate::browser::Browser, within: Duration) -> anyhow::Result<()> {
        wait_for("the canvas to show the X server's screen", within, || async {
            let (w, h, rgb) = self.screenshot().await?;
            let digest = Sha256::digest(&rgb).iter().map(|b| format!("{b:02x}")).collect::<String>();
            let want = (u64::from(w), u64::from(h), digest);
            // The canvas may not be there yet (the console shows text until the first frame).
            let seen = match browser.canvas_digest("console-canvas").await {
                Ok(seen) => seen,
                Err(err) => return Ok(Err(format!("no canvas yet ({err:#}); X server {want:?}"))),
            };
            Ok(if seen == want { Ok(()) } else { Err(format!("canvas {seen:?}, X server {want:?}")) })
        })
        .await
    }
}

/// Whether an X server holds display `number`: its lock names a live process. A server that
/// was killed leaves its lock and socket behind, and the next one on that display clears them.
fn display_in_use(number: u16) -> bool {
    match std::fs::read_to_string(format!("/tmp/.X{number}-lock")) {
        Ok(pid) => std::path::Path::new(&format!("/proc/{}", pid.trim())).exists(),
        Err(_) => std::path::Path::new(&format!("/tmp/.X11-unix/X{number}")).exists(),
    }
}

/// A 32-bit TrueColor ZPixmap XWD dump (what `xwd -root` writes for a depth-24 Xvnc).
fn parse_xwd(data: &[u8]) -> anyhow::Result<(u16, u16, Vec<u8>)> {
    let field = |i: usize| -> anyhow::Result<u32> {
        let b = data.get(i * 4..i * 4 + 4).context("truncated XWD header")?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (header_size, format, width, height) = (field(0)? as usize, field(2)?, field(4)?, field(5)?);
    let (byte_order, bits_per_pixel, bytes_per_line, ncolors) =
        (field(7)?, field(11)?, field(12)? as usize, field(19)?);
    let masks = (field(14)?, field(15)?, field(16)?);
    if format != 2 || bits_per_pixel != 32 || byte_order != 0 || masks != (0xff0000, 0xff00, 0xff) {
        bail!(
            "unexpected XWD layout: format {format}, {bits_per_pixel} bpp, byte order {byte_order}, masks {masks:x?}"
        );
    }
    let start = header_size + ncolors as usize * 12;
    let (w, h) = (u16::try_from(width)?, u16::try_from(height)?);
    let mut rgb = Vec::with_capacity(usize::from(w) * usize::from(h) * 3);
    for y in 0..usize::from(h) {
        let row = data
            .get(start + y * bytes_per_line..start + y * bytes_per_line + usize::from(w) * 4)
            .context("truncated XWD")?;
        for px in row.chunks_exact(4) {
            rgb.extend_from_slice(&[px[2], px[1], px[0]]); // stored B G R x
        }
    }
    Ok((w, h, rgb))
}
