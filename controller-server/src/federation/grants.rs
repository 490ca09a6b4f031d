//! What this controller promised with each session token it issued: which session's data the
//! token's audience may fetch, once, while the token lives. Kept in memory only: a token lives
//! two minutes, and a grant may hold Kerberos credentials sealed to the audience (which this
//! controller cannot open once sealed), which must not reach the disk. After a restart the
//! fetch fails and the user takes a fresh token.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::sync::Locked;

/// Grants held at most; issuing more drops the ones closest to expiry.
const MAX_GRANTS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub sid: String,
    pub audience: String,
    pub user_id: i64,
    pub expires_at: i64,
    /// Delegated Kerberos credentials sealed to the audience's node key.
    pub kerberos: Option<Vec<u8>>,
}

#[derive(Default)]
pub struct Grants {
    by_token: Mutex<HashMap<String, Grant>>,
}

impl Grants {
    /// Remembers the grant of the token with id `jti`.
    pub fn insert(&self, jti: &str, grant: Grant, now_ms: i64) {
        let mut grants = self.by_token.locked();
        grants.retain(|_, g| g.expires_at >= now_ms);
        if grants.len() >= MAX_GRANTS {
            let mut by_expiry: Vec<(i64, String)> = grants.iter().map(|(k, g)| (g.expires_at, k.clone())).collect();
            by_expiry.sort();
            for (_, key) in by_expiry.into_iter().take(grants.len() + 1 - MAX_GRANTS) {
                grants.remove(&key);
            }
        }
        grants.insert(jti.to_string(), grant);
    }

    /// Takes the grant of token `jti` for `audience`: once, and only while it lives.
    pub fn take(&self, jti: &str, audience: &str, now_ms: i64) -> Option<Grant> {
        let mut grants = self.by_token.locked();
        match grants.get(jti) {
            Some(g) if g.audience == audience && g.expires_at >= now_ms => grants.remove(jti),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(expires_at: i64) -> Grant {
        Grant { sid: "s".into(), audience: "node-b".into(), user_id: 1, expires_at, kerberos: None }
    }

    #[test]
    fn a_grant_is_taken_once_by_its_audience_before_it_expires() {
        let grants = Grants::default();
        grants.insert("t1", grant(100), 0);
        assert!(grants.take("t1", "node-c", 10).is_none(), "another peer");
        assert_eq!(grants.take("t1", "node-b", 10), Some(grant(100)));
        assert!(grants.take("t1", "node-b", 10).is_none(), "only once");
        grants.insert("t2", grant(100), 0);
        assert!(grants.take("t2", "node-b", 101).is_none(), "expired");
    }
}
