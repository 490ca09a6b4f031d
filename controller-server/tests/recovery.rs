//! Automatic server recovery through the API: a host's agent services the dead-man timer with
//! heartbeats (an API token of an account that may power the host); when they stop, the
//! controller captures the screen, logs it and resets the host, until the limit; users switch
//! it on and off in the console or through Redfish's `HostWatchdogTimer`.

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{api_with, new_user, Api};
use controller_server::config::RecoveryConfig;
use serde_json::{json, Value};

async fn recovery_api() -> Api {
    api_with(|c| {
        c.hosts[0].recovery =
            Some(RecoveryConfig { enabled: true, timeout_seconds: 1, max_resets: 1, window_seconds: 600 });
    })
    .await
}

/// An API token for a new user of `role`.
async fn token_for(api: &Api, admin: &(String, String), name: &str, role: &str) -> String {
    let (id, _, _) = new_user(api, admin, name, role).await;
    if role == "Operator" {
        common::grant_all(api, admin, "local", id).await;
    }
    let (status, _, made) = api
        .call(
            Method::POST,
            "/api/tokens",
            &[("cookie", &admin.0), ("x-csrf-token", &admin.1)],
            Some(json!({"name": format!("{name} heartbeat"), "user_id": id})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    format!("Bearer {}", made["token"].as_str().unwrap())
}

/// Waits for an event whose message contains `needle`; returns it.
async fn event_containing(api: &Api, needle: &str) -> Value {
    for _ in 0..100 {
        let events = api.state.events.page("local", None, 50).unwrap();
        if let Some(event) = events.into_iter().find(|e| e.message.contains(needle)) {
            return serde_json::to_value(event).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no event containing {needle:?}: {:?}", api.state.events.page("local", None, 50).unwrap());
}

#[tokio::test]
async fn missed_heartbeats_reset_the_host_once_with_a_capture_then_stop_at_the_limit() {
    let api = recovery_api().await;
    let admin = api.ready_session().await;
    let beater = token_for(&api, &admin, "beater", "Operator").await;
    let watcher = token_for(&api, &admin, "watcher", "ReadOnly").await;
    assert_eq!(beat(&api, &watcher).await.0, StatusCode::FORBIDDEN, "beating needs the power right");

    let (_, _, status) = api.call(Method::GET, "/api/hosts/local/recovery", &[("cookie", &admin.0)], None).await;
    assert_eq!((status["enabled"].as_bool(), status["armed"].as_bool()), (Some(true), Some(false)), "{status}");
    assert_eq!(beat(&api, &beater).await.0, StatusCode::NO_CONTENT);
    let reset = event_containing(&api, "Automatic recovery: no heartbeat for 1 s; resetting the host (1 of 1").await;
    assert_eq!(reset["severity"], "critical");
    let capture = reset["attachment"].as_str().expect("the reset keeps the screen").to_string();
    let (status, _, _) =
        api.call(Method::GET, &format!("/api/hosts/local/captures/{capture}"), &[("cookie", &admin.0)], None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) =
        api.call(Method::GET, "/api/hosts/local/captures/..%2Flantern.db", &[("cookie", &admin.0)], None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let trail = api.state.audit.page(None, 20).unwrap();
    assert!(trail.iter().any(|r| r.actor == "controller" && r.action == "host.recovery"), "{trail:?}");

    // The host comes back (a reset host is not watched until it beats again), beats, then
    // stops: the window's one reset is used up.
    event_containing(&api, "power reset: restarting the console program").await;
    let host = api.state.hosts.get("local").unwrap();
    for _ in 0..100 {
        if host.status.borrow().state == shared::wire::message::HostState::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(beat(&api, &beater).await.0, StatusCode::NO_CONTENT);
    event_containing(&api, "not resetting again").await;
    let resets = api
        .state
        .events
        .page("local", None, 100)
        .unwrap()
        .iter()
        .filter(|e| e.message.contains("resetting the host"))
        .count();
    assert_eq!(resets, 1);

    // Switched off (through Redfish), beats are noted but nothing is reset.
    let token = redfish_login(&api).await;
    let auth = [("x-auth-token", token.as_str())];
    let (_, _, system) = api.call(Method::GET, "/redfish/v1/Systems/local", &auth, None).await;
    assert_eq!(system["HostWatchdogTimer"]["FunctionEnabled"], true, "{system}");
    assert_eq!(system["HostWatchdogTimer"]["TimeoutAction"], "ResetSystem");
    let off = json!({"HostWatchdogTimer": {"FunctionEnabled": false}});
    let (status, _, system) = api.call(Method::PATCH, "/redfish/v1/Systems/local", &auth, Some(off)).await;
    assert_eq!((status, &system["HostWatchdogTimer"]["FunctionEnabled"]), (StatusCode::OK, &json!(false)), "{system}");
    let (status, _, body) =
        api.call(Method::PATCH, "/redfish/v1/Systems/local", &auth, Some(json!({"PowerState": "Off"}))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Base.1.18.PropertyNotWritable"))
    );
    event_containing(&api, "Automatic recovery switched off by admin (redfish)").await;
    let before = api.state.events.count("local").unwrap();
    assert_eq!(beat(&api, &beater).await.0, StatusCode::NO_CONTENT);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(api.state.events.count("local").unwrap(), before, "switched off: no reset, no event");
    assert_eq!(api.state.events.setting("local", "recovery").unwrap().as_deref(), Some("off"), "kept across restarts");
}

async fn beat(api: &Api, token: &str) -> (StatusCode, axum::http::HeaderMap, Value) {
    api.call(Method::POST, "/api/hosts/local/heartbeat", &[("authorization", token)], None).await
}

async fn redfish_login(api: &Api) -> String {
    let (status, headers, body) = api
        .call(
            Method::POST,
            "/redfish/v1/SessionService/Sessions",
            &[],
            Some(json!({"UserName": "admin", "Password": "correct horse battery"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    headers["x-auth-token"].to_str().unwrap().to_string()
}
