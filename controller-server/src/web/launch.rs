//! Launch API and launch page: a console for another site's users (see `console::launch`).

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiJson};
use super::guard::Authenticated;
use super::hosts::{issue_key, visible_rights};
use crate::app::AppState;
use crate::console::launch::Grant;
use crate::console::KeyBinding;
use crate::web::principal::{current_user, Credential};

/// The longest a launch may wait to be opened.
const MAX_LAUNCH_TTL: u64 = 300;

#[derive(Deserialize)]
pub struct LaunchRequest {
    host: String,
    /// Full control (type, point, Ctrl-Alt-Del); default: view only.
    #[serde(default)]
    control: bool,
    /// Seconds the launch may wait to be opened (default 60, at most 300).
    ttl_seconds: Option<u64>,
}

/// Creates a single-use launch, for a portal's back end (API token) or a logged-in user.
pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LaunchRequest>,
) -> Result<Json<Value>, ApiError> {
    auth.require_password_changed()?;
    let user = &auth.session.user;
    let rights = visible_rights(&state, user, &req.host)?;
    if req.control && !rights.control {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "you may not control this host"));
    }
    let ttl = req.ttl_seconds.unwrap_or(60).clamp(1, MAX_LAUNCH_TTL);
    let grant = Grant {
        user_id: user.id,
        username: user.username.clone(),
        host_id: req.host.clone(),
        control: req.control,
        creator: auth.session.credential.clone(),
    };
    let id = state.launches.create(grant, Duration::from_secs(ttl));
    state
        .audit(&user.username, "console.launch", &req.host, json!({ "control": req.control, "ttl_seconds": ttl }))
        .await;
    let path = format!("/launch/{id}");
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    Ok(Json(json!({ "url": format!("https://{host}{path}"), "path": path, "expires_in_ms": ttl * 1000 })))
}

/// Opens a launch: the console page, holding its launch-session secret. Works once.
pub async fn page(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let (secret, session_id, grant) = match state.launches.open(&id) {
        Ok(opened) => opened,
        Err(err) => {
            let body = format!("<!doctype html><meta charset=utf-8><title>Lantern</title><p>{err}.</p>");
            return (StatusCode::GONE, [(header::CACHE_CONTROL, "no-store")], Html(body)).into_response();
        }
    };
    state.audit(&grant.username, "console.launch-open", &grant.host_id, json!({ "session": session_id })).await;
    let host_name = state.hosts.get(&grant.host_id).map(|h| h.name.clone()).unwrap_or_default();
    // Every value placed here is from us: a base64url secret, a configured host name (escaped).
    let body = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} – Lantern console</title>
<meta name="lantern-launch" content="{secret}">
<link rel="stylesheet" href="/lantern.css"><script type="module" src="/launch.js"></script></head>
<body class="launch" data-control="{control}">
<div class="launch-bar"><strong>{title}</strong>{badge}<button id="btn-cad"{disabled}>Ctrl-Alt-Del</button>
<span id="status-state" class="state">starting</span><span id="status-suite"></span><span id="status-message" class="message"></span>
<span id="sharing-holder"></span><button id="btn-request-control" hidden>Request control</button></div>
<canvas id="console-canvas" class="screen zoom-fit"></canvas>
</body></html>"#,
        title = escape(&host_name),
        control = grant.control,
        badge = if grant.control { "" } else { r#"<span class="badge stopped">View only</span>"# },
        disabled = if grant.control { "" } else { " disabled" },
    );
    ([(header::CACHE_CONTROL, "no-store")], Html(body)).into_response()
}

/// A console key for the launch session named by `Authorization: Launch <secret>`.
pub async fn console_key(State(state): State<AppState>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    let secret = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Launch "))
        .ok_or(ApiError::new(StatusCode::UNAUTHORIZED, "no launch session"))?;
    let (session_id, grant) = state
        .launches
        .session(secret.trim())
        .ok_or(ApiError::new(StatusCode::UNAUTHORIZED, "the launch session has ended"))?;
    // The launch stands only while whoever asked for it still may: their credential, their
    // account and their rights on the host are read again for every key.
    let credential = Credential::Launch { session: session_id.clone(), creator: Box::new(grant.creator.clone()) };
    let (checking, check) = (state.clone(), credential.clone());
    let user = crate::store::off_runtime(move || current_user(&checking, &check)).await?;
    let ended = ApiError::new(StatusCode::UNAUTHORIZED, "the launch is no longer allowed");
    let user = user.filter(|u| u.id == grant.user_id && !u.must_change_password).ok_or(ended)?;
    let rights = visible_rights(&state, &user, &grant.host_id)?;
    if grant.control && !rights.control {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "you may not control this host"));
    }
    let binding = KeyBinding {
        user_id: user.id,
        username: user.username,
        host_id: grant.host_id,
        web_session: session_id,
        control: grant.control,
        credential,
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(issue_key(&state, binding).await?)))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
