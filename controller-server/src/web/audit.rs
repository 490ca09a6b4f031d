//! The audit trail over the API: a page of records, an export, and the chain check.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::guard::Authenticated;
use crate::app::AppState;
use crate::store::{AuditRecord, Verification};

const MAX_PAGE: u32 = 200;

#[derive(Deserialize)]
pub struct PageQuery {
    /// Records older than this id (for the next page).
    before: Option<i64>,
    limit: Option<u32>,
}

/// Newest records first. The trail names every user, address and action, so only
/// administrators read it.
pub async fn page(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(q): Query<PageQuery>,
) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    auth.require_admin()?;
    Ok(Json(state.audit.page(q.before, q.limit.unwrap_or(50).clamp(1, MAX_PAGE))?))
}

/// The whole trail as JSON lines, oldest first, for safekeeping elsewhere.
pub async fn export(State(state): State<AppState>, auth: Authenticated) -> Result<impl IntoResponse, ApiError> {
    auth.require_admin()?;
    let mut body = String::new();
    for record in state.audit.all()? {
        body.push_str(&serde_json::to_string(&record).map_err(|_| ApiError::INTERNAL)?);
        body.push('\n');
    }
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"lantern-audit.jsonl\""),
        ],
        body,
    ))
}

pub async fn verify(State(state): State<AppState>, auth: Authenticated) -> Result<Json<Value>, ApiError> {
    auth.require_admin()?;
    Ok(Json(verification_json(&state.audit.verify()?)))
}

pub fn verification_json(v: &Verification) -> Value {
    match v {
        Verification::Intact { records, last_hash } => {
            json!({ "intact": true, "records": records, "last_hash": last_hash })
        }
        Verification::Broken { id, reason } => json!({ "intact": false, "record": id, "reason": reason }),
    }
}
