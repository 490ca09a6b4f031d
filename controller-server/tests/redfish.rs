//! The Redfish API as a client sees it, through the real router: sessions and Basic auth, the
//! forced password change, rights, the reset action and its standard errors, the event log
//! export, sensors, accounts, and `$metadata` against DMTF's published schemas.

mod common;

use std::time::Duration;

use axum::http::{header, Method, StatusCode};
use base64::Engine;
use common::{api_with, Api, ORIGIN};
use serde_json::{json, Value};

const NEW_PASSWORD: &str = "correct horse battery";

/// Logs in through SessionService; returns the token and the session's URI.
async fn session(api: &Api, user: &str, password: &str) -> (String, String) {
    let (status, headers, body) = api
        .call(
            Method::POST,
            "/redfish/v1/SessionService/Sessions",
            &[],
            Some(json!({"UserName": user, "Password": password})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["Password"], Value::Null);
    let token = headers["x-auth-token"].to_str().unwrap().to_string();
    let location = headers[header::LOCATION].to_str().unwrap().to_string();
    assert_eq!(location, body["@odata.id"]);
    (token, location)
}

/// The `MessageId` of a Redfish error body.
fn message_id(body: &Value) -> &str {
    assert_eq!(body["error"]["code"], body["error"]["@Message.ExtendedInfo"][0]["MessageId"], "{body}");
    body["error"]["code"].as_str().unwrap_or_default()
}

/// An administrator's token, after replacing the first-run password the Redfish way.
async fn admin(api: &Api) -> String {
    let (token, _) = session(api, "admin", &api.password).await;
    let auth = [("x-auth-token", token.as_str())];
    let (status, _, body) = api.call(Method::GET, "/redfish/v1/Systems", &auth, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(message_id(&body), "Base.1.18.PasswordChangeRequired");
    let (status, _, body) = api
        .call(Method::PATCH, "/redfish/v1/AccountService/Accounts/1", &auth, Some(json!({"Password": "short"})))
        .await;
    assert_eq!((status, message_id(&body)), (StatusCode::BAD_REQUEST, "Base.1.18.PropertyValueFormatError"));
    assert!(!body.to_string().contains("short"), "the password is not echoed: {body}");
    let (status, _, body) = api
        .call(Method::PATCH, "/redfish/v1/AccountService/Accounts/1", &auth, Some(json!({"Password": NEW_PASSWORD})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["PasswordChangeRequired"], false);
    token
}

async fn redfish_api() -> Api {
    api_with(|c| c.health.interval_seconds = 1).await
}

#[tokio::test]
async fn the_service_root_is_open_and_everything_else_needs_a_session_or_basic_credentials() {
    let api = redfish_api().await;
    let (status, headers, root) = api.call(Method::GET, "/redfish/v1/", &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["odata-version"], "4.0");
    assert_eq!(root["Links"]["Sessions"]["@odata.id"], "/redfish/v1/SessionService/Sessions");
    let (_, _, versions) = api.call(Method::GET, "/redfish", &[], None).await;
    assert_eq!(versions["v1"], "/redfish/v1/");

    let (status, headers, body) = api.call(Method::GET, "/redfish/v1/Systems", &[], None).await;
    assert_eq!((status, message_id(&body)), (StatusCode::UNAUTHORIZED, "Base.1.18.NoValidSession"));
    assert!(headers[header::WWW_AUTHENTICATE].to_str().unwrap().starts_with("Basic"));
    let (status, _, _) = api.call(Method::GET, "/redfish/v1/Systems", &[("x-auth-token", "forged")], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, _, body) = api
        .call(
            Method::POST,
            "/redfish/v1/SessionService/Sessions",
            &[],
            Some(json!({"UserName": "admin", "Password": "guess"})),
        )
        .await;
    assert_eq!((status, message_id(&body)), (StatusCode::UNAUTHORIZED, "Base.1.18.ResourceAtUriUnauthorized"));

    admin(&api).await;
    let basic = |password: &str| {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("admin:{password}")))
    };
    let good = basic(NEW_PASSWORD);
    let (status, _, systems) = api.call(Method::GET, "/redfish/v1/Systems", &[("authorization", &good)], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(systems["Members"][0]["@odata.id"], "/redfish/v1/Systems/local");
    let bad = basic("wrong password");
    let (status, _, _) = api.call(Method::GET, "/redfish/v1/Systems", &[("authorization", &bad)], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_uris_and_methods_get_redfish_errors_not_pages() {
    let api = redfish_api().await;
    let token = admin(&api).await;
    let auth = [("x-auth-token", token.as_str())];
    for uri in ["/redfish/v1/Nothing", "/redfish/v1/Systems/nope", "/redfish/v1/Chassis/local/Sensors/nope"] {
        let (status, _, body) = api.call(Method::GET, uri, &auth, None).await;
        assert_eq!((status, message_id(&body)), (StatusCode::NOT_FOUND, "Base.1.18.ResourceNotFound"), "{uri}");
    }
    let (status, _, body) = api.call(Method::DELETE, "/redfish/v1/Systems/local", &auth, None).await;
    assert_eq!((status, message_id(&body)), (StatusCode::METHOD_NOT_ALLOWED, "Base.1.18.OperationNotAllowed"));
}

#[tokio::test]
async fn reset_presses_the_power_button_logs_it_and_refuses_bad_bodies_with_standard_errors() {
    let api = redfish_api().await;
    let token = admin(&api).await;
    let auth = [("x-auth-token", token.as_str())];
    let (_, _, system) = api.call(Method::GET, "/redfish/v1/Systems/local", &auth, None).await;
    let reset = &system["Actions"]["#ComputerSystem.Reset"];
    let target = reset["target"].as_str().unwrap().to_string();
    assert_eq!(
        reset["ResetType@Redfish.AllowableValues"],
        json!(["On", "ForceOff", "GracefulShutdown", "ForceRestart"])
    );
    let (_, _, info) = api.call(Method::GET, reset["@Redfish.ActionInfo"].as_str().unwrap(), &auth, None).await;
    assert_eq!(info["Parameters"][0]["AllowableValues"], reset["ResetType@Redfish.AllowableValues"]);

    let json = "application/json";
    for (content_type, body, expected) in [
        (json, "{\"ResetType\":", "Base.1.18.MalformedJSON"),
        (json, "[\"ForceRestart\"]", "Base.1.18.MalformedJSON"),
        ("text/plain", "{\"ResetType\":\"ForceRestart\"}", "Base.1.18.HeaderInvalid"),
        (json, "{}", "Base.1.18.ActionParameterMissing"),
        (json, "{\"ResetType\":\"Explode\"}", "Base.1.18.ActionParameterValueNotInList"),
        (json, "{\"ResetType\":\"Nmi\"}", "Base.1.18.ActionParameterValueNotInList"),
        (json, "{\"ResetType\":42}", "Base.1.18.ActionParameterValueTypeError"),
        (json, "{\"ResetType\":\"On\",\"Force\":true}", "Base.1.18.ActionParameterUnknown"),
    ] {
        let (status, _, answer) = api.call_raw(Method::POST, &target, &auth, content_type, body).await;
        assert!(status.is_client_error(), "{body}: {status}");
        assert_eq!(message_id(&answer), expected, "{body}");
    }
    let (status, _, _) = api
        .call(
            Method::POST,
            &target,
            &[auth[0], ("origin", "https://evil.example")],
            Some(json!({"ResetType": "ForceRestart"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a foreign page may not press buttons");
    let (status, _, _) = api
        .call(Method::POST, &target, &[auth[0], ("origin", ORIGIN)], Some(json!({"ResetType": "ForceRestart"})))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let entries = "/redfish/v1/Systems/local/LogServices/EventLog/Entries";
    let (_, _, log) = api.call(Method::GET, entries, &auth, None).await;
    // The host's own "restarting" event may come first: the backend logs it as it restarts.
    let members = log["Members"].as_array().unwrap();
    let pressed = members.iter().find(|m| m["Message"] == "Power action 'reset' by admin (redfish)");
    assert_eq!(pressed.map(|m| &m["Severity"]), Some(&json!("OK")), "{log}");
    let ids: Vec<u64> = members.iter().map(|m| m["Id"].as_str().unwrap().parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let total = log["Members@odata.count"].as_u64().unwrap();
    assert!(total >= 2, "the host's start is logged too: {log}");
    let (_, _, first) = api.call(Method::GET, &format!("{entries}?$top=1"), &auth, None).await;
    assert_eq!(first["Members"].as_array().unwrap().len(), 1);
    assert_eq!(first["Members@odata.nextLink"], format!("{entries}?$skip=1&$top=1"));
    let (_, _, one) = api.call(Method::GET, log["Members"][0]["@odata.id"].as_str().unwrap(), &auth, None).await;
    assert_eq!(one, log["Members"][0]);
    let (status, _, body) = api.call(Method::GET, &format!("{entries}?$top=0"), &auth, None).await;
    assert_eq!((status, message_id(&body)), (StatusCode::BAD_REQUEST, "Base.1.18.QueryParameterOutOfRange"));
}

#[tokio::test]
async fn accounts_and_roles_are_the_web_users_and_rights_are_enforced() {
    let api = redfish_api().await;
    let token = admin(&api).await;
    let auth = [("x-auth-token", token.as_str())];
    let new = json!({"UserName": "viewer", "Password": "viewer-password-1", "RoleId": "ReadOnly"});
    let (status, headers, account) =
        api.call(Method::POST, "/redfish/v1/AccountService/Accounts", &auth, Some(new.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    assert_eq!(headers[header::LOCATION], account["@odata.id"].as_str().unwrap());
    assert_eq!(account["Links"]["Role"]["@odata.id"], "/redfish/v1/AccountService/Roles/ReadOnly");
    let (status, _, body) = api.call(Method::POST, "/redfish/v1/AccountService/Accounts", &auth, Some(new)).await;
    assert_eq!((status, message_id(&body)), (StatusCode::CONFLICT, "Base.1.18.ResourceAlreadyExists"));
    let bad_role = json!({"UserName": "x1", "Password": "long-enough-pw", "RoleId": "Root"});
    let (_, _, body) = api.call(Method::POST, "/redfish/v1/AccountService/Accounts", &auth, Some(bad_role)).await;
    assert_eq!(message_id(&body), "Base.1.18.PropertyValueNotInList");
    // The web console sees the same user.
    assert!(api.state.users.list().unwrap().iter().any(|u| u.username == "viewer"));

    let (viewer, viewer_session) = session(&api, "viewer", "viewer-password-1").await;
    let vauth = [("x-auth-token", viewer.as_str())];
    let own = account["@odata.id"].as_str().unwrap();
    let (status, _, _) = api.call(Method::PATCH, own, &vauth, Some(json!({"Password": "viewer-password-2"}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = api
        .call(
            Method::POST,
            "/redfish/v1/Systems/local/Actions/ComputerSystem.Reset",
            &vauth,
            Some(json!({"ResetType": "On"})),
        )
        .await;
    assert_eq!((status, message_id(&body)), (StatusCode::FORBIDDEN, "Base.1.18.InsufficientPrivilege"));
    let (_, _, accounts) = api.call(Method::GET, "/redfish/v1/AccountService/Accounts", &vauth, None).await;
    assert_eq!(accounts["Members"], json!([{"@odata.id": own}]), "a read-only user sees only themselves");
    let (status, _, _) = api.call(Method::GET, "/redfish/v1/AccountService/Accounts/1", &vauth, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, body) = api.call(Method::PATCH, own, &vauth, Some(json!({"RoleId": "Administrator"}))).await;
    assert_eq!((status, message_id(&body)), (StatusCode::FORBIDDEN, "Base.1.18.InsufficientPrivilege"));
    let (_, _, role) = api.call(Method::GET, "/redfish/v1/AccountService/Roles/ReadOnly", &vauth, None).await;
    assert_eq!(role["AssignedPrivileges"], json!(["Login", "ConfigureSelf"]));

    // Administrators see and end others' sessions; the ended token stops working.
    let (_, _, sessions) = api.call(Method::GET, "/redfish/v1/SessionService/Sessions", &auth, None).await;
    assert_eq!(sessions["Members@odata.count"], 2);
    let (status, _, _) = api.call(Method::DELETE, &viewer_session, &auth, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = api.call(Method::GET, "/redfish/v1/Systems", &vauth, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = api.call(Method::DELETE, own, &auth, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!api.state.users.list().unwrap().iter().any(|u| u.username == "viewer"));
}

#[tokio::test]
async fn sensors_come_from_sysfs_with_thresholds_and_crossings_reach_the_event_log() {
    let api = redfish_api().await;
    let chip = api.dir().join("sys/class/hwmon/hwmon0");
    std::fs::create_dir_all(&chip).unwrap();
    for (file, value) in
        [("name", "coretemp"), ("temp1_input", "45000"), ("temp1_label", "Package"), ("temp1_max", "80000")]
    {
        std::fs::write(chip.join(file), value).unwrap();
    }
    let token = admin(&api).await;
    let auth = [("x-auth-token", token.as_str())];
    let sensor = "/redfish/v1/Chassis/local/Sensors/coretemp-hwmon0-temp1";
    let mut body = Value::Null;
    for _ in 0..100 {
        let (status, _, answer) = api.call(Method::GET, sensor, &auth, None).await;
        if status == StatusCode::OK {
            body = answer;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(body["Reading"], 45.0);
    assert_eq!(body["ReadingUnits"], "Cel");
    assert_eq!(body["Thresholds"]["UpperCaution"]["Reading"], 80.0);
    assert_eq!(body["Status"]["Health"], "OK");

    std::fs::write(chip.join("temp1_input"), "85000").unwrap();
    let entries = "/redfish/v1/Systems/local/LogServices/EventLog/Entries";
    for _ in 0..100 {
        let (_, _, log) = api.call(Method::GET, entries, &auth, None).await;
        if log["Members"][0]["Severity"] == "Warning" {
            assert_eq!(log["Members"][0]["Message"], "Sensor coretemp Package above its caution threshold: 85.0 Cel");
            let (_, _, chassis) = api.call(Method::GET, "/redfish/v1/Chassis/local", &auth, None).await;
            assert_eq!(chassis["Status"]["Health"], "Warning");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no warning event for the hot sensor");
}

#[tokio::test]
async fn the_audit_trail_is_the_managers_audit_log() {
    let api = redfish_api().await;
    let token = admin(&api).await;
    let auth = [("x-auth-token", token.as_str())];
    let (_, _, manager) = api.call(Method::GET, "/redfish/v1/Managers/bmc", &auth, None).await;
    let services = manager["LogServices"]["@odata.id"].as_str().unwrap().to_string();
    let (_, _, list) = api.call(Method::GET, &services, &auth, None).await;
    let audit = list["Members"][0]["@odata.id"].as_str().unwrap().to_string();
    assert_eq!(audit, "/redfish/v1/Managers/bmc/LogServices/AuditLog");
    let (_, _, entries) = api.call(Method::GET, &format!("{audit}/Entries?$top=50"), &auth, None).await;
    let messages: Vec<&str> =
        entries["Members"].as_array().unwrap().iter().map(|e| e["Message"].as_str().unwrap()).collect();
    assert!(messages.iter().any(|m| m.starts_with("admin user.password admin")), "{messages:?}");
    assert!(messages.iter().any(|m| m.starts_with("admin login.ok")), "{messages:?}");
    assert_eq!(entries["Members@odata.count"].as_u64(), Some(api.state.audit.count().unwrap()));
    let newest = &entries["Members"][0];
    let (_, _, one) = api.call(Method::GET, newest["@odata.id"].as_str().unwrap(), &auth, None).await;
    assert_eq!(&one, newest);
}

/// Every schema `$metadata` names is one DMTF publishes, holding the namespaces we include (the
/// validator test checks the resources against them).
#[tokio::test]
async fn metadata_names_only_published_schemas_and_namespaces() {
    let api = redfish_api().await;
    let (status, headers, _) = api.call(Method::GET, "/redfish/v1/$metadata", &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/xml");
    let csdl = std::path::Path::new(nv_redfish_schema::REDFISH_CSDL_DIR);
    for (file, namespaces) in controller_server::redfish::service::SCHEMAS {
        let text = std::fs::read_to_string(csdl.join(format!("{file}_v1.xml"))).unwrap();
        for namespace in *namespaces {
            assert!(text.contains(&format!("Namespace=\"{namespace}\"")), "{file} has no {namespace}");
        }
    }
}

#[tokio::test]
async fn an_oversized_body_gets_a_redfish_error() {
    let api = redfish_api().await;
    let huge = format!("{{\"UserName\": \"admin\", \"Password\": \"{}\"}}", "x".repeat(3 << 20));
    let (status, _, body) =
        api.call_raw(Method::POST, "/redfish/v1/SessionService/Sessions", &[], "application/json", &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(message_id(&body), "Base.1.18.GeneralError");
}

#[tokio::test]
async fn accounts_say_when_they_are_locked_and_systems_say_how_their_console_opens() {
    let api = api_with(|c| {
        c.auth.failed_login_delay_ms = 1;
        c.auth.failed_login_max_delay_ms = 1;
        c.auth.lockout_after = 2;
    })
    .await;
    let token = admin(&api).await;
    let auth = [("x-auth-token", token.as_str())];
    let new = json!({"UserName": "victim", "Password": "victim-password-1", "RoleId": "ReadOnly"});
    let (status, headers, _) = api.call(Method::POST, "/redfish/v1/AccountService/Accounts", &auth, Some(new)).await;
    assert_eq!(status, StatusCode::CREATED);
    let account = headers[header::LOCATION].to_str().unwrap().to_string();
    let (_, _, before) = api.call(Method::GET, &account, &auth, None).await;
    assert_eq!(before["Locked"], false);
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("victim:wrong-password"));
    for _ in 0..3 {
        api.call(Method::GET, "/redfish/v1/Systems", &[("authorization", &basic)], None).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (_, _, after) = api.call(Method::GET, &account, &auth, None).await;
    assert_eq!(after["Locked"], true, "{after}");

    let (_, _, system) = api.call(Method::GET, "/redfish/v1/Systems/local", &auth, None).await;
    assert!(system.get("GraphicalConsole").is_none(), "no console is claimed that Redfish cannot open: {system}");
}
