//! Sockets have deadlines and limits: hundreds of idle, slow and silent connections from a few
//! addresses neither hold the controller's memory and descriptors nor keep a real user out,
//! and each is closed by its deadline.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use e2e::client::{ApiClient, ConsoleClient};
use e2e::Controller;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// (resident MiB, open descriptors) of this process, where the controller runs.
fn usage() -> (u64, usize) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    (kib / 1024, std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0))
}

async fn connect_from(local: &str, to: SocketAddr) -> Option<TcpStream> {
    let socket = TcpSocket::new_v4().ok()?;
    socket.bind(format!("{local}:0").parse().ok()?).ok()?;
    socket.connect(to).await.ok()
}

/// Whether the controller has closed this connection (a read gives end of file or an error).
async fn closed(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue, // a response or a close frame; the end comes next
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_slow_and_silent_connections_are_capped_and_closed_and_users_still_get_in() {
    let controller = Controller::start(|c| {
        c.limits.tls_handshake_seconds = 2;
        c.limits.header_read_seconds = 2;
        c.limits.console_handshake_seconds = 2;
    })
    .await
    .expect("controller starts");
    let site = controller.running.site;
    let plain = controller.running.plain.expect("plain listener");
    let mut admin = ApiClient::new(&controller).unwrap();
    admin.first_login("admin", &controller.first_password, "the administrator's own").await.unwrap();
    let before = usage();

    // 200 connections that never start TLS, 150 that send a header a byte a second, 150
    // WebSockets that never say hello: 500 in all, from three addresses.
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.extend(connect_from("127.0.0.2", site).await);
    }
    let mut slow = Vec::new();
    for _ in 0..150 {
        if let Some(mut s) = connect_from("127.0.0.3", plain).await {
            let _ = s.write_all(b"G").await;
            slow.push(s);
        }
    }
    let mut silent = Vec::new();
    for _ in 0..150 {
        let Some(stream) = connect_from("127.0.0.4", plain).await else { continue };
        let url = format!("ws://{plain}/console/ws");
        if let Ok((ws, _)) = tokio_tungstenite::client_async(url, stream).await {
            silent.push(ws);
        }
    }
    let during = usage();

    // A real user, from elsewhere, logs in and opens a console at once.
    let started = Instant::now();
    let mut user = ApiClient::new(&controller).unwrap();
    user.login("admin", "the administrator's own").await.unwrap();
    let key = user.console_key("local").await.unwrap();
    ConsoleClient::connect(&controller.plain_ws(), &key).await.unwrap();
    let took = started.elapsed();
    eprintln!(
        "500 hostile connections: {} silent WebSockets upgraded; a login and a console took {} ms; \
         resident {} -> {} MiB, descriptors {} -> {}",
        silent.len(),
        took.as_millis(),
        before.0,
        during.0,
        before.1,
        during.1
    );
    assert!(took < Duration::from_secs(2), "the login and console took {took:?}");
    assert!(silent.len() <= 64, "{} WebSockets from one address were upgraded", silent.len());
    assert!(during.0 < before.0 + 100, "memory grew from {} to {} MiB", before.0, during.0);

    // Every one of them is closed by its deadline (2 s, and a little for a loaded machine).
    for (what, streams) in [("idle", &mut idle), ("slow", &mut slow)] {
        for s in streams.iter_mut() {
            assert!(closed(s, Duration::from_secs(6)).await, "a {what} connection was still open");
        }
    }
    for ws in silent.iter_mut() {
        use futures_util::StreamExt;
        let end = tokio::time::timeout(Duration::from_secs(6), async {
            loop {
                match ws.next().await {
                    Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame))) => {
                        return frame.map(|f| u16::from(f.code))
                    }
                    Some(Ok(_)) => continue,
                    _ => return None,
                }
            }
        })
        .await;
        assert_eq!(end, Ok(Some(1008)), "a silent WebSocket is closed with a policy code");
    }
    drop((idle, slow, silent));
    // The controller waits up to 2 s for each WebSocket's answer to its close frame.
    let after = e2e::wait_for("the descriptors to be given back", Duration::from_secs(10), || async {
        let now = usage();
        Ok(if now.1 < before.1 + 20 { Ok(now) } else { Err(format!("{} descriptors open", now.1)) })
    })
    .await
    .unwrap();
    eprintln!("after the deadlines: resident {} MiB, descriptors {}", after.0, after.1);
}
