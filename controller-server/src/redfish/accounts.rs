//! `SessionService` (`X-Auth-Token` sessions) and `AccountService` (the web console's users and
//! roles, as Redfish accounts and roles).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::auth::{json_object, Caller, AUTH_TOKEN};
use super::error::RedfishError;
use super::{collection_body, created, link, resource, status};
use crate::accounts::{self, AccountError, Actor};
use crate::app::AppState;
use crate::store::users::MIN_PASSWORD_LEN;
use crate::store::{Role, User};
use crate::web::login::{authenticate, Source};
use crate::web::principal::Credential;
use crate::web::sessions::WebSession;

const SESSIONS: &str = "/redfish/v1/SessionService/Sessions";
const ACCOUNTS: &str = "/redfish/v1/AccountService/Accounts";
const ROLES: &str = "/redfish/v1/AccountService/Roles";

pub fn account_uri(user_id: i64) -> String {
    format!("{ACCOUNTS}/{user_id}")
}

pub async fn session_service(State(state): State<AppState>, caller: Caller) -> Result<Response, RedfishError> {
    caller.ready()?;
    // The schema bounds SessionTimeout to 30 s .. 24 h.
    let timeout = state.redfish_sessions.idle().as_secs().clamp(30, 86_400);
    Ok(resource(json!({
        "@odata.id": "/redfish/v1/SessionService",
        "@odata.type": "#SessionService.v1_1_8.SessionService",
        "Id": "SessionService",
        "Name": "Session Service",
        "ServiceEnabled": true,
        "SessionTimeout": timeout,
        "Status": status("Enabled", "OK"),
        "Sessions": link(SESSIONS),
    })))
}

/// Administrators see every session; others their own.
async fn visible_sessions(state: &AppState, caller: &Caller) -> Result<Vec<WebSession>, RedfishError> {
    let all = state.redfish_sessions.list().await.map_err(|_| RedfishError::internal())?;
    Ok(all.into_iter().filter(|s| caller.user.role == Role::Administrator || s.user.id == caller.user.id).collect())
}

pub async fn sessions(State(state): State<AppState>, caller: Caller) -> Result<Response, RedfishError> {
    let members: Vec<String> =
        visible_sessions(&state, &caller).await?.iter().map(|s| format!("{SESSIONS}/{}", s.id)).collect();
    Ok(resource(collection_body(SESSIONS, "SessionCollection", "Sessions", &members)))
}

fn session_body(session: &WebSession) -> Value {
    json!({
        "@odata.id": format!("{SESSIONS}/{}", session.id),
        "@odata.type": "#Session.v1_6_0.Session",
        "Id": session.id,
        "Name": "User Session",
        "UserName": session.user.username,
        "SessionType": "Redfish",
        // DSP0266: the password is never shown.
        "Password": null,
    })
}

pub async fn session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, RedfishError> {
    let found = visible_sessions(&state, &caller).await?.into_iter().find(|s| s.id == id);
    Ok(resource(session_body(&found.ok_or_else(|| RedfishError::not_found("Session", &id))?)))
}

/// `POST .../Sessions` with `{"UserName", "Password"}`: the login. Answers with the token in
/// `X-Auth-Token` and the session's URI in `Location`.
pub async fn create_session(
    State(state): State<AppState>,
    source: Source,
    headers: HeaderMap,
    super::auth::Body(body): super::auth::Body,
) -> Result<Response, RedfishError> {
    crate::web::guard::check_origin(&headers, &state).map_err(|_| RedfishError::insufficient_privilege())?;
    let body = json_object(&headers, &body)?;
    let username =
        string_property(&body, "UserName", false)?.ok_or_else(|| RedfishError::property_missing("UserName"))?;
    let password =
        string_property(&body, "Password", true)?.ok_or_else(|| RedfishError::property_missing("Password"))?;
    if let Some(unknown) = body.keys().find(|k| !["UserName", "Password"].contains(&k.as_str())) {
        return Err(RedfishError::property_unknown(unknown));
    }
    let user = match authenticate(&state, username, password, &source).await.map_err(|_| RedfishError::internal())? {
        Ok(user) => user,
        Err(refused) => return Err(RedfishError::login_refused(refused, SESSIONS)),
    };
    let (token, session) = state
        .redfish_sessions
        .create(user.id, None, source.addr)
        .await
        .map_err(|_| RedfishError::internal())?
        .ok_or_else(|| RedfishError::unauthorized(SESSIONS))?;
    state.audit(&session.user.username, "redfish.session", &session.id, json!({})).await;
    let location = format!("{SESSIONS}/{}", session.id);
    let token = HeaderValue::from_str(&token).map_err(|_| RedfishError::internal())?;
    let mut response = created(session_body(&session), &location)?;
    response.headers_mut().insert(AUTH_TOKEN, token);
    Ok(response)
}

/// Logout (one's own session) or ending someone's (administrators).
pub async fn delete_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, RedfishError> {
    if !visible_sessions(&state, &caller).await?.iter().any(|s| s.id == id) {
        return Err(RedfishError::not_found("Session", &id));
    }
    if let Some(ended) = state.redfish_sessions.end(&id).await.map_err(|_| RedfishError::internal())? {
        state.audit(&caller.user.username, "redfish.logout", &ended.id, json!({ "user": ended.user.username })).await;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn account_service(State(state): State<AppState>, caller: Caller) -> Result<Response, RedfishError> {
    caller.ready()?;
    let policy = state.logins.policy();
    Ok(resource(json!({
        "@odata.id": "/redfish/v1/AccountService",
        "@odata.type": "#AccountService.v1_12_0.AccountService",
        "Id": "AccountService",
        "Name": "Account Service",
        "Description": "The controller's users: the same accounts and roles as the web console",
        "ServiceEnabled": true,
        "Status": status("Enabled", "OK"),
        "MinPasswordLength": MIN_PASSWORD_LEN,
        "AccountLockoutThreshold": policy.lock_after,
        "AccountLockoutDuration": policy.lock_for.as_secs(),
        // Our count resets on a successful login, not after a time; the lock itself expires.
        "AccountLockoutCounterResetAfter": policy.lock_for.as_secs(),
        "AccountLockoutCounterResetEnabled": false,
        "Accounts": link(ACCOUNTS),
        "Roles": link(ROLES),
    })))
}

/// An account as Redfish shows it; `locked` says whether a login lock is in force for it (from
/// at least one address).
fn account_body(user: &User, locked: bool) -> Value {
    json!({
        "@odata.id": account_uri(user.id),
        "@odata.type": "#ManagerAccount.v1_11_0.ManagerAccount",
        "Id": user.id.to_string(),
        "Name": "User Account",
        "UserName": user.username,
        "RoleId": user.role.as_str(),
        "Enabled": true,
        "Locked": locked,
        "PasswordChangeRequired": user.must_change_password,
        "AccountTypes": ["Redfish", "WebUI"],
        "Password": null,
        "Links": { "Role": link(&format!("{ROLES}/{}", user.role.as_str())) },
        "Actions": {
            "#ManagerAccount.ChangePassword": {
                "target": format!("{}/Actions/ManagerAccount.ChangePassword", account_uri(user.id)),
            },
        },
    })
}

fn is_locked(state: &AppState, user: &User) -> Result<bool, RedfishError> {
    Ok(state.users.locked_until(&user.username, crate::store::audit::now_ms())?.is_some())
}

pub async fn accounts(State(state): State<AppState>, caller: Caller) -> Result<Response, RedfishError> {
    // Everyone may see their own account (to change their password); administrators, all.
    let users = if caller.user.role == Role::Administrator && !caller.user.must_change_password {
        state.users.list()?
    } else {
        vec![caller.user.clone()]
    };
    let members: Vec<String> = users.iter().map(|u| account_uri(u.id)).collect();
    Ok(resource(collection_body(ACCOUNTS, "ManagerAccountCollection", "Accounts", &members)))
}

/// The account at `id`, if the caller may see it (their own, or any for administrators).
fn visible_account(state: &AppState, caller: &Caller, id: &str) -> Result<User, RedfishError> {
    let not_found = || RedfishError::not_found("ManagerAccount", id);
    let user_id = id.parse::<i64>().map_err(|_| not_found())?;
    if user_id != caller.user.id {
        caller.require_admin().map_err(|_| not_found())?;
    }
    state.users.by_id(user_id)?.ok_or_else(not_found)
}

pub async fn account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, RedfishError> {
    let user = visible_account(&state, &caller, &id)?;
    Ok(resource(account_body(&user, is_locked(&state, &user)?)))
}

/// A string property of a request body, or the standard error. `secret` keeps the value out of
/// the error message.
pub(super) fn string_property(
    body: &Map<String, Value>,
    name: &str,
    secret: bool,
) -> Result<Option<String>, RedfishError> {
    match body.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => {
            let shown = if secret { "(hidden)".to_string() } else { other.to_string() };
            Err(RedfishError::property_value_type(&shown, name))
        }
    }
}

fn role_property(body: &Map<String, Value>) -> Result<Option<Role>, RedfishError> {
    match string_property(body, "RoleId", false)? {
        None => Ok(None),
        Some(name) => {
            Role::parse(&name).map(Some).ok_or_else(|| RedfishError::property_value_not_in_list(&name, "RoleId"))
        }
    }
}

fn password_property(body: &Map<String, Value>) -> Result<Option<String>, RedfishError> {
    let password = string_property(body, "Password", true)?;
    // The account service's one rule, checked here so a bad password is refused before anything
    // in the same request changes.
    if password.as_deref().is_some_and(|p| accounts::check_password(p).is_err()) {
        return Err(RedfishError::property_value_format("(hidden)", "Password"));
    }
    Ok(password)
}

fn only_properties(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), RedfishError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key)
            if ["Id", "Name", "Locked", "Enabled", "AccountTypes", "PasswordChangeRequired", "Links"]
                .contains(&key.as_str()) =>
        {
            Err(RedfishError::property_not_writable(key))
        }
        Some(key) => Err(RedfishError::property_unknown(key)),
        None => Ok(()),
    }
}

fn actor(caller: &Caller) -> Actor<'_> {
    Actor { user: &caller.user, via: "redfish" }
}

/// How an account service refusal reads in Redfish.
fn refused(err: AccountError, property_value: &str) -> RedfishError {
    match err {
        AccountError::NotFound => RedfishError::not_found("ManagerAccount", property_value),
        AccountError::NameTaken => RedfishError::already_exists("ManagerAccount", "UserName", property_value),
        AccountError::BadName => RedfishError::property_value_format(property_value, "UserName"),
        AccountError::PasswordTooShort | AccountError::PasswordTooLong | AccountError::PasswordUnchanged => {
            RedfishError::property_value_format("(hidden)", "Password")
        }
        AccountError::LastAdministrator => RedfishError::property_value_not_in_list(property_value, "RoleId"),
        AccountError::OwnAccount | AccountError::WrongCurrentPassword | AccountError::DirectoryManaged => {
            RedfishError::insufficient_privilege()
        }
        AccountError::Throttled(seconds) => RedfishError::locked(seconds),
        AccountError::AuditUnavailable => RedfishError::unavailable(5),
        AccountError::Store(err) => err.into(),
    }
}

/// `POST .../Accounts` with `UserName`, `Password` and `RoleId` (administrators). As in the
/// web console, the new user must choose their own password at first login.
pub async fn create_account(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    super::auth::Body(body): super::auth::Body,
) -> Result<Response, RedfishError> {
    caller.require_admin()?;
    let body = json_object(&headers, &body)?;
    only_properties(&body, &["UserName", "Password", "RoleId"])?;
    let name = string_property(&body, "UserName", false)?.ok_or_else(|| RedfishError::property_missing("UserName"))?;
    let password = password_property(&body)?.ok_or_else(|| RedfishError::property_missing("Password"))?;
    let role = role_property(&body)?.ok_or_else(|| RedfishError::property_missing("RoleId"))?;
    let user =
        accounts::create(&state, &actor(&caller), name.clone(), password, role).await.map_err(|e| refused(e, &name))?;
    created(account_body(&user, is_locked(&state, &user)?), &account_uri(user.id))
}

/// `PATCH` an account: administrators anyone's `RoleId`, and anyone else's `Password` (the
/// user must then choose a new one). One's own `Password` needs the current one: a Basic request
/// carries it, and an account that must replace its first-run password may; otherwise use the
/// `ManagerAccount.ChangePassword` action with `SessionAccountPassword`.
pub async fn update_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    super::auth::Body(body): super::auth::Body,
) -> Result<Response, RedfishError> {
    let own = id.parse::<i64>().ok() == Some(caller.user.id);
    let user = if own { caller.user.clone() } else { visible_account(&state, &caller, &id)? };
    let body = json_object(&headers, &body)?;
    only_properties(&body, &["Password", "RoleId"])?;
    let role = role_property(&body)?;
    let password = password_property(&body)?;
    if role.is_some() {
        caller.require_admin()?;
    }
    if let Some(role) = role {
        accounts::set_role(&state, &actor(&caller), user.id, role).await.map_err(|e| refused(e, role.as_str()))?;
    }
    if let Some(password) = password {
        let proven = matches!(caller.credential, Credential::RedfishBasic) || caller.user.must_change_password;
        match (own, proven) {
            (true, true) => {
                accounts::set_own_password(&state, &actor(&caller), password, caller.session_id.clone()).await
            }
            (true, false) => return Err(RedfishError::insufficient_privilege()),
            (false, _) => accounts::reset_password(&state, &actor(&caller), user.id, password).await,
        }
        .map_err(|e| refused(e, &id))?;
    }
    let updated = state.users.by_id(user.id)?.ok_or_else(|| RedfishError::not_found("ManagerAccount", &id))?;
    Ok(resource(account_body(&updated, is_locked(&state, &updated)?)))
}

/// `POST .../Accounts/{id}/Actions/ManagerAccount.ChangePassword` with `NewPassword` and
/// `SessionAccountPassword` (the caller's current password): one's own password, from a session.
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    source: Source,
    Path(id): Path<String>,
    headers: HeaderMap,
    super::auth::Body(body): super::auth::Body,
) -> Result<Response, RedfishError> {
    if id.parse::<i64>().ok() != Some(caller.user.id) {
        // Someone else's: an administrator resets it with PATCH.
        visible_account(&state, &caller, &id)?;
        return Err(RedfishError::insufficient_privilege());
    }
    let body = json_object(&headers, &body)?;
    if let Some(unknown) = body.keys().find(|k| !["NewPassword", "SessionAccountPassword"].contains(&k.as_str())) {
        return Err(RedfishError::property_unknown(unknown));
    }
    let new =
        string_property(&body, "NewPassword", true)?.ok_or_else(|| RedfishError::property_missing("NewPassword"))?;
    let current = string_property(&body, "SessionAccountPassword", true)?
        .ok_or_else(|| RedfishError::property_missing("SessionAccountPassword"))?;
    accounts::change_own_password(&state, &actor(&caller), &source, current, new, caller.session_id.clone())
        .await
        .map_err(|e| refused(e, &id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn delete_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, RedfishError> {
    caller.require_admin()?;
    let user = visible_account(&state, &caller, &id)?;
    accounts::delete(&state, &actor(&caller), user.id).await.map_err(|e| match e {
        // Deleting oneself or the last administrator would lock everyone out.
        AccountError::LastAdministrator | AccountError::OwnAccount => RedfishError::insufficient_privilege(),
        other => refused(other, &id),
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// What each role may do, in Redfish's privilege names.
fn privileges(role: Role) -> &'static [&'static str] {
    match role {
        Role::Administrator => &["Login", "ConfigureManager", "ConfigureUsers", "ConfigureSelf", "ConfigureComponents"],
        Role::Operator => &["Login", "ConfigureSelf", "ConfigureComponents"],
        Role::ReadOnly => &["Login", "ConfigureSelf"],
    }
}

pub async fn roles(caller: Caller) -> Result<Response, RedfishError> {
    caller.ready()?;
    let members: Vec<String> = Role::ALL.iter().map(|r| format!("{ROLES}/{}", r.as_str())).collect();
    Ok(resource(collection_body(ROLES, "RoleCollection", "Roles", &members)))
}

pub async fn role(caller: Caller, Path(id): Path<String>) -> Result<Response, RedfishError> {
    caller.ready()?;
    let role = Role::parse(&id).ok_or_else(|| RedfishError::not_found("Role", &id))?;
    Ok(resource(json!({
        "@odata.id": format!("{ROLES}/{}", role.as_str()),
        "@odata.type": "#Role.v1_3_1.Role",
        "Id": role.as_str(),
        "Name": format!("{} Role", role.as_str()),
        "RoleId": role.as_str(),
        "IsPredefined": true,
        "AssignedPrivileges": privileges(role),
    })))
}
