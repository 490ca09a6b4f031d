//! User and access-list management, for administrators.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, ApiJson};
use super::guard::Authenticated;
use crate::accounts::{self, Actor};
use crate::app::AppState;
use crate::store::{AccessEntry, HostRights, Role, User};

const NOT_FOUND: ApiError = ApiError::new(StatusCode::NOT_FOUND, "no such user");

pub async fn list(State(state): State<AppState>, auth: Authenticated) -> Result<Json<Vec<User>>, ApiError> {
    auth.require_admin()?;
    Ok(Json(state.users.list()?))
}

#[derive(Deserialize)]
pub struct NewUser {
    username: String,
    password: String,
    role: Role,
}

fn actor(auth: &Authenticated) -> Actor<'_> {
    Actor { user: &auth.session.user, via: "web" }
}

/// Creates a user, who must choose a password of their own at first login.
pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(req): ApiJson<NewUser>,
) -> Result<Json<User>, ApiError> {
    auth.require_admin()?;
    Ok(Json(accounts::create(&state, &actor(&auth), req.username, req.password, req.role).await?))
}

#[derive(Deserialize)]
pub struct UserChange {
    role: Option<Role>,
    /// A new password the user must replace at next login.
    reset_password: Option<String>,
}

pub async fn update(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<UserChange>,
) -> Result<Json<User>, ApiError> {
    auth.require_admin()?;
    let mut user = state.users.by_id(id)?.ok_or(NOT_FOUND)?;
    if let Some(password) = &req.reset_password {
        accounts::check_password(password)?;
    }
    if let Some(role) = req.role {
        user = accounts::set_role(&state, &actor(&auth), id, role).await?;
    }
    if let Some(password) = req.reset_password {
        user = accounts::reset_password(&state, &actor(&auth), id, password).await?;
    }
    Ok(Json(user))
}

pub async fn delete(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    auth.require_admin()?;
    accounts::delete(&state, &actor(&auth), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A host's explicit access-list entries.
pub async fn access_list(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(host): Path<String>,
) -> Result<Json<Vec<AccessEntry>>, ApiError> {
    auth.require_admin()?;
    state.hosts.get(&host).ok_or(ApiError::new(StatusCode::NOT_FOUND, "no such host"))?;
    Ok(Json(state.users.access_list(&host)?))
}

/// Sets one user's rights on one host; `null` removes the entry (back to the role's defaults).
pub async fn set_access(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((host, id)): Path<(String, i64)>,
    ApiJson(rights): ApiJson<Option<HostRights>>,
) -> Result<StatusCode, ApiError> {
    auth.require_admin()?;
    state.hosts.get(&host).ok_or(ApiError::new(StatusCode::NOT_FOUND, "no such host"))?;
    let user = state.users.by_id(id)?.ok_or(NOT_FOUND)?;
    // Recorded before it takes effect; refused if the trail cannot take it.
    let detail = json!({ "user": user.username, "rights": rights });
    state.audit_first(&auth.session.user.username, "host.access", &host, detail).await?;
    let store = state.users.clone();
    crate::store::off_runtime(move || store.set_rights(id, &host, rights)).await?;
    Ok(StatusCode::NO_CONTENT)
}
