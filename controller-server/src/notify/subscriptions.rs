//! Event subscriptions (Redfish `EventDestination`s), kept in the database so that they
//! outlive a restart, as DSP0266 expects of a service's subscriptions.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection};

use crate::store::users::StoreError;
use crate::sync::Locked;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: i64,
    /// An `https://` URI the events are POSTed to.
    pub destination: String,
    /// Given back in every event, for the subscriber's own bookkeeping.
    pub context: String,
    /// Only events of these registries (by prefix), or all when empty.
    pub registry_prefixes: Vec<String>,
    /// Only events about resources of these schemas, or all when empty.
    pub resource_types: Vec<String>,
    /// Headers sent with every POST (a subscriber's own token, say): never shown back.
    pub headers: Vec<(String, String)>,
    pub created_by: String,
    pub created_at: i64,
}

impl Subscription {
    /// Whether an event from registry `prefix` about a `resource_type` is for this subscriber.
    pub fn wants(&self, prefix: &str, resource_type: &str) -> bool {
        let listed = |list: &[String], value: &str| list.is_empty() || list.iter().any(|v| v == value);
        listed(&self.registry_prefixes, prefix) && listed(&self.resource_types, resource_type)
    }
}

pub struct SubscriptionStore {
    db: Mutex<Connection>,
}

impl SubscriptionStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::with_connection(crate::store::connect(Some(path))?)
    }

    pub fn in_memory() -> Result<Self, StoreError> {
        Self::with_connection(crate::store::connect(None)?)
    }

    fn with_connection(db: Connection) -> Result<Self, StoreError> {
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS event_subscriptions (
                 id INTEGER PRIMARY KEY,
                 destination TEXT NOT NULL,
                 context TEXT NOT NULL,
                 registry_prefixes TEXT NOT NULL,
                 resource_types TEXT NOT NULL,
                 headers TEXT NOT NULL,
                 created_by TEXT NOT NULL,
                 created_at INTEGER NOT NULL
             );",
        )?;
        Ok(Self { db: Mutex::new(db) })
    }

    /// Adds `subscription` (its id is chosen here) and returns it with its id.
    pub fn add(&self, mut subscription: Subscription) -> Result<Subscription, StoreError> {
        let db = self.db.locked();
        db.execute(
            "INSERT INTO event_subscriptions
                 (destination, context, registry_prefixes, resource_types, headers, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                subscription.destination,
                subscription.context,
                to_json(&subscription.registry_prefixes),
                to_json(&subscription.resource_types),
                to_json(&subscription.headers),
                subscription.created_by,
                subscription.created_at,
            ],
        )?;
        subscription.id = db.last_insert_rowid();
        Ok(subscription)
    }

    pub fn all(&self) -> Result<Vec<Subscription>, StoreError> {
        let db = self.db.locked();
        let mut stmt = db.prepare(
            "SELECT id, destination, context, registry_prefixes, resource_types, headers, created_by, created_at
             FROM event_subscriptions ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Subscription {
                id: r.get(0)?,
                destination: r.get(1)?,
                context: r.get(2)?,
                registry_prefixes: from_json(&r.get::<_, String>(3)?),
                resource_types: from_json(&r.get::<_, String>(4)?),
                headers: from_json(&r.get::<_, String>(5)?),
                created_by: r.get(6)?,
                created_at: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn get(&self, id: i64) -> Result<Option<Subscription>, StoreError> {
        Ok(self.all()?.into_iter().find(|s| s.id == id))
    }

    /// Changes what a subscriber may change of its subscription (its context).
    pub fn set_context(&self, id: i64, context: &str) -> Result<bool, StoreError> {
        let changed = self
            .db
            .locked()
            .execute("UPDATE event_subscriptions SET context = ?2 WHERE id = ?1", params![id, context])?;
        Ok(changed == 1)
    }

    pub fn remove(&self, id: i64) -> Result<bool, StoreError> {
        Ok(self.db.locked().execute("DELETE FROM event_subscriptions WHERE id = ?1", params![id])? == 1)
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}

/// A list column as written by [`to_json`]; a damaged one reads as empty rather than failing
/// every listing.
fn from_json<T: serde::de::DeserializeOwned + Default>(text: &str) -> T {
    serde_json::from_str(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscription(destination: &str) -> Subscription {
        Subscription {
            id: 0,
            destination: destination.into(),
            context: "ctx".into(),
            registry_prefixes: vec!["Lantern".into()],
            resource_types: vec![],
            headers: vec![("Authorization".into(), "Bearer x".into())],
            created_by: "admin".into(),
            created_at: 1,
        }
    }

    #[test]
    fn subscriptions_are_kept_changed_and_removed() {
        let store = SubscriptionStore::in_memory().unwrap();
        let a = store.add(subscription("https://a.example/events")).unwrap();
        let b = store.add(subscription("https://b.example/events")).unwrap();
        assert_ne!(a.id, b.id);
        assert_eq!(store.all().unwrap(), vec![a.clone(), b.clone()]);
        assert!(store.set_context(a.id, "new").unwrap());
        assert_eq!(store.get(a.id).unwrap().unwrap().context, "new");
        assert!(store.remove(b.id).unwrap());
        assert!(!store.remove(b.id).unwrap());
        assert_eq!(store.all().unwrap().len(), 1);
    }

    #[test]
    fn filters_match_listed_prefixes_and_types_or_everything_when_empty() {
        let mut s = subscription("https://a.example/");
        assert!(s.wants("Lantern", "Sensor"));
        assert!(!s.wants("Base", "Sensor"));
        s.resource_types = vec!["ComputerSystem".into()];
        assert!(s.wants("Lantern", "ComputerSystem"));
        assert!(!s.wants("Lantern", "Sensor"));
        s.registry_prefixes.clear();
        assert!(s.wants("Other", "ComputerSystem"));
    }
}
