//! User and access-list management, for administrators.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, ApiJson};
use super::guard::Authenticated;
use crate::app::AppState;
use crate::store::users::MIN_PASSWORD_LEN;
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

/// Creates a user, who must choose a password of their own at first login.
pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(req): ApiJson<NewUser>,
) -> Result<Json<User>, ApiError> {
    auth.require_admin()?;
    if !valid_username(&req.username) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "user names are 1 to 64 letters, digits, '.', '_', '-' or '@'",
        ));
    }
    check_password(&req.password)?;
    let store = state.users.clone();
    let (name, password, role) = (req.username.clone(), req.password, req.role);
    let created = tokio::task::spawn_blocking(move || store.create(&name, &password, role, true))
        .await
        .map_err(|_| ApiError::INTERNAL)?;
    let id = created.map_err(|_| ApiError::new(StatusCode::CONFLICT, "that user name is taken"))?;
    let user = state.users.by_id(id)?.ok_or(ApiError::INTERNAL)?;
    state.audit(&auth.session.user.username, "user.create", &user.username, json!({ "role": user.role }));
    Ok(Json(user))
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
    let user = state.users.by_id(id)?.ok_or(NOT_FOUND)?;
    let actor = auth.session.user.username.clone();
    if let Some(role) = req.role {
        if user.role == Role::Administrator && role != Role::Administrator && state.users.count_admins()? <= 1 {
            return Err(ApiError::new(StatusCode::CONFLICT, "the last administrator cannot be demoted"));
        }
        state.users.set_role(id, role)?;
        state.audit(&actor, "user.role", &user.username, json!({ "from": user.role, "to": role }));
    }
    if let Some(password) = req.reset_password {
        check_password(&password)?;
        let store = state.users.clone();
        tokio::task::spawn_blocking(move || store.reset_password(id, &password))
            .await
            .map_err(|_| ApiError::INTERNAL)??;
        state.audit(&actor, "user.password-reset", &user.username, json!({}));
    }
    Ok(Json(state.users.by_id(id)?.ok_or(NOT_FOUND)?))
}

pub async fn delete(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    auth.require_admin()?;
    let user = state.users.by_id(id)?.ok_or(NOT_FOUND)?;
    if user.id == auth.session.user.id {
        return Err(ApiError::new(StatusCode::CONFLICT, "you cannot delete yourself"));
    }
    if user.role == Role::Administrator && state.users.count_admins()? <= 1 {
        return Err(ApiError::new(StatusCode::CONFLICT, "the last administrator cannot be deleted"));
    }
    state.users.delete(id)?;
    state.audit(&auth.session.user.username, "user.delete", &user.username, json!({}));
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
    state.users.set_rights(id, &host, rights)?;
    state.audit(&auth.session.user.username, "host.access", &host, json!({ "user": user.username, "rights": rights }));
    Ok(StatusCode::NO_CONTENT)
}

/// The one rule for a password a user or an administrator sets.
/// User names: 1 to 64 letters, digits, '.', '_', '-' or '@' (safe in URLs and logs).
pub fn valid_username(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
}

pub(crate) fn check_password(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "passwords must be at least 10 characters"));
    }
    if password.len() > crate::web::login::MAX_PASSWORD_BYTES {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "passwords must be at most 1024 bytes"));
    }
    Ok(())
}
