//! The exchange in which a controller asks the peer a user came from for their session's
//! data, and the answer, each inside a signed envelope.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::Part;

/// Where a controller answers its peers' requests for session data.
pub const PATH: &str = "/api/federation/session-data";
pub const ASK: &str = "session-data request";
pub const ANSWER: &str = "session-data answer";

/// The requester's question: the token the user brought, the version of the session it
/// already holds (0 for none), and whether it takes delegated Kerberos credentials.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataRequest {
    pub token: String,
    pub since: u64,
    pub kerberos: bool,
}

/// The answer: the parts changed after `since`, at the session's version now, bound to the
/// request by its digest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataAnswer {
    pub request: String,
    pub sid: String,
    pub version: u64,
    pub parts: BTreeMap<String, Part>,
    /// Delegated Kerberos credentials sealed to the requester's node key, base64url.
    #[serde(default)]
    pub kerberos: Option<String>,
}
