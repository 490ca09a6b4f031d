//! Lantern through a hostile relay. The relay runs behind a shim (test code) that records every
//! byte it is given and can flip one; the controller runs in a network namespace that drops
//! every inbound connection, and an agent in another, so both reach the world only by dialling
//! out. Through the relay, a browser logs in, types, pastes and opens the serial console, and an
//! agent runs a directive: the recording holds none of it, altered bytes are caught at both
//! ends, and a restarted relay is found again by everyone.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use e2e::browser::Browser;
use e2e::client::ApiClient;
use e2e::netns::Namespace;
use e2e::process::ControllerProcess;
use e2e::wait_for;
use fantoccini::Locator;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod common;
use common::*;

const NAME: &str = "ctl-a.relay.test";
const WAIT: Duration = Duration::from_secs(20);

/// Not a test of its own: the controller behind the relay, started by the test below inside its
/// namespace. Its relay and node key come from the environment.
#[test]
fn controller_behind_the_relay() -> anyhow::Result<()> {
    e2e::process::serve_from_env(|config| {
        config.node_key_file = Some(std::env::var("LANTERN_TEST_NODE_KEY")?.into());
        config.relay = Some(controller_server::config::RelayConfig {
            address: std::env::var("LANTERN_TEST_RELAY")?,
            name: "ctl-a".into(),
            host: Some(NAME.into()),
            silence_seconds: 3,
        });
        config.hosts = vec![e2e::local_shell_host()];
        config.agents.ping_seconds = 1;
        Ok(())
    })
}

/// Which way bytes go through the shim.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Way {
    /// From whoever connected (a browser, an agent, the controller) to the relay.
    ToRelay,
    FromRelay,
}

/// One connection through the shim that began with TLS (a browser's or an agent's).
struct Tapped {
    /// Flip a byte of the next chunk going this way (`ToRelay`, `FromRelay`).
    flip: [AtomicBool; 2],
    flipped: AtomicU64,
}

/// Stands in front of the relay: everything the relay is sent or sends passes here, and is
/// recorded in one buffer.
struct Shim {
    address: SocketAddr,
    recording: Arc<Mutex<Vec<u8>>>,
    paths: Arc<Mutex<Vec<Arc<Tapped>>>>,
}

impl Shim {
    async fn start(relay: SocketAddr) -> anyhow::Result<Self> {
        // Every namespace reaches it at its end of its veth pair; the browser on loopback.
        let listener = TcpListener::bind("0.0.0.0:0").await?;
        let address = listener.local_addr()?;
        let (recording, paths) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
        let (rec, all) = (recording.clone(), paths.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (rec, all) = (rec.clone(), all.clone());
                tokio::spawn(async move {
                    if let Ok(upstream) = TcpStream::connect(relay).await {
                        let _ = client.set_nodelay(true);
                        let _ = upstream.set_nodelay(true);
                        forward(client, upstream, rec, all).await;
                    }
                });
            }
        });
        Ok(Self { address, recording, paths })
    }

    /// Flips one byte of the next chunk going `way` on every TLS path open now.
    fn flip(&self, way: Way) {
        for path in self.paths.lock().map(|p| p.clone()).unwrap_or_default() {
            path.flip[way as usize].store(true, Ordering::SeqCst);
        }
    }

    /// Leaves every path alone again.
    fn unflip(&self) {
        for path in self.paths.lock().map(|p| p.clone()).unwrap_or_default() {
            for way in &path.flip {
                way.store(false, Ordering::SeqCst);
            }
        }
    }

    fn flipped(&self) -> u64 {
        self.paths.lock().map(|p| p.iter().map(|p| p.flipped.load(Ordering::SeqCst)).sum()).unwrap_or(0)
    }

    fn recording(&self) -> Vec<u8> {
        self.recording.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

async fn forward(
    client: TcpStream,
    upstream: TcpStream,
    recording: Arc<Mutex<Vec<u8>>>,
    paths: Arc<Mutex<Vec<Arc<Tapped>>>>,
) {
    let path = Arc::new(Tapped { flip: [AtomicBool::new(false), AtomicBool::new(false)], flipped: AtomicU64::new(0) });
    let (cr, cw) = client.into_split();
    let (ur, uw) = upstream.into_split();
    let up = pump(cr, uw, Way::ToRelay, path.clone(), recording.clone(), paths.clone());
    let down = pump(ur, cw, Way::FromRelay, path, recording, paths);
    tokio::join!(up, down);
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    way: Way,
    path: Arc<Tapped>,
    recording: Arc<Mutex<Vec<u8>>>,
    paths: Arc<Mutex<Vec<Arc<Tapped>>>>,
) {
    let mut buf = vec![0u8; 64 << 10];
    let mut first = true;
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &mut buf[..n];
        if let Ok(mut r) = recording.lock() {
            r.extend_from_slice(chunk);
        }
        // A TLS record starts with 0x16: a browser's or an agent's path (the controller's own
        // connections start with the relay's preamble, and are left alone).
        if std::mem::take(&mut first) && way == Way::ToRelay && chunk[0] == 0x16 {
            if let Ok(mut p) = paths.lock() {
                p.push(path.clone());
            }
        }
        if path.flip[way as usize].swap(false, Ordering::SeqCst) {
            // The middle of the chunk: inside a record's ciphertext, not its header.
            chunk[n / 2] ^= 0x01;
            path.flipped.fetch_add(1, Ordering::SeqCst);
        }
        if to.write_all(chunk).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// The relay, in this process: stopped by aborting it (which ends every connection it holds).
async fn start_relay(listen: SocketAddr, pin: &str) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let config = lantern_relay::Config {
        listen,
        domain: "relay.test".into(),
        allow: vec![pin.to_string()],
        ping_seconds: 1,
        ..Default::default()
    };
    let listener = TcpListener::bind(listen).await?;
    let address = listener.local_addr()?;
    let relay = lantern_relay::Relay::new(config)?;
    Ok((
        address,
        tokio::spawn(async move {
            let _ = relay.serve(listener).await;
        }),
    ))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn marker() -> String {
    format!("{}{}", e2e::marker(), e2e::marker())
}

/// Every form a secret could take on the wire: as is, base64 (both alphabets), hex.
fn encodings(secret: &[u8]) -> Vec<Vec<u8>> {
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        secret.to_vec(),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(secret).into_bytes(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret).into_bytes(),
        hex.into_bytes(),
    ]
}

/// The console page's status line, once `seen` accepts it.
async fn console_status(browser: &Browser, what: &str, seen: impl Fn(&str, &str) -> bool) -> anyhow::Result<String> {
    wait_for(what, WAIT, || async {
        let state = browser.text_of("status-state").await.unwrap_or_default();
        let message = browser.text_of("status-message").await.unwrap_or_default();
        Ok(if seen(&state, &message) { Ok(message) } else { Err(format!("{state}: {message}")) })
    })
    .await
}

/// Types `text` on the console and waits for its output, `expect`, on the screen.
async fn typed_and_seen(browser: &Browser, command: &str, expect: &str) -> anyhow::Result<()> {
    browser.type_keys(&format!("{command}\n")).await?;
    browser.wait_screen(&format!("{expect} on the console"), WAIT, |t| t.lines().any(|l| l == expect)).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_relay_learns_nothing_and_alters_nothing_unnoticed() -> anyhow::Result<()> {
    let (controller_ns, agent_ns) = (Namespace::new()?, Namespace::new()?);
    let dir = tempfile::tempdir()?;
    let seed: [u8; 32] = rand::random();
    let key_file = dir.path().join("node-key");
    std::fs::write(&key_file, seed)?;
    let pin = agent_link::Pin::of(ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().as_bytes()).to_string();

    let (relay_address, relay) = start_relay("127.0.0.1:0".parse()?, &pin).await?;
    let shim = Shim::start(relay_address).await?;
    let port = shim.address.port();
    let listen: SocketAddr = format!("{}:8443", controller_ns.inside).parse()?;
    let relay_for_controller = format!("{}:{port}", controller_ns.host);
    let controller = ControllerProcess::start(
        "controller_behind_the_relay",
        Some(&controller_ns),
        &dir.path().join("controller"),
        listen,
        &[
            ("LANTERN_TEST_RELAY", relay_for_controller.as_str()),
            ("LANTERN_TEST_NODE_KEY", key_file.to_str().unwrap_or_default()),
        ],
    )
    .await?;
    // Nothing reaches the controller that it did not dial.
    let direct = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(listen)).await;
    assert!(!matches!(direct, Ok(Ok(_))), "the controller's listener is reachable: {direct:?}");

    // Through the relay, in a browser that knows the controller only by its relay name.
    let site = format!("https://{NAME}:{port}");
    let browser = Browser::start_with(&[&format!("--host-resolver-rules=MAP {NAME} 127.0.0.1")]).await?;
    wait_for("the login page through the relay", WAIT, || async {
        // Until the controller has registered, the relay has no path for its name.
        let _ = browser.client.goto(&site).await;
        let login = browser.client.wait().at_most(Duration::from_secs(5)).for_element(Locator::Id("username")).await;
        Ok(login.map(|_| ()).map_err(|e| format!("{e}: {}", controller.log())))
    })
    .await?;
    let first_password = controller.first_password();
    let password = browser.first_login_as("admin", &first_password).await?;
    let cookies = browser.client.get_all_cookies().await?;
    let session_cookie =
        cookies.iter().map(|c| c.value().to_string()).find(|v| v.len() >= 16).context("a session cookie")?;

    // The fingerprint the page shows is the key the relay admitted.
    let shown = wait_for("the controller's fingerprint in the footer", WAIT, || async {
        let text = browser.text_of("controller-fingerprint").await.unwrap_or_default();
        Ok(if text.is_empty() { Err(text) } else { Ok(text) })
    })
    .await?;
    assert_eq!(shown, pin);

    // A console, typed into and pasted into; the serial console.
    browser.open_console("local").await?;
    let (typed, pasted, serial) = (marker(), marker(), marker());
    typed_and_seen(&browser, &format!("echo secret-{typed}"), &format!("secret-{typed}")).await?;
    let c = &browser.client;
    c.find(Locator::Id("btn-paste")).await?.click().await?;
    c.find(Locator::Id("paste-text")).await?.send_keys(&format!("echo pasted-{pasted}")).await?;
    c.find(Locator::Id("btn-paste-send")).await?.click().await?;
    browser.type_keys("\n").await?;
    browser
        .wait_screen("the pasted line's output", WAIT, |t| t.lines().any(|l| l == format!("pasted-{pasted}")))
        .await?;
    c.find(Locator::Id("btn-serial")).await?.click().await?;
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Id("serial-canvas"))
        .await?
        .send_keys(&format!("echo serial-{serial}\n"))
        .await?;
    wait_for("the serial console's answer", WAIT, || async {
        let text = browser.text_of("serial-text").await.unwrap_or_default();
        Ok(if text.lines().any(|l| l.trim_end() == format!("serial-{serial}")) { Ok(()) } else { Err(text) })
    })
    .await?;
    // And an applet given a key we know, through the same relay.
    let console_key = browser.fetch_key().await?;
    let pms = base64::engine::general_purpose::STANDARD.decode(console_key["pms"].as_str().unwrap_or_default())?;
    let ws = format!("wss://{NAME}:{port}/console/ws");
    browser.new_applet("known", &ws).await?;
    browser.applet_connect("known", &ws, &console_key).await?;
    browser.applet_wait_state("known", "connected", WAIT).await?;
    let applet_typed = marker();
    browser.applet_type("known", &format!("echo applet-{applet_typed}\n")).await?;
    browser
        .applet_wait_screen("known", "the applet's echo", WAIT, |t| {
            t.lines().any(|l| l == format!("applet-{applet_typed}"))
        })
        .await?;
    browser.js("window.known.disconnect();", vec![]).await?;

    // One byte flipped each way: the console drops with a reason, the controller logs it, and
    // the console comes back on a fresh connection.
    for (way, logged) in [(Way::ToRelay, "cannot decrypt"), (Way::FromRelay, "BadRecordMac")] {
        let before = shim.flipped();
        shim.flip(way);
        browser.type_keys("e").await?;
        wait_for("a byte to be flipped", WAIT, || async {
            Ok(if shim.flipped() > before { Ok(()) } else { Err(String::new()) })
        })
        .await?;
        shim.unflip();
        let dropped = console_status(&browser, "the console to notice", |state, _| state != "connected").await?;
        assert!(dropped.contains("link dropped") || dropped.contains("reconnecting"), "{way:?}: {dropped}");
        let logged = wait_for("the controller to log the altered record", WAIT, || async {
            let log = controller.log();
            Ok(match log.lines().find(|l| l.contains(logged)) {
                Some(line) => Ok(line.to_string()),
                None => Err(log),
            })
        })
        .await?;
        console_status(&browser, "the console to reconnect", |state, _| state == "connected").await?;
        // Whatever became of the typed key, start a fresh command line.
        browser.type_keys("\n").await?;
        let again = marker();
        typed_and_seen(&browser, &format!("echo again-{again}"), &format!("again-{again}")).await?;
        eprintln!("{way:?}: the console said {dropped:?} and came back; the controller logged: {logged}");
    }

    // Scripts through the relay: the API and Redfish, with the controller's certificate checked.
    let mut api = ApiClient::resolving(&site, &controller.cert_path(), Some((NAME, shim.address)))?;
    api.login("admin", &password).await?;
    let systems =
        api.http.get(format!("{site}/redfish/v1/Systems")).basic_auth("admin", Some(&password)).send().await?;
    anyhow::ensure!(systems.status() == 200, "Redfish through the relay answered {}", systems.status());
    let systems: serde_json::Value = systems.json().await?;
    assert!(systems.to_string().contains("/redfish/v1/Systems/local"), "{systems}");

    // An agent in its own namespace, enrolled and run through the relay by name.
    let (status, made) = api.call("POST", "/api/agents/enrolments", Some(json!({ "host_id": "box-r" }))).await?;
    anyhow::ensure!(status == 200, "enrolment answered {status}: {made}");
    agent_ns.resolve(&[(NAME, &agent_ns.host)])?;
    let agent_site = format!("https://{NAME}:{port}");
    let token = made["token"].as_str().unwrap_or_default();
    let enrolled = enroll(&agent_ns, &agent_site, token, &pin, &dir.path().join("state.json")).await?;
    anyhow::ensure!(enrolled.status.success(), "{enrolled:?}");
    std::fs::write(dir.path().join("agent.toml"), "run_as = \"nobody\"\n")?;
    let agent = AgentProcess::start(&agent_ns, dir.path(), &[])?;
    connected(&api, "box-r", WAIT).await.with_context(|| agent.log())?;
    let directive_marker = marker();
    let id = directive(&api, "box-r", &format!("echo directive-{directive_marker} | tr a-f A-F")).await?;
    let lines = follow(&api, "box-r", id).await?;
    let output: String = format!("directive-{directive_marker}")
        .chars()
        .map(|c| if ('a'..='f').contains(&c) { c.to_ascii_uppercase() } else { c })
        .collect();
    assert_eq!(text_of(&lines, "stdout").trim_end(), output, "{lines:?}");

    // What the relay saw: all of it, and none of the secrets.
    let recording = shim.recording();
    assert!(recording.len() > 100_000, "the shim saw the traffic: {} bytes", recording.len());
    assert!(contains(&recording, NAME.as_bytes()), "the recording is real: the relay name travels in the clear");
    let mut secrets: Vec<(&str, Vec<u8>)> = vec![
        ("the first-run password", first_password.clone().into_bytes()),
        ("the password", password.clone().into_bytes()),
        ("the session cookie", session_cookie.clone().into_bytes()),
        ("the typed text", typed.clone().into_bytes()),
        ("the pasted text", pasted.clone().into_bytes()),
        ("the serial text", serial.clone().into_bytes()),
        ("the applet's typed text", applet_typed.clone().into_bytes()),
        ("the directive", directive_marker.clone().into_bytes()),
        ("the directive's output", output.clone().into_bytes()),
        ("the console key", console_key["key_id"].as_str().unwrap_or_default().as_bytes().to_vec()),
    ];
    secrets.extend(encodings(&pms).into_iter().map(|e| ("the PMS", e)));
    for (what, secret) in &secrets {
        assert!(!contains(&recording, secret), "the relay saw {what}");
    }

    // The relay restarts: the controller and the agent register again by themselves within
    // 10 s, and the open console reconnects with fresh keys.
    relay.abort();
    let _ = relay.await;
    let restarted = tokio::time::Instant::now();
    let (_, relay) = start_relay(relay_address, &pin).await?;
    console_status(&browser, "the console to see the relay go", |state, _| state != "connected").await?;
    wait_for("the relayed API after the restart", Duration::from_secs(10), || async {
        Ok(match api.call("GET", "/api/node", None).await {
            Ok((200, node)) if node["relay"]["registered"] == true => Ok(()),
            other => Err(format!("{other:?}")),
        })
    })
    .await?;
    connected(&api, "box-r", Duration::from_secs(10).saturating_sub(restarted.elapsed())).await?;
    console_status(&browser, "the console to reconnect after the restart", |state, _| state == "connected").await?;
    let after = marker();
    typed_and_seen(&browser, &format!("echo after-{after}"), &format!("after-{after}")).await?;
    eprintln!("controller, agent and console back {:?} after the relay restarted", restarted.elapsed());

    agent.kill().await;
    browser.close().await;
    relay.abort();
    Ok(())
}
