//! The controller's JSON API, over the page's own TLS session (cookie + CSRF header).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestCredentials, RequestInit, Response};

use crate::applet::{parse_key, ConsoleKey};

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SessionInfo {
    pub username: String,
    pub role: String,
    pub must_change_password: bool,
    pub csrf_token: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HostSummary {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub state: String,
    pub status: String,
    /// Whether the host's backend has power control.
    #[serde(default)]
    pub power: bool,
    /// The power buttons the backend has ("on", "off", "shutdown", "reset", "nmi").
    #[serde(default)]
    pub power_actions: Vec<String>,
    /// Whether automatic server recovery is configured for the host.
    #[serde(default)]
    pub recovery: bool,
    /// Whether the host has a serial console.
    #[serde(default)]
    pub serial: bool,
    /// Whether the host takes virtual media.
    #[serde(default)]
    pub media: bool,
    pub rights: Rights,
    /// For an agent's host: whether it is connected, and what it said of its machine.
    #[serde(default)]
    pub agent: Option<AgentInfo>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct Facts {
    pub hostname: String,
    pub os: String,
    pub kernel: String,
    pub uptime_s: u64,
    pub addresses: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct AgentInfo {
    pub connected: bool,
    /// Connected since, or (offline) last seen: Unix ms.
    pub since: Option<i64>,
    pub last_seen: Option<i64>,
    pub version: Option<String>,
    pub facts: Option<Facts>,
}

/// An enrolled agent, as administrators see them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AgentRow {
    pub host_id: String,
    pub name: String,
    pub enrolled_at: i64,
    pub revoked_at: Option<i64>,
    pub last_seen: Option<i64>,
    pub connected: bool,
    pub version: Option<String>,
    pub facts: Option<Facts>,
    pub epoch: i64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Enrolment {
    pub host_id: String,
    pub command: String,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DirectiveExit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub duration_ms: u64,
    pub output_bytes: u64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Directive {
    pub id: u64,
    pub user: String,
    pub command: String,
    pub started_at: i64,
    pub output_bytes: u64,
    pub exit: Option<DirectiveExit>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SavedDirective {
    pub name: String,
    pub command: String,
    /// Who saved it; none for the configuration file's own, which only it changes.
    #[serde(default)]
    pub saved_by: Option<String>,
}

/// A web or Redfish login session, as the *Sessions* page lists it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LoginSession {
    pub id: String,
    pub user: String,
    pub source: Option<String>,
    pub since: i64,
    pub last_seen: i64,
    pub yours: bool,
}

/// A console link attached to a host.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ConsoleLink {
    pub id: u64,
    pub user: String,
    pub source: Option<String>,
    pub since: i64,
    pub host: String,
    pub listener: String,
    pub suite: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Everyone {
    pub web: Vec<LoginSession>,
    pub redfish: Vec<LoginSession>,
    pub console: Vec<ConsoleLink>,
}

pub async fn everyone() -> Result<Everyone, String> {
    call("GET", "/api/sessions", None::<&()>, None).await
}

/// Ends a session: `kind` is `web`, `redfish` or `console`.
pub async fn end_session(csrf: &str, kind: &str, id: &str) -> Result<(), String> {
    request("DELETE", &format!("/api/sessions/{kind}/{id}"), None::<&()>, Some(csrf)).await.map(|_| ())
}

pub async fn agents() -> Result<Vec<AgentRow>, String> {
    call("GET", "/api/agents", None::<&()>, None).await
}

pub async fn enrol(csrf: &str, host_id: &str, name: &str) -> Result<Enrolment, String> {
    let body = serde_json::json!({ "host_id": host_id, "name": name });
    call("POST", "/api/agents/enrolments", Some(&body), Some(csrf)).await
}

pub async fn revoke_agent(csrf: &str, host_id: &str) -> Result<(), String> {
    request("DELETE", &format!("/api/agents/{host_id}"), None::<&()>, Some(csrf)).await.map(|_| ())
}

pub async fn directives(host: &str) -> Result<Vec<Directive>, String> {
    call("GET", &format!("/api/hosts/{host}/directives"), None::<&()>, None).await
}

pub async fn saved_directives() -> Result<Vec<SavedDirective>, String> {
    call("GET", "/api/directives/saved", None::<&()>, None).await
}

/// Saves (or replaces) `command` as the saved directive `name` (administrators).
pub async fn save_directive(csrf: &str, name: &str, command: &str) -> Result<(), String> {
    let path = format!("/api/directives/saved/{}", String::from(js_sys::encode_uri_component(name)));
    request("PUT", &path, Some(&serde_json::json!({ "command": command })), Some(csrf)).await.map(|_| ())
}

pub async fn delete_saved_directive(csrf: &str, name: &str) -> Result<(), String> {
    let path = format!("/api/directives/saved/{}", String::from(js_sys::encode_uri_component(name)));
    request("DELETE", &path, None::<&()>, Some(csrf)).await.map(|_| ())
}

/// Starts a directive: a command line, or (`saved`) the name of a saved one.
pub async fn run_directive(csrf: &str, host: &str, command: &str, saved: bool) -> Result<Directive, String> {
    let body = if saved { serde_json::json!({ "saved": command }) } else { serde_json::json!({ "command": command }) };
    call("POST", &format!("/api/hosts/{host}/directives"), Some(&body), Some(csrf)).await
}

pub async fn cancel_directive(csrf: &str, host: &str, id: u64) -> Result<(), String> {
    request("POST", &format!("/api/hosts/{host}/directives/{id}/cancel"), None::<&()>, Some(csrf)).await.map(|_| ())
}

/// Follows a directive's output (one JSON object per line) until it ends, handing each line to
/// `line` as it arrives.
pub async fn follow_directive(host: &str, id: u64, mut line: impl FnMut(serde_json::Value)) -> Result<(), String> {
    let window = web_sys::window().ok_or("no window")?;
    let path = format!("/api/hosts/{host}/directives/{id}/output");
    let response: Response = JsFuture::from(window.fetch_with_str(&path))
        .await
        .map_err(|_| "the controller cannot be reached".to_string())?
        .dyn_into()
        .map_err(|_| "no response")?;
    if !response.ok() {
        return Err(format!("the output cannot be read ({})", response.status()));
    }
    let reader: web_sys::ReadableStreamDefaultReader =
        response.body().ok_or("no body")?.get_reader().dyn_into().map_err(|_| "no reader")?;
    let mut pending = Vec::<u8>::new();
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(|_| "the output stream broke".to_string())?;
        let done = js_sys::Reflect::get(&chunk, &"done".into()).ok().and_then(|d| d.as_bool()).unwrap_or(true);
        if done {
            return Ok(());
        }
        if let Ok(value) = js_sys::Reflect::get(&chunk, &"value".into()) {
            pending.extend(js_sys::Uint8Array::new(&value).to_vec());
        }
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let raw: Vec<u8> = pending.drain(..=end).collect();
            if let Ok(value) = serde_json::from_slice(&raw) {
                line(value);
            }
        }
    }
}

/// What the user may do on a host.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Rights {
    pub view: bool,
    pub control: bool,
    pub power: bool,
    /// Directives on an agent's host.
    #[serde(default)]
    pub run: bool,
    /// Virtual media and boot overrides.
    #[serde(default)]
    pub media: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuditVerdict {
    pub intact: bool,
    pub records: Option<u64>,
    pub last_hash: Option<String>,
    pub record: Option<i64>,
    pub reason: Option<String>,
}

#[derive(Deserialize)]
struct KeyResponse {
    key_id: String,
    pms: String,
    ws_path: String,
    plain_ws_url: Option<String>,
    suites: Vec<String>,
    controller_key: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

/// Which console listener the applet uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `wss://` on this page's origin (the default).
    Secure,
    /// The plain `ws://` listener; the console cipher still protects it end to end.
    Plain,
}

pub async fn session() -> Result<SessionInfo, String> {
    call("GET", "/api/session", None::<&()>, None).await
}

pub async fn login(username: &str, password: &str) -> Result<SessionInfo, String> {
    #[derive(Serialize)]
    struct Body<'a> {
        username: &'a str,
        password: &'a str,
    }
    call("POST", "/api/login", Some(&Body { username, password }), None).await
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Peer {
    pub id: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NodeInfo {
    pub node_id: String,
    /// The SHA-256 fingerprint of the controller's node key (`sha256:...`).
    pub pin: String,
    pub peers: Vec<Peer>,
}

#[derive(Deserialize)]
struct IssuedToken {
    url: String,
}

pub async fn node() -> Result<NodeInfo, String> {
    call("GET", "/api/node", None::<&()>, None).await
}

/// The URL that carries a fresh session token to `peer`.
pub async fn move_to(csrf: &str, peer: &str) -> Result<String, String> {
    let body = serde_json::json!({ "audience": peer });
    let issued: IssuedToken = call("POST", "/api/session-token", Some(&body), Some(csrf)).await?;
    Ok(issued.url)
}

/// A console the session had open on another controller before it moved here.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CarriedConsole {
    pub node: String,
    pub host: String,
    pub name: String,
    pub control: bool,
    /// This controller has that host and lets the user see it.
    pub here: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Carried {
    /// The controller where the user's account lives.
    pub home: String,
    pub consoles: Vec<CarriedConsole>,
}

/// What the session brought from the controllers it moved from.
pub async fn carried() -> Result<Carried, String> {
    call("GET", "/api/session/carried", None::<&()>, None).await
}

/// The user's preferences, kept by the controller (and carried when the session moves).
pub async fn preferences() -> Result<std::collections::BTreeMap<String, String>, String> {
    call("GET", "/api/preferences", None::<&()>, None).await
}

/// Keeps preference `name` (`None` forgets it).
pub async fn set_preference(csrf: &str, name: &str, value: Option<&str>) -> Result<(), String> {
    let body = serde_json::json!({ "value": value });
    request("PUT", &format!("/api/preferences/{name}"), Some(&body), Some(csrf)).await.map(|_| ())
}

/// An image in the controller's media folder.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MediaImage {
    pub name: String,
    pub size: u64,
}

/// What one of a host's drives holds.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct DriveStatus {
    pub inserted: Option<String>,
    pub size: u64,
    pub connected: bool,
    pub bytes_read: u64,
    #[serde(default)]
    pub writable: bool,
}

/// What a host's virtual CD and USB disk drives hold, and its one-time boot override.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct MediaStatus {
    pub cd: DriveStatus,
    pub usb: DriveStatus,
    /// `cd`, `usb` or `pxe`: what the next start or reset boots from, once.
    #[serde(default)]
    pub boot_once: Option<String>,
    #[serde(default)]
    pub boot_targets: Vec<String>,
}

pub async fn media_images() -> Result<Vec<MediaImage>, String> {
    call("GET", "/api/media", None::<&()>, None).await
}

pub async fn media_status(host: &str) -> Result<MediaStatus, String> {
    call("GET", &format!("/api/hosts/{host}/media"), None::<&()>, None).await
}

/// Inserts `body` into `drive` (`cd` or `usb`): `{"image": name}` from the media folder or
/// `{"url": ...}` from a web server, with `"writable": true` for a USB disk the guest may write.
pub async fn insert_media(csrf: &str, host: &str, drive: &str, body: serde_json::Value) -> Result<MediaStatus, String> {
    call("PUT", &format!("/api/hosts/{host}/media/{drive}"), Some(&body), Some(csrf)).await
}

/// Sets what the host boots from once at its next start or reset (`None`: as usual).
pub async fn set_boot_once(csrf: &str, host: &str, target: Option<&str>) -> Result<MediaStatus, String> {
    let body = serde_json::json!({ "target": target });
    call("PUT", &format!("/api/hosts/{host}/boot"), Some(&body), Some(csrf)).await
}

pub async fn eject_media(csrf: &str, host: &str, drive: &str) -> Result<MediaStatus, String> {
    call("DELETE", &format!("/api/hosts/{host}/media/{drive}"), None::<&()>, Some(csrf)).await
}

/// The ways in the login page may offer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct LoginMethods {
    pub negotiate: bool,
}

pub async fn login_methods() -> Result<LoginMethods, String> {
    call("GET", "/api/login/methods", None::<&()>, None).await
}

/// Single sign-on: the browser answers the controller's Negotiate challenge with the Kerberos
/// ticket it holds, by itself.
pub async fn login_negotiate() -> Result<SessionInfo, String> {
    call("POST", "/api/login/negotiate", None::<&()>, None).await
}

pub async fn login_with_token(token: &str) -> Result<SessionInfo, String> {
    let body = serde_json::json!({ "token": token });
    call("POST", "/api/login/token", Some(&body), None).await
}

pub async fn logout(csrf: &str) -> Result<(), String> {
    request("POST", "/api/logout", None::<&()>, Some(csrf)).await.map(|_| ())
}

pub async fn change_password(csrf: &str, current: &str, new: &str) -> Result<SessionInfo, String> {
    #[derive(Serialize)]
    struct Body<'a> {
        current_password: &'a str,
        new_password: &'a str,
    }
    call("POST", "/api/password", Some(&Body { current_password: current, new_password: new }), Some(csrf)).await
}

/// What the *Audit* page narrows the trail to; empty fields keep everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    pub actor: String,
    pub action: String,
    pub target: String,
    /// Unix milliseconds.
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl AuditFilter {
    /// As query parameters (`actor=...&action=...`), each value encoded; empty when none.
    pub fn query(&self) -> String {
        let encode = |v: &str| String::from(js_sys::encode_uri_component(v));
        let mut parts = Vec::new();
        for (name, value) in [("actor", &self.actor), ("action", &self.action), ("target", &self.target)] {
            if !value.trim().is_empty() {
                parts.push(format!("{name}={}", encode(value.trim())));
            }
        }
        for (name, value) in [("from", self.from), ("to", self.to)] {
            if let Some(ms) = value {
                parts.push(format!("{name}={ms}"));
            }
        }
        parts.join("&")
    }
}

pub async fn audit_page(filter: &AuditFilter, before: Option<i64>, limit: u32) -> Result<Vec<AuditRecord>, String> {
    let mut path = format!("/api/audit?limit={limit}");
    if let Some(id) = before {
        path.push_str(&format!("&before={id}"));
    }
    let query = filter.query();
    if !query.is_empty() {
        path.push('&');
        path.push_str(&query);
    }
    call("GET", &path, None::<&()>, None).await
}

pub async fn audit_actions() -> Result<Vec<String>, String> {
    call("GET", "/api/audit/actions", None::<&()>, None).await
}

/// Where the export of what `filter` keeps is, as `format` (`jsonl` or `csv`).
pub fn audit_export_url(filter: &AuditFilter, format: &str) -> String {
    let query = filter.query();
    if query.is_empty() {
        format!("/api/audit/export?format={format}")
    } else {
        format!("/api/audit/export?format={format}&{query}")
    }
}

pub async fn audit_verify() -> Result<AuditVerdict, String> {
    call("GET", "/api/audit/verify", None::<&()>, None).await
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UserInfo {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub must_change_password: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AccessEntry {
    pub user_id: i64,
    pub username: String,
    pub rights: Rights,
}

pub async fn users() -> Result<Vec<UserInfo>, String> {
    call("GET", "/api/users", None::<&()>, None).await
}

pub async fn create_user(csrf: &str, username: &str, password: &str, role: &str) -> Result<UserInfo, String> {
    let body = serde_json::json!({ "username": username, "password": password, "role": role });
    call("POST", "/api/users", Some(&body), Some(csrf)).await
}

pub async fn update_user(csrf: &str, id: i64, change: serde_json::Value) -> Result<UserInfo, String> {
    call("PUT", &format!("/api/users/{id}"), Some(&change), Some(csrf)).await
}

pub async fn delete_user(csrf: &str, id: i64) -> Result<(), String> {
    request("DELETE", &format!("/api/users/{id}"), None::<&()>, Some(csrf)).await.map(|_| ())
}

pub async fn host_access(host: &str) -> Result<Vec<AccessEntry>, String> {
    call("GET", &format!("/api/hosts/{host}/access"), None::<&()>, None).await
}

/// `None` puts the user back on the role's defaults for this host.
pub async fn set_host_access(csrf: &str, host: &str, user: i64, rights: Option<Rights>) -> Result<(), String> {
    let body =
        rights.map(|r| {
            serde_json::json!({ "view": r.view, "control": r.control, "power": r.power, "media": r.media, "run": r.run })
        });
    request("PUT", &format!("/api/hosts/{host}/access/{user}"), Some(&body), Some(csrf)).await.map(|_| ())
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HostEvent {
    pub id: i64,
    pub at: i64,
    pub severity: String,
    pub message: String,
    /// A screen capture kept with the event.
    #[serde(default)]
    pub attachment: Option<String>,
}

/// A host's events before event `before` (newest first), at most `limit`.
pub async fn host_events(host: &str, before: Option<i64>, limit: u32) -> Result<Vec<HostEvent>, String> {
    let before = before.map(|id| format!("&before={id}")).unwrap_or_default();
    call("GET", &format!("/api/hosts/{host}/events?limit={limit}{before}"), None::<&()>, None).await
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
pub struct Thresholds {
    pub lower_critical: Option<f64>,
    pub lower_caution: Option<f64>,
    pub upper_caution: Option<f64>,
    pub upper_critical: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Sensor {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub value: f64,
    pub unit: String,
    pub level: String,
    pub thresholds: Thresholds,
    /// (Unix ms, value), oldest first.
    pub history: Vec<(i64, f64)>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct Sensors {
    pub available: bool,
    pub sensors: Vec<Sensor>,
}

pub async fn sensors(host: &str) -> Result<Sensors, String> {
    call("GET", &format!("/api/hosts/{host}/sensors"), None::<&()>, None).await
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct RecoveryStatus {
    pub enabled: bool,
    pub armed: bool,
    pub timeout_seconds: u64,
    pub max_resets: u32,
    pub window_seconds: u64,
    pub last_heartbeat_ms_ago: Option<u64>,
    pub last_source: Option<String>,
    pub resets_in_window: u32,
}

pub async fn recovery(host: &str) -> Result<RecoveryStatus, String> {
    call("GET", &format!("/api/hosts/{host}/recovery"), None::<&()>, None).await
}

pub async fn set_recovery(csrf: &str, host: &str, enabled: bool) -> Result<RecoveryStatus, String> {
    let body = serde_json::json!({ "enabled": enabled });
    call("PUT", &format!("/api/hosts/{host}/recovery"), Some(&body), Some(csrf)).await
}

/// Presses a host's power button: "on", "off" or "reset".
pub async fn power(csrf: &str, host: &str, action: &str) -> Result<(), String> {
    let body = serde_json::json!({ "action": action });
    request("POST", &format!("/api/hosts/{host}/power"), Some(&body), Some(csrf)).await.map(|_| ())
}

pub async fn hosts() -> Result<Vec<HostSummary>, String> {
    call("GET", "/api/hosts", None::<&()>, None).await
}

/// Asks for a fresh console key for `host` and resolves the console URL for `transport`.
pub async fn console_key(csrf: &str, host: &str, transport: Transport) -> Result<ConsoleKey, String> {
    let path = format!("/api/hosts/{host}/console-key");
    let k: KeyResponse = call("POST", &path, None::<&()>, Some(csrf)).await?;
    let url = match (transport, k.plain_ws_url) {
        (Transport::Plain, Some(plain)) => plain,
        _ => {
            let location = web_sys::window().ok_or("no window")?.location();
            format!("wss://{}{}", location.host().map_err(|_| "no host")?, k.ws_path)
        }
    };
    parse_key(url, &k.key_id, &k.pms, &k.suites, &k.controller_key)
}

async fn call<B: Serialize, T: DeserializeOwned>(
    method: &str,
    path: &str,
    body: Option<&B>,
    csrf: Option<&str>,
) -> Result<T, String> {
    let text = request(method, path, body, csrf).await?;
    serde_json::from_str(&text).map_err(|e| format!("unexpected answer from the controller: {e}"))
}

async fn request<B: Serialize>(
    method: &str,
    path: &str,
    body: Option<&B>,
    csrf: Option<&str>,
) -> Result<String, String> {
    let init = RequestInit::new();
    init.set_method(method);
    init.set_credentials(RequestCredentials::SameOrigin);
    let headers = web_sys::Headers::new().map_err(|_| "no headers")?;
    if let Some(body) = body {
        let json = serde_json::to_string(body).map_err(|e| e.to_string())?;
        init.set_body(&json.into());
        headers.set("Content-Type", "application/json").map_err(|_| "bad header")?;
    }
    if let Some(csrf) = csrf {
        headers.set("X-CSRF-Token", csrf).map_err(|_| "bad header")?;
    }
    init.set_headers(&headers);
    let request = Request::new_with_str_and_init(path, &init).map_err(|_| "bad request")?;
    let window = web_sys::window().ok_or("no window")?;
    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(|_| "the controller cannot be reached".to_string())?
        .dyn_into()
        .map_err(|_| "no response")?;
    let text = JsFuture::from(response.text().map_err(|_| "no body")?)
        .await
        .ok()
        .and_then(|t| t.as_string())
        .unwrap_or_default();
    if response.ok() {
        Ok(text)
    } else {
        Err(serde_json::from_str::<ErrorBody>(&text)
            .map(|e| e.error)
            .unwrap_or_else(|_| format!("request failed ({})", response.status())))
    }
}
