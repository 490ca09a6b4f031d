//! The logged-in user's page preferences (see `crate::store::preferences`). Not audited: they
//! change how the pages look to their owner, nothing on a host or in anyone's rights.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::error::{ApiError, ApiJson};
use super::guard::Authenticated;
use crate::app::AppState;
use crate::store::off_runtime;

pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<BTreeMap<String, String>>, ApiError> {
    let (store, id) = (state.users.clone(), auth.session.user.id);
    Ok(Json(off_runtime(move || store.preferences(id)).await?))
}

#[derive(Deserialize)]
pub struct Preference {
    /// The new value; `null` forgets the preference.
    value: Option<String>,
}

pub async fn set(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<Preference>,
) -> Result<StatusCode, ApiError> {
    auth.require_password_changed()?;
    let (store, id) = (state.users.clone(), auth.session.user.id);
    let kept = off_runtime(move || store.set_preference(id, &name, req.value.as_deref())).await?;
    kept.map_err(|e| ApiError::with_message(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    Ok(StatusCode::NO_CONTENT)
}
