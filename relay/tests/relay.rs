//! The relay between a real controller and its clients: the controller dials out and
//! registers, a client reaches it by name through the relay with the controller's own
//! certificate checked end to end, strangers and a flood of silent connections are refused
//! without harm to others, and a restarted relay is registered at again by itself.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use controller_server::config::RelayConfig;
use e2e::client::ApiClient;
use e2e::{wait_for, Controller};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;
use common::RelayProcess;

/// Starts the relay on `listen` (port 0: any) admitting `pin`.
async fn start_relay(dir: &Path, listen: SocketAddr, pin: &str) -> anyhow::Result<RelayProcess> {
    let config = format!(
        "listen = \"{listen}\"\ndomain = \"relay.test\"\nallow = [\"{pin}\"]\nping_seconds = 1\n\
         hello_seconds = 2\nmax_connections_per_address = 16\n"
    );
    RelayProcess::spawn(dir, &config, "lantern_relay=info").await
}

async fn registered(controller: &Controller) -> anyhow::Result<Value> {
    let mut api = ApiClient::new(controller)?;
    api.login("admin", &controller.first_password).await?;
    wait_for("the controller to register at the relay", Duration::from_secs(10), || async {
        let (_, node) = api.call("GET", "/api/node", None).await?;
        Ok(if node["relay"]["registered"] == true { Ok(node) } else { Err(node.to_string()) })
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_behind_the_relay_is_reached_by_name_and_registers_again_after_a_restart() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // The controller's node key, known beforehand so that the relay can be told its pin.
    let seed: [u8; 32] = rand::random();
    let key_file = dir.path().join("node-key");
    std::fs::write(&key_file, seed)?;
    let node_key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let pin = agent_link::Pin::of(node_key.verifying_key().as_bytes()).to_string();
    let relay = start_relay(dir.path(), "127.0.0.1:0".parse()?, &pin).await?;
    let address = relay.address;
    let controller = Controller::start(|c| {
        c.node_key_file = Some(key_file.clone());
        c.relay = Some(RelayConfig {
            address: address.to_string(),
            name: "ctl-a".into(),
            host: Some("ctl-a.relay.test".into()),
            silence_seconds: 5,
        });
    })
    .await?;
    let node = registered(&controller).await?;
    assert_eq!(node["relay"]["host"], "ctl-a.relay.test");
    assert_eq!(node["pin"], pin.as_str());

    // Through the relay, by name, with the controller's own certificate checked for that name:
    // the TLS session ends at the controller.
    let base = format!("https://ctl-a.relay.test:{}", address.port());
    let mut api = ApiClient::resolving(&base, &controller.cert_path(), Some(("ctl-a.relay.test", address)))?;
    api.first_login("admin", &controller.first_password, "a relayed password").await?;
    let (status, hosts) = api.call("GET", "/api/hosts", None).await?;
    assert_eq!(status, 200, "{hosts}");
    assert!(hosts.to_string().contains("\"local\""), "{hosts}");

    // Strangers: a name nobody registered, and a key that is not on the list.
    let stranger = ApiClient::resolving(
        &format!("https://ctl-b.relay.test:{}", address.port()),
        &controller.cert_path(),
        Some(("ctl-b.relay.test", address)),
    )?;
    assert!(stranger.call("GET", "/api/node", None).await.is_err(), "an unknown name gets no path");
    let refused = register_with(address, &ed25519_dalek::SigningKey::from_bytes(&[3; 32]), "ctl-a").await?;
    assert!(
        matches!(&refused, relay_link::Frame::Refused { reason } if reason.contains("may not register")),
        "{refused:?}"
    );
    // Malformed registrations: the allowed key signing another challenge (a replay), a frame
    // that is not a registration, and bytes that are no frame at all.
    let replayed = replayed_registration(address, &node_key).await?;
    assert!(matches!(&replayed, relay_link::Frame::Refused { .. }), "{replayed:?}");
    for junk in [relay_link::Frame::Ping(1).encode(), vec![0xff; 64]] {
        let answer = control_connection(address, &junk).await;
        assert!(
            matches!(&answer, Ok(relay_link::Frame::Refused { .. }) | Err(_)),
            "{junk:?} is refused or the connection closed: {answer:?}"
        );
    }
    let (status, _) = api.call("GET", "/api/hosts", None).await?;
    assert_eq!(status, 200, "the registered controller is unaffected");

    // A flood of connections that never say anything, from another address: it gets its share
    // and no more, each is dropped at the hello deadline, and other clients are unaffected.
    let mut flood = Vec::new();
    for _ in 0..20 {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind("127.0.0.2:0".parse()?)?;
        flood.push(socket.connect(address).await?);
    }
    let mut buf = [0u8; 16];
    for (i, socket) in flood.iter_mut().enumerate().skip(16) {
        let read = tokio::time::timeout(Duration::from_millis(500), socket.read(&mut buf)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "connection {i}, over the share, is closed at once: {read:?}");
    }
    let waiting = tokio::time::timeout(Duration::from_millis(300), flood[0].read(&mut buf)).await;
    assert!(waiting.is_err(), "one within the share waits for its hello: {waiting:?}");
    let (status, _) = api.call("GET", "/api/hosts", None).await?;
    assert_eq!(status, 200, "other clients are served during the flood");
    for (i, socket) in flood.iter_mut().enumerate().take(16) {
        let read = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buf)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "connection {i} is dropped at the hello deadline: {read:?}");
    }

    // The relay restarts on its address: the controller is registered again by itself.
    relay.kill().await;
    let restarted = start_relay(dir.path(), address, &pin).await?;
    wait_for("the relayed API after the relay's restart", Duration::from_secs(10), || async {
        Ok(match api.call("GET", "/api/hosts", None).await {
            Ok((200, _)) => Ok(()),
            other => Err(format!("{other:?}")),
        })
    })
    .await?;
    restarted.kill().await;
    Ok(())
}

/// Registers at the relay as `name` with `key`; the relay's answer.
async fn register_with(
    relay: SocketAddr,
    key: &ed25519_dalek::SigningKey,
    name: &str,
) -> anyhow::Result<relay_link::Frame> {
    let (mut socket, mut decoder, nonce) = open_control(relay).await?;
    socket.write_all(&relay_link::register::register(key, &nonce, name).encode()).await?;
    read_frame(&mut socket, &mut decoder).await
}

/// A registration signed by an allowed key, but over another challenge than the one given.
async fn replayed_registration(
    relay: SocketAddr,
    key: &ed25519_dalek::SigningKey,
) -> anyhow::Result<relay_link::Frame> {
    control_connection(relay, &relay_link::register::register(key, &[7; 32], "ctl-a").encode()).await
}

/// Opens a control connection, takes the challenge, sends `first`, and reads the answer.
async fn control_connection(relay: SocketAddr, first: &[u8]) -> anyhow::Result<relay_link::Frame> {
    let (mut socket, mut decoder, _) = open_control(relay).await?;
    socket.write_all(first).await?;
    read_frame(&mut socket, &mut decoder).await
}

/// A control connection to the relay, up to its challenge.
async fn open_control(relay: SocketAddr) -> anyhow::Result<(tokio::net::TcpStream, relay_link::Decoder, [u8; 32])> {
    let mut socket = tokio::net::TcpStream::connect(relay).await?;
    socket.write_all(&[relay_link::PREAMBLE.as_slice(), &[relay_link::Kind::Control.byte()]].concat()).await?;
    let mut decoder = relay_link::Decoder::default();
    let relay_link::Frame::Challenge { nonce } = read_frame(&mut socket, &mut decoder).await? else {
        anyhow::bail!("no challenge")
    };
    Ok((socket, decoder, nonce))
}

async fn read_frame(
    socket: &mut tokio::net::TcpStream,
    decoder: &mut relay_link::Decoder,
) -> anyhow::Result<relay_link::Frame> {
    let mut buf = [0u8; 1024];
    loop {
        if let Some(frame) = decoder.next_frame()? {
            return Ok(frame);
        }
        let n = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buf)).await??;
        anyhow::ensure!(n > 0, "the relay closed the connection");
        decoder.feed(&buf[..n]);
    }
}
