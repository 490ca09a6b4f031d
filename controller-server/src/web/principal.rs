//! How a caller proved who they are, and the one check of whether that still stands.
//!
//! Every kind of caller is a variant here, and [`current_user`] matches them all: a rule about
//! who may still act (a deleted user, a revoked token, a reset password, an ended session)
//! cannot apply to one kind and silently not to another. Console keys and launches carry the
//! credential they were issued to, so key requests, key renewals and open console links are
//! checked the same way.

use crate::app::AppState;
use crate::store::users::StoreError;
use crate::store::User;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// The web page's cookie session, by its id (never the cookie).
    Cookie(String),
    /// A Redfish `X-Auth-Token` session, by its id.
    RedfishSession(String),
    /// HTTP Basic credentials: checked afresh on each request, so nothing outlives it.
    RedfishBasic,
    /// An API token, by its record id.
    ApiToken(i64),
    /// A launch session, by its id. It stands only while the credential that asked for the
    /// launch does.
    Launch { session: String, creator: Box<Credential> },
}

/// The user `credential` speaks for now, read from the store; `None` when it no longer stands.
/// Blocking: call it off the runtime's workers.
pub fn current_user(state: &AppState, credential: &Credential) -> Result<Option<User>, StoreError> {
    match credential {
        Credential::Cookie(id) => state.sessions.current(id),
        Credential::RedfishSession(id) => state.redfish_sessions.current(id),
        Credential::RedfishBasic => Ok(None),
        Credential::ApiToken(id) => state.users.token_owner(*id),
        Credential::Launch { session, creator } => {
            if !state.launches.is_live(session) {
                return Ok(None);
            }
            current_user(state, creator)
        }
    }
}
