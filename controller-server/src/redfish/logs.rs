//! Each host's event log as the system's `EventLog` log service: what the web console's event
//! page shows, exported the Redfish way (newest first, paged with `$top` and `$skip`).

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::RedfishError;
use super::systems::{system_uri, visible_host};
use super::{collection_body, link, resource, status, timestamp};
use crate::app::AppState;
use crate::store::events::KEEP_PER_HOST;
use crate::store::HostEvent;

/// Entries per page when the client does not say (`$top`), and the most it may ask for.
const PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;

fn service_uri(host: &str) -> String {
    format!("{}/LogServices/EventLog", system_uri(host))
}

pub async fn services(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, RedfishError> {
    let (host, _) = visible_host(&state, &caller, &id)?;
    let uri = format!("{}/LogServices", system_uri(&host.id));
    Ok(resource(collection_body(&uri, "LogServiceCollection", "Log Services", &[service_uri(&host.id)])))
}

pub async fn service(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, RedfishError> {
    let (host, _) = visible_host(&state, &caller, &id)?;
    let uri = service_uri(&host.id);
    Ok(resource(json!({
        "@odata.id": uri,
        "@odata.type": "#LogService.v1_4_0.LogService",
        "Id": "EventLog",
        "Name": "Event Log",
        "Description": "What happened to this host: power, recovery, signal and health events",
        "ServiceEnabled": true,
        "MaxNumberOfRecords": KEEP_PER_HOST,
        "OverWritePolicy": "WrapsWhenFull",
        "LogEntryType": "OEM",
        "DateTime": timestamp(crate::store::audit::now_ms()),
        "DateTimeLocalOffset": "+00:00",
        "Status": status("Enabled", "OK"),
        "Entries": link(&format!("{uri}/Entries")),
    })))
}

/// OData paging parameters.
#[derive(serde::Deserialize)]
pub struct Paging {
    #[serde(rename = "$top")]
    top: Option<String>,
    #[serde(rename = "$skip")]
    skip: Option<String>,
}

pub async fn entries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(paging): Query<Paging>,
) -> Result<Response, RedfishError> {
    let (host, _) = visible_host(&state, &caller, &id)?;
    let top = match paging.top.as_deref() {
        None => PAGE,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| RedfishError::query_parameter_out_of_range(text, "$top", &format!("1-{MAX_PAGE}")))?,
    };
    let skip = match paging.skip.as_deref() {
        None => 0,
        Some(text) => {
            text.parse::<u64>().map_err(|_| RedfishError::query_parameter_out_of_range(text, "$skip", "0 or more"))?
        }
    };
    let uri = format!("{}/Entries", service_uri(&host.id));
    let total = state.events.count(&host.id)?;
    let page = state.events.window(&host.id, skip, top)?;
    let mut body = json!({
        "@odata.id": uri,
        "@odata.type": "#LogEntryCollection.LogEntryCollection",
        "Name": "Event Log Entries",
        "Members@odata.count": total,
        "Members": page.iter().map(|e| entry_body(&host.id, e)).collect::<Vec<_>>(),
    });
    let next = skip + page.len() as u64;
    if next < total && !page.is_empty() {
        body["Members@odata.nextLink"] = json!(format!("{uri}?$skip={next}&$top={top}"));
    }
    Ok(resource(body))
}

pub async fn entry(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, entry)): Path<(String, String)>,
) -> Result<Response, RedfishError> {
    let (host, _) = visible_host(&state, &caller, &id)?;
    Ok(resource(entry_body(&host.id, &find_entry(&state, &host.id, &entry)?)))
}

/// The file kept with an entry (the screen at an automatic reset).
pub async fn attachment(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, entry)): Path<(String, String)>,
) -> Result<Response, RedfishError> {
    let (host, _) = visible_host(&state, &caller, &id)?;
    let not_found = || RedfishError::not_found("LogEntry attachment", &entry);
    let name = find_entry(&state, &host.id, &entry)?.attachment.ok_or_else(not_found)?;
    let (content_type, bytes) = crate::web::hosts::read_capture(&state, &host.id, &name).map_err(|_| not_found())?;
    Ok(([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-store")], bytes).into_response())
}

/// The event behind entry `entry` of a host's log.
fn find_entry(state: &AppState, host: &str, entry: &str) -> Result<HostEvent, RedfishError> {
    let not_found = || RedfishError::not_found("LogEntry", entry);
    let event_id = entry.parse::<i64>().map_err(|_| not_found())?;
    state.events.get(host, event_id)?.ok_or_else(not_found)
}

fn entry_body(host: &str, event: &HostEvent) -> Value {
    let severity = match event.severity.as_str() {
        "critical" => "Critical",
        "warning" => "Warning",
        _ => "OK",
    };
    let uri = format!("{}/Entries/{}", service_uri(host), event.id);
    let mut body = json!({
        "@odata.id": uri,
        "@odata.type": "#LogEntry.v1_15_0.LogEntry",
        "Id": event.id.to_string(),
        "Name": format!("Event {}", event.id),
        // Our own record format: a Redfish `Event` entry would need a registry MessageId.
        "EntryType": "Oem",
        "OemRecordFormat": "Lantern",
        "Severity": severity,
        "Created": timestamp(event.at),
        "Message": event.message,
    });
    if event.attachment.is_some() {
        body["AdditionalDataURI"] = json!(format!("{uri}/attachment"));
        body["DiagnosticDataType"] = json!("OEM");
        body["OEMDiagnosticDataType"] = json!("ScreenCapture");
    }
    body
}
