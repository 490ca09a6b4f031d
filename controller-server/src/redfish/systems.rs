//! `Systems`: each host as a `ComputerSystem`, with its power state and the standard
//! `ComputerSystem.Reset` action mapped onto the host's power buttons.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use shared::wire::message::HostState;

use super::auth::{json_object, Caller};
use super::error::RedfishError;
use super::{collection_body, link, resource, status};
use crate::app::AppState;
use crate::hosts::{Host, PowerAction, PowerError};
use crate::store::HostRights;
use crate::web::hosts::{press_power_as, visible_rights, PowerDenied};

const RESET: &str = "ComputerSystem.Reset";

/// Redfish's reset types and the power button each presses. The other standard types
/// (`GracefulRestart`, `PushPowerButton`, `PowerCycle`...) have no button of their own here.
const RESET_TYPES: &[(&str, PowerAction)] = &[
    ("On", PowerAction::On),
    ("ForceOff", PowerAction::Off),
    ("GracefulShutdown", PowerAction::Shutdown),
    ("ForceRestart", PowerAction::Reset),
    ("Nmi", PowerAction::Nmi),
];

pub fn system_uri(id: &str) -> String {
    format!("/redfish/v1/Systems/{id}")
}

/// A host the caller may see, with their rights there; "not found" for one they may not, so
/// that hidden hosts cannot be told from missing ones.
pub fn visible_host(state: &AppState, caller: &Caller, id: &str) -> Result<(Arc<Host>, HostRights), RedfishError> {
    caller.ready()?;
    let not_found = || RedfishError::not_found("ComputerSystem", id);
    // The web console's rule, so both doors hide the same hosts.
    let rights = visible_rights(state, &caller.user, id).map_err(|e| {
        if e.status == StatusCode::NOT_FOUND {
            not_found()
        } else {
            RedfishError::internal()
        }
    })?;
    let host = state.hosts.get(id).ok_or_else(not_found)?;
    Ok((host, rights))
}

/// The ids of the hosts the caller may see.
pub fn visible_ids(state: &AppState, caller: &Caller) -> Result<Vec<String>, RedfishError> {
    caller.ready()?;
    let mut ids = Vec::new();
    for host in state.hosts.all() {
        if state.rights(&caller.user, &host.id)?.view {
            ids.push(host.id.clone());
        }
    }
    Ok(ids)
}

pub fn collection_of(
    state: &AppState,
    caller: &Caller,
    base: &str,
    kind: &str,
    name: &str,
) -> Result<Response, RedfishError> {
    let members: Vec<String> = visible_ids(state, caller)?.iter().map(|id| format!("{base}/{id}")).collect();
    Ok(resource(collection_body(base, kind, name, &members)))
}

pub async fn collection(State(state): State<AppState>, caller: Caller) -> Result<Response, RedfishError> {
    collection_of(&state, &caller, "/redfish/v1/Systems", "ComputerSystemCollection", "Computer Systems")
}

/// `PowerState` and `Status` of a host, from its live status.
pub fn power_and_status(host: &Host) -> (Value, Value) {
    let current = host.status.borrow().clone();
    match current.state {
        HostState::Running => (json!("On"), status("Enabled", "OK")),
        HostState::Stopped => (json!("Off"), status("StandbyOffline", "OK")),
        // The picture is lost; whether the machine is on is not known here.
        HostState::NoSignal => (Value::Null, status("Enabled", "Warning")),
    }
}

pub async fn system(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, RedfishError> {
    let (host, _) = visible_host(&state, &caller, &id)?;
    let uri = system_uri(&host.id);
    let (power_state, status) = power_and_status(&host);
    // `local` is the controller's own machine.
    let system_type = if host.kind == "qemu" { "Virtual" } else { "Physical" };
    let mut body = json!({
        "@odata.id": uri,
        "@odata.type": "#ComputerSystem.v1_20_0.ComputerSystem",
        "Id": host.id,
        "Name": host.name,
        "Description": format!("Host reached through the controller's {} backend", host.kind),
        "SystemType": system_type,
        "PowerState": power_state,
        "Status": status,
        "HostName": host.name,
        // No GraphicalConsole: Redfish has no way to open ours (Lantern's own protocol, opened
        // with a console key or a launch from the web API), and saying `ServiceEnabled` for a
        // service nobody can reach here would not be true.
        "LogServices": link(&format!("{uri}/LogServices")),
        "Links": {
            "Chassis": [link(&super::chassis::chassis_uri(&host.id))],
            "ManagedBy": [link(super::managers::MANAGER_URI)],
        },
    });
    if super::media::has_manager(&host) {
        if let Some(managers) = body["Links"]["ManagedBy"].as_array_mut() {
            managers.push(link(&super::media::manager_uri(&host.id)));
        }
        body["Boot"] = super::boot::boot_body(&host).await;
        body["VirtualMedia"] = link(&super::media::media_uri(super::media::Place::System, &host.id));
    }
    if let Some(recovery) = state.recovery_of(&host.id) {
        // Automatic server recovery is Redfish's host watchdog: reset when the host stops
        // servicing it.
        let enabled = recovery.status().enabled;
        body["HostWatchdogTimer"] = json!({
            "FunctionEnabled": enabled,
            "TimeoutAction": "ResetSystem",
            "WarningAction": "None",
            "Status": { "State": if enabled { "Enabled" } else { "Disabled" } },
        });
    }
    if !host.power_actions.is_empty() {
        body["Actions"] = json!({
            "#ComputerSystem.Reset": {
                "target": format!("{uri}/Actions/{RESET}"),
                "@Redfish.ActionInfo": format!("{uri}/ResetActionInfo"),
                "ResetType@Redfish.AllowableValues": allowed_reset_types(&host),
            }
        });
    }
    Ok(resource(body))
}

fn allowed_reset_types(host: &Host) -> Vec<&'static str> {
    RESET_TYPES.iter().filter(|(_, action)| host.power_actions.contains(action)).map(|(name, _)| *name).collect()
}

/// `PATCH` a system: `HostWatchdogTimer.FunctionEnabled` switches automatic recovery; `Boot`
/// sets a one-time boot override (`BootSourceOverrideTarget`, `BootSourceOverrideEnabled`).
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    source: crate::web::login::Source,
    Path(id): Path<String>,
    headers: HeaderMap,
    super::auth::Body(body): super::auth::Body,
) -> Result<Response, RedfishError> {
    let (host, rights) = visible_host(&state, &caller, &id)?;
    let body = json_object(&headers, &body)?;
    if let Some(other) = body.keys().find(|k| !["HostWatchdogTimer", "Boot"].contains(&k.as_str())) {
        return Err(RedfishError::property_not_writable(other));
    }
    // Everything is checked before anything changes.
    let recovery = body.get("HostWatchdogTimer").map(|t| watchdog_switch(&state, &host, t)).transpose()?;
    let boot = match body.get("Boot") {
        Some(boot) => Some(super::boot::override_asked(&host, boot).await?),
        None => None,
    };
    if !rights.power {
        return Err(RedfishError::insufficient_privilege());
    }
    if let Some(enabled) = recovery {
        crate::web::hosts::set_recovery_as(&state, &caller.user, &host.id, enabled, "redfish")
            .await
            .map_err(|_| RedfishError::internal())?;
    }
    if let Some(target) = boot {
        crate::web::media::set_boot_as(&state, &caller.user, &host.id, target, ("redfish", &source))
            .await
            .map_err(|e| super::media::refused(e, "PATCH"))?;
    }
    system(State(state), caller, Path(id)).await
}

/// The automatic recovery switch a `HostWatchdogTimer` patch asks for.
fn watchdog_switch(state: &AppState, host: &Host, timer: &Value) -> Result<bool, RedfishError> {
    const WRITABLE: &str = "HostWatchdogTimer/FunctionEnabled";
    let timer =
        timer.as_object().ok_or_else(|| RedfishError::property_value_type(&timer.to_string(), "HostWatchdogTimer"))?;
    if let Some(other) = timer.keys().find(|k| k.as_str() != "FunctionEnabled") {
        return Err(RedfishError::property_not_writable(&format!("HostWatchdogTimer/{other}")));
    }
    let enabled = timer.get("FunctionEnabled").ok_or_else(|| RedfishError::property_missing(WRITABLE))?;
    let enabled = enabled.as_bool().ok_or_else(|| RedfishError::property_value_type(&enabled.to_string(), WRITABLE))?;
    if state.recovery_of(&host.id).is_none() {
        return Err(RedfishError::property_not_writable(WRITABLE));
    }
    Ok(enabled)
}

/// The reset action's parameters, for tools that ask before they press.
pub async fn reset_action_info(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, RedfishError> {
    let (host, _) = visible_host(&state, &caller, &id)?;
    if host.power_actions.is_empty() {
        return Err(RedfishError::not_found("ActionInfo", "ResetActionInfo"));
    }
    Ok(resource(json!({
        "@odata.id": format!("{}/ResetActionInfo", system_uri(&host.id)),
        "@odata.type": "#ActionInfo.v1_3_0.ActionInfo",
        "Id": "ResetActionInfo",
        "Name": "Reset Action Info",
        "Parameters": [{
            "Name": "ResetType",
            "Required": true,
            "DataType": "String",
            "AllowableValues": allowed_reset_types(&host),
        }],
    })))
}

/// `POST .../Actions/ComputerSystem.Reset` with `{"ResetType": ...}`.
pub async fn reset(
    State(state): State<AppState>,
    caller: Caller,
    source: crate::web::login::Source,
    Path(id): Path<String>,
    headers: HeaderMap,
    super::auth::Body(body): super::auth::Body,
) -> Result<Response, RedfishError> {
    let (host, rights) = visible_host(&state, &caller, &id)?;
    if !rights.power {
        return Err(RedfishError::insufficient_privilege());
    }
    let action = reset_action(&host, &json_object(&headers, &body)?)?;
    match press_power_as(&state, &caller.user, &host.id, action, ("redfish", &source)).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(PowerDenied::NoSuchHost) => Err(RedfishError::not_found("ComputerSystem", &id)),
        Err(PowerDenied::NotAllowed) => Err(RedfishError::insufficient_privilege()),
        Err(PowerDenied::Store(e)) if e.status == axum::http::StatusCode::SERVICE_UNAVAILABLE => {
            Err(RedfishError::unavailable(5))
        }
        Err(PowerDenied::Store(_)) => Err(RedfishError::internal()),
        Err(PowerDenied::Backend(PowerError::Refused(reason))) => {
            tracing::info!(host = %host.id, %reason, "reset refused");
            Err(RedfishError::in_standby())
        }
        Err(PowerDenied::Backend(PowerError::Unsupported)) => {
            Err(RedfishError::action_parameter_not_in_list(action.name(), "ResetType", RESET))
        }
        Err(PowerDenied::Backend(PowerError::Gone | PowerError::Timeout)) => Err(RedfishError::unavailable(5)),
    }
}

/// The power button a reset body asks for, or the standard error saying what is wrong with it.
fn reset_action(host: &Host, body: &serde_json::Map<String, Value>) -> Result<PowerAction, RedfishError> {
    if let Some(unknown) = body.keys().find(|k| k.as_str() != "ResetType") {
        return Err(RedfishError::action_parameter_unknown(RESET, unknown));
    }
    let value = body.get("ResetType").ok_or_else(|| RedfishError::action_parameter_missing(RESET, "ResetType"))?;
    let name =
        value.as_str().ok_or_else(|| RedfishError::action_parameter_type(&value.to_string(), "ResetType", RESET))?;
    RESET_TYPES
        .iter()
        .find(|(n, action)| *n == name && host.power_actions.contains(action))
        .map(|(_, action)| *action)
        .ok_or_else(|| RedfishError::action_parameter_not_in_list(name, "ResetType", RESET))
}
