//! The audit trail over the API: a page of records, an export (JSON lines or CSV, of the whole
//! trail or of what a filter keeps), the actions it holds, and the chain check.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::guard::Authenticated;
use crate::app::AppState;
use crate::store::audit_filter::AuditFilter;
use crate::store::users::StoreError;
use crate::store::{AuditRecord, Verification};

const MAX_PAGE: u32 = 200;

#[derive(Deserialize)]
pub struct PageQuery {
    /// Records older than this id (for the next page).
    before: Option<i64>,
    limit: Option<u32>,
}

/// Newest records first, those the filter (`actor`, `action`, `target`, `from`, `to` in the
/// query) keeps. The trail names every user, address and action, so only administrators read
/// it.
pub async fn page(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(q): Query<PageQuery>,
    Query(filter): Query<AuditFilter>,
) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    auth.require_admin()?;
    let limit = q.limit.unwrap_or(50).clamp(1, MAX_PAGE);
    Ok(Json(state.read_journal(move |audit, _| audit.search(&filter, q.before, limit)).await?))
}

/// The actions the trail holds, for choosing one.
pub async fn actions(State(state): State<AppState>, auth: Authenticated) -> Result<Json<Vec<String>>, ApiError> {
    auth.require_admin()?;
    Ok(Json(state.read_journal(|audit, _| audit.actions()).await?))
}

#[derive(Deserialize)]
pub struct ExportQuery {
    /// `jsonl` (the default) or `csv`.
    format: Option<String>,
}

/// Records kept for one export page read from the database.
const EXPORT_PAGE: u32 = 500;

/// The trail, oldest first, streamed: read from the database a page at a time as the client
/// takes it. As JSON lines, the whole trail is followed by its signed checkpoints, for
/// safekeeping elsewhere; a filtered export (the page's view) and CSV hold the records only.
pub async fn export(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(q): Query<ExportQuery>,
    Query(filter): Query<AuditFilter>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require_admin()?;
    let csv = match q.format.as_deref() {
        None | Some("jsonl") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::new(axum::http::StatusCode::BAD_REQUEST, "format is jsonl or csv")),
    };
    let (lines, receiver) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(16);
    // Everything recorded before the request is in the export.
    state.journal.flush().await;
    let audit = state.audit.clone();
    tokio::task::spawn_blocking(move || {
        let send = |line: Result<String, std::io::Error>| lines.blocking_send(line).map_err(|_| StoreError::Task);
        let written = (|| {
            if csv {
                send(Ok(csv_row(&CSV_HEADER)))?;
            }
            let mut after = 0;
            loop {
                let page = audit.search_after(&filter, after, EXPORT_PAGE)?;
                let Some(last) = page.last() else { break };
                after = last.id;
                for record in &page {
                    send(Ok(if csv { csv_record(record) } else { export_line(record) }))?;
                }
            }
            if !csv && filter.is_empty() {
                for c in audit.checkpoints()? {
                    send(Ok(export_line(&serde_json::json!({ "checkpoint": c }))))?;
                }
            }
            Ok::<(), StoreError>(())
        })();
        if let Err(err) = written {
            // The client sees a cut-off body rather than a trail that looks whole.
            let _ = lines.blocking_send(Err(std::io::Error::other(err.to_string())));
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut r| async move { r.recv().await.map(|line| (line, r)) });
    let (kind, name) = if csv {
        ("text/csv; charset=utf-8", "attachment; filename=\"lantern-audit.csv\"")
    } else {
        ("application/x-ndjson", "attachment; filename=\"lantern-audit.jsonl\"")
    };
    Ok(([(header::CONTENT_TYPE, kind), (header::CONTENT_DISPOSITION, name)], axum::body::Body::from_stream(stream)))
}

const CSV_HEADER: [&str; 8] = ["id", "at", "actor", "action", "target", "source", "detail", "hash"];

fn csv_record(r: &AuditRecord) -> String {
    let source = serde_json::from_str::<Value>(&r.detail)
        .ok()
        .and_then(|d| d["source"].as_str().map(str::to_string))
        .unwrap_or_default();
    let (id, at) = (r.id.to_string(), crate::store::audit::rfc3339_ms(r.at).unwrap_or_default());
    csv_row(&[&id, &at, &r.actor, &r.action, &r.target, &source, &r.detail, &r.hash])
}

/// One CSV line (RFC 4180 quoting by the `csv` crate). A cell a spreadsheet would take for a
/// formula (`=`, `+`, `-`, `@` first: a user name or user agent is anyone's to choose) is
/// written with a leading `'`, as OWASP advises.
fn csv_row(cells: &[&str]) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let safe: Vec<String> = cells
        .iter()
        .map(|c| if c.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{c}") } else { c.to_string() })
        .collect();
    if writer.write_record(&safe).is_err() {
        return String::new();
    }
    writer.into_inner().map(|bytes| String::from_utf8_lossy(&bytes).into_owned()).unwrap_or_default()
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

#[cfg(test)]
mod tests {
    use super::csv_row;

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(csv_row(&["1", "a,b", "say \"hi\""]), "1,\"a,b\",\"say \"\"hi\"\"\"\n");
        assert_eq!(csv_row(&["=HYPERLINK(1)", "+1", "-2", "@x", "ok"]), "'=HYPERLINK(1),'+1,'-2,'@x,ok\n");
    }
}
