//! Reading the audit trail through a filter, as the *Audit* page and its exports do: by who
//! acted, what they did (an action or a family of them: `login` is `login.ok`, `login.failed`
//! ...), what it was done to, and when.

use rusqlite::types::Value as SqlValue;
use serde::Deserialize;

use super::audit::{row_to_record, AuditLog, AuditRecord};
use super::users::StoreError;

/// What to keep; an empty field keeps everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    /// An action (`console.open`), or the part before a dot (`console`) for all of its kind.
    pub action: Option<String>,
    /// What it was done to: a host id, a user name.
    pub target: Option<String>,
    /// Unix milliseconds: from (inclusive) and to (exclusive).
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl AuditFilter {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The SQL condition and its parameters (numbered from `?1`), never the values in the text.
    fn condition(&self) -> (String, Vec<SqlValue>) {
        let mut clauses = Vec::new();
        let mut values: Vec<SqlValue> = Vec::new();
        let mut add = |clause: &str, value: SqlValue, values: &mut Vec<SqlValue>| {
            values.push(value);
            clauses.push(clause.replace('#', &format!("?{}", values.len())));
        };
        let given = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        if let Some(actor) = given(&self.actor) {
            add("actor = #", actor.into(), &mut values);
        }
        if let Some(action) = given(&self.action) {
            // Exactly, or as the head of a family: no LIKE, so no wildcard in a name matters.
            add("(action = # OR substr(action, 1, length(#) + 1) = # || '.')", action.into(), &mut values);
        }
        if let Some(target) = given(&self.target) {
            add("target = #", target.into(), &mut values);
        }
        if let Some(from) = self.from {
            add("at >= #", from.into(), &mut values);
        }
        if let Some(to) = self.to {
            add("at < #", to.into(), &mut values);
        }
        let condition = if clauses.is_empty() { "1".to_string() } else { clauses.join(" AND ") };
        (condition, values)
    }
}

const COLUMNS: &str = "SELECT id, at, actor, action, target, detail, hash FROM audit";

impl AuditLog {
    /// Matching records before `before` (newest first), at most `limit`.
    pub fn search(
        &self,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let (condition, mut values) = filter.condition();
        let n = values.len();
        values.push(before.unwrap_or(i64::MAX).into());
        values.push(i64::from(limit).into());
        let sql = format!("{COLUMNS} WHERE {condition} AND id < ?{} ORDER BY id DESC LIMIT ?{}", n + 1, n + 2);
        self.query(&sql, values)
    }

    /// Matching records after `after` (oldest first), at most `limit`: an export's next page.
    pub fn search_after(&self, filter: &AuditFilter, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        let (condition, mut values) = filter.condition();
        let n = values.len();
        values.push(after.into());
        values.push(i64::from(limit).into());
        let sql = format!("{COLUMNS} WHERE {condition} AND id > ?{} ORDER BY id LIMIT ?{}", n + 1, n + 2);
        self.query(&sql, values)
    }

    /// The actions in the trail, for the page's choice of them.
    pub fn actions(&self) -> Result<Vec<String>, StoreError> {
        let db = self.db()?;
        let mut stmt = db.prepare("SELECT DISTINCT action FROM audit ORDER BY action")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn query(&self, sql: &str, values: Vec<SqlValue>) -> Result<Vec<AuditRecord>, StoreError> {
        let db = self.db()?;
        let mut stmt = db.prepare(sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(values), row_to_record)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn trail() -> AuditLog {
        let log = AuditLog::in_memory().unwrap();
        for (actor, action, target) in [
            ("alice", "login.ok", ""),
            ("bob", "login.failed", ""),
            ("alice", "console.open", "web1"),
            ("bob", "console.open", "db1"),
            ("alice", "loginx.odd", ""),
            ("b%", "login.ok", ""),
        ] {
            log.record(actor, action, target, json!({})).unwrap();
        }
        log
    }

    fn ids(records: Vec<AuditRecord>) -> Vec<i64> {
        records.into_iter().map(|r| r.id).collect()
    }

    #[test]
    fn filters_narrow_by_actor_action_family_target_and_time() {
        let log = trail();
        let all = AuditFilter::default();
        assert_eq!(ids(log.search(&all, None, 100).unwrap()), [6, 5, 4, 3, 2, 1]);
        let alice = AuditFilter { actor: Some("alice".into()), ..all.clone() };
        assert_eq!(ids(log.search(&alice, None, 100).unwrap()), [5, 3, 1]);
        let logins = AuditFilter { action: Some("login".into()), ..all.clone() };
        assert_eq!(ids(log.search(&logins, None, 100).unwrap()), [6, 2, 1], "a family, not a prefix");
        let failed = AuditFilter { action: Some("login.failed".into()), ..all.clone() };
        assert_eq!(ids(log.search(&failed, None, 100).unwrap()), [2]);
        let web1 = AuditFilter { target: Some("web1".into()), actor: Some(" alice ".into()), ..all.clone() };
        assert_eq!(ids(log.search(&web1, None, 100).unwrap()), [3]);
        let wildcard = AuditFilter { actor: Some("b%".into()), ..all.clone() };
        assert_eq!(ids(log.search(&wildcard, None, 100).unwrap()), [6], "no wildcards");
        let at = log.get(3).unwrap().unwrap().at;
        let window = AuditFilter { from: Some(at), to: Some(at + 1), ..all.clone() };
        assert!(ids(log.search(&window, None, 100).unwrap()).contains(&3));
        let future = AuditFilter { from: Some(at + 3_600_000), ..all.clone() };
        assert!(log.search(&future, None, 100).unwrap().is_empty());
        // Paging both ways.
        assert_eq!(ids(log.search(&all, Some(4), 2).unwrap()), [3, 2]);
        assert_eq!(ids(log.search_after(&alice, 1, 1).unwrap()), [3]);
        assert_eq!(log.actions().unwrap(), ["console.open", "login.failed", "login.ok", "loginx.odd"]);
    }
}
