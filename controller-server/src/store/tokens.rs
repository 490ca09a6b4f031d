//! API tokens: for programs (a vendor portal's back end, scripts) that call the API without a
//! browser session. A token acts as the user who made it, with that user's rights. Only its
//! SHA-256 is stored; the token itself is shown once, at creation.

use crate::secret::{hex, random_token, sha256};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::users::{StoreError, UserStore};
use super::User;

/// Every token starts with this, so that one found in a log or a repository is recognisable.
pub const TOKEN_PREFIX: &str = "lnt_";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub owner: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub(super) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS api_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
);";

impl UserStore {
    /// Makes a token for `user_id`; returns it (the only time it is seen) and its record id.
    pub fn create_token(&self, user_id: i64, name: &str, now_ms: i64) -> Result<(String, i64), StoreError> {
        let token = format!("{TOKEN_PREFIX}{}", random_token::<32>());
        let db = self.db()?;
        db.execute(
            "INSERT INTO api_tokens (name, user_id, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![name, user_id, token_hash(&token), now_ms],
        )?;
        Ok((token, db.last_insert_rowid()))
    }

    /// The user a token acts as, and the token's id. Looked up by hash, so the comparison never
    /// touches the token itself.
    pub fn token_user(&self, token: &str, now_ms: i64) -> Result<Option<(User, i64)>, StoreError> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let hash = token_hash(token);
        let found: Option<(i64, i64)> = {
            let db = self.db()?;
            let id = db
                .query_row("SELECT user_id, id FROM api_tokens WHERE token_hash = ?1", params![hash], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            if id.is_some() {
                db.execute("UPDATE api_tokens SET last_used_at = ?1 WHERE token_hash = ?2", params![now_ms, hash])?;
            }
            id
        };
        match found {
            Some((user_id, token_id)) => Ok(self.by_id(user_id)?.map(|u| (u, token_id))),
            None => Ok(None),
        }
    }

    /// The user a token (by record id) acts as, while it is not revoked.
    pub fn token_owner(&self, token_id: i64) -> Result<Option<User>, StoreError> {
        let owner: Option<i64> = self
            .db()?
            .query_row("SELECT user_id FROM api_tokens WHERE id = ?1", params![token_id], |r| r.get(0))
            .optional()?;
        match owner {
            Some(user_id) => self.by_id(user_id),
            None => Ok(None),
        }
    }

    pub fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let db = self.db()?;
        let mut stmt = db.prepare(
            "SELECT t.id, t.name, u.username, t.created_at, t.last_used_at FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(TokenInfo {
                id: r.get(0)?,
                name: r.get(1)?,
                owner: r.get(2)?,
                created_at: r.get(3)?,
                last_used_at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Revokes a token; false when there was none with that id.
    pub fn revoke_token(&self, id: i64) -> Result<bool, StoreError> {
        Ok(self.db()?.execute("DELETE FROM api_tokens WHERE id = ?1", params![id])? > 0)
    }
}

fn token_hash(token: &str) -> String {
    hex(&sha256(token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Role;

    #[test]
    fn a_token_acts_as_its_owner_until_revoked_and_is_never_stored() {
        let store = UserStore::in_memory().unwrap();
        let owner = store.create("portal", "a long password", Role::Operator, false).unwrap();
        let (token, id) = store.create_token(owner, "vendor portal", 1).unwrap();
        assert!(token.starts_with("lnt_") && token.len() > 40);
        assert_eq!(store.token_user(&token, 2).unwrap().unwrap(), (store.by_id(owner).unwrap().unwrap(), id));
        assert_eq!(store.tokens().unwrap()[0].last_used_at, Some(2));
        let stored: String =
            store.db().unwrap().query_row("SELECT token_hash FROM api_tokens", [], |r| r.get(0)).unwrap();
        assert!(!stored.contains(&token[4..]));

        assert!(store.token_user("lnt_forged", 3).unwrap().is_none());
        assert!(store.token_user(&token[4..], 3).unwrap().is_none());
        assert!(store.revoke_token(id).unwrap());
        assert!(store.token_user(&token, 4).unwrap().is_none());
    }
}
