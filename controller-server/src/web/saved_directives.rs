//! Saved directives: commands an administrator keeps for every agent host ("collect logs"),
//! picked by name on the directives page. Those in the configuration (`[[agents.saved]]`) are
//! fixed; administrators save, replace and delete the rest here, in the audit trail.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, ApiJson};
use super::guard::Authenticated;
use crate::app::AppState;
use crate::store::agents::SavedRow;
use crate::store::audit::now_ms;
use crate::store::off_runtime;

const MAX_NAME: usize = 64;

/// Every saved directive: the configuration's first, then the stored ones (a stored one with a
/// configured one's name cannot exist: saving it is refused).
pub async fn list(State(state): State<AppState>, auth: Authenticated) -> Result<Json<Vec<SavedRow>>, ApiError> {
    auth.require_password_changed()?;
    Ok(Json(all(&state).await?))
}

pub async fn all(state: &AppState) -> Result<Vec<SavedRow>, ApiError> {
    let store = state.agents.store.clone();
    let stored = off_runtime(move || store.saved()).await?;
    let configured = state.agents.config.saved.iter().map(|s| SavedRow {
        name: s.name.clone(),
        command: s.command.clone(),
        saved_by: None,
        saved_at: None,
    });
    Ok(configured.chain(stored).collect())
}

/// The command saved as `name`, if one is.
pub async fn command(state: &AppState, name: &str) -> Result<Option<String>, ApiError> {
    Ok(all(state).await?.into_iter().find(|s| s.name == name).map(|s| s.command))
}

/// A command line a directive may run: not blank, and within what one frame carries.
pub fn check_command(command: &str) -> Result<(), ApiError> {
    if command.trim().is_empty() || command.len() > agent_link::frame::MAX_COMMAND {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "a command is 1 byte to 16 KiB"));
    }
    Ok(())
}

fn configured(state: &AppState, name: &str) -> bool {
    state.agents.config.saved.iter().any(|s| s.name == name)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveRequest {
    command: String,
}

/// Saves (or replaces) the directive `name`.
pub async fn save(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<SaveRequest>,
) -> Result<StatusCode, ApiError> {
    auth.require_admin()?;
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "a name is 1 to 64 characters, none of them control"));
    }
    check_command(&req.command)?;
    if configured(&state, &name) {
        return Err(ApiError::new(StatusCode::CONFLICT, "this one is in the configuration file; change it there"));
    }
    let user = auth.session.user.username.clone();
    let detail = json!({ "name": name, "command": req.command });
    state.audit_first(&user, "directive.save", &name, detail).await?;
    let store = state.agents.store.clone();
    let (by, command, at) = (user, req.command, now_ms());
    let replaced = off_runtime(move || store.save_directive(&name, &command, &by, at)).await?;
    Ok(if replaced { StatusCode::NO_CONTENT } else { StatusCode::CREATED })
}

pub async fn delete(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require_admin()?;
    if configured(&state, &name) {
        return Err(ApiError::new(StatusCode::CONFLICT, "this one is in the configuration file; change it there"));
    }
    let user = auth.session.user.username.clone();
    state.audit_first(&user, "directive.unsave", &name, json!({})).await?;
    let store = state.agents.store.clone();
    if !off_runtime(move || store.delete_directive(&name)).await? {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "no saved directive has this name"));
    }
    Ok(StatusCode::NO_CONTENT)
}
