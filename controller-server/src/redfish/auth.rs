//! Who is calling: a Redfish session (`X-Auth-Token`) or HTTP Basic credentials, checked with
//! the same users, throttling and audit trail as the web login.

use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use base64::Engine;
use serde_json::{Map, Value};

use super::error::RedfishError;
use crate::app::AppState;
use crate::store::{Role, User};
use crate::web::guard::check_origin;
use crate::web::login::{authenticate_basic, Source};

pub const AUTH_TOKEN: &str = "x-auth-token";

/// An authenticated Redfish caller, as the store says they are now.
pub struct Caller {
    pub user: User,
    /// The Redfish session the request came with, if any (not the token).
    pub session_id: Option<String>,
    pub credential: crate::web::principal::Credential,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = RedfishError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, RedfishError> {
        // Basic credentials may be replayed by a browser on its own, so a state-changing request
        // from another site's page is refused. Tools send no Origin.
        if parts.method != Method::GET && parts.method != Method::HEAD {
            check_origin(&parts.headers, state).map_err(|_| RedfishError::insufficient_privilege())?;
        }
        if let Some(token) = parts.headers.get(AUTH_TOKEN) {
            let token = token.to_str().map_err(|_| RedfishError::no_valid_session())?;
            let session = state
                .redfish_sessions
                .get(token)
                .await
                .map_err(|_| RedfishError::internal())?
                .ok_or_else(RedfishError::no_valid_session)?;
            return Ok(Self { user: session.user, session_id: Some(session.id), credential: session.credential });
        }
        let Some((username, password)) = basic_credentials(&parts.headers) else {
            return Err(RedfishError::no_valid_session());
        };
        let source = Source::from_request_parts(parts, state).await.unwrap_or_default();
        match authenticate_basic(state, username, password, &source).await.map_err(|_| RedfishError::internal())? {
            Ok(user) => {
                Ok(Self { user, session_id: None, credential: crate::web::principal::Credential::RedfishBasic })
            }
            Err(refused) => Err(RedfishError::login_refused(refused, parts.uri.path())),
        }
    }
}

impl Caller {
    /// Until the first-run password is replaced, an account may only change it (DSP0266's
    /// `PasswordChangeRequired`).
    pub fn ready(&self) -> Result<(), RedfishError> {
        if self.user.must_change_password {
            return Err(RedfishError::password_change_required(&super::accounts::account_uri(self.user.id)));
        }
        Ok(())
    }

    /// User management is for administrators (Redfish's `ConfigureUsers`).
    pub fn require_admin(&self) -> Result<(), RedfishError> {
        self.ready()?;
        if self.user.role != Role::Administrator {
            return Err(RedfishError::insufficient_privilege());
        }
        Ok(())
    }
}

/// The name and password of an `Authorization: Basic` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (name, password) = text.split_once(':')?;
    Some((name.to_string(), password.to_string()))
}

/// A request body as raw bytes, refused with a Redfish error body (not axum's plain text) when
/// it is over the size limit or cannot be read.
pub struct Body(pub Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Body {
    type Rejection = RedfishError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, RedfishError> {
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(Self(bytes)),
            Err(rejection) if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(RedfishError::body_too_large())
            }
            Err(_) => Err(RedfishError::malformed_json()),
        }
    }
}

/// A request body: it must be declared JSON (a form on a foreign page cannot declare it without
/// a CORS preflight we never grant) and be one JSON object.
pub fn json_object(headers: &HeaderMap, body: &Bytes) -> Result<Map<String, Value>, RedfishError> {
    let declared_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if !declared_json {
        return Err(RedfishError::not_json());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(RedfishError::malformed_json()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_read_only_from_a_basic_header() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Basic YWxpY2U6czNjcjN0OndpdGgtY29sb24=".parse().unwrap());
        assert_eq!(basic_credentials(&headers), Some(("alice".into(), "s3cr3t:with-colon".into())));
        headers.insert(header::AUTHORIZATION, "Bearer YWxpY2U6eA==".parse().unwrap());
        assert_eq!(basic_credentials(&headers), None);
        headers.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert_eq!(basic_credentials(&headers), None);
    }

    #[test]
    fn bodies_must_be_declared_json_and_be_objects() {
        let mut headers = HeaderMap::new();
        let body = Bytes::from_static(br#"{"ResetType":"On"}"#);
        assert_eq!(json_object(&headers, &body).unwrap_err().key, "HeaderInvalid");
        headers.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert_eq!(json_object(&headers, &body).unwrap_err().key, "HeaderInvalid");
        headers.insert(header::CONTENT_TYPE, "application/json; charset=utf-8".parse().unwrap());
        assert_eq!(json_object(&headers, &body).unwrap()["ResetType"], "On");
        for bad in [&b"{"[..], b"[1]", b"", b"\"x\""] {
            assert_eq!(json_object(&headers, &Bytes::copy_from_slice(bad)).unwrap_err().key, "MalformedJSON");
        }
    }
}
