//! How many agents one controller carries: N simulated agents (real TLS, WebSocket and Noise
//! connections on loopback, each a `agent_link::AgentLink`) against the controller binary.
//! Prints the controller's resident memory per idle agent, directive round trips (API call to
//! exit line) with 1,000 connected, and the time for all N to reconnect after a restart.
//!
//! `cargo bench -p controller-server --bench agents_scale` (LANTERN_BENCH_AGENTS, default
//! 10000; bounded: it stops by itself).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_link::agent::AgentIdentity;
use agent_link::{
    AgentAction, AgentAssociations, AgentConfig, AgentLink, Association, Exit, OpenKind, OutputChannel, Psk,
    StaticSecret,
};
use controller_server::store::agents::AgentStore;
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::pem::PemObject;
use tokio_tungstenite::tungstenite::Message;

const RTT_AGENTS: usize = 1000;
const RTT_SAMPLES: usize = 300;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("VmRSS:").map(|v| v.trim().trim_end_matches("kB").trim().to_string()))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

struct Controller {
    child: std::process::Child,
}

impl Controller {
    fn start(data: &Path, port: u16) -> anyhow::Result<Self> {
        let config = data.join("bench.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\nhosts = []\n[limits]\nmax_connections = 19000\nmax_connections_per_address = 19000\n",
                data.display()
            ),
        )?;
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_controller-server"))
            .arg("--config")
            .arg(&config)
            .env("LANTERN_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(data.join("controller.log"))?)
            .spawn()?;
        Ok(Self { child })
    }

    async fn ready(&self, port: u16) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            anyhow::ensure!(Instant::now() < deadline, "the controller did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    fn stop(mut self) -> anyhow::Result<()> {
        nix_kill(self.child.id());
        self.child.wait()?;
        Ok(())
    }
}

fn nix_kill(pid: u32) {
    let _ = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
}

/// One simulated agent, reconnecting with the real agent's backoff, until `stop`.
async fn agent(
    port: u16,
    tls: tokio_rustls::TlsConnector,
    identity: AgentIdentity,
    mut associations: AgentAssociations,
    connected: Arc<AtomicUsize>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut failures = 0u32;
    while !*stop.borrow() {
        let was_up = run_once(port, &tls, &identity, &mut associations, &connected, stop.clone()).await;
        failures = if was_up { 1 } else { failures + 1 };
        let cap = (1000u64 << failures.saturating_sub(1).min(6)).min(60_000);
        tokio::time::sleep(Duration::from_millis(rand::random_range(cap / 2..=cap))).await;
    }
}

async fn run_once(
    port: u16,
    tls: &tokio_rustls::TlsConnector,
    identity: &AgentIdentity,
    associations: &mut AgentAssociations,
    connected: &AtomicUsize,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> bool {
    let Ok(tcp) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else { return false };
    // As the real agent does: small frames go at once.
    let _ = tcp.set_nodelay(true);
    let Ok(name) = rustls::pki_types::ServerName::try_from("localhost") else { return false };
    let Ok(stream) = tls.connect(name, tcp).await else { return false };
    let Ok((mut ws, _)) = tokio_tungstenite::client_async(format!("wss://127.0.0.1:{port}/agent/link"), stream).await
    else {
        return false;
    };
    let clock = Instant::now();
    let now = || clock.elapsed().as_millis() as u64;
    let config = AgentConfig { handshake_ms: 30_000, version: "bench".into(), screen: false };
    let Ok(mut link) =
        AgentLink::connect(identity, associations.clone(), Default::default(), &config, rand::random(), 0)
    else {
        return false;
    };
    let mut up = false;
    loop {
        while let Some(action) = link.next_action() {
            match action {
                AgentAction::Connected { .. } => {
                    up = true;
                    connected.fetch_add(1, Ordering::Relaxed);
                }
                AgentAction::StoreAssociations { associations: stored, .. } => {
                    *associations = stored;
                    link.associations_stored();
                }
                AgentAction::Open { stream, kind: OpenKind::Directive { .. } } => {
                    link.send_output(stream, OutputChannel::Stdout, b"ok\n");
                    let exit =
                        Exit { code: Some(0), signal: None, duration_ms: 0, output_bytes: 3, reason: String::new() };
                    link.exited(stream, exit);
                }
                _ => {}
            }
        }
        while let Some(message) = link.take_outgoing() {
            if ws.send(Message::Binary(message.into())).await.is_err() {
                link.goodbye("send failed");
            }
        }
        if link.is_closed() {
            break;
        }
        let wake = Duration::from_millis(link.next_poll().unwrap_or(u64::MAX / 2).saturating_sub(now()).min(3_600_000));
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(Message::Binary(bytes))) => link.handle_message(&bytes, now()),
                Some(Ok(_)) => {}
                _ => link.goodbye("closed"),
            },
            () = tokio::time::sleep(wake) => link.poll(now()),
            _ = stop.changed() => link.goodbye("the bench is over"),
        }
    }
    if up {
        connected.fetch_sub(1, Ordering::Relaxed);
    }
    up
}

async fn wait_connected(connected: &AtomicUsize, n: usize, within: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    while connected.load(Ordering::Relaxed) < n {
        anyhow::ensure!(
            started.elapsed() < within,
            "only {} of {n} agents connected",
            connected.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(started.elapsed())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f64::NAN)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let n: usize = std::env::var("LANTERN_BENCH_AGENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir()?;
    let data = dir.path().to_path_buf();
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();

    // The controller with nobody enrolled: its own footprint.
    let users = controller_server::store::UserStore::open(&data.join("lantern.db"))?;
    users.create("bench", "a bench password", controller_server::store::Role::Administrator, false)?;
    let controller = Controller::start(&data, port)?;
    controller.ready(port).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let empty = rss_kib(controller.child.id());
    controller.stop()?;

    // N agents enrolled straight into the store (as enrolment would leave them).
    let node = controller_server::federation::Node::load_or_create("lantern".into(), &data.join("node-key"))?;
    let controller_static = node.agent_identity().0.public();
    let store = AgentStore::open(&data.join("lantern.db"))?;
    let mut agents = Vec::with_capacity(n);
    for i in 0..n {
        let token = agent_link::enrol::EnrolToken::from_random(rand::random());
        let host = format!("sim-{i}");
        store.create_enrolment(&token, &host, &host, "bench", 0, i64::MAX)?;
        let secret = StaticSecret::from_bytes(rand::random());
        let first = Association { epoch: 1, psk: Psk::from_bytes(rand::random()) };
        let agent_id = format!("agent-{i}");
        store.admit(token.id(), &agent_id, &secret.public(), &first, 1)?;
        agents.push((AgentIdentity { agent_id, secret, controller_static }, AgentAssociations::new(first)));
    }
    drop(store);
    let controller = Controller::start(&data, port)?;
    controller.ready(port).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let enrolled = rss_kib(controller.child.id());

    // The controller's own certificate (made at its first start) is the one root.
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(data.join("tls-cert.pem"))? {
        roots.add(cert?)?;
    }
    let tls = tokio_rustls::TlsConnector::from(Arc::new(
        rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth(),
    ));
    let connected = Arc::new(AtomicUsize::new(0));
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut pending = agents.into_iter();
    let first_batch = RTT_AGENTS.min(n);
    for (identity, associations) in pending.by_ref().take(first_batch) {
        tokio::spawn(agent(port, tls.clone(), identity, associations, connected.clone(), stop.clone()));
    }
    wait_connected(&connected, first_batch, Duration::from_secs(300)).await?;

    // Directive round trips with 1,000 connected: the API call that starts one, to its exit line.
    let cert = reqwest::Certificate::from_pem(&std::fs::read(data.join("tls-cert.pem"))?)?;
    let http = reqwest::Client::builder().add_root_certificate(cert).cookie_store(true).build()?;
    let base = format!("https://127.0.0.1:{port}");
    let login: serde_json::Value = http
        .post(format!("{base}/api/login"))
        .json(&serde_json::json!({ "username": "bench", "password": "a bench password" }))
        .send()
        .await?
        .json()
        .await?;
    let csrf = login["csrf_token"].as_str().unwrap_or_default().to_string();
    let mut rtts = Vec::with_capacity(RTT_SAMPLES);
    for i in 0..RTT_SAMPLES {
        let host = format!("sim-{}", i * 7 % first_batch);
        let started = Instant::now();
        let made: serde_json::Value = http
            .post(format!("{base}/api/hosts/{host}/directives"))
            .header("x-csrf-token", &csrf)
            .json(&serde_json::json!({ "command": "true" }))
            .send()
            .await?
            .json()
            .await?;
        let id = made["id"].as_u64().ok_or_else(|| anyhow::anyhow!("no directive: {made}"))?;
        let output = http.get(format!("{base}/api/hosts/{host}/directives/{id}/output")).send().await?.text().await?;
        anyhow::ensure!(output.contains("\"exit\""), "no exit: {output}");
        rtts.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    rtts.sort_by(f64::total_cmp);

    for (identity, associations) in pending {
        tokio::spawn(agent(port, tls.clone(), identity, associations, connected.clone(), stop.clone()));
    }
    let all_in = wait_connected(&connected, n, Duration::from_secs(600)).await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle = rss_kib(controller.child.id());

    // A restart: every agent comes back by itself.
    controller.stop()?;
    let restarted = Instant::now();
    let controller = Controller::start(&data, port)?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let back = wait_connected(&connected, n, Duration::from_secs(600)).await.map(|_| restarted.elapsed());
    let after_restart = rss_kib(controller.child.id());
    let _ = stop_tx.send(true);
    controller.stop()?;

    println!("agents: {n} simulated, loopback, one controller process");
    println!("controller resident memory: {:.1} MiB with none enrolled, {:.1} MiB with {n} enrolled and offline, {:.1} MiB with {n} connected and idle", empty as f64 / 1024.0, enrolled as f64 / 1024.0, idle as f64 / 1024.0);
    println!(
        "per idle agent: {:.1} KiB (host and connection), of which the connection {:.1} KiB; {n} agents in {:.0} MiB",
        (idle.saturating_sub(empty)) as f64 / n as f64,
        (idle.saturating_sub(enrolled)) as f64 / n as f64,
        idle.saturating_sub(empty) as f64 / 1024.0
    );
    println!(
        "directive round trip with {first_batch} connected ({RTT_SAMPLES} samples): p50 {:.2} ms, p99 {:.2} ms",
        percentile(&rtts, 0.5),
        percentile(&rtts, 0.99)
    );
    println!("all {n} connected {:.1} s after they were started", all_in.as_secs_f64());
    match back {
        Ok(back) => println!(
            "all {n} reconnected {:.1} s after the controller restarted ({:.1} MiB after)",
            back.as_secs_f64(),
            after_restart as f64 / 1024.0
        ),
        Err(err) => println!("reconnect after restart: {err}"),
    }
    Ok(())
}
