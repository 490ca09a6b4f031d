//! Web and Redfish login sessions over the store (`store::sessions`): the client holds a random
//! secret (the cookie, or `X-Auth-Token`), the database its SHA-256 and whose session it is.
//! A session says who the caller is, never what they may do: its user is read from the store
//! on every request.

use std::sync::Arc;
use std::time::Duration;

use super::error::ApiError;
use super::principal::Credential;
use crate::store::audit::now_ms;
use crate::store::sessions::{LiveSession, SessionKind};
use crate::store::{off_runtime, Role, User, UserStore};

pub const COOKIE: &str = "lantern_session";

/// One request's caller: who they are now, and how they proved it.
#[derive(Debug, Clone)]
pub struct WebSession {
    /// Opaque id for binding console keys and for logs; not the secret.
    pub id: String,
    pub user: User,
    /// The session's CSRF token (empty for API tokens, which browsers never send by themselves).
    pub csrf: String,
    pub credential: Credential,
}

impl WebSession {
    /// The caller of one request made with an API token: keys bound to the token.
    pub fn for_api_token(user: User, token_id: i64) -> Self {
        Self { id: format!("token-{token_id}"), user, csrf: String::new(), credential: Credential::ApiToken(token_id) }
    }

    fn from_live(kind: SessionKind, live: LiveSession) -> Self {
        let credential = match kind {
            SessionKind::Web => Credential::Cookie(live.id.clone()),
            SessionKind::Redfish => Credential::RedfishSession(live.id.clone()),
        };
        Self { id: live.id, user: live.user, csrf: live.csrf, credential }
    }
}

/// The sessions of one door (the web page's cookie, or Redfish's token).
pub struct WebSessions {
    store: Arc<UserStore>,
    kind: SessionKind,
    idle: Duration,
}

impl WebSessions {
    pub fn new(store: Arc<UserStore>, kind: SessionKind, idle: Duration) -> Self {
        Self { store, kind, idle }
    }

    /// Starts a session for `user_id` (at most `role_cap`); returns the client's secret and the
    /// session. `None` when the user no longer exists.
    pub async fn create(
        &self,
        user_id: i64,
        role_cap: Option<Role>,
        source: Option<std::net::IpAddr>,
    ) -> Result<Option<(String, WebSession)>, ApiError> {
        let (store, kind) = (self.store.clone(), self.kind);
        let source = source.map(|a| a.to_canonical().to_string());
        let opened =
            off_runtime(move || store.open_session(kind, user_id, role_cap, source.as_deref(), now_ms())).await?;
        Ok(opened.map(|(token, live)| (token, WebSession::from_live(kind, live))))
    }

    /// The live session a client's secret opens, refreshing its idle timer.
    pub async fn get(&self, token: &str) -> Result<Option<WebSession>, ApiError> {
        let (store, kind, idle, token) = (self.store.clone(), self.kind, self.idle, token.to_string());
        let live = off_runtime(move || store.session_by_token(kind, &token, idle, now_ms())).await?;
        Ok(live.map(|l| WebSession::from_live(kind, l)))
    }

    /// Ends the session with this id (logout, or an administrator ending someone's).
    pub async fn end(&self, id: &str) -> Result<Option<WebSession>, ApiError> {
        let (store, kind, id) = (self.store.clone(), self.kind, id.to_string());
        let ended = off_runtime(move || store.end_session(kind, &id, now_ms())).await?;
        Ok(ended.map(|l| WebSession::from_live(kind, l)))
    }

    /// The live sessions as the store keeps them (with when and from where), oldest first.
    pub async fn live(&self) -> Result<Vec<LiveSession>, ApiError> {
        let (store, kind, idle) = (self.store.clone(), self.kind, self.idle);
        Ok(off_runtime(move || store.live_sessions(kind, idle, now_ms())).await?)
    }

    /// The live session with this id, if it still stands.
    pub async fn find(&self, id: &str) -> Result<Option<LiveSession>, ApiError> {
        let (store, kind, idle, id) = (self.store.clone(), self.kind, self.idle, id.to_string());
        Ok(off_runtime(move || store.session_by_id(kind, &id, idle, now_ms())).await?)
    }

    /// The live sessions, oldest first.
    pub async fn list(&self) -> Result<Vec<WebSession>, ApiError> {
        let (store, kind, idle) = (self.store.clone(), self.kind, self.idle);
        let live = off_runtime(move || store.live_sessions(kind, idle, now_ms())).await?;
        Ok(live.into_iter().map(|l| WebSession::from_live(kind, l)).collect())
    }

    /// The session with this id if it still stands (blocking: for checks already off the
    /// runtime's workers).
    pub fn current(&self, id: &str) -> Result<Option<User>, crate::store::users::StoreError> {
        Ok(self.store.session_by_id(self.kind, id, self.idle, now_ms())?.map(|s| s.user))
    }

    pub fn idle(&self) -> Duration {
        self.idle
    }
}

/// The `Set-Cookie` value for a session cookie (or its removal when `token` is empty).
pub fn cookie(token: &str, idle: Duration) -> String {
    let max_age = if token.is_empty() { 0 } else { idle.as_secs() };
    format!("{COOKIE}={token}; Path=/; Max-Age={max_age}; Secure; HttpOnly; SameSite=Strict")
}

/// The session cookie's value from a `Cookie` header.
pub fn cookie_value(header: &str) -> Option<&str> {
    named_cookie(header, COOKIE)
}

/// The value of the cookie `name` in a `Cookie` header.
pub fn named_cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').map(str::trim).find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}
