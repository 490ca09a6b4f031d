//! Log services: each host's event log as its system's `EventLog` (what the console's event
//! panel shows), and the controller's audit trail as the manager's `AuditLog`. Both newest
//! first, paged with `$top` and `$skip`.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::RedfishError;
use super::managers::MANAGER_URI;
use super::systems::{system_uri, visible_host};
use super::{collection_body, link, resource, status, timestamp};
use crate::app::AppState;
use crate::store::events::KEEP_PER_HOST;
use crate::store::{AuditRecord, HostEvent};

/// Entries per page when the client does not say (`$top`), and the most it may ask for.
const PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;

/// Which log a request is about.
#[derive(Clone)]
enum Log {
    /// A host's event log.
    Host(String),
    /// The controller's audit trail.
    Audit,
}

/// One entry, whichever log it comes from.
struct Entry {
    id: i64,
    at: i64,
    severity: &'static str,
    message: String,
    attachment: Option<String>,
}

impl From<HostEvent> for Entry {
    fn from(e: HostEvent) -> Self {
        let severity = match e.severity.as_str() {
            "critical" => "Critical",
            "warning" => "Warning",
            _ => "OK",
        };
        Self { id: e.id, at: e.at, severity, message: e.message, attachment: e.attachment }
    }
}

impl From<AuditRecord> for Entry {
    fn from(r: AuditRecord) -> Self {
        let severity = match r.action.as_str() {
            "login.failed" | "login.locked" | "login.refused-locked" | "console.input-refused" => "Warning",
            "host.recovery" => "Critical",
            _ => "OK",
        };
        let target = if r.target.is_empty() { String::new() } else { format!(" {}", r.target) };
        let message = format!("{} {}{target} {}", r.actor, r.action, r.detail);
        Self { id: r.id, at: r.at, severity, message, attachment: None }
    }
}

impl Log {
    fn service_uri(&self) -> String {
        match self {
            Log::Host(host) => format!("{}/LogServices/EventLog", system_uri(host)),
            Log::Audit => format!("{MANAGER_URI}/LogServices/AuditLog"),
        }
    }

    /// How many entries the log holds, and the page of them from `skip`.
    async fn window(&self, state: &AppState, skip: u64, top: u32) -> Result<(u64, Vec<Entry>), RedfishError> {
        let log = self.clone();
        let read = state.read_journal(move |audit, events| {
            Ok(match log {
                Log::Host(host) => {
                    (events.count(&host)?, events.window(&host, skip, top)?.into_iter().map(Entry::from).collect())
                }
                Log::Audit => (audit.count()?, audit.window(skip, top)?.into_iter().map(Entry::from).collect()),
            })
        });
        Ok(read.await?)
    }

    /// The entry named `entry`, or the standard "not found".
    async fn find(&self, state: &AppState, entry: &str) -> Result<Entry, RedfishError> {
        let not_found = || RedfishError::not_found("LogEntry", entry);
        let id = entry.parse::<i64>().map_err(|_| not_found())?;
        let log = self.clone();
        let found = state.read_journal(move |audit, events| {
            Ok(match log {
                Log::Host(host) => events.get(&host, id)?.map(Entry::from),
                Log::Audit => audit.get(id)?.map(Entry::from),
            })
        });
        found.await?.ok_or_else(not_found)
    }

    fn service(&self) -> Value {
        let uri = self.service_uri();
        let (id, name, description, max) = match self {
            Log::Host(_) => (
                "EventLog",
                "Event Log",
                "What happened to this host: power, recovery, signal and health events",
                KEEP_PER_HOST,
            ),
            // The audit trail is never trimmed: its hash chain would break.
            Log::Audit => ("AuditLog", "Audit Log", "Who did what on this controller (hash-chained)", i64::MAX),
        };
        let mut body = json!({
            "@odata.id": uri,
            "@odata.type": "#LogService.v1_4_0.LogService",
            "Id": id,
            "Name": name,
            "Description": description,
            "ServiceEnabled": true,
            "OverWritePolicy": if matches!(self, Log::Host(_)) { "WrapsWhenFull" } else { "NeverOverWrites" },
            "LogEntryType": "OEM",
            "DateTime": timestamp(crate::store::audit::now_ms()),
            "DateTimeLocalOffset": "+00:00",
            "Status": status("Enabled", "OK"),
            "Entries": link(&format!("{uri}/Entries")),
        });
        if max != i64::MAX {
            body["MaxNumberOfRecords"] = json!(max);
        }
        body
    }

    fn entry(&self, entry: &Entry) -> Value {
        let uri = format!("{}/Entries/{}", self.service_uri(), entry.id);
        let mut body = json!({
            "@odata.id": uri,
            "@odata.type": "#LogEntry.v1_15_0.LogEntry",
            "Id": entry.id.to_string(),
            "Name": format!("Log Entry {}", entry.id),
            // Our own record format: a Redfish `Event` entry would need a registry MessageId.
            "EntryType": "Oem",
            "OemRecordFormat": if matches!(self, Log::Host(_)) { "Lantern" } else { "LanternAudit" },
            "Severity": entry.severity,
            "Created": timestamp(entry.at),
            "Message": entry.message,
        });
        if entry.attachment.is_some() {
            body["AdditionalDataURI"] = json!(format!("{uri}/attachment"));
            body["DiagnosticDataType"] = json!("OEM");
            body["OEMDiagnosticDataType"] = json!("ScreenCapture");
        }
        body
    }

    async fn entries(&self, state: &AppState, paging: &Paging) -> Result<Value, RedfishError> {
        let top =
            match paging.top.as_deref() {
                None => PAGE,
                Some(text) => text.parse::<u32>().ok().filter(|n| (1..=MAX_PAGE).contains(n)).ok_or_else(|| {
                    RedfishError::query_parameter_out_of_range(text, "$top", &format!("1-{MAX_PAGE}"))
                })?,
            };
        let skip = match paging.skip.as_deref() {
            None => 0,
            Some(text) => text
                .parse::<u64>()
                .map_err(|_| RedfishError::query_parameter_out_of_range(text, "$skip", "0 or more"))?,
        };
        let uri = format!("{}/Entries", self.service_uri());
        let (total, page) = self.window(state, skip, top).await?;
        let mut body = json!({
            "@odata.id": uri,
            "@odata.type": "#LogEntryCollection.LogEntryCollection",
            "Name": "Log Entries",
            "Members@odata.count": total,
            "Members": page.iter().map(|e| self.entry(e)).collect::<Vec<_>>(),
        });
        let next = skip + page.len() as u64;
        if next < total && !page.is_empty() {
            body["Members@odata.nextLink"] = json!(format!("{uri}?$skip={next}&$top={top}"));
        }
        Ok(body)
    }
}

/// OData paging parameters.
#[derive(serde::Deserialize)]
pub struct Paging {
    #[serde(rename = "$top")]
    top: Option<String>,
    #[serde(rename = "$skip")]
    skip: Option<String>,
}

/// The host's log, if the caller may see the host.
fn host_log(state: &AppState, caller: &Caller, id: &str) -> Result<Log, RedfishError> {
    let (host, _) = visible_host(state, caller, id)?;
    Ok(Log::Host(host.id.clone()))
}

pub async fn services(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, RedfishError> {
    let log = host_log(&state, &caller, &id)?;
    let uri = format!("{}/LogServices", system_uri(&id));
    Ok(resource(collection_body(&uri, "LogServiceCollection", "Log Services", &[log.service_uri()])))
}

pub async fn service(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, RedfishError> {
    Ok(resource(host_log(&state, &caller, &id)?.service()))
}

pub async fn entries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(paging): Query<Paging>,
) -> Result<Response, RedfishError> {
    Ok(resource(host_log(&state, &caller, &id)?.entries(&state, &paging).await?))
}

pub async fn entry(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, entry)): Path<(String, String)>,
) -> Result<Response, RedfishError> {
    let log = host_log(&state, &caller, &id)?;
    Ok(resource(log.entry(&log.find(&state, &entry).await?)))
}

/// The file kept with an entry (the screen at an automatic reset).
pub async fn attachment(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, entry)): Path<(String, String)>,
) -> Result<Response, RedfishError> {
    let log = host_log(&state, &caller, &id)?;
    let not_found = || RedfishError::not_found("LogEntry attachment", &entry);
    let name = log.find(&state, &entry).await?.attachment.ok_or_else(not_found)?;
    let (content_type, bytes) = crate::web::hosts::read_capture(&state, &id, &name).map_err(|_| not_found())?;
    Ok(([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-store")], bytes).into_response())
}

/// The manager's log services: the audit trail (every logged-in user may read it, as on the
/// web console's Audit page).
pub async fn manager_services(caller: Caller) -> Result<Response, RedfishError> {
    caller.ready()?;
    let uri = format!("{MANAGER_URI}/LogServices");
    Ok(resource(collection_body(&uri, "LogServiceCollection", "Log Services", &[Log::Audit.service_uri()])))
}

pub async fn audit_service(caller: Caller) -> Result<Response, RedfishError> {
    // The trail names every user, address and action: for administrators only.
    caller.require_admin()?;
    Ok(resource(Log::Audit.service()))
}

pub async fn audit_entries(
    State(state): State<AppState>,
    caller: Caller,
    Query(paging): Query<Paging>,
) -> Result<Response, RedfishError> {
    // The trail names every user, address and action: for administrators only.
    caller.require_admin()?;
    Ok(resource(Log::Audit.entries(&state, &paging).await?))
}

pub async fn audit_entry(
    State(state): State<AppState>,
    caller: Caller,
    Path(entry): Path<String>,
) -> Result<Response, RedfishError> {
    // The trail names every user, address and action: for administrators only.
    caller.require_admin()?;
    Ok(resource(Log::Audit.entry(&Log::Audit.find(&state, &entry).await?)))
}
