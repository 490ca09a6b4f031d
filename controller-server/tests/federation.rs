//! Sessions that move between two running controllers over real HTTPS: the token, the signed
//! fetch of the session's data from the controller it comes from, and the move back.

mod common;

use std::collections::HashMap;

use base64::Engine;
use common::live::{free_port, start, Certificate, Client, Live as Peer};
use controller_server::config::PeerConfig;
use controller_server::federation::{Carry, Node};
use controller_server::store::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn peer_config(id: &str, port: u16, seed: u8, cap: Role, ca: &Certificate) -> PeerConfig {
    PeerConfig {
        id: id.into(),
        url: format!("https://127.0.0.1:{port}"),
        public_key: Node::from_seed(id.into(), [seed; 32]).public_key(),
        role_cap: cap,
        ca_file: Some(ca.cert()),
        kerberos: false,
    }
}

/// Two controllers that know each other: B caps A's users at Operator, A takes B's at ReadOnly.
async fn pair() -> (Peer, Peer, Certificate) {
    let ca = Certificate::new();
    let (a_port, b_port) = (free_port(), free_port());
    let a = start("node-a", 1, a_port, &ca, |c| c.peers = vec![peer_config("node-b", b_port, 2, Role::ReadOnly, &ca)])
        .await;
    let b = start("node-b", 2, b_port, &ca, |c| c.peers = vec![peer_config("node-a", a_port, 1, Role::Operator, &ca)])
        .await;
    (a, b, ca)
}

/// The details of the audit records of `action`, oldest first.
fn trail(peer: &Peer, action: &str) -> Vec<(String, String, Value)> {
    peer.running
        .state
        .audit
        .all()
        .unwrap()
        .into_iter()
        .filter(|r| r.action == action)
        .map(|r| (r.actor, r.target, serde_json::from_str(&r.detail).unwrap()))
        .collect()
}

/// The audit journal writes in turn: wait until `action` has `n` records.
async fn wait_for_trail(peer: &Peer, action: &str, n: usize) -> Vec<(String, String, Value)> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let records = trail(peer, action);
        if records.len() >= n || std::time::Instant::now() > deadline {
            return records;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_moves_with_its_data_and_back_fetching_only_what_changed() {
    let (a, b, ca) = pair().await;
    let a_admin = Client::admin(&a, &ca).await;
    let (olga_id, olga) = a_admin.user(&a, &ca, "olga", "Operator").await;
    // At home, olga may watch and type on the shell but not power it.
    let rights = json!({"view": true, "control": true, "power": false});
    let path = format!("/api/hosts/local/access/{olga_id}");
    assert_eq!(a_admin.call(reqwest::Method::PUT, &path, Some(rights)).await.0, StatusCode::NO_CONTENT);
    olga.preference("console.zoom", "100").await;

    // To B: B fetched her session from A, and A recorded handing it over.
    let token = olga.token_for("node-b").await;
    let mut at_b = Client::anonymous(&b, &ca);
    let (status, session) = at_b.arrive(&token).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!((session["username"].as_str(), session["role"].as_str()), (Some("olga@node-a"), Some("Operator")));
    let handed = wait_for_trail(&a, "federation.session-data", 1).await;
    assert_eq!((handed[0].0.as_str(), handed[0].1.as_str()), ("olga", "node-b"));
    assert_eq!(handed[0].2["since"], 0);
    assert_eq!(handed[0].2["parts"], json!(["identity", "preferences", "rights"]));
    let first_version = handed[0].2["version"].as_u64().unwrap();
    assert_eq!(at_b.get("/api/preferences").await["console.zoom"], "100", "her preference came along");
    assert_eq!(at_b.get("/api/session/carried").await["home"], "node-a");

    // B's administrator gives A's user everything on B's shell; A's grant still bounds it.
    let b_admin = Client::admin(&b, &ca).await;
    let users = b_admin.get("/api/users").await;
    let account = users.as_array().unwrap().iter().find(|u| u["username"] == "olga@node-a").unwrap()["id"].clone();
    let everything = json!({"view": true, "control": true, "power": true});
    let path = format!("/api/hosts/local/access/{account}");
    assert_eq!(b_admin.call(reqwest::Method::PUT, &path, Some(everything)).await.0, StatusCode::NO_CONTENT);
    let hosts = at_b.get("/api/hosts").await;
    assert_eq!(
        hosts[0]["rights"],
        json!({"view": true, "control": true, "power": false, "run": false, "media": false})
    );
    let (status, _, _) =
        at_b.call(reqwest::Method::POST, "/api/hosts/local/power", Some(json!({"action": "reset"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "A does not let her power it");

    // She changes one preference at B and goes home: A fetches that part only.
    at_b.preference("console.zoom", "fit").await;
    let back = at_b.token_for("node-a").await;
    let mut home = Client::anonymous(&a, &ca);
    let (status, session) = home.arrive(&back).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!((session["username"].as_str(), session["role"].as_str()), (Some("olga"), Some("Operator")));
    let arrived = wait_for_trail(&a, "login.token", 1).await;
    let detail = &arrived[0].2;
    assert_eq!((detail["home"].as_bool(), detail["since"].as_u64()), (Some(true), Some(first_version)));
    assert_eq!(detail["fetched"], json!(["preferences"]));
    assert!(detail["version"].as_u64().unwrap() > first_version);
    let b_handed = wait_for_trail(&b, "federation.session-data", 1).await;
    assert_eq!(b_handed[0].2["parts"], json!(["preferences"]));
    assert_eq!(home.get("/api/preferences").await["console.zoom"], "fit");

    // And to B again: B holds the session already, and nothing changed since.
    let again = home.token_for("node-b").await;
    let mut at_b = Client::anonymous(&b, &ca);
    let (status, _) = at_b.arrive(&again).await;
    assert_eq!(status, StatusCode::OK);
    let handed = wait_for_trail(&a, "federation.session-data", 2).await;
    assert_eq!(handed[1].2["parts"], json!([]), "B had every part at this version");
    let hosts = at_b.get("/api/hosts").await;
    assert_eq!(hosts[0]["rights"]["power"], false, "A's grant still bounds her, though it was not sent again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_misaddressed_expired_and_forged_tokens_and_requests_are_refused() {
    let (a, b, ca) = pair().await;
    let a_admin = Client::admin(&a, &ca).await;
    let token = a_admin.token_for("node-b").await;
    let (status, _) = Client::anonymous(&b, &ca).arrive(&token).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = Client::anonymous(&b, &ca).arrive(&token).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("session token was already used")));

    // Signed with A's key but for another controller, or long ago.
    let a_key = Node::from_seed("node-a".into(), [1; 32]);
    let now = controller_server::store::audit::now_ms();
    let elsewhere = a_key.issue("node-c", "admin", Role::Administrator, now);
    let (status, body) = Client::anonymous(&b, &ca).arrive(&elsewhere).await;
    assert_eq!(body["error"], "session token is meant for another controller", "{status}");
    let old = a_key.issue("node-b", "admin", Role::Administrator, now - 10 * 60_000);
    let (status, body) = Client::anonymous(&b, &ca).arrive(&old).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("session token has expired")));

    // A token whose session A never granted: A refuses the fetch, and B the login.
    let carry = Some(Carry { sid: "never-issued".into(), version: 1 });
    let unknown = a_key.issue_claims(a_key.claims("node-b", "admin", Role::Administrator, now, carry));
    let (status, body) = Client::anonymous(&b, &ca).arrive(&unknown).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body["error"].as_str().unwrap().contains("already fetched, or has expired"), "{body}");

    // B cannot bring back a user of A that A never sent it.
    let b_key = Node::from_seed("node-b".into(), [2; 32]);
    let carry = Some(Carry { sid: "made-up".into(), version: 1 });
    let impostor = b_key.issue_claims(b_key.claims("node-a", "admin@node-a", Role::Administrator, now, carry));
    let (status, body) = Client::anonymous(&a, &ca).arrive(&impostor).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let plain = b_key.issue("node-a", "admin@node-a", Role::Administrator, now);
    let (status, _) = Client::anonymous(&a, &ca).arrive(&plain).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The fetch itself: only the token's audience, once, and signed.
    let fresh = a_admin.token_for("node-b").await;
    let ask = |node: &Node, token: &str| {
        let request = json!({"token": token, "since": 0, "kerberos": false});
        node.sign_envelope("session-data request", "node-a", request, now)
    };
    let raw = Client::anonymous(&a, &ca);
    let post = |signed: controller_server::federation::envelope::Signed| {
        let raw = &raw;
        async move {
            let res = raw.http.post(format!("{}/api/federation/session-data", raw.base)).json(&signed).send().await;
            res.unwrap().status()
        }
    };
    let stranger = Node::from_seed("node-c".into(), [3; 32]);
    assert_eq!(post(ask(&stranger, &fresh)).await, StatusCode::UNAUTHORIZED, "not a peer");
    let mut forged = ask(&b_key, &fresh);
    forged.signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0u8; 64]);
    assert_eq!(post(forged).await, StatusCode::UNAUTHORIZED);
    assert_eq!(post(ask(&b_key, &fresh)).await, StatusCode::OK);
    assert_eq!(post(ask(&b_key, &fresh)).await, StatusCode::CONFLICT, "once");
    // The token B was given is useless at B now that its data was taken by someone else's request:
    // here that was B's own key, so B's login finds the grant gone.
    let (status, _) = Client::anonymous(&b, &ca).arrive(&fresh).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let refused: HashMap<String, usize> =
        trail(&b, "login.token-refused").into_iter().fold(HashMap::new(), |mut m, r| {
            *m.entry(r.2["reason"].as_str().unwrap_or_default().chars().take(30).collect()).or_default() += 1;
            m
        });
    assert!(refused.len() >= 3, "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_that_went_away_fails_the_move_clearly_and_a_narrowed_role_holds() {
    let (mut a, b, ca) = pair().await;
    let a_admin = Client::admin(&a, &ca).await;
    // B's administrator narrows A's administrator to ReadOnly here; the next arrival keeps it.
    let (status, session) = Client::anonymous(&b, &ca).arrive(&a_admin.token_for("node-b").await).await;
    assert_eq!((status, session["role"].as_str()), (StatusCode::OK, Some("Operator")), "B's cap");
    let b_admin = Client::admin(&b, &ca).await;
    let users = b_admin.get("/api/users").await;
    let account = users.as_array().unwrap().iter().find(|u| u["username"] == "admin@node-a").unwrap()["id"].clone();
    let path = format!("/api/users/{account}");
    assert_eq!(b_admin.call(reqwest::Method::PUT, &path, Some(json!({"role": "ReadOnly"}))).await.0, StatusCode::OK);
    let (_, session) = Client::anonymous(&b, &ca).arrive(&a_admin.token_for("node-b").await).await;
    assert_eq!(session["role"], "ReadOnly", "narrowed here, whatever the peer says");

    let token = a_admin.token_for("node-b").await;
    a.running.shutdown();
    a.running.stopped().await;
    let started = std::time::Instant::now();
    let (status, body) = Client::anonymous(&b, &ca).arrive(&token).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.starts_with("moving here failed: node-a cannot be reached"), "{error}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15), "within the fetch's deadline");
}
