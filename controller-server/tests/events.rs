//! Redfish events as subscribers and stream readers get them, through the real router: an
//! HTTPS subscriber on loopback receives power and sensor events with their registry's
//! `MessageId`s and `OriginOfCondition`, a hung one holds up nothing, Server-Sent Events
//! carry the same, and the registry they name is served.

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use base64::Engine;
use common::subscriber::Subscriber;
use common::{api_with, Api, ORIGIN};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

const NEW_PASSWORD: &str = "correct horse battery";
const SUBSCRIPTIONS: &str = "/redfish/v1/EventService/Subscriptions";
const RESET: &str = "/redfish/v1/Systems/local/Actions/ComputerSystem.Reset";

/// An administrator's session token, the first-run password replaced.
async fn admin(api: &Api) -> String {
    let (_, headers, _) = api
        .call(
            Method::POST,
            "/redfish/v1/SessionService/Sessions",
            &[],
            Some(json!({"UserName": "admin", "Password": api.password})),
        )
        .await;
    let token = headers["x-auth-token"].to_str().unwrap().to_string();
    let (status, _, body) = api
        .call(
            Method::PATCH,
            "/redfish/v1/AccountService/Accounts/1",
            &[("x-auth-token", &token)],
            Some(json!({"Password": NEW_PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    token
}

async fn events_api(subscriber: &Subscriber) -> Api {
    let ca = subscriber.ca_file.clone();
    let api = api_with(move |c| {
        c.health.interval_seconds = 1;
        c.events.ca_file = Some(ca);
        c.events.retry_interval_seconds = 1;
    })
    .await;
    hot_sensor(&api, 45_000);
    api
}

/// The local host's one temperature sensor (caution at 80 °C), reading `millidegrees`.
fn hot_sensor(api: &Api, millidegrees: u32) {
    let chip = api.dir().join("sys/class/hwmon/hwmon0");
    std::fs::create_dir_all(&chip).unwrap();
    for (file, value) in [("name", "coretemp"), ("temp1_label", "Package"), ("temp1_max", "80000")] {
        std::fs::write(chip.join(file), value).unwrap();
    }
    std::fs::write(chip.join("temp1_input"), millidegrees.to_string()).unwrap();
}

async fn subscribe(api: &Api, token: &str, body: Value) -> (StatusCode, Value, String) {
    let (status, headers, answer) =
        api.call(Method::POST, SUBSCRIPTIONS, &[("x-auth-token", token), ("origin", ORIGIN)], Some(body)).await;
    let location = headers.get(header::LOCATION).map(|l| l.to_str().unwrap().to_string()).unwrap_or_default();
    (status, answer, location)
}

/// Waits until the local host runs, so that a power action changes its state.
async fn running(api: &Api) {
    let host = api.state.hosts.get("local").expect("the local host");
    let mut status = host.status.clone();
    let up = status.wait_for(|s| s.state == shared::wire::message::HostState::Running);
    tokio::time::timeout(Duration::from_secs(20), up).await.expect("the local host starts").expect("its status");
}

async fn press(api: &Api, token: &str, reset: &str) {
    let (status, _, body) = api
        .call(Method::POST, RESET, &[("x-auth-token", token), ("origin", ORIGIN)], Some(json!({"ResetType": reset})))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

#[tokio::test]
async fn a_subscriber_gets_power_and_threshold_events_with_registry_ids_and_origins() {
    let subscriber = Subscriber::start().await;
    let api = events_api(&subscriber).await;
    let token = admin(&api).await;
    let auth = [("x-auth-token", token.as_str())];
    let (status, created, location) = subscribe(
        &api,
        &token,
        json!({
            "Destination": subscriber.url(),
            "Protocol": "Redfish",
            "Context": "rack 4",
            "RegistryPrefixes": ["Lantern"],
            "HttpHeaders": [{ "Authorization": "Bearer subscriber-secret" }],
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(location, created["@odata.id"]);
    let (_, _, shown) = api.call(Method::GET, &location, &auth, None).await;
    assert_eq!((&shown["Destination"], &shown["Context"]), (&json!(subscriber.url()), &json!("rack 4")));
    assert_eq!(shown["HttpHeaders"], json!([]), "the subscriber's credentials are never shown back");
    let (_, _, listed) = api.call(Method::GET, SUBSCRIPTIONS, &auth, None).await;
    assert_eq!(listed["Members"], json!([{ "@odata.id": location }]));

    // A sensor crossing its caution threshold.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    hot_sensor(&api, 85_000);
    let (headers, event) =
        subscriber.event("SensorReadingAboveCaution", Duration::from_secs(20)).await.expect("a threshold event");
    assert_eq!(headers["authorization"], "Bearer subscriber-secret");
    assert_eq!(event["Context"], "rack 4");
    let record = &event["Events"][0];
    assert_eq!(record["MessageId"], "Lantern.1.0.SensorReadingAboveCaution");
    assert_eq!(record["OriginOfCondition"]["@odata.id"], "/redfish/v1/Chassis/local/Sensors/coretemp-hwmon0-temp1");
    assert_eq!(record["MessageSeverity"], "Warning");
    assert_eq!(record["MessageArgs"], json!(["local", "coretemp Package", "85.0 Cel"]));

    // A power action, and the power state it leads to.
    running(&api).await;
    press(&api, &token, "ForceOff").await;
    let (_, pressed) = subscriber.event("PowerActionPerformed", Duration::from_secs(20)).await.expect("a power event");
    assert_eq!(pressed["Events"][0]["MessageArgs"], json!(["local", "off", "admin"]));
    assert_eq!(pressed["Events"][0]["OriginOfCondition"]["@odata.id"], "/redfish/v1/Systems/local");
    let (_, off) = subscriber.event("PowerStateChanged", Duration::from_secs(20)).await.expect("a power state");
    assert_eq!(off["Events"][0]["Message"], "The power state of host local changed to Off.");

    // Every id names a message of the registry the service serves.
    let (_, _, file) = api.call(Method::GET, "/redfish/v1/Registries/Lantern", &auth, None).await;
    let registry_uri = file["Location"][0]["Uri"].as_str().unwrap().to_string();
    let (_, _, registry) = api.call(Method::GET, &registry_uri, &auth, None).await;
    for key in ["SensorReadingAboveCaution", "PowerActionPerformed", "PowerStateChanged"] {
        assert!(registry["Messages"][key]["NumberOfArgs"].as_u64().is_some(), "{key}");
    }
    assert_eq!(registry["RegistryPrefix"], "Lantern");

    // Unsubscribed: audited, and gone.
    let (status, _, _) = api.call(Method::DELETE, &location, &[auth[0], ("origin", ORIGIN)], None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = api.call(Method::GET, &location, &auth, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    api.state.journal.flush().await;
    let actions: Vec<String> = api.state.audit.page(None, 50).unwrap().into_iter().map(|r| r.action).collect();
    assert!(actions.contains(&"events.subscribe".to_string()) && actions.contains(&"events.unsubscribe".to_string()));
}

#[tokio::test]
async fn subscriptions_are_for_administrators_and_filter_by_resource_type() {
    let subscriber = Subscriber::start().await;
    let api = events_api(&subscriber).await;
    let token = admin(&api).await;
    api.state.users.create("olga", "a password of my own", controller_server::store::Role::Operator, false).unwrap();
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("olga:a password of my own"));
    for method in [Method::GET, Method::POST] {
        let body = (method == Method::POST).then(|| json!({ "Destination": subscriber.url(), "Protocol": "Redfish" }));
        let (status, _, answer) = api.call(method, SUBSCRIPTIONS, &[("authorization", &basic)], body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    }
    let (status, _) = open_sse(&api, &basic, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the stream names every host: administrators only");
    let (status, body, _) =
        subscribe(&api, &token, json!({ "Destination": "http://127.0.0.1/x", "Protocol": "Redfish" })).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Base.1.18.PropertyValueFormatError"))
    );
    let (status, _, _) = subscribe(
        &api,
        &token,
        json!({ "Destination": subscriber.url(), "Protocol": "Redfish", "ResourceTypes": ["ComputerSystem"] }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    // A threshold crossing is a Sensor's event: not for this subscriber; the power action is.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    hot_sensor(&api, 85_000);
    wait_for_event_log(&api, "above its caution threshold").await;
    press(&api, &token, "ForceRestart").await;
    // The restart's events (the action, and the power states it passes through, in whatever
    // order they were written) arrive; none of the sensor's came before them.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let within = deadline.saturating_duration_since(Instant::now());
        let (_, delivery) = subscriber.next(within).await.expect("the power action's event");
        let event = &delivery["Events"][0];
        assert!(
            event["OriginOfCondition"]["@odata.id"].as_str().unwrap().starts_with("/redfish/v1/Systems/"),
            "{delivery}"
        );
        if event["MessageId"] == "Lantern.1.0.PowerActionPerformed" {
            break;
        }
    }
}

/// Waits until the local host's event log has an entry containing `text`.
async fn wait_for_event_log(api: &Api, text: &str) {
    for _ in 0..200 {
        api.state.journal.flush().await;
        let events = api.state.events.page("local", None, 20).unwrap();
        if events.iter().any(|e| e.message.contains(text)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no event log entry with {text:?}");
}

#[tokio::test]
async fn a_hung_subscriber_holds_up_no_power_action() {
    let hung = Subscriber::hung().await;
    let ca = hung.ca_file.clone();
    let api = api_with(move |c| {
        c.events.ca_file = Some(ca);
        c.events.queue = 4;
        c.events.timeout_seconds = 3600;
    })
    .await;
    let token = admin(&api).await;
    running(&api).await;
    let alone = power_actions(&api, &token, 6).await;
    let (status, _, location) =
        subscribe(&api, &token, json!({ "Destination": hung.url(), "Protocol": "Redfish" })).await;
    assert_eq!(status, StatusCode::CREATED);
    // The subscriber has the first event and keeps the request open: it will not answer while
    // this test runs. Every action after it must still complete, and never wait for it.
    press(&api, &token, "ForceRestart").await;
    hung.next(Duration::from_secs(20)).await.expect("the hung subscriber took its first request");
    let hung_up = power_actions(&api, &token, 16).await;
    let median = |took: &[Duration]| took[took.len() / 2];
    println!(
        "power action (ForceRestart of the local host), median of 6 without a subscriber: {:?}; \
         of 16 with a hung one: {:?} (slowest {:?})",
        median(&alone),
        median(&hung_up),
        hung_up[hung_up.len() - 1],
    );
    // The queue held 4; the rest were dropped and counted, not kept without bound. The 16
    // actions are at least 16 events (more with the power states they cause) beside the one
    // in flight and the 4 queued: at least 12 dropped, once the journal has published them.
    let counts = api.state.subscriptions.list()[0].1.clone();
    let dropped = || counts.dropped.load(std::sync::atomic::Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(10);
    while dropped() < 12 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, _, shown) = api.call(Method::GET, &location, &[("x-auth-token", &token)], None).await;
    assert!(dropped() >= 12, "dropped {}: {shown}", dropped());
}

/// How long each of `count` power actions took, sorted; each must complete within 30 s.
async fn power_actions(api: &Api, token: &str, count: usize) -> Vec<Duration> {
    let mut took = Vec::new();
    for _ in 0..count {
        let started = Instant::now();
        tokio::time::timeout(Duration::from_secs(30), press(api, token, "ForceRestart"))
            .await
            .expect("a power action completes");
        took.push(started.elapsed());
    }
    took.sort();
    took
}

/// A Server-Sent Events reader over a streaming body, which keeps what it read past the
/// frame asked for (frames can share a chunk, and events need not come in the order asked).
struct SseReader {
    body: Body,
    text: String,
    skipped: Vec<(u64, Value)>,
}

impl SseReader {
    fn new(body: Body) -> Self {
        Self { body, text: String::new(), skipped: Vec::new() }
    }

    /// The next event frame (`id:` and JSON `data:`), waiting until `deadline`.
    async fn next(&mut self, deadline: tokio::time::Instant) -> Option<(u64, Value)> {
        loop {
            while let Some(end) = self.text.find("\n\n") {
                let frame: String = self.text.drain(..end + 2).collect();
                let id = frame.lines().find_map(|l| l.strip_prefix("id: ")).and_then(|v| v.parse().ok());
                let data = frame.lines().find_map(|l| l.strip_prefix("data: "));
                if let (Some(id), Some(data)) = (id, data) {
                    return Some((id, serde_json::from_str(data).expect("an event's data is JSON")));
                }
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame()).await.ok()??.ok()?;
            if let Ok(data) = frame.into_data() {
                self.text.push_str(&String::from_utf8_lossy(&data));
            }
        }
    }

    /// The first event whose `MessageId` ends with `key`, read now or skipped before.
    async fn event(&mut self, key: &str, within: Duration) -> Option<(u64, Value)> {
        let is_it = |event: &Value| event["Events"][0]["MessageId"].as_str().is_some_and(|id| id.ends_with(key));
        if let Some(at) = self.skipped.iter().position(|(_, event)| is_it(event)) {
            return Some(self.skipped.remove(at));
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let (id, event) = self.next(deadline).await?;
            if is_it(&event) {
                return Some((id, event));
            }
            self.skipped.push((id, event));
        }
    }
}

/// Opens the stream with a session token, or with a `Basic ...` authorization.
async fn open_sse(api: &Api, token: &str, last_event_id: Option<u64>) -> (StatusCode, Body) {
    let request = Request::get("/redfish/v1/EventService/SSE").header(header::HOST, "127.0.0.1:8443");
    let mut request = match token.strip_prefix("Basic ") {
        Some(_) => request.header("authorization", token),
        None => request.header("x-auth-token", token),
    };
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id.to_string());
    }
    let response = api.app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    (response.status(), response.into_body())
}

#[tokio::test]
async fn server_sent_events_carry_the_same_events_catch_up_and_end_with_the_session() {
    let subscriber = Subscriber::start().await;
    let api = events_api(&subscriber).await;
    let token = admin(&api).await;
    let (_, _, service) = api.call(Method::GET, "/redfish/v1/EventService", &[("x-auth-token", &token)], None).await;
    assert_eq!(service["ServerSentEventUri"], "/redfish/v1/EventService/SSE");
    let (status, stream) = open_sse(&api, &token, None).await;
    assert_eq!(status, StatusCode::OK);
    let mut stream = SseReader::new(stream);
    running(&api).await;
    press(&api, &token, "ForceOff").await;
    let pressed = stream.event("PowerActionPerformed", Duration::from_secs(20)).await.expect("over SSE");
    assert_eq!(pressed.1["Events"][0]["OriginOfCondition"]["@odata.id"], "/redfish/v1/Systems/local");
    let state = stream.event("PowerStateChanged", Duration::from_secs(20)).await.expect("the power state");
    assert_eq!(state.1["Events"][0]["MessageArgs"], json!(["local", "Off"]));

    // A reader that comes back with the last id it saw gets what it missed: here, the later
    // of the two (the host may report its state before the action is written, or after).
    let (seen, missed) = if pressed.0 < state.0 { (pressed, state) } else { (state, pressed) };
    let (_, again) = open_sse(&api, &token, Some(seen.0)).await;
    let key = missed.1["Events"][0]["MessageId"].as_str().unwrap().to_string();
    let caught_up = SseReader::new(again).event(&key, Duration::from_secs(5)).await.expect("caught up");
    assert_eq!(caught_up, missed);

    // A filtered reader gets only what it asked for.
    let filtered = "/redfish/v1/EventService/SSE?$filter=MessageId%20eq%20%27Lantern.1.0.PowerStateChanged%27";
    let request = Request::get(filtered).header(header::HOST, "127.0.0.1:8443").header("x-auth-token", &token);
    let only = api.app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap().into_body();
    press(&api, &token, "On").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let (_, on) = SseReader::new(only).next(deadline).await.expect("a filtered event");
    assert_eq!(on["Events"][0]["MessageId"], "Lantern.1.0.PowerStateChanged", "{on}");

    // The session ends: so does the stream, within about a second.
    let (_, _, sessions) =
        api.call(Method::GET, "/redfish/v1/SessionService/Sessions", &[("x-auth-token", &token)], None).await;
    let session = sessions["Members"][0]["@odata.id"].as_str().unwrap().to_string();
    let (status, _, _) =
        api.call(Method::DELETE, &session, &[("x-auth-token", &token), ("origin", ORIGIN)], None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(frame) = stream.body.frame().await {
            if frame.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream outlived its session");
}
