//! Console sessions through `lantern-relay` against the same sessions made directly, in one
//! run on loopback: the relay's CPU and resident memory per session, the latency it adds to a
//! keystroke's echo, and the throughput of a 1080p full-screen motion workload.
//!
//! `cargo bench -p lantern-relay --bench sessions` (after `trunk build --offline --release`).
//! `LANTERN_BENCH_SESSIONS` (default 200), `LANTERN_BENCH_ROUNDS` (3: direct and relayed
//! alternate, first one then the other), `LANTERN_BENCH_SECONDS` (10 per throughput window),
//! `LANTERN_BENCH_KEYSTROKES` (50 per latency run).
//!
//! Every session is a native console client (`e2e::client::ConsoleClient`: TLS, WebSocket and
//! the console protocol, decrypting every record) in this process, as is the controller; the
//! relay runs as its own process, so its CPU time and memory are its own.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use controller_server::config::{BackendConfig, HostConfig, RelayConfig};
use e2e::client::{ApiClient, ConsoleClient};
use e2e::xvnc::Xvnc;
use e2e::{wait_for, Controller};
use shared::session::ClientEvent;
use shared::wire::{AppMessage, InputEvent};

const NAME: &str = "ctl-a.relay.test";

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(run())
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Path {
    Direct,
    Relayed,
}

/// Where sessions of each path connect: the URL (its host names the controller) and the
/// address its TCP connection goes to.
struct Paths {
    direct: SocketAddr,
    relayed: SocketAddr,
    cert: std::path::PathBuf,
}

impl Paths {
    fn address(&self, path: Path) -> SocketAddr {
        match path {
            Path::Direct => self.direct,
            Path::Relayed => self.relayed,
        }
    }

    async fn session(&self, api: &ApiClient, path: Path, host: &str) -> anyhow::Result<ConsoleClient> {
        let address = self.address(path);
        let url = format!("wss://{NAME}:{}/console/ws", address.port());
        ConsoleClient::connect_tls(&url, address, &self.cert, &api.console_key(host).await?).await
    }
}

#[path = "../tests/common/mod.rs"]
mod common;

/// The relay as a process, and what the kernel says it has used.
struct Relay {
    process: common::RelayProcess,
    _dir: tempfile::TempDir,
}

impl Relay {
    async fn start(pin: &str, sessions: u64) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        // Every session comes from 127.0.0.1: the per-address share must hold them all.
        let config = format!(
            "listen = \"127.0.0.1:0\"\ndomain = \"relay.test\"\nallow = [\"{pin}\"]\n\
             max_connections_per_address = {}\nmax_pending_per_controller = {}\n",
            sessions * 2 + 64,
            sessions + 64
        );
        let process = common::RelayProcess::spawn(dir.path(), &config, "lantern_relay=warn").await?;
        Ok(Self { process, _dir: dir })
    }

    fn pid(&self) -> u32 {
        self.process.child.id().unwrap_or(0)
    }

    /// User and system CPU seconds so far.
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // Fields after the command name (which is in parentheses): utime is the 12th, stime the 13th.
        let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<f64>().ok()).sum();
        ticks / clock_ticks_per_second()
    }

    /// Resident memory, KiB.
    fn resident_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }
}

fn clock_ticks_per_second() -> f64 {
    let out = std::process::Command::new("getconf").arg("CLK_TCK").output();
    out.ok().and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok()).unwrap_or(100.0)
}

#[derive(Default, Clone)]
struct Throughput {
    bytes: u64,
    frames: u64,
    seconds: f64,
    relay_cpu_seconds: f64,
    relay_resident_kib: u64,
}

async fn run() -> anyhow::Result<()> {
    let sessions = setting("LANTERN_BENCH_SESSIONS", 200);
    let rounds = setting("LANTERN_BENCH_ROUNDS", 3);
    let seconds = setting("LANTERN_BENCH_SECONDS", 10);
    let keystrokes = setting("LANTERN_BENCH_KEYSTROKES", 50);

    // The desktop for the motion workload (which runs only while throughput is measured, so
    // that it does not load the machine while latency is).
    let x = Xvnc::start(1920, 1080).await?;

    let dir = tempfile::tempdir()?;
    let seed: [u8; 32] = rand::random();
    let key_file = dir.path().join("node-key");
    std::fs::write(&key_file, seed)?;
    let pin = agent_link::Pin::of(ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().as_bytes()).to_string();
    let relay = Relay::start(&pin, sessions).await?;
    let relay_address = relay.process.address;
    let desk = HostConfig {
        recovery: None,
        id: "desk".into(),
        name: "Motion desktop".into(),
        backend: BackendConfig::Vnc { address: x.address(), password_file: None },
    };
    let controller = Controller::start(move |c| {
        c.node_key_file = Some(key_file.clone());
        c.relay = Some(RelayConfig {
            address: relay_address.to_string(),
            name: "ctl-a".into(),
            host: Some(NAME.into()),
            silence_seconds: 45,
        });
        c.hosts.push(desk);
        c.limits.max_connections = (sessions as usize) * 3 + 256;
        c.limits.max_connections_per_address = (sessions as usize) * 3 + 256;
    })
    .await?;
    let mut api = ApiClient::new(&controller)?;
    api.first_login("admin", &controller.first_password, "a bench password").await?;
    wait_for("the controller to register at the relay", Duration::from_secs(10), || async {
        let (_, node) = api.call("GET", "/api/node", None).await?;
        Ok(if node["relay"]["registered"] == true { Ok(()) } else { Err(node.to_string()) })
    })
    .await?;
    let paths = Paths { direct: controller.running.site, relayed: relay.process.address, cert: controller.cert_path() };
    let idle_kib = relay.resident_kib();

    let mut latencies = [Latency::default(), Latency::default()];
    let mut throughputs = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        let order = if round % 2 == 0 { [Path::Direct, Path::Relayed] } else { [Path::Relayed, Path::Direct] };
        for path in order {
            let lat = latency(&paths, &api, path, sessions, keystrokes).await?;
            eprintln!(
                "round {round} {path:?}: keystroke echo p50 {:.2} ms, ping p50 {:.3} ms",
                percentile(&lat.echo, 0.5),
                percentile(&lat.ping, 0.5)
            );
            latencies[path as usize].echo.extend(lat.echo);
            latencies[path as usize].ping.extend(lat.ping);
            let t = throughput(&paths, &api, path, (sessions, seconds), &relay, &x).await?;
            eprintln!(
                "round {round} {path:?}: {:.1} MB/s, {:.0} frames/s over {sessions} sessions",
                t.bytes as f64 / t.seconds / 1e6,
                t.frames as f64 / t.seconds
            );
            throughputs[path as usize].push(t);
        }
    }
    report(sessions, idle_kib, &latencies, &throughputs);
    Ok(())
}

/// `sessions` on the shell host: the last holds the keyboard and types, the others watch;
/// the time from each keystroke to the first update that follows it on the typing session.
async fn latency(
    paths: &Paths,
    api: &ApiClient,
    path: Path,
    sessions: u64,
    keystrokes: u64,
) -> anyhow::Result<Latency> {
    let stop = Arc::new(AtomicBool::new(false));
    let watchers = open_counting(paths, api, path, "local", sessions.saturating_sub(1), &stop, None).await?;
    // The same user's newest link takes the keyboard: the typing session comes last.
    let mut probe = paths.session(api, path, "local").await?;
    settle(&mut probe, Duration::from_millis(500)).await?;
    let mut out = Vec::new();
    for i in 0..keystrokes {
        // Printable, and a fresh line now and then so the shell's line stays short.
        let text = if i % 40 == 39 { "\r".to_string() } else { "x".to_string() };
        let sent = Instant::now();
        probe.send(AppMessage::Input(InputEvent::Paste(text))).await?;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match probe.next_events(deadline).await? {
                Ok(events) if events.iter().any(is_video) => break,
                Ok(_) => {}
                Err(ended) => anyhow::bail!("the typing session ended: {ended:?}"),
            }
        }
        out.push(sent.elapsed().as_secs_f64() * 1000.0);
        settle(&mut probe, Duration::from_millis(30)).await?;
    }
    let mut pings = Vec::new();
    for _ in 0..keystrokes {
        pings.push(probe.ping(Duration::from_secs(5)).await?.as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::SeqCst);
    close_readers(watchers).await;
    probe.close().await?;
    Ok(Latency { echo: out, ping: pings })
}

/// Milliseconds: keystroke to echoed update, and WebSocket ping to pong.
#[derive(Default)]
struct Latency {
    echo: Vec<f64>,
    ping: Vec<f64>,
}

fn is_video(event: &ClientEvent) -> bool {
    matches!(event, ClientEvent::Message(AppMessage::Video(_)))
}

/// Reads whatever comes for `quiet` (an echo still on its way, say).
async fn settle(client: &mut ConsoleClient, quiet: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + quiet;
    while Instant::now() < deadline {
        match client.next_events(deadline).await {
            Ok(Ok(_)) => {}
            Ok(Err(ended)) => anyhow::bail!("the session ended: {ended:?}"),
            Err(_) => break, // nothing more before the deadline
        }
    }
    Ok(())
}

type Reader = tokio::task::JoinHandle<anyhow::Result<ConsoleClient>>;

/// `count` sessions on `host`, each read in a task of its own that counts video bytes and
/// updates into `bytes` and `frames` (when given) until `stop`.
async fn open_counting(
    paths: &Paths,
    api: &ApiClient,
    path: Path,
    host: &str,
    count: u64,
    stop: &Arc<AtomicBool>,
    counters: Option<(Arc<AtomicU64>, Arc<AtomicU64>)>,
) -> anyhow::Result<Vec<Reader>> {
    let mut readers = Vec::new();
    for i in 0..count {
        let mut client = tokio::time::timeout(Duration::from_secs(20), paths.session(api, path, host))
            .await
            .with_context(|| format!("session {i} of {count} on {host} {path:?} did not open in 20 s"))??;
        let (stop, counters) = (stop.clone(), counters.clone());
        readers.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let deadline = Instant::now() + Duration::from_millis(200);
                let events = match client.next_events(deadline).await {
                    Ok(Ok(events)) => events,
                    Ok(Err(ended)) => anyhow::bail!("a session ended: {ended:?}"),
                    Err(_) if client.session.is_closed() => anyhow::bail!("a session failed"),
                    Err(_) => continue, // quiet for a moment
                };
                if let Some((bytes, frames)) = &counters {
                    for event in &events {
                        if let ClientEvent::Message(AppMessage::Video(payload)) = event {
                            bytes.fetch_add(payload.len() as u64, Ordering::Relaxed);
                            frames.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
            Ok(client)
        }));
    }
    Ok(readers)
}

/// Stops the readers and closes their sessions, all at once (each close waits for the
/// controller's answer).
async fn close_readers(readers: Vec<Reader>) {
    let mut closing = tokio::task::JoinSet::new();
    for reader in readers {
        closing.spawn(async move {
            if let Ok(Ok(client)) = reader.await {
                let _ = client.close().await;
            }
        });
    }
    while closing.join_next().await.is_some() {}
}

/// `sessions` watching the motion desktop for `seconds`: video bytes and updates they all
/// received, and what the relay used meanwhile.
async fn throughput(
    paths: &Paths,
    api: &ApiClient,
    path: Path,
    (sessions, seconds): (u64, u64),
    relay: &Relay,
    x: &Xvnc,
) -> anyhow::Result<Throughput> {
    let stop = Arc::new(AtomicBool::new(false));
    let (bytes, frames) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let readers =
        open_counting(paths, api, path, "desk", sessions, &stop, Some((bytes.clone(), frames.clone()))).await?;
    let frames_to_paint = ((seconds + 10) * 30).to_string();
    let _motion = tokio::process::Command::new("xterm")
        .args(["-geometry", "318x82+0+0", "-e", "python3", "-c", e2e::xvnc::MOTION_SCRIPT, &frames_to_paint])
        .env("DISPLAY", &x.display)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    // The script waits 3 s before its first frame: count from when the waves move.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (bytes_before, frames_before, cpu_before) =
        (bytes.load(Ordering::SeqCst), frames.load(Ordering::SeqCst), relay.cpu_seconds());
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let figures = Throughput {
        bytes: bytes.load(Ordering::SeqCst) - bytes_before,
        frames: frames.load(Ordering::SeqCst) - frames_before,
        seconds: started.elapsed().as_secs_f64(),
        relay_cpu_seconds: relay.cpu_seconds() - cpu_before,
        relay_resident_kib: relay.resident_kib(),
    };
    stop.store(true, Ordering::SeqCst);
    close_readers(readers).await;
    Ok(figures)
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f64::NAN)
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    percentile(&values.collect::<Vec<_>>(), 0.5)
}

fn report(sessions: u64, idle_kib: u64, latencies: &[Latency; 2], throughputs: &[Vec<Throughput>; 2]) {
    let rate = |t: &Throughput| t.bytes as f64 / t.seconds;
    let fps = |t: &Throughput| t.frames as f64 / t.seconds;
    let (d, r) = (&throughputs[Path::Direct as usize], &throughputs[Path::Relayed as usize]);
    println!(
        "\n{sessions} console sessions on loopback, direct and through lantern-relay (medians of {} runs)",
        d.len()
    );
    let (direct, relayed) = (&latencies[Path::Direct as usize], &latencies[Path::Relayed as usize]);
    for (what, direct, relayed) in
        [("WebSocket ping", &direct.ping, &relayed.ping), ("keystroke echo", &direct.echo, &relayed.echo)]
    {
        let (d50, d95, r50, r95) =
            (percentile(direct, 0.5), percentile(direct, 0.95), percentile(relayed, 0.5), percentile(relayed, 0.95));
        println!(
            "{what:<20} direct p50 {d50:6.2} ms p95 {d95:6.2} ms; relayed p50 {r50:6.2} ms p95 {r95:6.2} ms; \
             added p50 {:+.2} ms p95 {:+.2} ms",
            r50 - d50,
            r95 - d95
        );
    }
    let (dr, rr) = (median(d.iter().map(rate)), median(r.iter().map(rate)));
    let (df, rf) = (median(d.iter().map(fps)), median(r.iter().map(fps)));
    println!("1080p motion         direct {:7.1} MB/s {:7.0} updates/s (all sessions)", dr / 1e6, df);
    println!("                     relayed {:7.1} MB/s {:7.0} updates/s", rr / 1e6, rf);
    println!("relayed / direct     bytes {:.2}x, updates {:.2}x", rr / dr, rf / df);
    let cpu = median(r.iter().map(|t| t.relay_cpu_seconds / t.seconds));
    let resident = r.iter().map(|t| t.relay_resident_kib).max().unwrap_or(0);
    println!(
        "relay                CPU {:.1} % of a core in all, {:.3} % per session; {:.0} MB/s per core",
        cpu * 100.0,
        cpu * 100.0 / sessions as f64,
        rr / cpu.max(1e-9) / 1e6
    );
    println!(
        "                     resident {} KiB idle, {} KiB with {sessions} sessions: {:.1} KiB per session",
        idle_kib,
        resident,
        resident.saturating_sub(idle_kib) as f64 / sessions as f64
    );
}
