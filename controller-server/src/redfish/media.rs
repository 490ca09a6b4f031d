//! Virtual media through Redfish: each host that takes media has a `VirtualMedia` collection
//! whose `CD1` (the CD drive) and `USB1` (the USB disk drive, writable with `WriteProtected:
//! false`) take the standard `VirtualMedia.InsertMedia` and `EjectMedia` actions, in two
//! places. `Systems/{host}/VirtualMedia` is where DSP2046 (2021.1 on) puts it; tools written
//! for iLO and iDRAC look under the system's manager, so a host also has a manager of its own,
//! `Managers/{host}`, with the same collection (the controller itself stays `Managers/bmc`,
//! the manager of every host). DMTF has deprecated the manager's place, and its validator says
//! so. Inserting and ejecting go through the same code as the web API (the `media` right,
//! audited, event log).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::auth::{json_object, Caller};
use super::error::RedfishError;
use super::systems::{system_uri, visible_host};
use super::{collection_body, link, resource, status};
use crate::app::AppState;
use crate::hosts::media::{drive_name, MediaAction, MediaDevice, MediaStatus};
use crate::hosts::Host;
use crate::web::media::{eject_as, insert_as, MediaSlot, Medium};

const INSERT: &str = "VirtualMedia.InsertMedia";
const EJECT: &str = "VirtualMedia.EjectMedia";
/// The drives every media host has, by their Redfish names.
const SLOTS: [(&str, MediaDevice); 2] = [("CD1", MediaDevice::Cd), ("USB1", MediaDevice::Usb)];

fn slot_device(slot: &str) -> Result<MediaDevice, RedfishError> {
    SLOTS
        .iter()
        .find(|(name, _)| *name == slot)
        .map(|(_, d)| *d)
        .ok_or_else(|| RedfishError::not_found("VirtualMedia", slot))
}

pub fn manager_uri(id: &str) -> String {
    format!("/redfish/v1/Managers/{id}")
}

/// Where a host's virtual media collection is.
#[derive(Clone, Copy)]
pub enum Place {
    System,
    Manager,
}

pub fn media_uri(place: Place, id: &str) -> String {
    match place {
        Place::System => format!("{}/VirtualMedia", system_uri(id)),
        Place::Manager => format!("{}/VirtualMedia", manager_uri(id)),
    }
}

/// Whether host `id` has a manager of its own: it takes media, and its id is not the
/// controller's own manager's.
pub fn has_manager(host: &Host) -> bool {
    host.media.is_some() && host.id != "bmc"
}

/// A host with a manager of its own the caller may see.
fn media_host(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<(Arc<Host>, crate::store::HostRights), RedfishError> {
    let found = visible_host(state, caller, id).map_err(|_| RedfishError::not_found("Manager", id))?;
    if !has_manager(&found.0) {
        return Err(RedfishError::not_found("Manager", id));
    }
    Ok(found)
}

/// `Managers/{host}`: the host's own manager, for its media.
pub fn host_manager(state: &AppState, caller: &Caller, id: &str) -> Result<Response, RedfishError> {
    let (host, _) = media_host(state, caller, id)?;
    let uri = manager_uri(&host.id);
    Ok(resource(json!({
        "@odata.id": uri,
        "@odata.type": "#Manager.v1_17_0.Manager",
        "Id": host.id,
        "Name": format!("{} (through the Lantern controller)", host.name),
        "Description": "The controller's management of this one host: its virtual media",
        "ManagerType": "ManagementController",
        "Model": "Lantern",
        "FirmwareVersion": env!("CARGO_PKG_VERSION"),
        "Status": status("Enabled", "OK"),
        "VirtualMedia": link(&media_uri(Place::Manager, &host.id)),
        "Links": {
            "ManagerForServers": [link(&system_uri(&host.id))],
            "ManagedBy": [link(super::managers::MANAGER_URI)],
        },
    })))
}

pub async fn system_collection(
    state: State<AppState>,
    caller: Caller,
    id: Path<String>,
) -> Result<Response, RedfishError> {
    collection(state, caller, id, Place::System)
}

pub async fn manager_collection(
    state: State<AppState>,
    caller: Caller,
    id: Path<String>,
) -> Result<Response, RedfishError> {
    collection(state, caller, id, Place::Manager)
}

fn collection(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    place: Place,
) -> Result<Response, RedfishError> {
    let (host, _) = media_host(&state, &caller, &id)?;
    let uri = media_uri(place, &host.id);
    let members: Vec<String> = SLOTS.iter().map(|(slot, _)| format!("{uri}/{slot}")).collect();
    Ok(resource(collection_body(&uri, "VirtualMediaCollection", "Virtual Media", &members)))
}

/// How long a resource waits for the host's backend to say what its drive holds (a machine
/// starting answers late); past it, the drive is shown empty.
const STATUS_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// The drive's status and boot override from the host's backend; a stopped machine's drive
/// is empty.
pub async fn drive(host: &Host) -> MediaStatus {
    let asked = tokio::time::timeout(STATUS_WAIT, host.media(MediaAction::Status)).await;
    asked.ok().and_then(Result::ok).unwrap_or_default()
}

pub async fn system_medium(
    state: State<AppState>,
    caller: Caller,
    at: Path<(String, String)>,
) -> Result<Response, RedfishError> {
    medium(state, caller, at, Place::System).await
}

pub async fn manager_medium(
    state: State<AppState>,
    caller: Caller,
    at: Path<(String, String)>,
) -> Result<Response, RedfishError> {
    medium(state, caller, at, Place::Manager).await
}

async fn medium(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, slot)): Path<(String, String)>,
    place: Place,
) -> Result<Response, RedfishError> {
    let (host, _) = media_host(&state, &caller, &id)?;
    let device = slot_device(&slot)?;
    let uri = format!("{}/{slot}", media_uri(place, &host.id));
    let drives = drive(&host).await;
    let now = drives.drive(device);
    let inserted = now.inserted.is_some();
    let is_url = now.inserted.as_deref().is_some_and(|i| i.starts_with("http://") || i.starts_with("https://"));
    let connected_via = match (&now.inserted, now.from_browser) {
        (None, _) => "NotConnected",
        (Some(_), true) => "Applet",
        (Some(_), false) => "URI",
    };
    let mut body = json!({
        "@odata.id": uri,
        "@odata.type": "#VirtualMedia.v1_6_2.VirtualMedia",
        "Id": slot,
        "Name": drive_name(device),
        "MediaTypes": match device { MediaDevice::Cd => json!(["CD", "DVD"]), MediaDevice::Usb => json!(["USBStick"]) },
        "ConnectedVia": connected_via,
        "Inserted": inserted,
        "WriteProtected": !now.writable,
        // A browser's file has a name, not an address; a media folder's image is named by it.
        "Image": if is_url { json!(now.inserted) } else { Value::Null },
        "ImageName": now.inserted.as_deref().map(|i| i.rsplit('/').next().unwrap_or(i)),
        "TransferMethod": "Stream",
        "Status": status(if inserted { "Enabled" } else { "Disabled" }, "OK"),
        "Actions": {
            format!("#{INSERT}"): { "target": format!("{uri}/Actions/{INSERT}") },
            format!("#{EJECT}"): { "target": format!("{uri}/Actions/{EJECT}") },
        },
    });
    if is_url {
        let scheme = if now.inserted.as_deref().is_some_and(|i| i.starts_with("https://")) { "HTTPS" } else { "HTTP" };
        body["TransferProtocolType"] = scheme.into();
    }
    Ok(resource(body))
}

/// The host and drive `slot` the caller may put media in and take them out of.
fn usable_drive(
    state: &AppState,
    caller: &Caller,
    id: &str,
    slot: &str,
) -> Result<(Arc<Host>, MediaDevice), RedfishError> {
    let (host, rights) = media_host(state, caller, id)?;
    let device = slot_device(slot)?;
    if !rights.media {
        return Err(RedfishError::insufficient_privilege());
    }
    Ok((host, device))
}

/// `POST .../{CD1,USB1}/Actions/VirtualMedia.InsertMedia` with `{"Image": URL}` (or the name
/// of an image in the controller's media folder), and optionally `Inserted: true`,
/// `WriteProtected` (`false` for a writable USB disk), `TransferProtocolType` matching the URL,
/// `TransferMethod: Stream`.
pub async fn insert(
    State(state): State<AppState>,
    caller: Caller,
    source: crate::web::login::Source,
    Path((id, slot)): Path<(String, String)>,
    headers: HeaderMap,
    super::auth::Body(body): super::auth::Body,
) -> Result<Response, RedfishError> {
    let (host, device) = usable_drive(&state, &caller, &id, &slot)?;
    let (medium, writable) = insert_parameters(&json_object(&headers, &body)?, device)?;
    let into = MediaSlot { host_id: &host.id, device, writable };
    match insert_as(&state, &caller.user, into, medium, ("redfish", &source)).await {
        Ok(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(e) => Err(refused(e, INSERT)),
    }
}

/// The medium an insert into `device` names and whether it goes in writable, or the standard
/// error for what is wrong with its parameters.
fn insert_parameters(
    body: &serde_json::Map<String, Value>,
    device: MediaDevice,
) -> Result<(Medium, bool), RedfishError> {
    const KNOWN: &[&str] = &["Image", "Inserted", "WriteProtected", "TransferProtocolType", "TransferMethod"];
    if let Some(unknown) = body.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        // Credentials for the image server included: no image server here needs them, and
        // none go in a URL.
        return Err(RedfishError::action_parameter_unknown(INSERT, unknown));
    }
    let image = body.get("Image").ok_or_else(|| RedfishError::action_parameter_missing(INSERT, "Image"))?;
    let image =
        image.as_str().ok_or_else(|| RedfishError::action_parameter_type(&image.to_string(), "Image", INSERT))?;
    // A CD is always write-protected; a USB disk may be written.
    let write_protected_only = (device == MediaDevice::Cd).then_some(true);
    for (parameter, only) in [("Inserted", Some(true)), ("WriteProtected", write_protected_only)] {
        match body.get(parameter) {
            None => {}
            Some(Value::Bool(b)) if only.is_none_or(|only| *b == only) => {}
            Some(Value::Bool(b)) => {
                return Err(RedfishError::action_parameter_not_in_list(&b.to_string(), parameter, INSERT))
            }
            Some(other) => return Err(RedfishError::action_parameter_type(&other.to_string(), parameter, INSERT)),
        }
    }
    let is_url = image.starts_with("http://") || image.starts_with("https://");
    if let Some(protocol) = body.get("TransferProtocolType") {
        let wanted = if image.starts_with("https://") { "HTTPS" } else { "HTTP" };
        if protocol.as_str() != Some(wanted) || !is_url {
            return Err(RedfishError::action_parameter_not_in_list(
                &protocol.to_string(),
                "TransferProtocolType",
                INSERT,
            ));
        }
    }
    if let Some(method) = body.get("TransferMethod").filter(|m| m.as_str() != Some("Stream")) {
        return Err(RedfishError::action_parameter_not_in_list(&method.to_string(), "TransferMethod", INSERT));
    }
    let medium = if is_url { Medium::Url(image.to_string()) } else { Medium::Folder(image.to_string()) };
    Ok((medium, body.get("WriteProtected") == Some(&Value::Bool(false))))
}

/// `POST .../{CD1,USB1}/Actions/VirtualMedia.EjectMedia` with `{}`.
pub async fn eject(
    State(state): State<AppState>,
    caller: Caller,
    source: crate::web::login::Source,
    Path((id, slot)): Path<(String, String)>,
    headers: HeaderMap,
    super::auth::Body(body): super::auth::Body,
) -> Result<Response, RedfishError> {
    let (host, device) = usable_drive(&state, &caller, &id, &slot)?;
    if let Some(unknown) = json_object(&headers, &body)?.keys().next() {
        return Err(RedfishError::action_parameter_unknown(EJECT, unknown));
    }
    match eject_as(&state, &caller.user, (&host.id, device), ("redfish", &source)).await {
        Ok(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(e) => Err(refused(e, EJECT)),
    }
}

/// The web API's refusal as the Redfish error a tool understands.
pub fn refused(e: crate::web::error::ApiError, action: &str) -> RedfishError {
    match e.status {
        StatusCode::FORBIDDEN => RedfishError::insufficient_privilege(),
        StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY => {
            RedfishError::action_parameter_value("Image", action, &e.message)
        }
        StatusCode::SERVICE_UNAVAILABLE => RedfishError::unavailable(5),
        StatusCode::CONFLICT => RedfishError::in_standby(),
        _ => RedfishError::internal(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parameters(body: Value) -> Result<Medium, String> {
        insert_parameters(body.as_object().unwrap(), MediaDevice::Cd).map(|(m, _)| m).map_err(|e| e.key.to_string())
    }

    #[test]
    fn a_usb_disk_goes_in_writable_when_it_is_not_write_protected() {
        let usb = |body: Value| insert_parameters(body.as_object().unwrap(), MediaDevice::Usb).map(|(_, w)| w);
        assert!(usb(json!({ "Image": "disk.img", "WriteProtected": false })).unwrap());
        assert!(!usb(json!({ "Image": "disk.img", "WriteProtected": true })).unwrap());
        assert!(!usb(json!({ "Image": "disk.img" })).unwrap(), "write-protected unless asked");
        assert!(usb(json!({ "Image": "disk.img", "WriteProtected": "no" })).is_err());
    }

    #[test]
    fn insert_parameters_name_a_url_or_a_folder_image_and_refuse_what_cannot_be() {
        let url = json!({ "Image": "https://images.example/rescue.iso", "Inserted": true, "WriteProtected": true,
            "TransferProtocolType": "HTTPS", "TransferMethod": "Stream" });
        assert!(matches!(parameters(url), Ok(Medium::Url(u)) if u == "https://images.example/rescue.iso"));
        assert!(matches!(parameters(json!({ "Image": "rescue.iso" })), Ok(Medium::Folder(n)) if n == "rescue.iso"));
        for (body, key) in [
            (json!({}), "ActionParameterMissing"),
            (json!({ "Image": 7 }), "ActionParameterValueTypeError"),
            (json!({ "Image": "http://a/b.iso", "UserName": "u", "Password": "p" }), "ActionParameterUnknown"),
            (json!({ "Image": "http://a/b.iso", "WriteProtected": false }), "ActionParameterValueNotInList"),
            (json!({ "Image": "http://a/b.iso", "Inserted": false }), "ActionParameterValueNotInList"),
            (json!({ "Image": "http://a/b.iso", "TransferProtocolType": "NFS" }), "ActionParameterValueNotInList"),
            (json!({ "Image": "rescue.iso", "TransferProtocolType": "HTTP" }), "ActionParameterValueNotInList"),
            (json!({ "Image": "http://a/b.iso", "TransferMethod": "Upload" }), "ActionParameterValueNotInList"),
        ] {
            assert_eq!(parameters(body.clone()).err().as_deref(), Some(key), "{body}");
        }
    }
}
