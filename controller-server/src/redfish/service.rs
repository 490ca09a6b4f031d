//! The service root, the OData service document and `$metadata`.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{link, resource};
use crate::app::AppState;

/// The schema versions this service implements: each resource's `@odata.type` names one, and
/// `$metadata` points clients at DMTF's published CSDL for them.
pub const SCHEMAS: &[(&str, &[&str])] = &[
    ("ServiceRoot", &["ServiceRoot", "ServiceRoot.v1_15_0"]),
    ("ComputerSystemCollection", &["ComputerSystemCollection"]),
    ("ComputerSystem", &["ComputerSystem", "ComputerSystem.v1_20_0"]),
    ("ActionInfo", &["ActionInfo", "ActionInfo.v1_3_0"]),
    ("ChassisCollection", &["ChassisCollection"]),
    ("Chassis", &["Chassis", "Chassis.v1_23_0"]),
    ("SensorCollection", &["SensorCollection"]),
    ("Sensor", &["Sensor", "Sensor.v1_7_0"]),
    ("ManagerCollection", &["ManagerCollection"]),
    ("Manager", &["Manager", "Manager.v1_17_0"]),
    ("LogServiceCollection", &["LogServiceCollection"]),
    ("LogService", &["LogService", "LogService.v1_4_0"]),
    ("LogEntryCollection", &["LogEntryCollection"]),
    ("LogEntry", &["LogEntry", "LogEntry.v1_15_0"]),
    ("SessionService", &["SessionService", "SessionService.v1_1_8"]),
    ("SessionCollection", &["SessionCollection"]),
    ("Session", &["Session", "Session.v1_6_0"]),
    ("AccountService", &["AccountService", "AccountService.v1_12_0"]),
    ("ManagerAccountCollection", &["ManagerAccountCollection"]),
    ("ManagerAccount", &["ManagerAccount", "ManagerAccount.v1_11_0"]),
    ("RoleCollection", &["RoleCollection"]),
    ("Role", &["Role", "Role.v1_3_1"]),
    ("EventService", &["EventService", "EventService.v1_10_0"]),
    ("EventDestinationCollection", &["EventDestinationCollection"]),
    ("EventDestination", &["EventDestination", "EventDestination.v1_13_0"]),
    ("Event", &["Event", "Event.v1_7_0"]),
    ("MessageRegistryFileCollection", &["MessageRegistryFileCollection"]),
    ("MessageRegistryFile", &["MessageRegistryFile", "MessageRegistryFile.v1_1_3"]),
    ("MessageRegistry", &["MessageRegistry", "MessageRegistry.v1_6_0"]),
    ("Resource", &["Resource", "Resource.v1_0_0"]),
    ("Message", &["Message", "Message.v1_1_1"]),
    ("RedfishExtensions", &["RedfishExtensions.v1_0_0"]),
];

/// The Redfish protocol version this service follows (DSP0266).
pub const REDFISH_VERSION: &str = "1.20.0";

/// `GET /redfish`: the protocol versions offered.
pub async fn versions() -> Response {
    resource(json!({ "v1": "/redfish/v1/" }))
}

/// `GET /redfish/v1/`: open to anyone, as DSP0266 requires, so it names nothing secret.
pub async fn root(State(state): State<AppState>) -> Response {
    resource(json!({
        "@odata.id": "/redfish/v1",
        "@odata.type": "#ServiceRoot.v1_15_0.ServiceRoot",
        "Id": "RootService",
        "Name": "Lantern Redfish Service",
        "RedfishVersion": REDFISH_VERSION,
        "UUID": service_uuid(&state),
        "Product": "Lantern",
        "Vendor": "Lantern",
        "Systems": link("/redfish/v1/Systems"),
        "Chassis": link("/redfish/v1/Chassis"),
        "Managers": link("/redfish/v1/Managers"),
        "SessionService": link("/redfish/v1/SessionService"),
        "AccountService": link("/redfish/v1/AccountService"),
        "EventService": link("/redfish/v1/EventService"),
        "Registries": link("/redfish/v1/Registries"),
        "Links": { "Sessions": link("/redfish/v1/SessionService/Sessions") },
        "ProtocolFeaturesSupported": {
            "ExpandQuery": { "ExpandAll": false, "Levels": false, "Links": false, "NoLinks": false },
            "FilterQuery": false,
            "SelectQuery": false,
            "OnlyMemberQuery": false,
            "ExcerptQuery": false,
        },
    }))
}

/// A stable UUID for this controller, from its node identity (never from a secret: the node
/// id and public key are published to peers anyway).
pub fn service_uuid(state: &AppState) -> String {
    let digest = crate::secret::sha256(&format!("{}/{}", state.node.id, state.node.public_key()));
    let hex = crate::secret::hex(&digest[..16]);
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// `GET /redfish/v1/$metadata`: which CSDL schemas describe our resources.
pub async fn metadata() -> Response {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <edmx:Edmx xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\" Version=\"4.0\">\n",
    );
    for (file, namespaces) in SCHEMAS {
        xml.push_str(&format!("  <edmx:Reference Uri=\"http://redfish.dmtf.org/schemas/v1/{file}_v1.xml\">\n"));
        for namespace in *namespaces {
            let alias = if *namespace == "RedfishExtensions.v1_0_0" { " Alias=\"Redfish\"" } else { "" };
            xml.push_str(&format!("    <edmx:Include Namespace=\"{namespace}\"{alias}/>\n"));
        }
        xml.push_str("  </edmx:Reference>\n");
    }
    xml.push_str(
        "  <edmx:DataServices>\n\
         \x20   <Schema xmlns=\"http://docs.oasis-open.org/odata/ns/edm\" Namespace=\"Service\">\n\
         \x20     <EntityContainer Name=\"Service\" Extends=\"ServiceRoot.v1_15_0.ServiceContainer\"/>\n\
         \x20   </Schema>\n\
         \x20 </edmx:DataServices>\n\
         </edmx:Edmx>\n",
    );
    let mut response = xml.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    headers.insert("odata-version", HeaderValue::from_static("4.0"));
    response
}

/// `GET /redfish/v1/odata`: the OData service document.
pub async fn odata() -> Response {
    let singletons = [
        ("Service", "/redfish/v1/"),
        ("Systems", "/redfish/v1/Systems"),
        ("Chassis", "/redfish/v1/Chassis"),
        ("Managers", "/redfish/v1/Managers"),
        ("SessionService", "/redfish/v1/SessionService"),
        ("AccountService", "/redfish/v1/AccountService"),
        ("EventService", "/redfish/v1/EventService"),
        ("Registries", "/redfish/v1/Registries"),
    ];
    resource(json!({
        "@odata.context": "/redfish/v1/$metadata",
        "value": singletons
            .iter()
            .map(|(name, url)| json!({ "name": name, "kind": "Singleton", "url": url }))
            .collect::<Vec<_>>(),
    }))
}
