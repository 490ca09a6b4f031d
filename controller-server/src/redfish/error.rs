//! Redfish errors: the standard error body (DSP0266 §9.6) carrying messages from DMTF's Base
//! message registry, so that any Redfish client can tell what went wrong by `MessageId`.
//! Message arguments never carry a password or a token.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// The Base registry version our `MessageId`s name.
const BASE: &str = "Base.1.18";

#[derive(Debug)]
pub struct RedfishError {
    pub status: StatusCode,
    /// The message's key in the Base registry (`ResourceNotFound`...).
    pub key: &'static str,
    pub message: String,
    pub args: Vec<String>,
    pub severity: &'static str,
    pub resolution: &'static str,
    /// Seconds, for `Retry-After`.
    pub retry_after: Option<u64>,
}

/// How long a script is told to wait when the directory cannot be reached.
const DIRECTORY_RETRY_SECONDS: u64 = 30;

impl RedfishError {
    fn new(status: StatusCode, key: &'static str, message: String, args: &[&str], resolution: &'static str) -> Self {
        Self {
            status,
            key,
            message,
            args: args.iter().map(|a| a.to_string()).collect(),
            severity: "Critical",
            resolution,
            retry_after: None,
        }
    }

    fn warning(mut self) -> Self {
        self.severity = "Warning";
        self
    }

    /// A request body over the size limit.
    pub fn body_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "GeneralError",
            "The request body is larger than the service accepts.".into(),
            &[],
            "Send a smaller request body.",
        )
    }

    pub fn not_found(kind: &str, name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!("The requested resource of type {kind} named '{name}' was not found."),
            &[kind, name],
            "Provide a valid resource identifier and resubmit the request.",
        )
    }

    pub fn malformed_json() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MalformedJSON",
            "The request body submitted was malformed JSON and could not be parsed by the receiving service.".into(),
            &[],
            "Ensure that the request body is valid JSON and resubmit the request.",
        )
    }

    /// A body that is not declared as JSON (a foreign page's form could send it unasked).
    pub fn not_json() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "HeaderInvalid",
            "The header 'Content-Type' is invalid.".into(),
            &["Content-Type"],
            "Send the request body as JSON with 'Content-Type: application/json'.",
        )
    }

    pub fn action_parameter_missing(action: &str, parameter: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "ActionParameterMissing",
            format!("The action {action} requires the parameter {parameter} to be present in the request body."),
            &[action, parameter],
            "Supply the action with the required parameter in the request body when the request is resubmitted.",
        )
    }

    pub fn action_parameter_not_in_list(value: &str, parameter: &str, action: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "ActionParameterValueNotInList",
            format!(
                "The value '{value}' for the parameter {parameter} in the action {action} is not in the list of acceptable values."
            ),
            &[value, parameter, action],
            "Choose a value from the enumeration list that the implementation can support and resubmit the request if the operation failed.",
        )
        .warning()
    }

    pub fn action_parameter_type(value: &str, parameter: &str, action: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "ActionParameterValueTypeError",
            format!(
                "The value '{value}' for the parameter {parameter} in the action {action} is of a different type than the parameter can accept."
            ),
            &[value, parameter, action],
            "Correct the value for the parameter in the request body and resubmit the request if the operation failed.",
        )
        .warning()
    }

    /// A parameter's value the service cannot use; `why` says what is wrong with it (an image
    /// server not on the allow list, say), after the registry's words.
    pub fn action_parameter_value(parameter: &str, action: &str, why: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "ActionParameterValueError",
            format!("The value for the parameter {parameter} in the action {action} is invalid: {why}"),
            &[parameter, action],
            "Correct the value for the parameter in the request body and resubmit the request if the operation failed.",
        )
        .warning()
    }

    pub fn action_parameter_unknown(action: &str, parameter: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "ActionParameterUnknown",
            format!("The action {action} was submitted with the invalid parameter {parameter}."),
            &[action, parameter],
            "Correct the invalid parameter and resubmit the request if the operation failed.",
        )
        .warning()
    }

    pub fn property_missing(property: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "PropertyMissing",
            format!("The property {property} is a required property and must be included in the request."),
            &[property],
            "Ensure that the property is in the request body and has a valid value and resubmit the request if the operation failed.",
        )
        .warning()
    }

    pub fn property_unknown(property: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "PropertyUnknown",
            format!("The property {property} is not in the list of valid properties for the resource."),
            &[property],
            "Remove the unknown property from the request body and resubmit the request if the operation failed.",
        )
        .warning()
    }

    pub fn property_not_writable(property: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "PropertyNotWritable",
            format!("The property {property} is a read-only property and cannot be assigned a value."),
            &[property],
            "Remove the property from the request body and resubmit the request if the operation failed.",
        )
        .warning()
    }

    /// `shown` is what the message may repeat of the value: never a password.
    pub fn property_value_type(shown: &str, property: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "PropertyValueTypeError",
            format!(
                "The value '{shown}' for the property {property} is of a different type than the property can accept."
            ),
            &[shown, property],
            "Correct the value for the property in the request body and resubmit the request if the operation failed.",
        )
        .warning()
    }

    pub fn property_value_not_in_list(value: &str, property: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "PropertyValueNotInList",
            format!("The value '{value}' for the property {property} is not in the list of acceptable values."),
            &[value, property],
            "Choose a value from the enumeration list that the implementation can support and resubmit the request if the operation failed.",
        )
        .warning()
    }

    /// `shown` is what the message may repeat of the value: never a password.
    pub fn property_value_format(shown: &str, property: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "PropertyValueFormatError",
            format!("The value '{shown}' for the property {property} is of a different format than the property can accept."),
            &[shown, property],
            "Correct the value for the property in the request body and resubmit the request if the operation failed.",
        )
        .warning()
    }

    pub fn already_exists(kind: &str, property: &str, value: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "ResourceAlreadyExists",
            format!("The requested resource of type {kind} with the property {property} with the value '{value}' already exists."),
            &[kind, property, value],
            "Do not repeat the create operation as the resource has already been created.",
        )
    }

    pub fn query_parameter_out_of_range(value: &str, parameter: &str, range: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "QueryParameterOutOfRange",
            format!("The value '{value}' for the query parameter {parameter} is out of range {range}."),
            &[value, parameter, range],
            "Reduce the value for the query parameter to a value that is within range, such as a start or count value that is within bounds of the number of resources in a collection or a page that is within the range of valid pages.",
        )
        .warning()
    }

    /// `shown` says what is wrong with the value (it is never a secret).
    pub fn query_parameter_format(shown: &str, parameter: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "QueryParameterValueFormatError",
            format!("The value '{shown}' for the parameter {parameter} is of a different format than the parameter can accept."),
            &[shown, parameter],
            "Correct the value for the query parameter in the URI and resubmit the request if the operation failed.",
        )
        .warning()
    }

    pub fn create_limit_reached(limit: usize) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "CreateLimitReachedForResource",
            format!("The create operation failed because the resource has reached the limit of possible resources ({limit})."),
            &[],
            "Either delete resources and resubmit the request if the operation failed or do not resubmit the request.",
        )
    }

    pub fn insufficient_privilege() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "InsufficientPrivilege",
            "There are insufficient privileges for the account or credentials associated with the current session to perform the requested operation.".into(),
            &[],
            "Either abandon the operation or change the associated access rights and resubmit the request if the operation failed.",
        )
    }

    pub fn no_valid_session() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "NoValidSession",
            "There is no valid session established with the implementation.".into(),
            &[],
            "Establish a session before attempting any operations.",
        )
    }

    /// Wrong user name or password, at `uri`.
    pub fn unauthorized(uri: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "ResourceAtUriUnauthorized",
            format!("While accessing the resource at '{uri}', the service received an authorization error 'wrong user name or password'."),
            &[uri, "wrong user name or password"],
            "Ensure that the appropriate access is provided for the service in order for it to access the URI.",
        )
    }

    /// The service cannot do it now; try again in `seconds`.
    pub fn unavailable(seconds: u64) -> Self {
        let mut err = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceTemporarilyUnavailable",
            format!("The service is temporarily unavailable.  Retry in {seconds} seconds."),
            &[&seconds.to_string()],
            "Wait for the indicated retry duration and retry the operation.",
        );
        err.retry_after = Some(seconds);
        err
    }

    /// A refused login, for a request to `uri`.
    pub fn login_refused(refused: crate::web::login::LoginRefused, uri: &str) -> Self {
        use crate::web::login::LoginRefused;
        match refused {
            LoginRefused::Wrong => Self::unauthorized(uri),
            LoginRefused::Locked { seconds } => Self::locked(seconds),
            LoginRefused::Busy { seconds } => Self::unavailable(seconds),
            LoginRefused::NotPermitted => Self::insufficient_privilege(),
            LoginRefused::DirectoryUnavailable => Self::unavailable(DIRECTORY_RETRY_SECONDS),
        }
    }

    /// Too many failed logins: the account is locked for `seconds`.
    pub fn locked(seconds: u64) -> Self {
        Self { status: StatusCode::TOO_MANY_REQUESTS, ..Self::unavailable(seconds) }
    }

    /// The first-run password must be replaced before anything else; `account` is where.
    pub fn password_change_required(account: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "PasswordChangeRequired",
            format!(
                "The password provided for this account must be changed before access is granted.  PATCH the Password property for this account located at the target URI '{account}' to complete this process."
            ),
            &[account],
            "Change the password for this account using a PATCH to the Password property at the URI provided.",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "OperationNotAllowed",
            "The HTTP method is not allowed on this URI.".into(),
            &[],
            "None.",
        )
    }

    /// The host is off (or its backend is down) and cannot do this now.
    pub fn in_standby() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "ResourceInStandby",
            "The request could not be performed because the resource is in standby.".into(),
            &[],
            "Ensure that the resource is in the correct power state and resubmit the request.",
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "The request failed due to an internal service error.  The service is still operational.".into(),
            &[],
            "Resubmit the request.  If the problem persists, consider resetting the service.",
        )
    }

    pub fn message_id(&self) -> String {
        format!("{BASE}.{}", self.key)
    }
}

impl IntoResponse for RedfishError {
    fn into_response(self) -> Response {
        let id = self.message_id();
        let body = json!({
            "error": {
                "code": id,
                "message": self.message,
                "@Message.ExtendedInfo": [{
                    "@odata.type": "#Message.v1_1_1.Message",
                    "MessageId": id,
                    "Message": self.message,
                    "MessageArgs": self.args,
                    "MessageSeverity": self.severity,
                    "Resolution": self.resolution,
                }],
            }
        });
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert("odata-version", HeaderValue::from_static("4.0"));
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Lantern\""));
        }
        response
    }
}

impl From<crate::store::users::StoreError> for RedfishError {
    fn from(err: crate::store::users::StoreError) -> Self {
        tracing::error!(error = %err, "store failure");
        RedfishError::internal()
    }
}
