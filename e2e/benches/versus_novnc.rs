//! Our console and noVNC side by side, in one run: the same headless Chromium, the same
//! TigerVNC desktop (1920x1080) on loopback, the same workloads. Run with `scripts/bench.sh`
//! (it installs noVNC from npm and websockify from PyPI under target/bench).
//!
//! For each workload and client it prints the bytes delivered to the browser (TCP payload on
//! loopback, WebSocket framing included, counted by a proxy in front of each server), the
//! browser's main-thread CPU time (Chrome's TaskDuration) per changed megapixel (changed pixels
//! as reported to a third RFB client watching the same desktop), the frames shown, and for
//! keystrokes echoed by a terminal the time from the key event to the changed pixels on the
//! canvas (p50/p95), then our figures as ratios of noVNC's best lossless encoding (ZRLE or
//! Tight without JPEG, whichever sent fewer bytes).

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use controller_server::config::{BackendConfig, HostConfig};
use controller_server::sync::Locked;
use e2e::browser::Browser;
use e2e::xvnc::Xvnc;
use e2e::{wait_for, workspace_root, Controller};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;

const WIDTH: u16 = 1920;
const HEIGHT: u16 = 1080;
const KEYSTROKES: usize = 30;
const TEXT: &str = "text console";
const ON_TOP: &str = "desktop, window dragged on top";
const BENEATH: &str = "desktop, window dragged beneath two others";
const MOTION: &str = "full-screen motion";
const WORKLOADS: [&str; 4] = [TEXT, ON_TOP, BENEATH, MOTION];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Client {
    Lantern,
    NoVnc(&'static str),
}

impl Client {
    fn name(self) -> String {
        match self {
            Client::Lantern => "lantern".into(),
            Client::NoVnc(enc) => format!("noVNC {enc}"),
        }
    }
}

#[derive(Default, Clone)]
struct Figures {
    bytes: u64,
    cpu_seconds: f64,
    changed_megapixels: f64,
    frames: u64,
    latency_ms: Vec<f64>,
}

fn main() -> anyhow::Result<()> {
    // `LANTERN_BENCH_LOG=info` (or `debug`): the controller's log on stderr.
    if let Some(level) = std::env::var("LANTERN_BENCH_LOG").ok().and_then(|l| l.parse::<tracing::Level>().ok()) {
        tracing_subscriber::fmt().with_max_level(level).with_ansi(false).with_writer(std::io::stderr).init();
    }
    let seconds: u64 = std::env::var("LANTERN_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?.block_on(run(seconds))
}

async fn run(seconds: u64) -> anyhow::Result<()> {
    let bench_dir = workspace_root().join("target/bench");
    let novnc = bench_dir.join("node_modules/@novnc/novnc");
    let websockify = bench_dir.join("venv/bin/websockify");
    if !novnc.join("core/rfb.js").exists() || !websockify.exists() {
        bail!("noVNC or websockify missing under {}: run scripts/bench.sh", bench_dir.display());
    }
    // noVNC's page: its package and our bench page, side by side, served by websockify.
    let web = tempfile::tempdir()?;
    std::os::unix::fs::symlink(&novnc, web.path().join("novnc"))?;
    std::fs::copy(workspace_root().join("bench/novnc.html"), web.path().join("bench.html"))?;

    let mut x = Xvnc::start(WIDTH, HEIGHT).await?;
    let vnc: SocketAddr = x.address().parse()?;
    let ws_port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut websockify = Command::new(&websockify)
        .arg("--web")
        .arg(web.path())
        .arg(format!("127.0.0.1:{ws_port}"))
        .arg(vnc.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("websockify")?;
    let novnc_proxy = Counter::start(format!("127.0.0.1:{ws_port}").parse()?).await?;

    // Our controller, its plain console listener behind a counting proxy too.
    let lantern_proxy = Counter::pending().await?;
    let public = format!("ws://127.0.0.1:{}/console/ws", lantern_proxy.port);
    // `LANTERN_BENCH_RECORD=dir` keeps what TigerVNC sent the controller, with where each
    // workload began, for `cargo run --release -p rfb --example replay -- dir`.
    let record = std::env::var_os("LANTERN_BENCH_RECORD").map(std::path::PathBuf::from);
    let recorder = match &record {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            let r = Counter::pending_recording(Some(std::fs::File::create(dir.join("session.rfb"))?)).await?;
            r.forward_to(vnc);
            Some(r)
        }
        None => None,
    };
    let address = recorder.as_ref().map_or_else(|| x.address(), |r| format!("127.0.0.1:{}", r.port));
    let mut marks = match &record {
        Some(dir) => Some(std::fs::File::create(dir.join("marks.txt"))?),
        None => None,
    };
    let host = HostConfig {
        recovery: None,
        id: "desk".into(),
        name: "Bench desktop".into(),
        backend: BackendConfig::Vnc { address, password_file: None },
    };
    let controller = Controller::start(move |c| {
        c.hosts.push(host);
        c.console_public_plain_url = Some(public);
    })
    .await?;
    lantern_proxy.forward_to(controller.running.plain.context("plain listener")?);

    let browser = Browser::start().await?;
    let result = async {
        browser.first_login(&controller).await?;
        // `LANTERN_BENCH_CLIENTS=lantern,tight` runs some of the clients.
        let wanted = std::env::var("LANTERN_BENCH_CLIENTS").unwrap_or_else(|_| "lantern,zrle,tight".into());
        let clients: Vec<Client> = [Client::Lantern, Client::NoVnc("zrle"), Client::NoVnc("tight")]
            .into_iter()
            .filter(|c| wanted.split(',').any(|w| c.name().ends_with(w)))
            .collect();
        let mut report = Vec::new();
        // `LANTERN_BENCH_ONLY=desktop` runs one workload (a name or the start of one).
        let only = std::env::var("LANTERN_BENCH_ONLY").unwrap_or_default();
        for workload in WORKLOADS.into_iter().filter(|w| w.starts_with(only.as_str())) {
            let mut rows = Vec::new();
            for &client in &clients {
                open(&browser, client, &controller, &lantern_proxy, &novnc_proxy).await?;
                if let (Client::Lantern, Some(marks), Some(r)) = (client, marks.as_mut(), &recorder) {
                    use std::io::Write;
                    writeln!(marks, "{}\t{}", r.bytes.load(Ordering::SeqCst), workload)?;
                }
                let counter = if client == Client::Lantern { &lantern_proxy } else { &novnc_proxy };
                let figures = measure(&browser, client, counter, &mut x, vnc, workload, seconds).await?;
                rows.push((client, figures));
            }
            report.push((workload, rows));
        }
        print_report(&report);
        anyhow::Ok(())
    }
    .await;
    browser.close().await;
    let _ = websockify.kill().await;
    result
}

/// Opens `client` on the bench desktop in the browser's tab and waits for its first frame.
async fn open(
    browser: &Browser,
    client: Client,
    controller: &Controller,
    lantern: &Counter,
    novnc: &Counter,
) -> anyhow::Result<()> {
    match client {
        Client::Lantern => {
            browser.client.goto(&controller.url).await?;
            wait_for("the applet module", Duration::from_secs(20), || async {
                let loaded = browser.js("return typeof wasmBindings !== 'undefined';", vec![]).await?;
                Ok(if loaded == json!(true) { Ok(()) } else { Err("not loaded".to_string()) })
            })
            .await?;
            let url = format!("ws://127.0.0.1:{}/console/ws", lantern.port);
            browser.new_applet_for("bench", &url, "desk").await?;
            browser.js("const c = document.getElementById('bench'); c.scrollIntoView();", vec![]).await?;
            let key = browser
                .js_async(
                    "const done = arguments[0]; (async () => { const s = await (await fetch('/api/session')).json(); \
                     done(await (await fetch('/api/hosts/desk/console-key', { method: 'POST', headers: { 'X-CSRF-Token': s.csrf_token } })).json()); })();",
                    vec![],
                )
                .await?;
            browser.applet_connect("bench", &url, &key).await?;
            wait_for("our first frame", Duration::from_secs(20), || async {
                let s = browser.applet_status("bench").await?;
                Ok(if s["frames"].as_f64().unwrap_or(0.0) > 0.0 { Ok(()) } else { Err(s.to_string()) })
            })
            .await?;
        }
        Client::NoVnc(enc) => {
            browser.client.goto(&format!("http://127.0.0.1:{}/bench.html?enc={enc}", novnc.port)).await?;
            wait_for("noVNC's first frame", Duration::from_secs(20), || async {
                let s = browser
                    .js("return window.bench ? [window.bench.connected, window.bench.frames] : [false, 0];", vec![])
                    .await?;
                Ok(if s[1].as_u64().unwrap_or(0) > 0 { Ok(()) } else { Err(s.to_string()) })
            })
            .await?;
        }
    }
    // Let the first full frame settle before counting.
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(())
}

const CANVAS: &str = "(document.getElementById('bench') || (window.bench && window.bench.canvas()))";

async fn frames(browser: &Browser, client: Client) -> anyhow::Result<u64> {
    let v = match client {
        Client::Lantern => browser.applet_status("bench").await?["frames"].clone(),
        Client::NoVnc(_) => browser.js("return window.bench.frames;", vec![]).await?,
    };
    Ok(v.as_f64().unwrap_or(0.0) as u64)
}

async fn measure(
    browser: &Browser,
    client: Client,
    counter: &Counter,
    x: &mut Xvnc,
    vnc: SocketAddr,
    workload: &str,
    seconds: u64,
) -> anyhow::Result<Figures> {
    // Prepare: the windows are up and drawn before anything is counted, and the pointer is
    // out of the way, in the same place for every client.
    run_x(x, &["xdotool", "mousemove", "1900", "1070"]).await?;
    let mut windows = Vec::new();
    let lines = seconds * 2000;
    let scroll =
        format!("sleep 3; seq -f 'line %g: the quick brown fox jumps over the lazy dog, 0123456789' 1 {lines}");
    let frames_arg = (seconds * 30).to_string();
    match workload {
        TEXT => windows.push(spawn_x(x, &["xterm", "-geometry", "318x82+0+0", "-e", "sh", "-c", &scroll])?),
        MOTION => windows.push(spawn_x(
            x,
            &["xterm", "-geometry", "318x82+0+0", "-e", "python3", "-c", e2e::xvnc::MOTION_SCRIPT, &frames_arg],
        )?),
        _ => {
            for (i, at) in ["100x40+40+40", "100x40+700+300", "100x40+1100+120"].iter().enumerate() {
                let title = format!("bench-window-{i}");
                let text = "cat /usr/share/common-licenses/GPL-3; sleep 600";
                windows.push(spawn_x(x, &["xterm", "-T", &title, "-geometry", at, "-e", "sh", "-c", text])?);
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The three terminals map in whatever order they start; the stacking is set, since it
    // decides what a move uncovers. On top (as a window manager puts the window being
    // dragged), the server copies it; beneath the others, it repaints most of it every step.
    let dragged = if workload == ON_TOP || workload == BENEATH {
        let server: &Xvnc = x;
        let window = |name: &'static str| async move {
            let id = output_x(server, &["xdotool", "search", "--name", name]).await?;
            anyhow::Ok(id.lines().next().context("no bench window")?.to_string())
        };
        let id = window("bench-window-0").await?;
        let raised = if workload == ON_TOP {
            vec![id.clone()]
        } else {
            vec![window("bench-window-1").await?, window("bench-window-2").await?]
        };
        for r in raised {
            run_x(x, &["xdotool", "windowraise", &r]).await?;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        Some(id)
    } else {
        None
    };

    let observer = Observer::start(vnc).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // `LANTERN_BENCH_PROFILE=1`: where the tab's main thread spent its time, on stderr.
    let profile = std::env::var_os("LANTERN_BENCH_PROFILE").is_some();
    if profile {
        browser.client.issue_cmd(Cdp("Profiler.enable", json!({}))).await?;
        browser.client.issue_cmd(Cdp("Profiler.setSamplingInterval", json!({ "interval": 250 }))).await?;
        browser.client.issue_cmd(Cdp("Profiler.start", json!({}))).await?;
    }
    let cpu_before = task_seconds(browser).await?;
    let frames_before = frames(browser, client).await?;
    counter.bytes.store(0, Ordering::SeqCst);
    observer.pixels.store(0, Ordering::SeqCst);
    let mut figures = Figures::default();
    match workload {
        // A terminal scrolling fast, the same lines every run, as fast as xterm takes them; or
        // the animation, to its last frame.
        TEXT | MOTION => {
            let _ = windows[0].wait().await;
        }
        // One of three terminals full of text is dragged across the screen, 30 steps a second.
        _ => {
            let id = dragged.context("no window to move")?;
            let steps = seconds * 30;
            for step in 0..steps {
                let (wx, wy) = (40 + (step * 1100 / steps), 40 + (step * 500 / steps));
                run_x(x, &["xdotool", "windowmove", &id, &wx.to_string(), &wy.to_string()]).await?;
                tokio::time::sleep(Duration::from_millis(33)).await;
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    figures.bytes = counter.bytes.load(Ordering::SeqCst);
    figures.cpu_seconds = task_seconds(browser).await? - cpu_before;
    figures.frames = frames(browser, client).await? - frames_before;
    figures.changed_megapixels = observer.pixels.load(Ordering::SeqCst) as f64 / 1e6;
    observer.stop();
    if profile {
        let stopped = browser.client.issue_cmd(Cdp("Profiler.stop", json!({}))).await?;
        print_profile(&format!("{} on {workload}", client.name()), &stopped["profile"]);
    }
    for mut w in windows {
        let _ = w.kill().await;
    }
    if workload == TEXT {
        // Keystrokes echoed by `cat` in a small terminal under the pointer (not counted above).
        let mut echo = spawn_x(x, &["xterm", "-geometry", "60x4+0+0", "-e", "cat"])?;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        run_x(x, &["xdotool", "mousemove", "30", "20"]).await?;
        figures.latency_ms = latencies(browser).await?;
        let _ = echo.kill().await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(figures)
}

/// Times `KEYSTROKES` keys from the key event to the first changed pixels of the terminal's
/// first line on the canvas.
async fn latencies(browser: &Browser) -> anyhow::Result<Vec<f64>> {
    let script = format!(
        r#"
        const done = arguments[arguments.length - 1];
        const canvas = {CANVAS};
        const ctx = canvas.getContext('2d');
        const region = () => ctx.getImageData(0, 0, 380, 40).data;
        const differs = (a, b) => {{ for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return true; return false; }};
        (async () => {{
          const out = [];
          for (let i = 0; i < {KEYSTROKES}; i++) {{
            const before = region();
            const t0 = performance.now();
            for (const type of ['keydown', 'keyup']) {{
              canvas.dispatchEvent(new KeyboardEvent(type, {{ key: 'x', code: 'KeyX', keyCode: 88, which: 88, bubbles: true }}));
            }}
            await new Promise((resolve) => {{
              const check = () => {{
                if (differs(region(), before)) {{ out.push(performance.now() - t0); resolve(); }}
                else if (performance.now() - t0 > 3000) {{ out.push(-1); resolve(); }}
                else setTimeout(check, 1);
              }};
              check();
            }});
            await new Promise((r) => setTimeout(r, 120));
          }}
          done(out);
        }})();
        "#
    );
    let v = browser.js_async(&script, vec![]).await?;
    let mut out: Vec<f64> = v.as_array().map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default();
    if out.iter().any(|&ms| ms < 0.0) {
        bail!("a keystroke never showed on the canvas: {out:?}");
    }
    out.sort_by(f64::total_cmp);
    Ok(out)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn print_report(report: &[(&str, Vec<(Client, Figures)>)]) {
    for (workload, rows) in report {
        println!("\n== {workload} ({}x{}) ==", WIDTH, HEIGHT);
        println!(
            "{:<14} {:>12} {:>10} {:>14} {:>8} {:>9} {:>9}",
            "client", "bytes", "changed MP", "CPU ms/MP", "frames", "p50 ms", "p95 ms"
        );
        for (client, f) in rows {
            let per_mp = f.cpu_seconds * 1000.0 / f.changed_megapixels.max(1e-9);
            let (p50, p95) = (percentile(&f.latency_ms, 0.5), percentile(&f.latency_ms, 0.95));
            println!(
                "{:<14} {:>12} {:>10.1} {:>14.2} {:>8} {:>9.1} {:>9.1}",
                client.name(),
                f.bytes,
                f.changed_megapixels,
                per_mp,
                f.frames,
                p50,
                p95
            );
        }
        let ours = rows.iter().find(|(c, _)| *c == Client::Lantern).map(|(_, f)| f);
        let best = rows.iter().filter(|(c, _)| *c != Client::Lantern).min_by_key(|(_, f)| f.bytes);
        if let (Some(ours), Some((best_client, best))) = (ours, best) {
            let cpu = |f: &Figures| f.cpu_seconds / f.changed_megapixels.max(1e-9);
            println!(
                "lantern / {}: bytes {:.2}x, CPU per changed MP {:.2}x, frames {:.2}x, latency p50 {:.2}x, p95 {:.2}x",
                best_client.name(),
                ours.bytes as f64 / best.bytes.max(1) as f64,
                cpu(ours) / cpu(best).max(1e-12),
                ours.frames as f64 / best.frames.max(1) as f64,
                percentile(&ours.latency_ms, 0.5) / percentile(&best.latency_ms, 0.5),
                percentile(&ours.latency_ms, 0.95) / percentile(&best.latency_ms, 0.95),
            );
        }
    }
}

fn spawn_x(x: &Xvnc, args: &[&str]) -> anyhow::Result<tokio::process::Child> {
    Ok(Command::new(args[0])
        .args(&args[1..])
        .env("DISPLAY", &x.display)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?)
}

async fn run_x(x: &Xvnc, args: &[&str]) -> anyhow::Result<()> {
    spawn_x(x, args)?.wait().await?;
    Ok(())
}

async fn output_x(x: &Xvnc, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(args[0]).args(&args[1..]).env("DISPLAY", &x.display).output().await?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The functions the profile's samples fell in most (self time), with their share.
fn print_profile(title: &str, profile: &Value) {
    let empty = Vec::new();
    let nodes = profile["nodes"].as_array().unwrap_or(&empty);
    let names: std::collections::HashMap<u64, String> = nodes
        .iter()
        .filter_map(|n| {
            let frame = &n["callFrame"];
            let name = frame["functionName"].as_str().filter(|f| !f.is_empty()).unwrap_or("(anonymous)");
            let file = frame["url"].as_str().unwrap_or("").rsplit('/').next().unwrap_or("");
            Some((n["id"].as_u64()?, format!("{name} {file}")))
        })
        .collect();
    let mut self_us: std::collections::HashMap<&str, f64> = std::collections::HashMap::new();
    let samples = profile["samples"].as_array().unwrap_or(&empty);
    let deltas = profile["timeDeltas"].as_array().unwrap_or(&empty);
    for (sample, delta) in samples.iter().zip(deltas) {
        if let Some(name) = sample.as_u64().and_then(|id| names.get(&id)) {
            *self_us.entry(name.as_str()).or_default() += delta.as_f64().unwrap_or(0.0);
        }
    }
    let total: f64 = self_us.values().sum();
    let mut top: Vec<(&str, f64)> = self_us.into_iter().collect();
    top.sort_by(|a, b| b.1.total_cmp(&a.1));
    eprintln!("\n-- profile: {title} ({:.0} ms sampled) --", total / 1000.0);
    for (name, us) in top.into_iter().take(25) {
        eprintln!("{:6.1} %  {:8.1} ms  {name}", us * 100.0 / total.max(1.0), us / 1000.0);
    }
}

/// Chrome's cumulative main-thread task time for the tab, through chromedriver's CDP bridge.
async fn task_seconds(browser: &Browser) -> anyhow::Result<f64> {
    browser.client.issue_cmd(Cdp("Performance.enable", json!({}))).await?;
    let metrics = browser.client.issue_cmd(Cdp("Performance.getMetrics", json!({}))).await?;
    metrics["metrics"]
        .as_array()
        .and_then(|m| m.iter().find(|e| e["name"] == "TaskDuration"))
        .and_then(|e| e["value"].as_f64())
        .context("no TaskDuration metric")
}

#[derive(Debug)]
struct Cdp(&'static str, Value);

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "cmd": self.0, "params": self.1 }).to_string()))
    }
}

/// A TCP proxy on loopback that counts the bytes going to the browser.
struct Counter {
    port: u16,
    bytes: Arc<AtomicU64>,
    upstream: Arc<std::sync::Mutex<Option<SocketAddr>>>,
}

impl Counter {
    async fn start(upstream: SocketAddr) -> anyhow::Result<Self> {
        let c = Self::pending().await?;
        c.forward_to(upstream);
        Ok(c)
    }

    async fn pending() -> anyhow::Result<Self> {
        Self::pending_recording(None).await
    }

    /// As [`Counter::pending`], also writing what goes to the client into `record`.
    async fn pending_recording(record: Option<std::fs::File>) -> anyhow::Result<Self> {
        let record = record.map(|f| Arc::new(std::sync::Mutex::new(f)));
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let bytes = Arc::new(AtomicU64::new(0));
        let upstream: Arc<std::sync::Mutex<Option<SocketAddr>>> = Arc::default();
        let (count, target) = (bytes.clone(), upstream.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Some(to) = *target.locked() else { continue };
                let count = count.clone();
                let record = record.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(to).await else { return };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let up = async move {
                        let _ = tokio::io::copy(&mut cr, &mut sw).await;
                    };
                    let down = async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        while let Ok(n) = sr.read(&mut buf).await {
                            if n == 0 || cw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                            if let Some(file) = &record {
                                use std::io::Write;
                                let mut file = file.locked();
                                if file.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                            count.fetch_add(n as u64, Ordering::Relaxed);
                        }
                    };
                    tokio::join!(up, down);
                });
            }
        });
        Ok(Self { port, bytes, upstream })
    }

    fn forward_to(&self, to: SocketAddr) {
        *self.upstream.locked() = Some(to);
    }
}

/// A third RFB client on the same desktop, counting the pixels the server reports changed.
struct Observer {
    pixels: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Observer {
    async fn start(vnc: SocketAddr) -> anyhow::Result<Self> {
        let mut stream = TcpStream::connect(vnc).await?;
        let pixels = Arc::new(AtomicU64::new(0));
        let count = pixels.clone();
        let task = tokio::spawn(async move {
            let mut client = rfb::Client::new(rfb::Config { password: None, shared: true, ..Default::default() });
            let mut buf = vec![0u8; 256 * 1024];
            while let Ok(n) = stream.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let Ok(events) = client.feed(&buf[..n]) else { break };
                for event in events {
                    match event {
                        rfb::Event::Updated(r) => {
                            count.fetch_add(r.area() as u64, Ordering::Relaxed);
                        }
                        rfb::Event::Copied(c) => {
                            count.fetch_add(c.dst.area() as u64, Ordering::Relaxed);
                        }
                        rfb::Event::UpdateDone => client.request_update(true),
                        _ => {}
                    }
                }
                if stream.write_all(&client.take_outgoing()).await.is_err() {
                    break;
                }
            }
        });
        Ok(Self { pixels, task })
    }

    fn stop(self) {
        self.task.abort();
    }
}
