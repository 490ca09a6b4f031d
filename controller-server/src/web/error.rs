//! API errors: a status and one short sentence, as JSON. Never a key or a password.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: std::borrow::Cow<'static, str>,
}

impl ApiError {
    pub const fn new(status: StatusCode, message: &'static str) -> Self {
        Self { status, message: std::borrow::Cow::Borrowed(message) }
    }

    /// An error whose words come from elsewhere (a backend's refusal); never from a secret.
    pub fn with_message(status: StatusCode, message: String) -> Self {
        Self { status, message: std::borrow::Cow::Owned(message) }
    }
    pub const UNAUTHORIZED: Self = Self::new(StatusCode::UNAUTHORIZED, "not logged in");
    pub const BAD_CSRF: Self = Self::new(StatusCode::FORBIDDEN, "missing or wrong CSRF token");
    pub const BAD_ORIGIN: Self = Self::new(StatusCode::FORBIDDEN, "request from a foreign origin");
    pub const PASSWORD_CHANGE: Self = Self::new(StatusCode::FORBIDDEN, "password change required");
    pub const INTERNAL: Self = Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(serde_json::json!({ "error": self.message }))).into_response()
    }
}

impl From<crate::store::users::StoreError> for ApiError {
    fn from(err: crate::store::users::StoreError) -> Self {
        tracing::error!(error = %err, "store failure");
        ApiError::INTERNAL
    }
}

/// A JSON request body, refused like every other API error (`{"error": ...}`, 400 for a body
/// that is not JSON, 422 for JSON that is not what was asked for, 413 for one over the size limit, 415 without the JSON
/// content type) rather than with axum's plain-text rejection.
pub struct ApiJson<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        use axum::extract::rejection::JsonRejection;
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "the body must be JSON (Content-Type: application/json)",
                ),
                JsonRejection::JsonSyntaxError(_) => {
                    ApiError::new(StatusCode::BAD_REQUEST, "the body is not valid JSON")
                }
                JsonRejection::JsonDataError(err) => {
                    // serde names a missing or unknown field; for a wrong type it quotes the value
                    // sent, which may be a password: say only that.
                    let text = err.body_text();
                    let reason = text.rsplit_once(": ").map_or(text.as_str(), |(_, r)| r);
                    let reason = if reason.starts_with("missing field") || reason.starts_with("unknown field") {
                        reason.split(" at line").next().unwrap_or(reason)
                    } else {
                        "a field has the wrong type or value"
                    };
                    ApiError::with_message(StatusCode::UNPROCESSABLE_ENTITY, format!("the body does not fit: {reason}"))
                }
                other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "the body is too large")
                }
                _ => ApiError::new(StatusCode::BAD_REQUEST, "the body could not be read"),
            }),
        }
    }
}

impl From<crate::accounts::AccountError> for ApiError {
    fn from(err: crate::accounts::AccountError) -> Self {
        use crate::accounts::AccountError as E;
        let status = match &err {
            E::NotFound => StatusCode::NOT_FOUND,
            E::NameTaken | E::LastAdministrator | E::OwnAccount | E::DirectoryManaged => StatusCode::CONFLICT,
            E::BadName | E::PasswordTooShort | E::PasswordTooLong | E::PasswordUnchanged => StatusCode::BAD_REQUEST,
            E::WrongCurrentPassword => StatusCode::FORBIDDEN,
            E::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            E::AuditUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            E::Store(store) => {
                tracing::error!(error = %store, "store failure");
                return ApiError::INTERNAL;
            }
        };
        ApiError::with_message(status, err.to_string())
    }
}
