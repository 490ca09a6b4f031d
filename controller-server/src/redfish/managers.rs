//! `Managers`: the controller itself, the one BMC behind every host.

use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::json;

use super::auth::Caller;
use super::error::RedfishError;
use super::systems::visible_ids;
use super::{link, resource, status, timestamp};
use crate::app::AppState;

pub const MANAGER_URI: &str = "/redfish/v1/Managers/bmc";

/// The controller's manager, then the managers of the hosts with virtual media the caller may
/// see.
pub async fn collection(State(state): State<AppState>, caller: Caller) -> Result<Response, RedfishError> {
    let mut members = vec![MANAGER_URI.to_string()];
    for id in visible_ids(&state, &caller)? {
        if state.hosts.get(&id).is_some_and(|h| super::media::has_manager(&h)) {
            members.push(super::media::manager_uri(&id));
        }
    }
    Ok(resource(super::collection_body("/redfish/v1/Managers", "ManagerCollection", "Managers", &members)))
}

pub async fn manager(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, RedfishError> {
    if id != "bmc" {
        return super::media::host_manager(&state, &caller, &id);
    }
    let ids = visible_ids(&state, &caller)?;
    let systems: Vec<_> = ids.iter().map(|id| link(&super::systems::system_uri(id))).collect();
    let chassis: Vec<_> = ids.iter().map(|id| link(&super::chassis::chassis_uri(id))).collect();
    Ok(resource(json!({
        "@odata.id": MANAGER_URI,
        "@odata.type": "#Manager.v1_17_0.Manager",
        "Id": "bmc",
        "Name": "Lantern controller",
        "Description": "The lights-out controller serving these hosts' consoles and power",
        "ManagerType": "BMC",
        "Model": "Lantern",
        "FirmwareVersion": env!("CARGO_PKG_VERSION"),
        "UUID": super::service::service_uuid(&state),
        "ServiceEntryPointUUID": super::service::service_uuid(&state),
        "DateTime": timestamp(crate::store::audit::now_ms()),
        "DateTimeLocalOffset": "+00:00",
        "PowerState": "On",
        "Status": status("Enabled", "OK"),
        "GraphicalConsole": {
            "ServiceEnabled": true,
            "ConnectTypesSupported": ["KVMIP"],
        },
        "LogServices": link(&format!("{MANAGER_URI}/LogServices")),
        "Links": {
            "ManagerForServers": systems,
            "ManagerForChassis": chassis,
        },
    })))
}
