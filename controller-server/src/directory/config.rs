//! `[auth.ldap]`: where the directory is, how a user is found and checked, and which groups
//! give which role and which per-host rights.

use std::path::PathBuf;

use serde::Deserialize;

use crate::store::{HostRights, Role};

/// `[auth.ldap]`.
///
/// ```toml
/// [auth.ldap]
/// url = "ldaps://dir.example.com"          # or ldap://...:389 with starttls = true
/// ca_file = "/etc/lantern/directory-ca.pem" # else the system's trust anchors
/// # Search then bind: a service account finds the user's entry ...
/// bind_dn = "cn=lantern,ou=services,dc=example,dc=com"
/// bind_password_file = "/etc/lantern/ldap-password"
/// search_base = "ou=people,dc=example,dc=com"
/// user_filter = "(uid={user})"
/// # ... or bind directly: user_dn_template = "uid={user},ou=people,dc=example,dc=com"
/// group_base = "ou=groups,dc=example,dc=com"
///
/// [[auth.ldap.roles]]
/// group = "cn=lantern-admins,ou=groups,dc=example,dc=com"
/// role = "Administrator"
///
/// [[auth.ldap.rights]]
/// group = "cn=db-team,ou=groups,dc=example,dc=com"
/// host = "db1"
/// rights = ["view", "control", "power"]
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapConfig {
    /// `ldaps://host[:port]`, or `ldap://host[:port]` with `starttls = true`. Plain LDAP would
    /// carry users' passwords in the clear and is refused.
    pub url: String,
    #[serde(default)]
    pub starttls: bool,
    /// PEM certificates the directory's certificate must chain to; the system's when absent.
    pub ca_file: Option<PathBuf>,
    /// Each connection, bind and search must finish within this.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// The service account that searches for users (search then bind).
    pub bind_dn: Option<String>,
    /// A file holding the service account's password (trailing newline ignored).
    pub bind_password_file: Option<PathBuf>,
    pub search_base: Option<String>,
    /// `{user}` is replaced by the login name, escaped for a filter (RFC 4515).
    #[serde(default = "default_user_filter")]
    pub user_filter: String,
    /// Bind directly as this DN, `{user}` escaped for a DN (RFC 4514), instead of searching.
    pub user_dn_template: Option<String>,
    /// Where groups are searched for; without it only the entry's `memberOf` counts.
    pub group_base: Option<String>,
    /// `{dn}` is the user's DN and `{user}` the login name, both escaped for a filter.
    #[serde(default = "default_group_filter")]
    pub group_filter: String,
    #[serde(default)]
    pub roles: Vec<GroupRole>,
    #[serde(default)]
    pub rights: Vec<GroupRights>,
}

/// Members of `group` have at least `role`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRole {
    pub group: String,
    pub role: Role,
}

/// Members of `group` have `rights` on `host`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRights {
    pub group: String,
    pub host: String,
    pub rights: Vec<RightName>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RightName {
    View,
    Control,
    Power,
    Run,
    Media,
}

impl RightName {
    pub fn add_to(self, rights: &mut HostRights) {
        match self {
            RightName::View => rights.view = true,
            RightName::Control => rights.control = true,
            RightName::Power => rights.power = true,
            RightName::Run => rights.run = true,
            RightName::Media => rights.media = true,
        }
    }
}

fn default_timeout() -> u64 {
    5
}

fn default_user_filter() -> String {
    "(uid={user})".into()
}

fn default_group_filter() -> String {
    "(|(member={dn})(uniqueMember={dn}))".into()
}

impl LdapConfig {
    /// What is wrong with this section, if anything.
    pub fn problem(&self) -> Option<String> {
        let scheme = self.url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match (scheme.as_deref(), self.starttls) {
            (Some("ldaps"), false) | (Some("ldap"), true) => {}
            (Some("ldaps"), true) => return Some("auth.ldap: starttls is for ldap:// URLs, not ldaps://".into()),
            (Some("ldap"), false) => {
                return Some(
                    "auth.ldap: ldap:// without starttls would send passwords in the clear: use ldaps:// or set starttls = true"
                        .into(),
                )
            }
            _ => return Some(format!("auth.ldap: url {:?} must start with ldaps:// or ldap://", self.url)),
        }
        if super::transport::Endpoint::parse(&self.url).is_none() {
            return Some(format!("auth.ldap: url {:?} is not ldap[s]://host[:port]", self.url));
        }
        match (&self.user_dn_template, &self.search_base) {
            (Some(t), None) if t.contains("{user}") => {}
            (Some(_), None) => return Some("auth.ldap: user_dn_template must contain {user}".into()),
            (None, Some(_)) if self.user_filter.contains("{user}") => {}
            (None, Some(_)) => return Some("auth.ldap: user_filter must contain {user}".into()),
            (Some(_), Some(_)) => {
                return Some(
                    "auth.ldap: set either search_base (search then bind) or user_dn_template, not both".into(),
                )
            }
            (None, None) => return Some("auth.ldap: set search_base (search then bind) or user_dn_template".into()),
        }
        if self.bind_dn.is_some() != self.bind_password_file.is_some() {
            return Some("auth.ldap: bind_dn and bind_password_file go together".into());
        }
        if self.roles.is_empty() && self.rights.is_empty() {
            return Some("auth.ldap: map at least one group in [[auth.ldap.roles]] or [[auth.ldap.rights]]".into());
        }
        if self.timeout_seconds == 0 {
            return Some("auth.ldap: timeout_seconds must be positive".into());
        }
        None
    }
}
