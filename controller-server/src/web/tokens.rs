//! API token management, for administrators.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiJson};
use super::guard::Authenticated;
use crate::app::AppState;
use crate::store::audit::now_ms;
use crate::store::off_runtime;
use crate::store::tokens::TokenInfo;

#[derive(Deserialize)]
pub struct NewToken {
    /// What the token is for ("vendor portal").
    name: String,
    /// The user it acts as; default: the administrator making it.
    user_id: Option<i64>,
}

/// Makes a token. The answer holds it; it is never shown again.
pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(req): ApiJson<NewToken>,
) -> Result<Json<Value>, ApiError> {
    auth.require_admin()?;
    if req.name.trim().is_empty() || req.name.len() > 100 {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "a token needs a name of up to 100 characters"));
    }
    let owner = state
        .users
        .by_id(req.user_id.unwrap_or(auth.session.user.id))?
        .ok_or(ApiError::new(StatusCode::NOT_FOUND, "no such user"))?;
    let (store, owner_id, name) = (state.users.clone(), owner.id, req.name.trim().to_string());
    let (token, id) = off_runtime(move || store.create_token(owner_id, &name, now_ms())).await?;
    let detail = json!({ "id": id, "name": req.name.trim() });
    // A token the trail does not know of must not exist: take it back and refuse.
    if let Err(refused) = state.audit_first(&auth.session.user.username, "token.create", &owner.username, detail).await
    {
        let store = state.users.clone();
        off_runtime(move || store.revoke_token(id)).await?;
        return Err(refused);
    }
    Ok(Json(json!({ "id": id, "token": token, "user": owner.username })))
}

pub async fn list(State(state): State<AppState>, auth: Authenticated) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    auth.require_admin()?;
    Ok(Json(state.users.tokens()?))
}

pub async fn revoke(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    auth.require_admin()?;
    if !state.users.tokens()?.iter().any(|t| t.id == id) {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "no such token"));
    }
    state.audit_first(&auth.session.user.username, "token.revoke", "", json!({ "id": id })).await?;
    let store = state.users.clone();
    off_runtime(move || store.revoke_token(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
