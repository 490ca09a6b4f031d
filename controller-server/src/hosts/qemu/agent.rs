//! The QEMU guest agent's channel: a virtio-serial port named `org.qemu.guest_agent.0`,
//! backed by a unix socket the controller connects to. `qemu-ga` in the guest answers
//! `guest-sync`; each answer is a heartbeat for automatic server recovery, proof that the
//! guest's kernel and userspace still run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::mpsc;

/// How often the agent is asked.
const EVERY: Duration = Duration::from_secs(2);

/// The options that give a machine the agent's port.
pub fn qemu_args(socket: &Path) -> Vec<String> {
    vec![
        "-chardev".into(),
        format!("socket,id=lantern-qga,path={},server=on,wait=off", socket.display()),
        "-device".into(),
        "virtio-serial-pci,id=lantern-vser".into(),
        "-device".into(),
        "virtserialport,bus=lantern-vser.0,chardev=lantern-qga,name=org.qemu.guest_agent.0".into(),
    ]
}

/// Pings the agent behind `socket` for as long as it is called, sending `"guest agent"` on
/// `heartbeat` for each answer. A guest without an agent never answers, which is no error.
pub async fn ping(socket: PathBuf, heartbeat: mpsc::Sender<&'static str>) {
    let mut sync_id: u64 = rand::random::<u32>().into();
    loop {
        let Ok(stream) = UnixStream::connect(&socket).await else {
            tokio::time::sleep(EVERY).await;
            continue;
        };
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        loop {
            sync_id += 1;
            let request = json!({ "execute": "guest-sync", "arguments": { "id": sync_id } });
            if write.write_all(format!("{request}\n").as_bytes()).await.is_err() {
                break;
            }
            let answered = tokio::time::timeout(EVERY, answer(&mut lines, sync_id)).await;
            match answered {
                Ok(Ok(())) => {
                    // A full channel means beats are already waiting: this one adds nothing.
                    let _ = heartbeat.try_send("guest agent");
                    tokio::time::sleep(EVERY).await;
                }
                Ok(Err(())) => break,
                // No answer in time: ask again (answers to older ids are skipped).
                Err(_) => {}
            }
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// Waits for the answer to `guest-sync` `id`, skipping stale answers and noise. `Err` when
/// the socket closes.
async fn answer(lines: &mut tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>, id: u64) -> Result<(), ()> {
    loop {
        let line = lines.next_line().await.map_err(|_| ())?.ok_or(())?;
        if is_sync_answer(&line, id) {
            return Ok(());
        }
    }
}

fn is_sync_answer(line: &str, id: u64) -> bool {
    serde_json::from_str::<Value>(line).ok().and_then(|v| v.get("return")?.as_u64()) == Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_answer_to_this_sync_counts() {
        assert!(is_sync_answer(r#"{"return": 7}"#, 7));
        assert!(!is_sync_answer(r#"{"return": 6}"#, 7), "a late answer to an older ping");
        assert!(!is_sync_answer(r#"{"return": {}}"#, 7));
        assert!(!is_sync_answer(r#"{"error": {"class": "GenericError"}}"#, 7));
        assert!(!is_sync_answer("\u{ff}garbage", 7));
    }

    #[tokio::test]
    async fn a_listening_agent_yields_heartbeats_and_a_silent_one_none() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("qga.sock");
        let listener = tokio::net::UnixListener::bind(&socket).unwrap();
        let (beats, mut received) = mpsc::channel(4);
        tokio::spawn(ping(socket, beats));
        let (stream, _) = listener.accept().await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        // Answer the first ping as qemu-ga does.
        let request: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
        assert_eq!(request["execute"], "guest-sync");
        let id = request["arguments"]["id"].as_u64().unwrap();
        write.write_all(format!("{{\"return\": {}}}\n", id - 1).as_bytes()).await.unwrap();
        write.write_all(format!("{{\"return\": {id}}}\n").as_bytes()).await.unwrap();
        assert_eq!(received.recv().await, Some("guest agent"));
        // Then fall silent: pings keep coming, heartbeats do not.
        lines.next_line().await.unwrap().unwrap();
        let silent = tokio::time::timeout(EVERY * 2, received.recv()).await;
        assert!(silent.is_err(), "no answer, no heartbeat");
    }
}
