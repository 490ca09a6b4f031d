//! The DMTF Redfish API (DSP0266) under `/redfish`: the same hosts, users, roles, power
//! buttons and event logs as the web console, in the shape BMC tools already speak.
//!
//! Hosts are `Systems` (power state, `ComputerSystem.Reset`, the event log as a log service)
//! and `Chassis` (health sensors); the controller is the `Manager` of them all, and a host that
//! takes virtual media has a manager of its own for its `VirtualMedia`; users are
//! `AccountService` accounts; `SessionService` issues `X-Auth-Token` sessions. Resources are
//! built from live state on each request; nothing here keeps state of its own.

pub mod accounts;
pub mod auth;
pub mod boot;
pub mod chassis;
pub mod error;
pub mod events;
pub mod logs;
pub mod managers;
pub mod media;
pub mod service;
pub mod systems;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::app::AppState;
use error::RedfishError;

/// Every Redfish route, to be nested at `/redfish`. Unknown paths and methods get Redfish
/// errors, never the web console's pages.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(service::versions))
        .route("/v1", get(service::root))
        .route("/v1/", get(service::root))
        .route("/v1/$metadata", get(service::metadata))
        .route("/v1/odata", get(service::odata))
        .route("/v1/Systems", get(systems::collection))
        .route("/v1/Systems/{id}", get(systems::system).patch(systems::update))
        .route("/v1/Systems/{id}/Actions/ComputerSystem.Reset", post(systems::reset))
        .route("/v1/Systems/{id}/ResetActionInfo", get(systems::reset_action_info))
        .route("/v1/Systems/{id}/VirtualMedia", get(media::system_collection))
        .route("/v1/Systems/{id}/VirtualMedia/{slot}", get(media::system_medium))
        .route("/v1/Systems/{id}/VirtualMedia/{slot}/Actions/VirtualMedia.InsertMedia", post(media::insert))
        .route("/v1/Systems/{id}/VirtualMedia/{slot}/Actions/VirtualMedia.EjectMedia", post(media::eject))
        .route("/v1/Systems/{id}/LogServices", get(logs::services))
        .route("/v1/Systems/{id}/LogServices/EventLog", get(logs::service))
        .route("/v1/Systems/{id}/LogServices/EventLog/Entries", get(logs::entries))
        .route("/v1/Systems/{id}/LogServices/EventLog/Entries/{entry}", get(logs::entry))
        .route("/v1/Systems/{id}/LogServices/EventLog/Entries/{entry}/attachment", get(logs::attachment))
        .route("/v1/Chassis", get(chassis::collection))
        .route("/v1/Chassis/{id}", get(chassis::chassis))
        .route("/v1/Chassis/{id}/Sensors", get(chassis::sensors))
        .route("/v1/Chassis/{id}/Sensors/{sensor}", get(chassis::sensor))
        .route("/v1/Managers", get(managers::collection))
        .route("/v1/Managers/{id}", get(managers::manager))
        .route("/v1/Managers/{id}/VirtualMedia", get(media::manager_collection))
        .route("/v1/Managers/{id}/VirtualMedia/{slot}", get(media::manager_medium))
        .route("/v1/Managers/{id}/VirtualMedia/{slot}/Actions/VirtualMedia.InsertMedia", post(media::insert))
        .route("/v1/Managers/{id}/VirtualMedia/{slot}/Actions/VirtualMedia.EjectMedia", post(media::eject))
        .route("/v1/Managers/bmc/LogServices", get(logs::manager_services))
        .route("/v1/Managers/bmc/LogServices/AuditLog", get(logs::audit_service))
        .route("/v1/Managers/bmc/LogServices/AuditLog/Entries", get(logs::audit_entries))
        .route("/v1/Managers/bmc/LogServices/AuditLog/Entries/{entry}", get(logs::audit_entry))
        .route("/v1/EventService", get(events::service))
        .route("/v1/EventService/Actions/EventService.SubmitTestEvent", post(events::submit_test_event))
        .route("/v1/EventService/SSE", get(events::sse))
        .route("/v1/EventService/Subscriptions", get(events::subscriptions).post(events::create_subscription))
        .route(
            "/v1/EventService/Subscriptions/{id}",
            get(events::subscription).patch(events::update_subscription).delete(events::delete_subscription),
        )
        .route("/v1/Registries", get(events::registries))
        .route("/v1/Registries/Lantern", get(events::registry_file))
        .route("/v1/Registries/Lantern/Lantern", get(events::registry))
        .route("/v1/SessionService", get(accounts::session_service))
        .route("/v1/SessionService/Sessions", get(accounts::sessions).post(accounts::create_session))
        .route("/v1/SessionService/Sessions/{id}", get(accounts::session).delete(accounts::delete_session))
        .route("/v1/AccountService", get(accounts::account_service))
        .route("/v1/AccountService/Accounts", get(accounts::accounts).post(accounts::create_account))
        .route(
            "/v1/AccountService/Accounts/{id}/Actions/ManagerAccount.ChangePassword",
            axum::routing::post(accounts::change_password),
        )
        .route(
            "/v1/AccountService/Accounts/{id}",
            get(accounts::account).patch(accounts::update_account).delete(accounts::delete_account),
        )
        .route("/v1/AccountService/Roles", get(accounts::roles))
        .route("/v1/AccountService/Roles/{id}", get(accounts::role))
        .fallback(|| async { RedfishError::not_found("Resource", "the requested URI") })
        .method_not_allowed_fallback(|| async { RedfishError::method_not_allowed() })
}

/// A resource as a response: JSON with the OData version header Redfish clients look for.
pub fn resource(body: Value) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert("odata-version", HeaderValue::from_static("4.0"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A newly made resource: `201 Created` with the resource and its `Location`.
pub fn created(body: Value, location: &str) -> Result<Response, RedfishError> {
    let location = HeaderValue::from_str(location).map_err(|_| RedfishError::internal())?;
    let mut response = (axum::http::StatusCode::CREATED, resource(body)).into_response();
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

/// A link to a resource.
pub fn link(uri: &str) -> Value {
    json!({ "@odata.id": uri })
}

/// A resource collection holding `members`.
pub fn collection_body(uri: &str, kind: &str, name: &str, members: &[String]) -> Value {
    json!({
        "@odata.id": uri,
        "@odata.type": format!("#{kind}.{kind}"),
        "Name": name,
        "Members@odata.count": members.len(),
        "Members": members.iter().map(|m| link(m)).collect::<Vec<_>>(),
    })
}

/// A Unix time in milliseconds as RFC 3339 (`Edm.DateTimeOffset`).
pub fn timestamp(ms: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .replace_nanosecond(0)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    at.format(&Rfc3339).unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// `Status` of a resource.
pub fn status(state: &str, health: &str) -> Value {
    json!({ "State": state, "Health": health })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_in_utc_seconds() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_700_000_000_123), "2023-11-14T22:13:20Z");
    }
}
