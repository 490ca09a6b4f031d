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
use crate::store::users::StoreError;
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
    let limit = q.limit.unwrap_or(50).clamp(1, MAX_PAGE);
    Ok(Json(state.read_journal(move |audit, _| audit.page(q.before, limit)).await?))
}

/// The whole trail as JSON lines, oldest first, then its signed checkpoints, for safekeeping
/// elsewhere. Streamed: read from the database a page at a time as the client takes it.
pub async fn export(State(state): State<AppState>, auth: Authenticated) -> Result<impl IntoResponse, ApiError> {
    auth.require_admin()?;
    let (lines, receiver) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(16);
    // Everything recorded before the request is in the export.
    state.journal.flush().await;
    let audit = state.audit.clone();
    tokio::task::spawn_blocking(move || {
        let send = |line: Result<String, std::io::Error>| lines.blocking_send(line).map_err(|_| StoreError::Task);
        let written = audit.for_each(|record| send(Ok(export_line(&record))));
        let written = written.and_then(|()| {
            audit.checkpoints()?.iter().try_for_each(|c| send(Ok(export_line(&serde_json::json!({ "checkpoint": c })))))
        });
        if let Err(err) = written {
            // The client sees a cut-off body rather than a trail that looks whole.
            let _ = lines.blocking_send(Err(std::io::Error::other(err.to_string())));
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut r| async move { r.recv().await.map(|line| (line, r)) });
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"lantern-audit.jsonl\""),
        ],
        axum::body::Body::from_stream(stream),
    ))
}

fn export_line(value: &impl serde::Serialize) -> String {
    let mut line = serde_json::to_string(value).unwrap_or_default();
    line.push('\n');
    line
}

pub async fn verify(State(state): State<AppState>, auth: Authenticated) -> Result<Json<Value>, ApiError> {
    auth.require_admin()?;
    let key = state.node.verifying_key();
    let verdict = state.read_journal(move |audit, _| audit.verify(&key)).await?;
    Ok(Json(verification_json(&verdict)))
}

pub fn verification_json(v: &Verification) -> Value {
    match v {
        Verification::Intact { records, last_hash, checkpoints } => {
            json!({ "intact": true, "records": records, "last_hash": last_hash, "checkpoints": checkpoints })
        }
        Verification::Broken { problems } => {
            let listed: Vec<Value> = problems.iter().map(|p| json!({ "record": p.id, "reason": p.reason })).collect();
            // The first problem also at the top, for the page's one-line verdict.
            json!({ "intact": false, "record": problems.first().map(|p| p.id), "reason": problems.first().map(|p| p.reason.clone()), "problems": listed })
        }
    }
}
