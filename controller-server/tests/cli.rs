//! The `controller-server audit` command against a real database file, as an operator runs it.

use std::process::Command;

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
    let log = AuditLog::open(&db).unwrap();
    for (actor, action) in [("admin", "login.ok"), ("admin", "console.open"), ("bob", "login.failed")] {
        log.record(actor, action, "local", json!({})).unwrap();
    }
    drop(log);

    let (code, out) = audit(dir.path(), "verify");
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("audit trail intact: 3 records"), "{out}");
    let (code, out) = audit(dir.path(), "export");
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 3);
    assert!(out.lines().nth(1).unwrap().contains("\"action\":\"console.open\""), "{out}");

    // Someone with access to the database file rewrites who opened the console.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("UPDATE audit SET actor = 'nobody' WHERE id = 2", []).unwrap();
    drop(conn);
    let (code, out) = audit(dir.path(), "verify");
    assert_eq!(code, 1);
    assert_eq!(out.trim(), "audit trail broken at record 2: its content was altered");
}
