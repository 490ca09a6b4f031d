//! Console keys: single-use, short-lived PMS grants bound to a user, a host and a web session.
//!
//! The web server issues a key over TLS and the console server claims it when the applet
//! names it; both live in this process, so the PMS never crosses a network but the page's TLS.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use shared::crypto::Pms;
use shared::session::{KeyPurpose, ServerEnv};
use shared::wire::{Alert, AlertCode, KeyId, Nonce};

use crate::sync::Locked;

/// Who a key was issued to, and for what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyBinding {
    pub user_id: i64,
    pub username: String,
    pub host_id: String,
    /// The web session that asked (an opaque id, not the cookie).
    pub web_session: String,
    /// May type, point and paste; otherwise the link only watches.
    pub control: bool,
    /// How the caller who asked proved who they are: checked again while the link lasts.
    pub credential: crate::web::principal::Credential,
}

/// The key store as a link sees it: it claims keys for the link and remembers who the link
/// belongs to (a renewal must be for the same user, host and web session).
pub struct LinkKeys<'a> {
    keys: &'a KeyStore,
    pub binding: Option<KeyBinding>,
}

impl<'a> LinkKeys<'a> {
    pub fn new(keys: &'a KeyStore) -> Self {
        Self { keys, binding: None }
    }
}

impl ServerEnv for LinkKeys<'_> {
    fn claim_key(&mut self, key_id: &KeyId, purpose: KeyPurpose) -> Result<Pms, Alert> {
        let expected = match purpose {
            KeyPurpose::Open => None,
            KeyPurpose::Rekey => Some(self.binding.as_ref().ok_or(Alert::new(AlertCode::ProtocolViolation))?),
        };
        let (pms, binding) = self.keys.claim(key_id, expected)?;
        self.binding = Some(binding);
        Ok(pms)
    }

    fn nonce(&mut self) -> Nonce {
        rand::random()
    }
}

impl KeyBinding {
    /// Whether the link's owner may still watch its host (and control it, if the key allows
    /// control), as the store says now. A store that cannot tell ends the link: fail closed.
    pub async fn still_allowed(&self, state: &crate::app::AppState) -> bool {
        let control = self.control;
        self.rights_now(state).await.is_some_and(|r| r.view && (r.control || !control))
    }

    /// The link's owner's rights on its host as the store says now; none if the owner is gone,
    /// changed or must change their password, or the store cannot tell.
    pub async fn rights_now(&self, state: &crate::app::AppState) -> Option<crate::store::HostRights> {
        let (state, binding) = (state.clone(), self.clone());
        let checked = crate::store::off_runtime(move || {
            let Some(user) = crate::web::principal::current_user(&state, &binding.credential)? else {
                return Ok(None);
            };
            if user.id != binding.user_id || user.must_change_password {
                return Ok(None);
            }
            Ok(Some(state.rights(&user, &binding.host_id)?))
        })
        .await;
        checked.unwrap_or_else(|err| {
            tracing::error!(error = %err, "cannot check a console link's rights");
            None
        })
    }
}

struct Grant {
    pms: Pms,
    binding: KeyBinding,
    expires_at: Instant,
}

#[derive(Default)]
struct Keys {
    live: HashMap<KeyId, Grant>,
    /// Claimed and expired keys, kept a while so that a reuse or a late use is reported as such.
    used: HashMap<KeyId, Instant>,
    /// Expired, never claimed: told apart from reused ones.
    expired: HashMap<KeyId, Instant>,
}

impl Keys {
    fn prune(&mut self, now: Instant) {
        let expired: Vec<KeyId> = self.live.iter().filter(|(_, g)| now >= g.expires_at).map(|(id, _)| *id).collect();
        for id in expired {
            // The PMS is wiped as the grant drops.
            self.live.remove(&id);
            self.expired.insert(id, now);
        }
        self.used.retain(|_, at| now < *at + REMEMBER);
        self.expired.retain(|_, at| now < *at + REMEMBER);
        for remembered in [&mut self.used, &mut self.expired] {
            if remembered.len() > MAX_REMEMBERED {
                let mut by_age: Vec<(Instant, KeyId)> = remembered.iter().map(|(id, at)| (*at, *id)).collect();
                by_age.sort_by_key(|(at, _)| *at);
                for (_, id) in &by_age[..remembered.len() - MAX_REMEMBERED] {
                    remembered.remove(id);
                }
            }
        }
    }
}

pub struct KeyStore {
    ttl: Duration,
    keys: Mutex<Keys>,
}

/// How long a claimed or expired key id is remembered, to tell "reused" and "expired" from
/// "unknown".
const REMEMBER: Duration = Duration::from_secs(3600);
/// Unclaimed keys one web session may hold; asking for more drops its oldest.
pub const MAX_KEYS_PER_SESSION: usize = 16;
/// Key ids remembered as used, at most (the oldest are forgotten first).
const MAX_REMEMBERED: usize = 100_000;

impl KeyStore {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, keys: Mutex::new(Keys::default()) }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issues a fresh key for `binding`.
    pub fn issue(&self, binding: KeyBinding) -> (KeyId, Pms) {
        let key_id = KeyId(rand::random());
        let pms = Pms::from_bytes(rand::random());
        let now = Instant::now();
        let mut keys = self.lock();
        keys.prune(now);
        // One session asking for key after key holds at most a few at a time.
        let mut own: Vec<(Instant, KeyId)> = keys
            .live
            .iter()
            .filter(|(_, g)| g.binding.web_session == binding.web_session)
            .map(|(id, g)| (g.expires_at, *id))
            .collect();
        if own.len() >= MAX_KEYS_PER_SESSION {
            own.sort_by_key(|(at, _)| *at);
            for (_, id) in &own[..=own.len() - MAX_KEYS_PER_SESSION] {
                keys.live.remove(id);
            }
        }
        keys.live.insert(key_id, Grant { pms: pms.clone(), binding, expires_at: now + self.ttl });
        (key_id, pms)
    }

    /// Drops expired keys (their ids are remembered as expired) and forgets old ids; run on a
    /// timer so that keys nobody claims do not wait for the next issue.
    pub fn prune(&self) {
        self.lock().prune(Instant::now());
    }

    /// Unclaimed keys held now.
    pub fn live_count(&self) -> usize {
        self.lock().live.len()
    }

    /// Takes a key out of the store. `expected` is the binding of the link a fresh key is meant
    /// for (a key switch); the key must have been issued to the same user, host and web session.
    pub fn claim(&self, key_id: &KeyId, expected: Option<&KeyBinding>) -> Result<(Pms, KeyBinding), Alert> {
        let now = Instant::now();
        let mut keys = self.lock();
        if keys.used.contains_key(key_id) {
            return Err(Alert::new(AlertCode::ReusedKey));
        }
        if keys.expired.contains_key(key_id) {
            return Err(Alert::new(AlertCode::ExpiredKey));
        }
        let grant = keys.live.remove(key_id).ok_or(Alert::new(AlertCode::UnknownKey))?;
        keys.used.insert(*key_id, now);
        if now >= grant.expires_at {
            return Err(Alert::new(AlertCode::ExpiredKey));
        }
        if expected.is_some_and(|b| *b != grant.binding) {
            return Err(Alert::new(AlertCode::KeyNotForThisSession));
        }
        Ok((grant.pms, grant.binding))
    }

    /// Withdraws one unclaimed key (one the audit trail could not record).
    pub fn withdraw(&self, key_id: &KeyId) {
        self.lock().live.remove(key_id);
    }

    /// Drops every unclaimed key of a web session (at logout).
    pub fn revoke_session(&self, web_session: &str) {
        self.lock().live.retain(|_, g| g.binding.web_session != web_session);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Keys> {
        // A panic while holding this lock cannot leave the maps inconsistent: keep going.
        self.keys.locked()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(host: &str) -> KeyBinding {
        KeyBinding {
            user_id: 1,
            username: "admin".into(),
            host_id: host.into(),
            web_session: "s1".into(),
            control: true,
            credential: crate::web::principal::Credential::Cookie("s1".into()),
        }
    }

    #[test]
    fn a_key_works_once() {
        let store = KeyStore::new(Duration::from_secs(60));
        let (id, pms) = store.issue(binding("local"));
        let (claimed, b) = store.claim(&id, None).unwrap();
        assert_eq!(claimed.expose(), pms.expose());
        assert_eq!(b.host_id, "local");
        assert_eq!(store.claim(&id, None).unwrap_err().code, AlertCode::ReusedKey);
        assert_eq!(store.claim(&KeyId([0; 16]), None).unwrap_err().code, AlertCode::UnknownKey);
    }

    #[test]
    fn an_expired_key_is_refused_as_expired() {
        let store = KeyStore::new(Duration::from_millis(0));
        let (id, _) = store.issue(binding("local"));
        assert_eq!(store.claim(&id, None).unwrap_err().code, AlertCode::ExpiredKey);
    }

    #[test]
    fn a_fresh_key_must_match_the_link_it_renews() {
        let store = KeyStore::new(Duration::from_secs(60));
        let (id, _) = store.issue(binding("other-host"));
        assert_eq!(store.claim(&id, Some(&binding("local"))).unwrap_err().code, AlertCode::KeyNotForThisSession);
        let (id, _) = store.issue(binding("local"));
        assert!(store.claim(&id, Some(&binding("local"))).is_ok());
    }

    #[test]
    fn expired_keys_are_dropped_on_the_timer_and_still_reported_as_expired() {
        let store = KeyStore::new(Duration::from_millis(0));
        let (id, _) = store.issue(binding("local"));
        store.prune();
        assert_eq!(store.live_count(), 0, "the PMS is gone without anyone claiming it");
        assert_eq!(store.claim(&id, None).unwrap_err().code, AlertCode::ExpiredKey);
    }

    #[test]
    fn one_session_holds_a_bounded_number_of_keys() {
        let store = KeyStore::new(Duration::from_secs(60));
        let ids: Vec<KeyId> = (0..MAX_KEYS_PER_SESSION + 10).map(|_| store.issue(binding("local")).0).collect();
        assert_eq!(store.live_count(), MAX_KEYS_PER_SESSION);
        assert!(store.claim(ids.last().unwrap(), None).is_ok(), "the newest is kept");
        assert_eq!(store.claim(&ids[0], None).unwrap_err().code, AlertCode::UnknownKey, "the oldest went");
    }

    #[test]
    fn logout_revokes_unclaimed_keys() {
        let store = KeyStore::new(Duration::from_secs(60));
        let (id, _) = store.issue(binding("local"));
        store.revoke_session("s1");
        assert_eq!(store.claim(&id, None).unwrap_err().code, AlertCode::UnknownKey);
    }
}
