//! Web sessions: a random cookie, kept server-side by its hash, with a CSRF token per session.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::secret::{hex, random_token, sha256 as digest};
use crate::store::User;

pub const COOKIE: &str = "lantern_session";

#[derive(Debug, Clone)]
pub struct WebSession {
    /// Opaque id for binding console keys and for logs; not the cookie.
    pub id: String,
    pub user: User,
    pub csrf: String,
    last_seen: Instant,
}

impl WebSession {
    /// The identity of one request made with an API token: no cookie, no CSRF token (a bearer
    /// token is never sent by a browser on its own), keys bound to the token.
    pub fn for_api_token(user: User, token_id: i64) -> Self {
        Self { id: format!("token-{token_id}"), user, csrf: String::new(), last_seen: Instant::now() }
    }
}

pub struct WebSessions {
    idle: Duration,
    /// Keyed by SHA-256 of the cookie value, so a lookup reveals nothing through timing and a
    /// memory dump holds no usable cookie.
    map: Mutex<HashMap<[u8; 32], WebSession>>,
}

impl WebSessions {
    pub fn new(idle: Duration) -> Self {
        Self { idle, map: Mutex::new(HashMap::new()) }
    }

    /// Starts a session; returns the cookie value and the session.
    pub fn create(&self, user: User) -> (String, WebSession) {
        let token = random_token::<32>();
        let digest = digest(&token);
        let session =
            WebSession { id: hex(&digest[..12]), user, csrf: random_token::<32>(), last_seen: Instant::now() };
        let mut map = self.lock();
        let now = Instant::now();
        map.retain(|_, s| now.duration_since(s.last_seen) < self.idle);
        map.insert(digest, session.clone());
        (token, session)
    }

    /// The live session for a cookie value, refreshing its idle timer.
    pub fn get(&self, token: &str) -> Option<WebSession> {
        let mut map = self.lock();
        let key = digest(token);
        let now = Instant::now();
        let session = map.get_mut(&key)?;
        if now.duration_since(session.last_seen) >= self.idle {
            map.remove(&key);
            return None;
        }
        session.last_seen = now;
        Some(session.clone())
    }

    pub fn update_user(&self, token: &str, user: User) {
        if let Some(s) = self.lock().get_mut(&digest(token)) {
            s.user = user;
        }
    }

    pub fn remove(&self, token: &str) -> Option<WebSession> {
        self.lock().remove(&digest(token))
    }

    /// The live sessions, oldest first by id (for listing, never for finding a cookie).
    pub fn list(&self) -> Vec<WebSession> {
        let now = Instant::now();
        let mut live: Vec<_> =
            self.lock().values().filter(|s| now.duration_since(s.last_seen) < self.idle).cloned().collect();
        live.sort_by(|a, b| a.id.cmp(&b.id));
        live
    }

    /// Ends the session with this id (not its cookie): how an administrator logs someone out.
    pub fn remove_by_id(&self, id: &str) -> Option<WebSession> {
        let mut map = self.lock();
        let key = *map.iter().find(|(_, s)| s.id == id)?.0;
        map.remove(&key)
    }

    /// Refreshes the user of the session with this id (after a role or password change).
    pub fn update_user_by_id(&self, id: &str, user: User) {
        if let Some(s) = self.lock().values_mut().find(|s| s.id == id) {
            s.user = user;
        }
    }

    pub fn idle(&self) -> Duration {
        self.idle
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], WebSession>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The `Set-Cookie` value for a session cookie (or its removal when `token` is empty).
pub fn cookie(token: &str, idle: Duration) -> String {
    let max_age = if token.is_empty() { 0 } else { idle.as_secs() };
    format!("{COOKIE}={token}; Path=/; Max-Age={max_age}; Secure; HttpOnly; SameSite=Strict")
}

/// The session cookie's value from a `Cookie` header.
pub fn cookie_value(header: &str) -> Option<&str> {
    header.split(';').map(str::trim).find_map(|pair| pair.strip_prefix(COOKIE)?.strip_prefix('='))
}
