//! Request guards: who is asking (session cookie), and whether a state-changing request really
//! comes from our own pages (Origin check and CSRF token).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::sessions::{cookie_value, WebSession};
use crate::app::AppState;

pub const CSRF_HEADER: &str = "x-csrf-token";

/// A logged-in user, as the store says they are now. For any method but GET and HEAD, a cookie
/// session's request must also carry its CSRF token and, if the browser sent one, an allowed
/// Origin.
pub struct Authenticated {
    pub session: WebSession,
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(bearer) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        {
            let users = state.users.clone();
            let bearer = bearer.trim().to_string();
            let found =
                crate::store::off_runtime(move || users.token_user(&bearer, crate::store::audit::now_ms())).await?;
            let (user, token_id) =
                found.ok_or(ApiError::new(axum::http::StatusCode::UNAUTHORIZED, "unknown or revoked API token"))?;
            return Ok(Self { session: WebSession::for_api_token(user, token_id) });
        }
        let token = parts
            .headers
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(cookie_value)
            .ok_or(ApiError::UNAUTHORIZED)?;
        let session = state.sessions.get(token).await?.ok_or(ApiError::UNAUTHORIZED)?;
        if parts.method != Method::GET && parts.method != Method::HEAD {
            check_origin(&parts.headers, state)?;
            let sent = parts.headers.get(CSRF_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
            if !bool::from(sent.ct_eq(session.csrf.as_bytes())) {
                return Err(ApiError::BAD_CSRF);
            }
        }
        Ok(Self { session })
    }
}

impl Authenticated {
    /// User and access management is for administrators.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        self.require_password_changed()?;
        if self.session.user.role != crate::store::Role::Administrator {
            return Err(ApiError::new(axum::http::StatusCode::FORBIDDEN, "administrators only"));
        }
        Ok(())
    }

    /// Until the first-run password is replaced, the session may only change it.
    pub fn require_password_changed(&self) -> Result<(), ApiError> {
        if self.session.user.must_change_password {
            return Err(ApiError::PASSWORD_CHANGE);
        }
        Ok(())
    }
}

/// Refuses a request whose Origin header names a site other than this controller or one the
/// configuration allows. Requests without Origin (non-browser clients) pass: they cannot be
/// cross-site forgeries.
pub fn check_origin(headers: &HeaderMap, state: &AppState) -> Result<(), ApiError> {
    match headers.get(header::ORIGIN).map(|v| v.to_str()) {
        None => Ok(()),
        Some(Ok(origin)) if origin_allowed(origin, headers, state) => Ok(()),
        Some(_) => Err(ApiError::BAD_ORIGIN),
    }
}

fn origin_allowed(origin: &str, headers: &HeaderMap, state: &AppState) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if host.is_some_and(|h| origin == format!("https://{h}")) {
        return true;
    }
    state.trusted_origins.iter().any(|o| o == origin)
}
