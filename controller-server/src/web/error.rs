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
