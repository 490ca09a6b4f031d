//! Who is here: an administrator's view of every web session, Redfish session and console
//! link, and ending any of them. Ending is audited first; a web session's console links end
//! with it at once, and an ended link tells its viewer an administrator ended it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::json;

use super::error::ApiError;
use super::guard::Authenticated;
use crate::app::AppState;
use crate::console::live::LiveLink;
use crate::store::sessions::LiveSession;

#[derive(Serialize)]
pub struct Session {
    id: String,
    user: String,
    source: Option<String>,
    /// Unix time in milliseconds.
    since: i64,
    last_seen: i64,
    /// The caller's own session.
    yours: bool,
}

#[derive(Serialize)]
pub struct Everyone {
    web: Vec<Session>,
    redfish: Vec<Session>,
    console: Vec<LiveLink>,
}

fn listed(sessions: Vec<LiveSession>, mine: &str) -> Vec<Session> {
    sessions
        .into_iter()
        .map(|s| Session {
            yours: s.id == mine,
            id: s.id,
            user: s.user.username,
            source: s.source,
            since: s.created_at,
            last_seen: s.last_seen,
        })
        .collect()
}

/// `GET /api/sessions`.
pub async fn list(State(state): State<AppState>, auth: Authenticated) -> Result<Json<Everyone>, ApiError> {
    auth.require_admin()?;
    let mine = auth.session.id.as_str();
    Ok(Json(Everyone {
        web: listed(state.sessions.live().await?, mine),
        redfish: listed(state.redfish_sessions.live().await?, mine),
        console: state.console_links.list(),
    }))
}

/// `DELETE /api/sessions/{kind}/{id}`: `web`, `redfish` or `console`.
pub async fn end(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((kind, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    auth.require_admin()?;
    let admin = auth.session.user.username.as_str();
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "no such session");
    // Who it belongs to, for the trail, before anything ends.
    let owner = match kind.as_str() {
        "web" | "redfish" => {
            let sessions = if kind == "web" { &state.sessions } else { &state.redfish_sessions };
            sessions.find(&id).await?.map(|s| s.user.username)
        }
        "console" => {
            let link: Option<u64> = id.parse().ok();
            state.console_links.list().into_iter().find(|l| Some(l.id) == link).map(|l| l.user)
        }
        _ => return Err(ApiError::new(StatusCode::NOT_FOUND, "sessions are web, redfish or console")),
    };
    let owner = owner.ok_or_else(not_found)?;
    state.audit_first(admin, "session.end", &id, json!({ "kind": kind, "user": owner })).await?;
    let ended = match kind.as_str() {
        "web" => {
            let ended = state.sessions.end(&id).await?.is_some();
            // Its console links go with it now, not at their next rights check.
            state.console_links.end_session(&id, admin);
            ended
        }
        "redfish" => state.redfish_sessions.end(&id).await?.is_some(),
        _ => id.parse().ok().and_then(|link| state.console_links.end(link, admin)).is_some(),
    };
    if ended {
        tracing::info!(kind = %kind, user = %owner, by = %admin, "session ended by an administrator");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}
