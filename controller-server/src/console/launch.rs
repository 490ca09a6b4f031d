//! Launches: how another site (a vendor portal) hands a console to its users.
//!
//! The portal's back end asks for a launch with its API token: one host, view-only or full
//! control, valid for a short time and for one use. Opening the launch URL (in an iframe, say)
//! turns it into a *launch session*: a secret that the controller's launch page holds in its
//! body and sends in an `Authorization: Launch ...` header to fetch console keys. No cookie is
//! involved, so it works inside a cross-site frame; the secret never appears in a URL.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::secret::{hex, random_token, sha256 as digest};
use crate::sync::Locked;

/// What a launch grants. It is checked again at every key request: the user's current rights,
/// and whether the credential that asked for it still stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub user_id: i64,
    pub username: String,
    pub host_id: String,
    pub control: bool,
    /// Who asked for the launch (an API token, or a logged-in user's session).
    pub creator: crate::web::principal::Credential,
}

struct Entry {
    grant: Grant,
    expires_at: Instant,
}

#[derive(Default)]
struct Maps {
    /// Unused launches, by SHA-256 of their id.
    launches: HashMap<[u8; 32], Entry>,
    /// Launch sessions, by SHA-256 of their secret.
    sessions: HashMap<[u8; 32], (String, Entry)>,
}

pub struct LaunchStore {
    session_life: Duration,
    maps: Mutex<Maps>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    #[error("this console launch has expired or was already used")]
    Gone,
}

impl LaunchStore {
    pub fn new(session_life: Duration) -> Self {
        Self { session_life, maps: Mutex::new(Maps::default()) }
    }

    /// A new single-use launch, valid for `ttl`. Returns its id (for the URL).
    pub fn create(&self, grant: Grant, ttl: Duration) -> String {
        let id = random_token::<24>();
        let now = Instant::now();
        let mut maps = self.lock();
        maps.launches.retain(|_, e| e.expires_at > now);
        maps.sessions.retain(|_, (_, e)| e.expires_at > now);
        maps.launches.insert(digest(&id), Entry { grant, expires_at: now + ttl });
        id
    }

    /// Uses a launch up: returns the session secret, the session's id, and the grant.
    pub fn open(&self, launch_id: &str) -> Result<(String, String, Grant), LaunchError> {
        let now = Instant::now();
        let mut maps = self.lock();
        let entry = maps.launches.remove(&digest(launch_id)).ok_or(LaunchError::Gone)?;
        if entry.expires_at <= now {
            return Err(LaunchError::Gone);
        }
        let secret = random_token::<24>();
        let session_id = format!("launch-{}", &hex(&digest(&secret))[..16]);
        let grant = entry.grant.clone();
        maps.sessions.insert(
            digest(&secret),
            (session_id.clone(), Entry { grant: entry.grant, expires_at: now + self.session_life }),
        );
        Ok((secret, session_id, grant))
    }

    /// The launch session a secret belongs to, while it lasts.
    pub fn session(&self, secret: &str) -> Option<(String, Grant)> {
        let maps = self.lock();
        let (id, entry) = maps.sessions.get(&digest(secret))?;
        (entry.expires_at > Instant::now()).then(|| (id.clone(), entry.grant.clone()))
    }

    /// Whether the launch session with this id (not its secret) still lasts.
    pub fn is_live(&self, session_id: &str) -> bool {
        let now = Instant::now();
        self.lock().sessions.values().any(|(id, entry)| id == session_id && entry.expires_at > now)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Maps> {
        self.maps.locked()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> Grant {
        Grant {
            user_id: 1,
            username: "portal".into(),
            host_id: "local".into(),
            control: false,
            creator: crate::web::principal::Credential::ApiToken(1),
        }
    }

    #[test]
    fn a_launch_opens_once_into_a_session() {
        let store = LaunchStore::new(Duration::from_secs(60));
        let id = store.create(grant(), Duration::from_secs(60));
        let (secret, session_id, g) = store.open(&id).unwrap();
        assert_eq!(g, grant());
        assert_eq!(store.open(&id), Err(LaunchError::Gone));
        assert_eq!(store.session(&secret).unwrap(), (session_id.clone(), grant()));
        assert!(store.is_live(&session_id));
        assert!(store.session(&id).is_none());
        assert_eq!(store.open("made-up"), Err(LaunchError::Gone));
    }

    #[test]
    fn an_expired_launch_and_an_expired_session_are_gone() {
        let store = LaunchStore::new(Duration::from_millis(0));
        let id = store.create(grant(), Duration::from_millis(0));
        assert_eq!(store.open(&id), Err(LaunchError::Gone));
        let id = store.create(grant(), Duration::from_secs(60));
        let (secret, _, _) = store.open(&id).unwrap();
        assert!(store.session(&secret).is_none());
    }
}
