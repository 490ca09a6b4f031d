//! The host list and the console key API.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiJson};
use super::guard::Authenticated;
use super::login::Source;
use crate::app::AppState;
use crate::console::KeyBinding;
use crate::hosts::{PowerAction, PowerError};
use crate::store::HostRights;

#[derive(Serialize)]
pub struct HostSummary {
    id: String,
    name: String,
    kind: &'static str,
    state: &'static str,
    status: String,
    /// Whether the backend can power the host on, off and reset it.
    power: bool,
    /// The power buttons it has.
    power_actions: Vec<&'static str>,
    /// Whether automatic server recovery is configured for the host.
    recovery: bool,
    /// Whether the host has a serial console.
    serial: bool,
    /// Whether the host takes virtual media (a CD drive the controller fills).
    media: bool,
    /// What the asking user may do there.
    rights: HostRights,
    /// For an agent's host: connected or since when not, its version and its machine's facts.
    agent: Option<crate::agents::AgentInfo>,
}

pub async fn list(State(state): State<AppState>, auth: Authenticated) -> Result<Json<Vec<HostSummary>>, ApiError> {
    auth.require_password_changed()?;
    let user = &auth.session.user;
    let mut visible = Vec::new();
    for host in state.hosts.all() {
        let rights = state.rights(user, &host.id)?;
        if rights.view {
            visible.push((host, rights));
        }
    }
    Ok(Json(
        visible
            .into_iter()
            .map(|(h, rights)| {
                let status = h.status.borrow().clone();
                HostSummary {
                    id: h.id.clone(),
                    name: h.name.clone(),
                    kind: h.kind,
                    state: status.state.name(),
                    status: status.text,
                    power: h.power.is_some(),
                    power_actions: h.power_actions.iter().map(|a| a.name()).collect(),
                    recovery: state.recovery_of(&h.id).is_some(),
                    serial: h.serial.is_some(),
                    media: h.media.is_some(),
                    rights,
                    agent: state.agents.info(&h.id),
                }
            })
            .collect(),
    ))
}

/// What the page hands the applet. Sent only over TLS, never cached, never logged.
#[derive(Serialize)]
pub struct ConsoleKey {
    key_id: String,
    /// The pre-master secret, base64.
    pms: String,
    expires_in_ms: u64,
    host_id: String,
    host_name: String,
    /// Path of the console WebSocket on this HTTPS origin (`wss://`).
    ws_path: &'static str,
    /// The plain console listener (`ws://`), when configured.
    plain_ws_url: Option<String>,
    /// Suites the controller accepts, most preferred first.
    suites: Vec<&'static str>,
    /// Whether this key's link may send input, or only watch.
    control: bool,
    /// The controller's node key (base64url): the applet stops a link whose handshake it did
    /// not sign, whatever carried it (a relay, a proxy).
    controller_key: String,
    /// The key's fingerprint (`sha256:...`), to compare out of band.
    controller_fingerprint: String,
}

#[derive(serde::Deserialize, Default)]
pub struct KeyQuery {
    /// Ask for a key that may only watch, whatever the caller's rights (for embedding).
    #[serde(default)]
    view_only: bool,
}

pub async fn console_key(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(host_id): Path<String>,
    Query(q): Query<KeyQuery>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require_password_changed()?;
    let user = &auth.session.user;
    let rights = visible_rights(&state, user, &host_id)?;
    let binding = KeyBinding {
        user_id: user.id,
        username: user.username.clone(),
        host_id,
        web_session: auth.session.id.clone(),
        control: rights.control && !q.view_only,
        credential: auth.session.credential.clone(),
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(issue_key(&state, binding).await?)))
}

/// The user's rights on a host they may view; "no such host" otherwise, so that a host one
/// may not see cannot be told from one that does not exist.
pub fn visible_rights(state: &AppState, user: &crate::store::User, host_id: &str) -> Result<HostRights, ApiError> {
    let not_found = ApiError::new(StatusCode::NOT_FOUND, "no such host");
    state.hosts.get(host_id).ok_or(not_found)?;
    let rights = state.rights(user, host_id)?;
    if !rights.view {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "no such host"));
    }
    Ok(rights)
}

/// Issues a console key for `binding` and says how to use it.
pub async fn issue_key(state: &AppState, binding: KeyBinding) -> Result<ConsoleKey, ApiError> {
    let host = state.hosts.get(&binding.host_id).ok_or(ApiError::new(StatusCode::NOT_FOUND, "no such host"))?;
    let (username, control) = (binding.username.clone(), binding.control);
    let (key_id, pms) = state.keys.issue(binding);
    let detail = serde_json::json!({ "key": format!("{key_id:?}"), "control": control });
    // A key the trail does not know of is withdrawn before anyone sees it.
    if let Err(refused) = state.audit_first(&username, "console.key", &host.id, detail).await {
        state.keys.withdraw(&key_id);
        return Err(refused);
    }
    tracing::info!(user = %username, host = %host.id, key = ?key_id, control, "console key issued");
    Ok(ConsoleKey {
        key_id: key_id.to_hex(),
        pms: base64::engine::general_purpose::STANDARD.encode(pms.expose()),
        expires_in_ms: state.keys.ttl().as_millis() as u64,
        host_id: host.id.clone(),
        host_name: host.name.clone(),
        ws_path: "/console/ws",
        plain_ws_url: state.plain_ws_url.clone(),
        suites: state.link_config.suites.iter().map(|s| s.name()).collect(),
        control,
        controller_key: state.node.public_key(),
        controller_fingerprint: state.node.pin().to_string(),
    })
}

#[derive(serde::Deserialize)]
pub struct PowerRequest {
    action: PowerAction,
}

/// Presses a power button: `on`, `off` (forced), `shutdown` (graceful), `reset` or `nmi`. The
/// backend answers whether it could (`local`: off and shutdown stop the console program).
pub async fn power(
    State(state): State<AppState>,
    auth: Authenticated,
    source: Source,
    Path(host_id): Path<String>,
    ApiJson(req): ApiJson<PowerRequest>,
) -> Result<StatusCode, ApiError> {
    auth.require_password_changed()?;
    press_power_as(&state, &auth.session.user, &host_id, req.action, ("web", &source)).await.map_err(|denied| {
        match denied {
            PowerDenied::NoSuchHost => ApiError::new(StatusCode::NOT_FOUND, "no such host"),
            PowerDenied::NotAllowed => ApiError::new(StatusCode::FORBIDDEN, "you may not power this host"),
            PowerDenied::Store(e) => e,
            PowerDenied::Backend(e) => {
                let status = match e {
                    PowerError::Unsupported | PowerError::Refused(_) => StatusCode::CONFLICT,
                    PowerError::Gone => StatusCode::SERVICE_UNAVAILABLE,
                    PowerError::Timeout => StatusCode::GATEWAY_TIMEOUT,
                };
                ApiError::with_message(status, e.to_string())
            }
        }
    })?;
    Ok(StatusCode::ACCEPTED)
}

/// Why a power request was not carried out.
#[derive(Debug)]
pub enum PowerDenied {
    /// No such host, or one the user may not see (indistinguishable on purpose).
    NoSuchHost,
    NotAllowed,
    Store(ApiError),
    Backend(PowerError),
}

/// Presses a power button for `user`, from whichever door (`via`: "web", "redfish"...), if their
/// rights allow it. A pressed button goes to the audit trail (who) and the host's event log
/// (what happened to the host).
pub async fn press_power_as(
    state: &AppState,
    user: &crate::store::User,
    host_id: &str,
    action: PowerAction,
    (via, source): (&str, &Source),
) -> Result<(), PowerDenied> {
    let rights = match visible_rights(state, user, host_id) {
        Ok(rights) => rights,
        Err(e) if e.status == StatusCode::NOT_FOUND => return Err(PowerDenied::NoSuchHost),
        Err(e) => return Err(PowerDenied::Store(e)),
    };
    if !rights.power {
        return Err(PowerDenied::NotAllowed);
    }
    let host = state.hosts.get(host_id).ok_or(PowerDenied::NoSuchHost)?;
    // Recorded before the button is pressed; not pressed if the trail cannot take it.
    let mut detail = source.audit();
    detail["action"] = serde_json::json!(action);
    detail["via"] = via.into();
    state.audit_first(&user.username, "host.power", &host.id, detail).await.map_err(PowerDenied::Store)?;
    host.press_power(action).await.map_err(PowerDenied::Backend)?;
    tracing::info!(user = %user.username, host = %host.id, action = ?action, via, "power");
    let message = format!("Power action '{}' by {} ({via})", action.name(), user.username);
    let notice =
        crate::notify::Draft::host(crate::notify::registry::POWER_ACTION, &host.id, &[action.name(), &user.username]);
    state.event_notice(&host.id, "info", &message, notice).await;
    Ok(())
}

#[derive(serde::Deserialize)]
pub struct EventQuery {
    before: Option<i64>,
    limit: Option<u32>,
}

/// A host's event log, newest first (for anyone who may view the host).
pub async fn events(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(host_id): Path<String>,
    Query(q): Query<EventQuery>,
) -> Result<Json<Vec<crate::store::HostEvent>>, ApiError> {
    auth.require_password_changed()?;
    visible_rights(&state, &auth.session.user, &host_id)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    Ok(Json(state.read_journal(move |_, events| events.page(&host_id, q.before, limit)).await?))
}

fn no_recovery() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "automatic recovery is not configured for this host")
}

/// The host's recovery timer: on or off, armed, last heartbeat, resets in the window.
pub async fn recovery(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(host_id): Path<String>,
) -> Result<Json<crate::recovery::RecoveryStatus>, ApiError> {
    auth.require_password_changed()?;
    visible_rights(&state, &auth.session.user, &host_id)?;
    Ok(Json(state.recovery_of(&host_id).ok_or_else(no_recovery)?.status()))
}

#[derive(serde::Deserialize)]
pub struct RecoverySwitch {
    enabled: bool,
}

/// Switches automatic recovery on or off (for those who may power the host); kept across
/// restarts.
pub async fn set_recovery(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(host_id): Path<String>,
    ApiJson(req): ApiJson<RecoverySwitch>,
) -> Result<Json<crate::recovery::RecoveryStatus>, ApiError> {
    auth.require_password_changed()?;
    set_recovery_as(&state, &auth.session.user, &host_id, req.enabled, "web").await?;
    Ok(Json(state.recovery_of(&host_id).ok_or_else(no_recovery)?.status()))
}

/// Switches a host's recovery for `user` if they may power it; audited first (switching it
/// off is what an intruder would do before hanging a host) and kept.
pub async fn set_recovery_as(
    state: &AppState,
    user: &crate::store::User,
    host_id: &str,
    enabled: bool,
    via: &str,
) -> Result<(), ApiError> {
    let rights = visible_rights(state, user, host_id)?;
    let recovery = state.recovery_of(host_id).ok_or_else(no_recovery)?;
    if !rights.power {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "you may not power this host"));
    }
    let detail = serde_json::json!({ "enabled": enabled, "via": via });
    state.audit_first(&user.username, "host.recovery-switch", host_id, detail).await?;
    let (events, host, value) = (state.events.clone(), host_id.to_string(), if enabled { "on" } else { "off" });
    crate::store::off_runtime(move || events.set_setting(&host, "recovery", value)).await?;
    recovery.set_enabled(enabled);
    let word = if enabled { "on" } else { "off" };
    state.event(host_id, "info", &format!("Automatic recovery switched {word} by {} ({via})", user.username)).await;
    Ok(())
}

/// Services the host's recovery timer. Meant for a small agent on the host with an API token
/// of an account that may power this host (and, best, nothing else).
pub async fn heartbeat(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(host_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require_password_changed()?;
    if !visible_rights(&state, &auth.session.user, &host_id)?.power {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "you may not power this host"));
    }
    state.recovery_of(&host_id).ok_or_else(no_recovery)?;
    let host = state.hosts.get(&host_id).ok_or(ApiError::new(StatusCode::NOT_FOUND, "no such host"))?;
    // A full channel already holds beats: this one adds nothing.
    let _ = host.heartbeat.try_send("api");
    Ok(StatusCode::NO_CONTENT)
}

/// A screen capture kept with an event (PNG, or text for text-mode hosts).
pub async fn capture(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((host_id, name)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require_password_changed()?;
    visible_rights(&state, &auth.session.user, &host_id)?;
    let (content_type, bytes) = read_capture(&state, &host_id, &name)?;
    Ok(([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-store")], bytes))
}

#[derive(Deserialize)]
pub struct ScreenshotQuery {
    /// `png` (the default) or `text` (a text screen's text).
    format: Option<String>,
}

/// The host's screen now, for users who may view it: a PNG (a text screen drawn as the
/// console draws it), or with `?format=text` a text screen's text. Audited, as a look at
/// someone's screen.
pub async fn screenshot(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(host_id): Path<String>,
    Query(query): Query<ScreenshotQuery>,
) -> Result<impl IntoResponse, ApiError> {
    use crate::hosts::screenshot::{self, ScreenshotError};
    auth.require_password_changed()?;
    visible_rights(&state, &auth.session.user, &host_id)?;
    let host = state.hosts.get(&host_id).ok_or(ApiError::new(StatusCode::NOT_FOUND, "no such host"))?;
    let text = match query.format.as_deref() {
        None | Some("png") => false,
        Some("text") => true,
        Some(_) => return Err(ApiError::new(StatusCode::BAD_REQUEST, "format is png or text")),
    };
    let video = host.video.clone();
    let shot = tokio::task::spawn_blocking(move || {
        if text {
            screenshot::text(&video).map(|t| ("text/plain; charset=utf-8", t.into_bytes()))
        } else {
            screenshot::png(&video).map(|png| ("image/png", png))
        }
    })
    .await
    .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the screenshot failed"))?;
    let (content_type, bytes) = shot.map_err(|e| match e {
        ScreenshotError::NoScreen | ScreenshotError::NotText => {
            ApiError::with_message(StatusCode::CONFLICT, e.to_string())
        }
        ScreenshotError::Encode(_) => ApiError::with_message(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    })?;
    let detail = serde_json::json!({ "format": if text { "text" } else { "png" }, "bytes": bytes.len() });
    state.audit_first(&auth.session.user.username, "host.screenshot", &host_id, detail).await?;
    Ok(([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-store")], bytes))
}

/// A capture's type and bytes; "not found" for any name that is not one of ours.
pub fn read_capture(state: &AppState, host_id: &str, name: &str) -> Result<(&'static str, Vec<u8>), ApiError> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "no such capture");
    if !crate::recovery::valid_capture_name(name) {
        return Err(not_found());
    }
    let path = crate::recovery::captures_dir(&state.data_dir, host_id).join(name);
    let bytes = std::fs::read(path).map_err(|_| not_found())?;
    let content_type = if name.ends_with(".png") { "image/png" } else { "text/plain; charset=utf-8" };
    Ok((content_type, bytes))
}

#[derive(Serialize)]
pub struct Sensors {
    /// Whether the host's backend has a sensor source at all.
    available: bool,
    sensors: Vec<crate::health::Sensor>,
}

/// The host's health sensors with their recent history, for the console's plot.
pub async fn sensors(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(host_id): Path<String>,
) -> Result<Json<Sensors>, ApiError> {
    auth.require_password_changed()?;
    visible_rights(&state, &auth.session.user, &host_id)?;
    let health = state.health_of(&host_id);
    Ok(Json(Sensors { available: health.is_some(), sensors: health.map(|h| h.sensors()).unwrap_or_default() }))
}
