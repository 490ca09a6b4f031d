//! The `controller-server` binary as an operator runs it: `audit verify` and `audit export`
//! against a real database file, and a controller killed with SIGKILL in the middle of a stream
//! of audited actions, by six clients at once.

mod common;

use std::process::Command;
use std::time::Duration;

use common::binary::{client, start};

use controller_server::store::audit::Anchor;
use controller_server::store::AuditLog;
use serde_json::json;

fn audit(data_dir: &std::path::Path, action: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_controller-server"))
        .args(["--data-dir", data_dir.to_str().unwrap(), "audit", action])
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn verify_passes_an_intact_trail_and_names_an_edited_record() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lantern.db");
    let seed = [5u8; 32];
    std::fs::write(dir.path().join("node-key"), seed).unwrap();
    let log = AuditLog::open(&db).unwrap();
    log.anchor_with(Anchor::new("lantern".into(), ed25519_dalek::SigningKey::from_bytes(&seed)));
    for (actor, action) in [("admin", "login.ok"), ("admin", "console.open"), ("bob", "login.failed")] {
        log.record(actor, action, "local", json!({})).unwrap();
    }
    drop(log);

    let (code, out) = audit(dir.path(), "verify");
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("audit trail intact: 3 records, 3 signed checkpoints"), "{out}");
    let (code, out) = audit(dir.path(), "export");
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 6, "three records, then their three checkpoints: {out}");
    assert!(out.lines().nth(1).unwrap().contains("\"action\":\"console.open\""), "{out}");
    assert!(out.lines().nth(3).unwrap().contains("\"checkpoint\""), "{out}");

    // Someone with access to the database file rewrites who opened the console.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("UPDATE audit SET actor = 'nobody' WHERE id = 2", []).unwrap();
    drop(conn);
    let (code, out) = audit(dir.path(), "verify");
    assert_eq!(code, 1);
    assert_eq!(out.trim(), "audit trail broken at record 2: its content was altered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_controller_loses_no_acknowledged_action_and_verify_names_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let mut controller = start(&data, true, None);
    let http = client(&data);
    let first = controller.first_password.clone().expect("first-run password");
    let url = controller.url.clone();
    // The administrator replaces the first-run password and makes a token for the load.
    let login = http
        .post(format!("{url}/api/login"))
        .json(&json!({"username": "admin", "password": first}))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let csrf = login.json::<serde_json::Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_string();
    let changed = http
        .post(format!("{url}/api/password"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"current_password": first, "new_password": "the administrator's own"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let made = http
        .post(format!("{url}/api/tokens"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "load"}))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let bearer = format!("Bearer {}", made["token"].as_str().unwrap());

    // Six clients: two making tokens, two asking for console keys, two failing logins. Each
    // acknowledged action is noted; the controller is killed while they run.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let mut clients = Vec::new();
    for n in 0..6 {
        let (http, url, bearer, acknowledged) = (http.clone(), url.clone(), bearer.clone(), acknowledged.clone());
        clients.push(tokio::spawn(async move {
            for i in 0.. {
                let sent = match n % 3 {
                    0 => http
                        .post(format!("{url}/api/tokens"))
                        .header("authorization", &bearer)
                        .json(&json!({"name": format!("t{n}-{i}")}))
                        .send()
                        .await
                        .map(|r| {
                            (r.status().as_u16() == 200).then(|| ("token.create".to_string(), format!("t{n}-{i}")))
                        }),
                    1 => http
                        .post(format!("{url}/api/hosts/local/console-key"))
                        .header("authorization", &bearer)
                        .send()
                        .await
                        .map(|r| (r.status().as_u16() == 200).then(|| ("console.key".to_string(), String::new()))),
                    _ => http
                        .post(format!("{url}/api/login"))
                        .json(&json!({"username": format!("nobody{n}-{i}"), "password": "wrong"}))
                        .send()
                        .await
                        .map(|r| (r.status().as_u16() == 401).then(|| ("login.failed".to_string(), String::new()))),
                };
                match sent {
                    Ok(Some(done)) => acknowledged.lock().unwrap().push(done),
                    Ok(None) => {}
                    Err(_) => return, // the controller is gone
                }
            }
        }));
    }
    // Kill it once plenty has been acknowledged.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < 150 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    controller.child.kill().unwrap(); // SIGKILL
    controller.child.wait().unwrap();
    for c in clients {
        let _ = c.await;
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 150, "only {} actions before the deadline", acknowledged.len());

    // Every acknowledged action is in the trail, and the trail verifies.
    let (code, out) = audit(&data, "verify");
    assert_eq!(code, 0, "{out}");
    let (_, export) = audit(&data, "export");
    let records: Vec<serde_json::Value> = export.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let count = |action: &str| records.iter().filter(|r| r["action"] == action).count();
    for kind in ["token.create", "console.key", "login.failed"] {
        let acked = acknowledged.iter().filter(|(a, _)| a == kind).count();
        assert!(count(kind) >= acked, "{kind}: {acked} acknowledged, {} in the trail", count(kind));
    }
    let made: std::collections::HashSet<String> = records
        .iter()
        .filter(|r| r["action"] == "token.create")
        .filter_map(|r| serde_json::from_str::<serde_json::Value>(r["detail"].as_str()?).ok())
        .filter_map(|d| d["name"].as_str().map(str::to_string))
        .collect();
    for (_, name) in acknowledged.iter().filter(|(a, _)| a == "token.create") {
        assert!(made.contains(name), "token {name} acknowledged but not in the trail");
    }
    eprintln!("{} acknowledged actions, all in the trail of {} records", acknowledged.len(), records.len());

    // Restarted, the controller comes up on the same trail.
    let mut again = start(&data, false, None);
    let status =
        http.get(format!("{}/api/session", again.url)).header("cookie", &cookie).send().await.unwrap().status();
    assert_eq!(status, 200, "the session outlived the kill");
    again.child.kill().unwrap();
    again.child.wait().unwrap();

    // Then someone edits a record and cuts off the tail: verify names both.
    let conn = rusqlite::Connection::open(data.join("lantern.db")).unwrap();
    conn.execute("UPDATE audit SET actor = 'mallory' WHERE id = 3", []).unwrap();
    let last: i64 = conn.query_row("SELECT MAX(id) FROM audit", [], |r| r.get(0)).unwrap();
    conn.execute("DELETE FROM audit WHERE id > ?1", [last - 5]).unwrap();
    drop(conn);
    let (code, out) = audit(&data, "verify");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("record 3: its content was altered"), "{out}");
    assert!(out.contains("the trail was truncated"), "{out}");
}
