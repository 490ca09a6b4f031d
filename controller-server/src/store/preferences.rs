//! A user's preferences for the pages (the console's zoom, say): short named strings the page
//! keeps here so that they follow the user to any browser, and to a cooperating controller
//! when their session moves there.

use std::collections::BTreeMap;

use rusqlite::params;

use super::users::{StoreError, UserStore};

pub(super) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS preferences (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (user_id, name)
);";

/// Preferences one user keeps, at most, and their sizes.
// Room for a keyboard layout per host (`layout.<host>`) besides the pages' own; all of them
// still fit in one part of a session that moves between controllers.
pub const MAX_PREFERENCES: usize = 160;
pub const MAX_NAME: usize = 64;
pub const MAX_VALUE: usize = 256;

/// Why a preference is not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PreferenceError {
    #[error("a preference name is 1 to 64 letters, digits, '.', '-' or '_'")]
    BadName,
    #[error("a preference value is at most 256 bytes")]
    TooLong,
    #[error("at most 160 preferences are kept")]
    TooMany,
}

/// Whether `name` and `value` may be kept.
pub fn check(name: &str, value: &str) -> Result<(), PreferenceError> {
    let name_ok = (1..=MAX_NAME).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !name_ok {
        return Err(PreferenceError::BadName);
    }
    if value.len() > MAX_VALUE {
        return Err(PreferenceError::TooLong);
    }
    Ok(())
}

impl UserStore {
    pub fn preferences(&self, user_id: i64) -> Result<BTreeMap<String, String>, StoreError> {
        let db = self.db()?;
        let mut stmt = db.prepare("SELECT name, value FROM preferences WHERE user_id = ?1")?;
        let rows = stmt.query_map(params![user_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Sets (or with `None` removes) one preference.
    pub fn set_preference(
        &self,
        user_id: i64,
        name: &str,
        value: Option<&str>,
    ) -> Result<Result<(), PreferenceError>, StoreError> {
        let db = self.db()?;
        let Some(value) = value else {
            db.execute("DELETE FROM preferences WHERE user_id = ?1 AND name = ?2", params![user_id, name])?;
            return Ok(Ok(()));
        };
        if let Err(e) = check(name, value) {
            return Ok(Err(e));
        }
        let (count, present): (i64, bool) = db.query_row(
            "SELECT COUNT(*), COALESCE(SUM(name = ?2), 0) > 0 FROM preferences WHERE user_id = ?1",
            params![user_id, name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if !present && count as usize >= MAX_PREFERENCES {
            return Ok(Err(PreferenceError::TooMany));
        }
        db.execute(
            "INSERT INTO preferences (user_id, name, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id, name) DO UPDATE SET value = ?3",
            params![user_id, name, value],
        )?;
        Ok(Ok(()))
    }

    /// Replaces all of a user's preferences with those that may be kept of `all` (a moved
    /// session's, from a peer).
    pub fn replace_preferences(&self, user_id: i64, all: &BTreeMap<String, String>) -> Result<(), StoreError> {
        let mut db = self.db()?;
        let tx = db.transaction()?;
        tx.execute("DELETE FROM preferences WHERE user_id = ?1", params![user_id])?;
        for (name, value) in all.iter().filter(|(n, v)| check(n, v).is_ok()).take(MAX_PREFERENCES) {
            tx.execute(
                "INSERT INTO preferences (user_id, name, value) VALUES (?1, ?2, ?3)",
                params![user_id, name, value],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Role;

    #[test]
    fn preferences_are_kept_per_user_within_bounds() {
        let store = UserStore::in_memory().unwrap();
        let alice = store.create("alice", "a long password", Role::Operator, false).unwrap();
        let bob = store.create("bob", "a long password", Role::Operator, false).unwrap();
        store.set_preference(alice, "console.zoom", Some("fit")).unwrap().unwrap();
        store.set_preference(alice, "console.zoom", Some("100")).unwrap().unwrap();
        assert_eq!(store.preferences(alice).unwrap().get("console.zoom").map(String::as_str), Some("100"));
        assert!(store.preferences(bob).unwrap().is_empty());
        assert_eq!(store.set_preference(alice, "a b", Some("x")).unwrap(), Err(PreferenceError::BadName));
        assert_eq!(store.set_preference(alice, "", Some("x")).unwrap(), Err(PreferenceError::BadName));
        assert_eq!(store.set_preference(alice, "long", Some(&"x".repeat(257))).unwrap(), Err(PreferenceError::TooLong));
        for i in 1..MAX_PREFERENCES {
            store.set_preference(alice, &format!("p{i}"), Some("v")).unwrap().unwrap();
        }
        assert_eq!(store.set_preference(alice, "one-more", Some("v")).unwrap(), Err(PreferenceError::TooMany));
        store.set_preference(alice, "console.zoom", Some("2x")).unwrap().unwrap();
        store.set_preference(alice, "console.zoom", None).unwrap().unwrap();
        assert!(!store.preferences(alice).unwrap().contains_key("console.zoom"));

        let carried =
            BTreeMap::from([("console.zoom".to_string(), "fit".to_string()), ("bad name".into(), "x".into())]);
        store.replace_preferences(bob, &carried).unwrap();
        assert_eq!(store.preferences(bob).unwrap().into_keys().collect::<Vec<_>>(), vec!["console.zoom"]);
    }
}
