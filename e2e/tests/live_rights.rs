//! Rights are read live: what a user may do follows their account as it is now, for open
//! console links as much as for requests, and sessions outlast a controller restart. Driven
//! the way scripts and programs use the controller: an HTTPS API client and a native console
//! client on the plain listener (no browser needed).

use std::time::Duration;

use e2e::client::{ApiClient, ConsoleClient, Ended};
use e2e::Controller;
use serde_json::json;
use shared::wire::AlertCode;

const NEW_ADMIN_PASSWORD: &str = "the administrator's own password";

async fn controller_and_admin() -> (Controller, ApiClient) {
    let controller = Controller::start(|_| {}).await.expect("controller starts");
    let mut admin = ApiClient::new(&controller).expect("client");
    admin.first_login("admin", &controller.first_password, NEW_ADMIN_PASSWORD).await.expect("admin logs in");
    (controller, admin)
}

/// A user with `role` who has set their own password; returns their id and logged-in client.
async fn user(controller: &Controller, admin: &ApiClient, name: &str, role: &str) -> (i64, ApiClient) {
    let (status, made) = admin
        .call("POST", "/api/users", Some(json!({"username": name, "password": "temporary password", "role": role})))
        .await
        .expect("create user");
    assert_eq!(status, 200, "{made}");
    let id = made["id"].as_i64().expect("id");
    // The local shell is administrators' only by default: grant it, as an administrator would.
    let all = json!({"view": true, "control": true, "power": true});
    let (status, _) = admin.call("PUT", &format!("/api/hosts/local/access/{id}"), Some(all)).await.expect("grant");
    assert_eq!(status, 204);
    let mut client = ApiClient::new(controller).expect("client");
    client.first_login(name, "temporary password", "a password of their own").await.expect("user logs in");
    (id, client)
}

/// The link must end with "access withdrawn" within 5 s of the change.
async fn ends_within_5s(link: &mut ConsoleClient, what: &str) {
    let started = std::time::Instant::now();
    let ended = link.ended_within(Duration::from_secs(5)).await.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(ended, Ended::Alert(AlertCode::AccessRevoked), "{what}");
    eprintln!("{what}: link ended after {} ms", started.elapsed().as_millis());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_console_links_end_within_5_s_of_losing_the_right() {
    let (controller, admin) = controller_and_admin().await;
    let url = controller.plain_ws();

    // Demoted from Administrator to ReadOnly (no entry of their own on the host, so the role
    // decides): a link that may control ends; a fresh key may only watch.
    let (otto, otto_client) = user(&controller, &admin, "otto", "Administrator").await;
    let (status, _) = admin.call("PUT", &format!("/api/hosts/local/access/{otto}"), Some(json!(null))).await.unwrap();
    assert_eq!(status, 204, "back to the role's defaults");
    let mut link = ConsoleClient::connect(&url, &otto_client.console_key("local").await.unwrap()).await.unwrap();
    let (status, _) =
        admin.call("PUT", &format!("/api/users/{otto}"), Some(json!({"role": "ReadOnly"}))).await.unwrap();
    assert_eq!(status, 200);
    ends_within_5s(&mut link, "demoted").await;
    assert_eq!(otto_client.console_key("local").await.unwrap()["control"], false, "the next key follows the role");

    // The host taken off a viewer's access list.
    let mut link = ConsoleClient::connect(&url, &otto_client.console_key("local").await.unwrap()).await.unwrap();
    let none = json!({"view": false, "control": false, "power": false});
    let (status, _) = admin.call("PUT", &format!("/api/hosts/local/access/{otto}"), Some(none)).await.unwrap();
    assert_eq!(status, 204);
    ends_within_5s(&mut link, "host right removed").await;

    // A password reset by an administrator ends the user's session and their links.
    let (vera, vera_client) = user(&controller, &admin, "vera", "ReadOnly").await;
    let mut link = ConsoleClient::connect(&url, &vera_client.console_key("local").await.unwrap()).await.unwrap();
    let reset = json!({"reset_password": "a fresh temporary one"});
    let (status, _) = admin.call("PUT", &format!("/api/users/{vera}"), Some(reset)).await.unwrap();
    assert_eq!(status, 200);
    ends_within_5s(&mut link, "password reset").await;
    let (status, _) = vera_client.call("GET", "/api/session", None).await.unwrap();
    assert_eq!(status, 401, "a reset ends a stolen session");

    // Deleted.
    let (pia, pia_client) = user(&controller, &admin, "pia", "Operator").await;
    let mut link = ConsoleClient::connect(&url, &pia_client.console_key("local").await.unwrap()).await.unwrap();
    let (status, _) = admin.call("DELETE", &format!("/api/users/{pia}"), None).await.unwrap();
    assert_eq!(status, 204);
    ends_within_5s(&mut link, "deleted").await;

    // A revoked API token: its links end too.
    let (portal, _) = user(&controller, &admin, "portal", "Operator").await;
    let (status, made) =
        admin.call("POST", "/api/tokens", Some(json!({"name": "portal", "user_id": portal}))).await.unwrap();
    assert_eq!(status, 200);
    let token = made["token"].as_str().unwrap().to_string();
    let key = ApiClient::new(&controller)
        .unwrap()
        .http
        .post(format!("{}/api/hosts/local/console-key", controller.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let mut link = ConsoleClient::connect(&url, &key).await.unwrap();
    let (status, _) = admin.call("DELETE", &format!("/api/tokens/{}", made["id"]), None).await.unwrap();
    assert_eq!(status, 204);
    ends_within_5s(&mut link, "token revoked").await;

    // The link records its end after closing the socket: wait for the last record.
    e2e::wait_for("each end audited", std::time::Duration::from_secs(10), || async {
        let trail = controller.running.state.read_journal(|audit, _| audit.all()).await?;
        let revoked = trail.iter().filter(|r| r.action == "console.revoked").count();
        Ok(if revoked == 5 { Ok(()) } else { Err(format!("{revoked} console.revoked records")) })
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_survive_a_restart_and_the_console_reopens() {
    let (mut controller, admin) = controller_and_admin().await;
    let (status, before) = admin.call("GET", "/api/session", None).await.unwrap();
    assert_eq!(status, 200);
    let mut link =
        ConsoleClient::connect(&controller.plain_ws(), &admin.console_key("local").await.unwrap()).await.unwrap();

    controller.restart().await.unwrap();
    // The open link was closed as the controller stopped, with its audit record.
    assert_eq!(link.ended_within(Duration::from_secs(5)).await.unwrap(), Ended::Alert(AlertCode::Closed));
    let closes = controller.running.state.audit.all().unwrap().into_iter().filter(|r| r.action == "console.close");
    assert_eq!(closes.count(), 1);

    // Same cookie, new process: still logged in, and the console opens again.
    let mut again = ApiClient::for_site(&controller.url, &controller.cert_path()).unwrap();
    again.http = admin.http.clone();
    again.csrf = admin.csrf.clone();
    let (status, after) = again.call("GET", "/api/session", None).await.unwrap();
    assert_eq!((status, &after["username"]), (200, &before["username"]), "{after}");
    let key = again.console_key("local").await.unwrap();
    ConsoleClient::connect(&controller.plain_ws(), &key).await.expect("the console reopens");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_refresh_requests_costs_one_full_frame_a_second() {
    let (controller, admin) = controller_and_admin().await;
    let mut link =
        ConsoleClient::connect(&controller.plain_ws(), &admin.console_key("local").await.unwrap()).await.unwrap();
    for _ in 0..100 {
        link.send(shared::wire::AppMessage::RefreshRequest).await.unwrap();
    }
    // Count the video the flood brings back over the next 1.5 s (the shell is idle).
    let deadline = std::time::Instant::now() + Duration::from_millis(1500);
    let mut video = 0;
    while let Ok(Ok(events)) = link.next_events(deadline).await {
        video += events
            .iter()
            .filter(|e| matches!(e, shared::session::ClientEvent::Message(shared::wire::AppMessage::Video(_))))
            .count();
    }
    assert!(video <= 3, "{video} video updates for 100 refresh requests");
    link.close().await.unwrap();
    let closed = e2e::wait_for("the link's close record", Duration::from_secs(10), || async {
        let trail = controller.running.state.audit.page(None, 20)?;
        Ok(match trail.into_iter().find(|r| r.action == "console.close") {
            Some(r) => Ok(r),
            None => Err("no console.close yet".to_string()),
        })
    })
    .await
    .unwrap();
    let detail: serde_json::Value = serde_json::from_str(&closed.detail).unwrap();
    assert!(detail["refreshes_ignored"].as_u64().unwrap() >= 95, "{detail}");
}
