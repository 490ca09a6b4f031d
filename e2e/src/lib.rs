//! Harness for the end-to-end tests: a real controller on loopback (in this process), headless
//! Chromium driven through chromedriver, and a WebSocket proxy that records and can tamper
//! with the console link.

pub mod browser;
pub mod client;
pub mod kdc;
pub mod media;
pub mod netns;
pub mod portal;
pub mod process;
pub mod proxy;
pub mod qemu;
pub mod slapd;
pub mod xvnc;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use controller_server::config::{BackendConfig, Config, HostConfig};
use controller_server::Running;

/// A controller serving the built web console, with one `local` host running bash.
pub struct Controller {
    pub running: Running,
    pub url: String,
    pub first_password: String,
    data: tempfile::TempDir,
    config: Config,
}

impl Controller {
    /// Starts a controller; `adjust` may change the test configuration first.
    pub async fn start(adjust: impl FnOnce(&mut Config)) -> anyhow::Result<Self> {
        let web_root = workspace_root().join("web-console/dist");
        if !web_root.join("index.html").exists() {
            bail!(
                "the web console is not built: run `trunk build --offline` first ({} has no index.html)",
                web_root.display()
            );
        }
        let data = tempfile::tempdir()?;
        let mut config = Config {
            listen: "127.0.0.1:0".parse()?,
            console_plain_listen: Some("127.0.0.1:0".parse()?),
            data_dir: data.path().to_path_buf(),
            web_root,
            hosts: vec![local_shell_host()],
            ..Config::default()
        };
        adjust(&mut config);
        config.validate()?;
        let running = controller_server::start(config.clone()).await?;
        let url = format!("https://{}", running.site);
        let first_password =
            running.first_password.clone().context("a fresh data directory must yield a first-run password")?;
        Ok(Self { running, url, first_password, data, config })
    }

    /// Stops the controller and starts it again on the same data directory (on new ports).
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.running.shutdown();
        self.running.stopped().await;
        self.running = controller_server::start(self.config.clone()).await?;
        self.url = format!("https://{}", self.running.site);
        Ok(())
    }

    /// The plain console listener's WebSocket URL.
    pub fn plain_ws(&self) -> String {
        format!("ws://{}/console/ws", self.running.plain.map(|a| a.to_string()).unwrap_or_default())
    }
}

impl Controller {
    /// The controller's generated self-signed certificate (the CA file for clients).
    pub fn cert_path(&self) -> PathBuf {
        self.data.path().join("tls-cert.pem")
    }

    /// Where the controller keeps the sockets of its `qemu` host `id` (display, QMP, media).
    pub fn qemu_run_dir(&self, id: &str) -> PathBuf {
        controller_server::hosts::qemu::run_dir(self.data.path(), id)
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.running.shutdown();
    }
}

/// The `local` host every test controller has: a bash on a pseudo-terminal, 100x30, which is
/// also its serial console.
pub fn local_shell_host() -> HostConfig {
    HostConfig {
        recovery: None,
        id: "local".into(),
        name: "Test shell".into(),
        backend: BackendConfig::Local {
            command: Some("/bin/bash".into()),
            args: vec!["--norc".into(), "--noprofile".into()],
            run_as: None,
            cols: 100,
            rows: 30,
            sysfs: "/sys".into(),
        },
    }
}

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}

/// Polls `check` until it yields a value or `timeout` passes; the error says what was awaited
/// and what was last seen.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Result<T, String>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last = match check().await? {
            Ok(value) => return Ok(value),
            Err(seen) => seen,
        };
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {what}; last seen:\n{last}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A loopback port free now (for a server the test starts, which binds it a moment later).
/// A PNG's size and RGB pixels (what `xwd` and QEMU's screendump give, to compare with).
pub fn rgb_of_png(png: &[u8]) -> anyhow::Result<(u16, u16, Vec<u8>)> {
    let mut reader = png::Decoder::new(std::io::Cursor::new(png)).read_info()?;
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels)?;
    pixels.truncate(info.buffer_size());
    let rgb = match info.color_type {
        png::ColorType::Rgb => pixels,
        png::ColorType::Rgba => pixels.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect(),
        other => anyhow::bail!("a {other:?} PNG"),
    };
    Ok((u16::try_from(info.width)?, u16::try_from(info.height)?, rgb))
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Runs `command` to its end; its stdout, or an error with everything it printed.
pub fn run_checked(command: &mut std::process::Command) -> anyhow::Result<String> {
    let out = command.output()?;
    if !out.status.success() {
        bail!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A random marker that cannot appear on the screen by accident.
pub fn marker() -> String {
    format!("{:08x}", rand::random::<u32>())
}

/// Captures everything the controller logs (at debug level) in this test process from now on;
/// for checking that no secret ever reaches a log line.
pub fn capture_logs() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    static LOGS: std::sync::OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || LogSink(sink.clone()))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    })
    .clone()
}

struct LogSink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A special key (Enter, Control, arrows...) as WebDriver sends it.
pub fn key(k: fantoccini::key::Key) -> String {
    char::from(k).to_string()
}

/// Runs a scenario with a fresh controller (adjusted by the first argument) and browser,
/// closing the browser whether or not the scenario passed.
#[macro_export]
macro_rules! scenario {
    ($adjust:expr, |$c:ident, $b:ident| $body:block) => {{
        $crate::scenario!($adjust, browser: $crate::browser::Browser::start(), |$c, $b| $body)
    }};
    // With a browser of its own (`Browser::start_with(switches)`).
    ($adjust:expr, browser: $browser:expr, |$c:ident, $b:ident| $body:block) => {{
        let $c = $crate::Controller::start($adjust).await.expect("controller starts");
        let $b = $browser.await.expect("browser starts");
        let result: anyhow::Result<()> = async { $body }.await;
        $b.close().await;
        result.unwrap();
    }};
}
