//! Directory login: users whose password, role and rights live in the organisation's
//! directory rather than in this controller.
//!
//! A directory user is checked by the directory at every login, through the same throttling
//! gate as a local account (`web::login`). Once the directory has said yes, the user's groups
//! are mapped here ([`Mapping`]) to a role and per-host rights, and those are written to the
//! store's account for them (`store::directory`), replacing what the last login wrote; every
//! request then reads them from the store as it does for anyone. A local account of the same
//! name always wins, so a directory can never take over `admin`.

pub mod config;
pub mod kerberos;
pub mod ldap;
pub mod seal;
mod transport;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::store::users::StoreError;
use crate::store::{HostRights, Role, UserStore};
use crate::web::login::Verdict;

pub use config::LdapConfig;

/// Why the directory did not let a user in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// No such user, or a wrong password: counted as a failed login.
    #[error("wrong name or password")]
    Wrong,
    /// The directory could not be asked (down, TLS failure, time-out, a malformed answer).
    /// Not the user's fault: nothing is counted against them.
    #[error("{0}")]
    Unavailable(String),
}

/// A user's Kerberos credentials as `lantern_gss` exports them, on their way to the browser.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub token: zeroize::Zeroizing<Vec<u8>>,
    /// How long the ticket-granting ticket stays valid.
    pub lifetime: std::time::Duration,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

/// The directories logins are checked with, from `[auth]`.
#[derive(Debug)]
pub struct Directory {
    ldap: Option<(Arc<ldap::LdapDirectory>, Mapping)>,
    kerberos: Option<Arc<kerberos::KerberosConfig>>,
}

/// The `directory` column of an LDAP user's account, and of a Kerberos user's.
pub const LDAP: &str = "ldap";
pub const KERBEROS: &str = "kerberos";

impl Directory {
    /// The configured directories, if any (an error names what is wrong with a section).
    pub fn from_config(
        ldap: Option<&LdapConfig>,
        kerberos: Option<&kerberos::KerberosConfig>,
    ) -> anyhow::Result<Option<Arc<Self>>> {
        if ldap.is_none() && kerberos.is_none() {
            return Ok(None);
        }
        let ldap = match ldap {
            Some(config) => Some((Arc::new(ldap::LdapDirectory::new(config)?), Mapping::from_config(config))),
            None => None,
        };
        Ok(Some(Arc::new(Self { ldap, kerberos: kerberos.cloned().map(Arc::new) })))
    }

    /// The Kerberos realm's configuration, when there is one.
    pub fn kerberos(&self) -> Option<&Arc<kerberos::KerberosConfig>> {
        self.kerberos.as_ref()
    }

    /// Checks a login with the directory that claims the name (Kerberos for `user@REALM`,
    /// else LDAP) and, when it says yes, brings the user's account in line.
    pub async fn verify(&self, store: &UserStore, name: &str, password: &str) -> Result<Verdict, StoreError> {
        if let Some(kerberos) = self.kerberos.as_ref().filter(|k| k.claims(name)) {
            return self.verify_kerberos(kerberos, store, name, password).await;
        }
        let Some((ldap, mapping)) = &self.ldap else { return Ok(Verdict::No) };
        let found = match ldap.authenticate(name, password).await {
            Ok(found) => found,
            Err(DirectoryError::Wrong) => return Ok(Verdict::No),
            Err(DirectoryError::Unavailable(why)) => return Ok(Verdict::Unavailable(why)),
        };
        let Some(grant) = mapping.grant(&found.groups) else {
            return Ok(Verdict::NotPermitted(format!(
                "{} is in {} directory groups, none of them mapped",
                found.dn,
                found.groups.len()
            )));
        };
        Ok(match store.directory_account(name, LDAP, &grant)? {
            Ok(user) => {
                let how = serde_json::json!({ "directory": LDAP, "dn": found.dn, "groups": grant.groups, "role": grant.role });
                Verdict::Yes { user, how, credentials: None }
            }
            Err(taken) => Verdict::NotPermitted(format!("{name}: {taken}")),
        })
    }

    /// The AS exchange with the KDC, then what the principal may do here.
    async fn verify_kerberos(
        &self,
        config: &Arc<kerberos::KerberosConfig>,
        store: &UserStore,
        principal: &str,
        password: &str,
    ) -> Result<Verdict, StoreError> {
        let credentials = match kerberos::authenticate(config, principal, password).await {
            Ok(credentials) => credentials,
            Err(DirectoryError::Wrong) => return Ok(Verdict::No),
            Err(DirectoryError::Unavailable(why)) => return Ok(Verdict::Unavailable(why)),
        };
        let grant = match self.kerberos_grant(config, principal).await {
            Ok(Ok(grant)) => grant,
            Ok(Err(why)) => return Ok(Verdict::NotPermitted(why)),
            Err(why) => return Ok(Verdict::Unavailable(why)),
        };
        let how = serde_json::json!({ "directory": KERBEROS, "role": grant.role, "groups": grant.groups });
        Ok(match store.directory_account(principal, KERBEROS, &grant)? {
            Ok(user) => Verdict::Yes { user, how, credentials: Some(credentials) },
            Err(taken) => Verdict::NotPermitted(format!("{principal}: {taken}")),
        })
    }

    /// What a principal Kerberos has authenticated may do: its entry in the realm's role map;
    /// else, when LDAP is configured with a service account, the groups of the directory entry
    /// of its user name, as for an LDAP login; else the realm's default role. The inner error
    /// says why it may do nothing; the outer, that the directory could not be asked.
    pub async fn kerberos_grant(
        &self,
        config: &kerberos::KerberosConfig,
        principal: &str,
    ) -> Result<Result<Grant, String>, String> {
        let mapped = |role| Grant { role, rights: BTreeMap::new(), groups: Vec::new() };
        if let Some(role) = config.mapped_role(principal) {
            return Ok(Ok(mapped(role)));
        }
        if let (Some((ldap, mapping)), Some(user)) = (&self.ldap, config.user_of(principal)) {
            match ldap.look_up(user).await {
                Ok(found) => {
                    if let Some(grant) = mapping.grant(&found.groups) {
                        return Ok(Ok(grant));
                    }
                }
                Err(DirectoryError::Wrong) => {}
                Err(DirectoryError::Unavailable(why)) => return Err(why),
            }
        }
        Ok(config.default_role.map(mapped).ok_or_else(|| format!("{principal} is not mapped to a role")))
    }
}

/// What a directory user may do, from their groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub role: Role,
    /// Per-host rights from the rights groups, each host's the union of its groups'.
    pub rights: BTreeMap<String, HostRights>,
    /// The mapped groups the user is in, as configured (for the audit trail).
    pub groups: Vec<String>,
}

/// Groups to roles and rights, compared by normalised DN.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    roles: Vec<(String, String, Role)>,
    rights: Vec<(String, String, String, HostRights)>,
}

/// A DN compared the way directories compare them for our purpose: case-insensitively and
/// without the spaces allowed around separators (`CN=Admins, DC=example` is `cn=admins,dc=example`).
pub fn normalize_dn(dn: &str) -> String {
    let mut out = String::with_capacity(dn.len());
    for part in dn.split(',') {
        if !out.is_empty() {
            out.push(',');
        }
        let part = part.trim();
        match part.split_once('=') {
            Some((kind, value)) => {
                out.push_str(&kind.trim().to_lowercase());
                out.push('=');
                out.push_str(&value.trim().to_lowercase());
            }
            None => out.push_str(&part.to_lowercase()),
        }
    }
    out
}

impl Mapping {
    pub fn from_config(config: &LdapConfig) -> Self {
        let roles = config.roles.iter().map(|r| (normalize_dn(&r.group), r.group.clone(), r.role)).collect();
        let rights = config
            .rights
            .iter()
            .map(|r| {
                let mut rights = HostRights::default();
                r.rights.iter().for_each(|name| name.add_to(&mut rights));
                (normalize_dn(&r.group), r.group.clone(), r.host.clone(), rights.normalized())
            })
            .collect();
        Self { roles, rights }
    }

    /// The grant of a user in `groups` (DNs as the directory gave them), or `None` when none of
    /// them is mapped. The role is the highest of the role groups', ReadOnly for a user only
    /// in rights groups.
    pub fn grant(&self, groups: &[String]) -> Option<Grant> {
        let groups: std::collections::HashSet<String> = groups.iter().map(|g| normalize_dn(g)).collect();
        let mut matched = Vec::new();
        let mut role = None;
        for (dn, name, r) in &self.roles {
            if groups.contains(dn) {
                role = Some(role.map_or(*r, |best: Role| if best.at_most(*r) == best { *r } else { best }));
                matched.push(name.clone());
            }
        }
        let mut rights: BTreeMap<String, HostRights> = BTreeMap::new();
        for (dn, name, host, granted) in &self.rights {
            if groups.contains(dn) {
                let entry = rights.entry(host.clone()).or_default();
                *entry = union(*entry, *granted);
                if !matched.contains(name) {
                    matched.push(name.clone());
                }
            }
        }
        if matched.is_empty() {
            return None;
        }
        let role = role.unwrap_or(Role::ReadOnly);
        // A host's entry replaces the role's defaults there, so a rights group adds to what the
        // role already gives rather than narrowing it.
        let defaults = HostRights::default_for(role, crate::store::HostClass::Managed);
        for rights in rights.values_mut() {
            *rights = union(*rights, defaults);
        }
        Some(Grant { role, rights, groups: matched })
    }
}

fn union(a: HostRights, b: HostRights) -> HostRights {
    HostRights {
        view: a.view || b.view,
        control: a.control || b.control,
        power: a.power || b.power,
        run: a.run || b.run,
        media: a.media || b.media,
    }
}

#[cfg(test)]
mod tests {
    use super::config::{GroupRights, GroupRole, RightName};
    use super::*;

    fn config() -> LdapConfig {
        let mut config: LdapConfig = toml::from_str(
            r#"url = "ldaps://dir.example"
               search_base = "dc=example""#,
        )
        .unwrap();
        let role = |group: &str, role| GroupRole { group: group.into(), role };
        config.roles =
            vec![role("cn=ops,dc=example", Role::Operator), role("CN=Admins, DC=Example", Role::Administrator)];
        config.rights = vec![
            GroupRights { group: "cn=db,dc=example".into(), host: "db1".into(), rights: vec![RightName::Power] },
            GroupRights { group: "cn=dbrun,dc=example".into(), host: "db1".into(), rights: vec![RightName::Run] },
        ];
        config
    }

    #[test]
    fn the_highest_role_wins_and_dns_compare_loosely() {
        let mapping = Mapping::from_config(&config());
        let grant = mapping.grant(&["cn=ops,dc=example".into(), "cn=admins,dc=example".into()]).unwrap();
        assert_eq!(grant.role, Role::Administrator);
        let grant = mapping.grant(&["CN=Ops , dc=Example".into()]).unwrap();
        assert_eq!((grant.role, grant.groups), (Role::Operator, vec!["cn=ops,dc=example".to_string()]));
    }

    #[test]
    fn rights_groups_add_up_per_host_and_imply_view() {
        let mapping = Mapping::from_config(&config());
        let grant = mapping.grant(&["cn=db,dc=example".into(), "cn=dbrun,dc=example".into()]).unwrap();
        assert_eq!(grant.role, Role::ReadOnly);
        assert_eq!(
            grant.rights["db1"],
            HostRights { view: true, control: false, power: true, run: true, media: false }
        );
        // With a role, the group adds to the role's defaults there.
        let grant = mapping.grant(&["cn=ops,dc=example".into(), "cn=dbrun,dc=example".into()]).unwrap();
        assert_eq!(grant.rights["db1"], HostRights::ALL);
    }

    #[test]
    fn a_user_in_no_mapped_group_gets_nothing() {
        let mapping = Mapping::from_config(&config());
        assert_eq!(mapping.grant(&["cn=other,dc=example".into()]), None);
        assert_eq!(mapping.grant(&[]), None);
    }

    #[test]
    fn plain_ldap_and_half_configurations_are_refused() {
        let mut c = config();
        assert_eq!(c.problem(), None);
        c.url = "ldap://dir.example".into();
        assert!(c.problem().unwrap().contains("in the clear"));
        c.starttls = true;
        assert_eq!(c.problem(), None);
        c.user_dn_template = Some("uid={user},dc=example".into());
        assert!(c.problem().unwrap().contains("not both"));
        c.search_base = None;
        assert_eq!(c.problem(), None);
        c.bind_dn = Some("cn=svc".into());
        assert!(c.problem().unwrap().contains("go together"));
    }
}
