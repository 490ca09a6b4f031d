//! Login, logout, the current session, and password changes.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiJson};
use super::guard::{check_origin, Authenticated};
use super::login::{log_in, LoggedIn, LoginRefused, Purpose, Source};
use super::sessions::{cookie, WebSession};
use crate::app::AppState;
use crate::directory::seal;
use crate::store::Role;

#[derive(Deserialize)]
pub struct LoginRequest {
    username: String,
    password: String,
}

/// What the page learns about its session.
#[derive(Serialize)]
pub struct SessionInfo {
    username: String,
    role: Role,
    must_change_password: bool,
    /// Send back in the `X-CSRF-Token` header of every state-changing request.
    csrf_token: String,
}

impl From<&WebSession> for SessionInfo {
    fn from(s: &WebSession) -> Self {
        Self {
            username: s.user.username.clone(),
            role: s.user.role,
            must_change_password: s.user.must_change_password,
            csrf_token: s.csrf.clone(),
        }
    }
}

pub async fn login(
    State(state): State<AppState>,
    source: Source,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    // No session yet, so no CSRF token: the Origin check and the JSON body (which a foreign
    // form cannot send without a CORS preflight we never grant) stop login forgery.
    check_origin(&headers, &state)?;
    let logged_in = match log_in(&state, req.username, req.password, &source, Purpose::Login).await? {
        Ok(logged_in) => logged_in,
        Err(LoginRefused::Wrong) => {
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, "wrong user name or password"));
        }
        Err(LoginRefused::Locked { seconds }) => {
            let body = serde_json::json!({ "error": format!("too many failed logins; try again in {seconds} s") });
            return Ok((StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, seconds.to_string())], Json(body))
                .into_response());
        }
        Err(LoginRefused::Busy { seconds }) => {
            let body = serde_json::json!({ "error": format!("too many logins at once; try again in {seconds} s") });
            return Ok((StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, seconds.to_string())], Json(body))
                .into_response());
        }
        Err(LoginRefused::NotPermitted) => {
            return Err(ApiError::new(StatusCode::FORBIDDEN, LoginRefused::NOT_PERMITTED))
        }
        Err(LoginRefused::DirectoryUnavailable) => {
            return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, LoginRefused::DIRECTORY_UNAVAILABLE))
        }
    };
    session_response(&state, logged_in).await
}

/// A new web session for whoever logged in: its cookie and what the page learns, and, for a
/// Kerberos login, their credentials sealed for this session in a cookie of their own (the
/// token is wiped as `logged_in` drops here).
pub async fn session_response(state: &AppState, logged_in: LoggedIn) -> Result<Response, ApiError> {
    Ok(open_session(state, logged_in, None).await?.0)
}

/// [`session_response`] for a session acting with at most `role_cap`, and the session itself.
pub async fn open_session(
    state: &AppState,
    logged_in: LoggedIn,
    role_cap: Option<Role>,
) -> Result<(Response, WebSession), ApiError> {
    let (token, session) =
        state.sessions.create(logged_in.user.id, role_cap, logged_in.source).await?.ok_or(ApiError::UNAUTHORIZED)?;
    let mut response =
        ([(header::SET_COOKIE, cookie(&token, state.session_idle()))], Json(SessionInfo::from(&session)))
            .into_response();
    if let Some(credentials) = logged_in.credentials {
        let sealed = state.sealer.seal(&token, &credentials.token);
        let set = seal::cookie(&sealed, credentials.lifetime.as_secs());
        if let Ok(value) = axum::http::HeaderValue::from_str(&set) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok((response, session))
}

/// The Kerberos credentials the request's sealed cookie holds for its session, opened (wiped
/// as the caller drops them).
pub fn delegated_credentials(state: &AppState, headers: &HeaderMap) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    let cookies = headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
    let session = cookies.iter().find_map(|c| super::sessions::cookie_value(c))?;
    let sealed = cookies.iter().find_map(|c| seal::cookie_value(c))?;
    state.sealer.open(session, sealed)
}

pub async fn logout(State(state): State<AppState>, auth: Authenticated) -> Result<impl IntoResponse, ApiError> {
    if let Some(session) = state.sessions.end(&auth.session.id).await? {
        state.keys.revoke_session(&session.id);
        tracing::info!(user = %session.user.username, "logout");
        state.audit(&session.user.username, "logout", "", serde_json::json!({})).await;
    }
    Ok((
        AppendHeaders([
            (header::SET_COOKIE, cookie("", state.session_idle())),
            (header::SET_COOKIE, seal::cookie("", 0)),
        ]),
        StatusCode::NO_CONTENT,
    ))
}

pub async fn current(auth: Authenticated) -> Json<SessionInfo> {
    Json(SessionInfo::from(&auth.session))
}

#[derive(Deserialize)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    auth: Authenticated,
    source: Source,
    ApiJson(req): ApiJson<PasswordChange>,
) -> Result<Json<SessionInfo>, ApiError> {
    let actor = crate::accounts::Actor { user: &auth.session.user, via: "web" };
    // An API token changes nothing it did not prove: the current password is needed either way.
    let keep =
        matches!(auth.session.credential, super::principal::Credential::Cookie(_)).then(|| auth.session.id.clone());
    let user =
        crate::accounts::change_own_password(&state, &actor, &source, req.current_password, req.new_password, keep)
            .await?;
    Ok(Json(SessionInfo::from(&WebSession { user, ..auth.session })))
}
