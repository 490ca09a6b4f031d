//! A migrating session's data, in versioned parts (the second document behind issue 16: the
//! second server asks the first for the session's data, and keeps a version so that a later
//! move fetches only what changed).
//!
//! One logical session has one id (`sid`) wherever it goes, and one version counter that
//! travels with it: only the controller that holds the session at the moment changes it, so
//! the counter is linear. Each part records the version at which its body last changed; a
//! controller that already holds version `n` of a session asks for the parts changed after `n`.
//!
//! Parts: `identity` and `rights` belong to the session's home (where the account lives) and
//! travel unchanged; `preferences` follow whoever holds the session; `consoles@<node>` are the
//! consoles open at that node.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const IDENTITY: &str = "identity";
pub const RIGHTS: &str = "rights";
pub const PREFERENCES: &str = "preferences";
const CONSOLES: &str = "consoles@";

/// Most parts a session carries, and most bytes of one part's body: a peer's answer is bounded.
pub const MAX_PARTS: usize = 32;
pub const MAX_PART_BYTES: usize = 64 * 1024;

/// The name of the part listing the consoles open at `node`.
pub fn consoles_at(node: &str) -> String {
    format!("{CONSOLES}{node}")
}

/// The node whose open consoles `part` lists, if it is such a part.
pub fn consoles_node(part: &str) -> Option<&str> {
    part.strip_prefix(CONSOLES)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    /// The session version at which this body was last changed.
    pub version: u64,
    pub body: Value,
}

/// A console open in the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenConsole {
    pub host: String,
    pub name: String,
    /// The link could type and point (it held or could take the keyboard and mouse).
    pub control: bool,
}

/// One controller's copy of a session's data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionData {
    pub version: u64,
    pub parts: BTreeMap<String, Part>,
}

impl SessionData {
    /// Records what this controller computes now for the parts it owns: a part whose body
    /// differs from the one held is stamped with the next version. An empty list of consoles
    /// that was never recorded is not recorded (no console opened here).
    pub fn update(&mut self, now: BTreeMap<String, Value>) {
        let next = self.version.saturating_add(1);
        let mut changed = false;
        for (name, body) in now {
            let empty_consoles = consoles_node(&name).is_some() && body.as_array().is_some_and(Vec::is_empty);
            match self.parts.get_mut(&name) {
                Some(part) if part.body == body => {}
                Some(part) => {
                    *part = Part { version: next, body };
                    changed = true;
                }
                None if empty_consoles => {}
                None => {
                    self.parts.insert(name, Part { version: next, body });
                    changed = true;
                }
            }
        }
        if changed {
            self.version = next;
        }
    }

    /// The parts changed after `version` (all of them for 0).
    pub fn since(&self, version: u64) -> BTreeMap<String, Part> {
        self.parts.iter().filter(|(_, p)| p.version > version).map(|(n, p)| (n.clone(), p.clone())).collect()
    }

    /// Takes in what a peer sent: the parts it changed, at its version.
    pub fn merge(&mut self, version: u64, parts: BTreeMap<String, Part>) {
        self.parts.extend(parts);
        self.version = self.version.max(version);
    }

    /// A part's body as `T`, if it is there and well formed.
    pub fn get<T: serde::de::DeserializeOwned>(&self, part: &str) -> Option<T> {
        self.parts.get(part).and_then(|p| serde_json::from_value(p.body.clone()).ok())
    }

    /// The consoles open at each other node, as the parts list them.
    pub fn consoles_elsewhere(&self, this_node: &str) -> Vec<(String, Vec<OpenConsole>)> {
        self.parts
            .iter()
            .filter_map(|(name, part)| {
                let node = consoles_node(name).filter(|n| *n != this_node)?;
                let list: Vec<OpenConsole> = serde_json::from_value(part.body.clone()).ok()?;
                (!list.is_empty()).then(|| (node.to_string(), list))
            })
            .collect()
    }
}

/// Highest version a peer may name: a session changes a few times per move, so anything near
/// the counter's end is a peer's mistake.
pub const MAX_VERSION: u64 = 1 << 53;

/// Why a peer's parts are not taken.
pub fn check_parts(parts: &BTreeMap<String, Part>, version: u64) -> Result<(), &'static str> {
    if version > MAX_VERSION {
        return Err("a version out of range");
    }
    if parts.len() > MAX_PARTS {
        return Err("too many parts");
    }
    for (name, part) in parts {
        if name.len() > 200 || part.version > version || part.version == 0 {
            return Err("a part with a bad name or version");
        }
        if serde_json::to_vec(&part.body).map_or(true, |b| b.len() > MAX_PART_BYTES) {
            return Err("a part too large");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parts(entries: &[(&str, Value)]) -> BTreeMap<String, Value> {
        entries.iter().map(|(n, v)| (n.to_string(), v.clone())).collect()
    }

    #[test]
    fn only_changed_parts_move_the_version_and_travel_again() {
        let mut a = SessionData::default();
        a.update(parts(&[(IDENTITY, json!({"user": "alice"})), (PREFERENCES, json!({"zoom": "fit"}))]));
        assert_eq!(a.version, 1);
        a.update(parts(&[(PREFERENCES, json!({"zoom": "fit"}))]));
        assert_eq!(a.version, 1, "nothing changed");

        // B takes everything, then the user changes a preference there.
        let mut b = SessionData::default();
        b.merge(a.version, a.since(0));
        b.update(parts(&[(PREFERENCES, json!({"zoom": "100"})), (&consoles_at("node-b"), json!([]))]));
        assert_eq!(b.version, 2);
        assert!(!b.parts.contains_key("consoles@node-b"), "no console opened there");

        // Back at A, which holds version 1: only the preference comes back.
        let back = b.since(a.version);
        assert_eq!(back.keys().collect::<Vec<_>>(), vec![PREFERENCES]);
        a.merge(b.version, back);
        assert_eq!((a.version, a.parts[PREFERENCES].body["zoom"].as_str()), (2, Some("100")));
        assert_eq!(a.parts[IDENTITY].version, 1);
    }

    #[test]
    fn consoles_elsewhere_lists_other_nodes_only_and_bad_parts_are_refused() {
        let mut d = SessionData::default();
        let open = json!([{"host": "db1", "name": "Database", "control": true}]);
        d.update(parts(&[(&consoles_at("node-a"), open.clone()), (&consoles_at("node-b"), open)]));
        let elsewhere = d.consoles_elsewhere("node-b");
        assert_eq!(elsewhere.len(), 1);
        assert_eq!((elsewhere[0].0.as_str(), elsewhere[0].1[0].host.as_str()), ("node-a", "db1"));

        assert!(check_parts(&d.parts, d.version).is_ok());
        assert!(check_parts(&d.parts, 0).is_err(), "a part newer than the session");
        let huge = BTreeMap::from([("x".to_string(), Part { version: 1, body: json!("a".repeat(MAX_PART_BYTES)) })]);
        assert!(check_parts(&huge, 1).is_err());
    }
}
