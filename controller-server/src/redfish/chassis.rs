//! `Chassis`: each host's enclosure, holding its health sensors (an empty collection where the
//! backend has none: "not available").

use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::RedfishError;
use super::systems::{collection_of, power_and_status, system_uri, visible_host};
use super::{collection_body, link, resource, status};
use crate::app::AppState;
use crate::health::{Level, Sensor, SensorKind};

pub fn chassis_uri(id: &str) -> String {
    format!("/redfish/v1/Chassis/{id}")
}

pub async fn collection(State(state): State<AppState>, caller: Caller) -> Result<Response, RedfishError> {
    collection_of(&state, &caller, "/redfish/v1/Chassis", "ChassisCollection", "Chassis")
}

pub async fn chassis(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, RedfishError> {
    let (host, _) = visible_host(&state, &caller, &id)?;
    let uri = chassis_uri(&host.id);
    let (power_state, mut status) = power_and_status(&host);
    if let Some(worst) = state.health_of(&host.id).and_then(|h| h.sensors().iter().map(|s| s.level).max()) {
        status["Health"] = json!(health_word(worst));
    }
    Ok(resource(json!({
        "@odata.id": uri,
        "@odata.type": "#Chassis.v1_23_0.Chassis",
        "Id": host.id,
        "Name": host.name,
        // A VM or a program has no enclosure of a standard kind.
        "ChassisType": if host.kind == "vnc" { "RackMount" } else { "Other" },
        "PowerState": power_state,
        "Status": status,
        "Sensors": link(&format!("{uri}/Sensors")),
        "Links": {
            "ComputerSystems": [link(&system_uri(&host.id))],
            "ManagedBy": [link(super::managers::MANAGER_URI)],
        },
    })))
}

pub async fn sensors(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, RedfishError> {
    let (host, _) = visible_host(&state, &caller, &id)?;
    let uri = format!("{}/Sensors", chassis_uri(&host.id));
    let members: Vec<String> = state
        .health_of(&host.id)
        .map(|h| h.sensors().iter().map(|s| format!("{uri}/{}", s.reading.id)).collect())
        .unwrap_or_default();
    Ok(resource(collection_body(&uri, "SensorCollection", "Sensors", &members)))
}

pub async fn sensor(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, sensor)): Path<(String, String)>,
) -> Result<Response, RedfishError> {
    let (host, _) = visible_host(&state, &caller, &id)?;
    let found = state.health_of(&host.id).and_then(|h| h.sensor(&sensor));
    let found = found.ok_or_else(|| RedfishError::not_found("Sensor", &sensor))?;
    Ok(resource(sensor_body(&format!("{}/Sensors/{sensor}", chassis_uri(&host.id)), &found)))
}

fn health_word(level: Level) -> &'static str {
    match level {
        Level::Ok => "OK",
        Level::Warning => "Warning",
        Level::Critical => "Critical",
    }
}

fn sensor_body(uri: &str, sensor: &Sensor) -> Value {
    let r = &sensor.reading;
    let (reading_type, context) = match r.kind {
        SensorKind::Temperature => ("Temperature", "SystemBoard"),
        SensorKind::Fan => ("Rotational", "Fan"),
        SensorKind::Voltage => ("Voltage", "VoltageRegulator"),
        SensorKind::Power => ("Power", "PowerSupply"),
    };
    let mut thresholds = serde_json::Map::new();
    for (name, value) in [
        ("LowerCritical", r.thresholds.lower_critical),
        ("LowerCaution", r.thresholds.lower_caution),
        ("UpperCaution", r.thresholds.upper_caution),
        ("UpperCritical", r.thresholds.upper_critical),
    ] {
        if let Some(value) = value {
            thresholds.insert(name.into(), json!({ "Reading": value }));
        }
    }
    json!({
        "@odata.id": uri,
        "@odata.type": "#Sensor.v1_7_0.Sensor",
        "Id": r.id,
        "Name": r.name,
        "ReadingType": reading_type,
        "Reading": r.value,
        "ReadingUnits": sensor.unit,
        "PhysicalContext": context,
        "Status": status("Enabled", health_word(sensor.level)),
        "Thresholds": thresholds,
    })
}
