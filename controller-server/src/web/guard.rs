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

/// The token of an `Authorization: Bearer …` header, trimmed.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::trim)
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(bearer) = bearer(&parts.headers) {
            let users = state.users.clone();
            let bearer = bearer.to_string();
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
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    same_site(origin, host, state.site_port) || state.trusted_origins.iter().any(|o| o == origin)
}

/// Whether `origin` is this controller's own site as the request reached it: the page on the
/// HTTPS origin the request's `Host` names, or (for the plain console listener, reached on
/// another port of the same name) that name on the HTTPS port. Nothing depends on the address
/// the controller listens on, which a browser never sees (`0.0.0.0`, a proxy's).
fn same_site(origin: &str, host: &str, site_port: u16) -> bool {
    let Some(origin_host) = origin.strip_prefix("https://") else { return false };
    if host.is_empty() {
        return false;
    }
    if origin_host.eq_ignore_ascii_case(host) {
        return true;
    }
    let name = |authority: &str| -> String {
        // "[::1]:8443" keeps its brackets; "host:port" loses the port.
        match authority.rsplit_once(':') {
            Some((name, port)) if !name.is_empty() && port.chars().all(|c| c.is_ascii_digit()) && !port.is_empty() => {
                name.to_ascii_lowercase()
            }
            _ => authority.to_ascii_lowercase(),
        }
    };
    let https_default = site_port == 443 && !origin_host.contains(':');
    let on_site_port = https_default || origin_host.ends_with(&format!(":{site_port}"));
    on_site_port && name(origin_host) == name(host)
}

#[cfg(test)]
mod tests {
    use super::same_site;

    #[test]
    fn the_own_site_is_recognised_by_the_name_the_browser_used_not_the_listen_address() {
        // The HTTPS listener itself.
        assert!(same_site("https://ctl.example:8443", "ctl.example:8443", 8443));
        // The plain listener, on another port of the same name: the page is on the HTTPS port.
        assert!(same_site("https://ctl.example:8443", "ctl.example:8081", 8443));
        assert!(same_site("https://CTL.example:8443", "ctl.example:8081", 8443));
        assert!(same_site("https://[::1]:8443", "[::1]:8081", 8443));
        assert!(same_site("https://ctl.example", "ctl.example:8081", 443));
        // Not ours.
        assert!(!same_site("https://evil.example:8443", "ctl.example:8081", 8443));
        assert!(!same_site("https://ctl.example:9999", "ctl.example:8081", 8443));
        assert!(!same_site("http://ctl.example:8443", "ctl.example:8081", 8443));
        assert!(!same_site("https://ctl.example.evil:8443", "ctl.example:8081", 8443));
        assert!(!same_site("https://ctl.example:8443", "", 8443));
    }
}
