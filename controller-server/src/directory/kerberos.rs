//! Kerberos password login: the controller has the AS exchange for `user@REALM` performed
//! with the user's password by `lantern-kinit` (a process per login, through the system's
//! GSS-API), which exports the ticket-granting ticket with its session key as one token; the
//! controller hands it to the browser sealed (`directory::seal`) and wipes its own copy: nothing
//! of it stays in the controller's memory or reaches the store.

use directory_wire::kinit;
use serde::Deserialize;

use super::{Credentials, DirectoryError};
use crate::store::Role;

/// `[auth.kerberos]`.
///
/// ```toml
/// [auth.kerberos]
/// realm = "EXAMPLE.COM"
/// kdc = ["kdc1.example.com:88"]   # else the system's krb5.conf (or $KRB5_CONFIG) says
/// [[auth.kerberos.roles]]
/// principal = "alice@EXAMPLE.COM"
/// role = "Administrator"
/// # default_role = "ReadOnly"     # for the realm's other users: after the map, and after the
///                                 # groups of their [auth.ldap] entry when LDAP is configured
/// keytab = "/etc/lantern/http.keytab"  # single sign-on with HTTP/<name>@EXAMPLE.COM
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KerberosConfig {
    pub realm: String,
    /// The realm's KDCs (`host[:port]`). When given, the controller writes a `krb5.conf` for
    /// them into its data folder and points its Kerberos helper there; else the helper reads
    /// the system's (or `$KRB5_CONFIG`).
    #[serde(default)]
    pub kdc: Vec<String>,
    /// A KDC has this long to answer.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    #[serde(default)]
    pub roles: Vec<PrincipalRole>,
    pub default_role: Option<Role>,
    /// The `lantern-kinit` program (crate `lantern-gss`); beside `controller-server` by default.
    pub helper: Option<std::path::PathBuf>,
    /// The `krb5.conf` written for `kdc` at start-up (not configured: made by [`prepare`]).
    #[serde(skip)]
    pub krb5_config: Option<std::path::PathBuf>,
    /// The keytab with the controller's `HTTP/<its name>@REALM` keys: single sign-on
    /// (SPNEGO, HTTP Negotiate) for browsers that hold a ticket, when set.
    pub keytab: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalRole {
    pub principal: String,
    pub role: Role,
}

fn default_timeout() -> u64 {
    5
}

impl KerberosConfig {
    pub fn problem(&self) -> Option<String> {
        let realm_ok =
            !self.realm.is_empty() && self.realm.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !realm_ok {
            return Some(format!("auth.kerberos: realm {:?} must be letters, digits, '.' or '-'", self.realm));
        }
        if let Some(kdc) = self.kdc.iter().find(|k| k.is_empty() || k.contains(|c: char| c.is_whitespace() || c == '}'))
        {
            return Some(format!("auth.kerberos: kdc {kdc:?} is not host[:port]"));
        }

        if let Some(r) = self.roles.iter().find(|r| !r.principal.ends_with(&format!("@{}", self.realm))) {
            return Some(format!("auth.kerberos: principal {:?} is not of realm {}", r.principal, self.realm));
        }
        None
    }

    /// The role the map gives `principal`, if it names it.
    pub fn mapped_role(&self, principal: &str) -> Option<Role> {
        self.roles.iter().find(|r| r.principal == principal).map(|r| r.role)
    }

    /// The user name of a user principal of this realm (`alice` of `alice@REALM`).
    pub fn user_of<'a>(&self, principal: &'a str) -> Option<&'a str> {
        self.claims(principal).then(|| principal.strip_suffix(&self.realm)?.strip_suffix('@')).flatten()
    }

    /// Whether a login name is a user principal of this realm (`user@REALM`, no instance).
    pub fn claims(&self, name: &str) -> bool {
        name.strip_suffix(&self.realm)
            .and_then(|n| n.strip_suffix('@'))
            .is_some_and(|user| !user.is_empty() && !user.contains(['@', '/']) && !user.chars().any(char::is_control))
    }

    /// The `krb5.conf` for the configured KDCs.
    pub fn krb5_conf(&self) -> String {
        let kdcs: String = self.kdc.iter().map(|k| format!("        kdc = {k}\n")).collect();
        format!(
            "[libdefaults]\n    default_realm = {realm}\n    dns_lookup_kdc = false\n    dns_lookup_realm = false\n    \
             rdns = false\n    request_timeout = {timeout}\n    udp_preference_limit = 1\n\
             [realms]\n    {realm} = {{\n{kdcs}    }}\n",
            realm = self.realm,
            timeout = self.timeout_seconds.max(1),
        )
    }
}

/// Writes the `krb5.conf` for the configured KDCs into the data folder, when the
/// configuration names them; the helper is pointed at it (`KRB5_CONFIG` in its environment,
/// never in ours). Called once at start-up.
pub fn prepare(config: &mut KerberosConfig, data_dir: &std::path::Path) -> anyhow::Result<()> {
    if config.kdc.is_empty() {
        return Ok(());
    }
    let path = data_dir.join("krb5.conf");
    std::fs::write(&path, config.krb5_conf())?;
    config.krb5_config = Some(path);
    Ok(())
}

/// Where `lantern-kinit` is when the configuration does not say: beside this program.
fn default_helper() -> std::path::PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(HELPER)))
        .unwrap_or_else(|| HELPER.into())
}

const HELPER: &str = "lantern-kinit";

/// How a run of the helper ended: its exit status, what it wrote (in a buffer allocated once
/// at its largest and wiped when dropped) and what it said on stderr.
struct HelperRun {
    status: Option<i32>,
    answer: zeroize::Zeroizing<Vec<u8>>,
    said: String,
}

/// Runs `lantern-kinit <command>` with `request` on its stdin, within the configured time.
async fn run_helper(
    config: &KerberosConfig,
    command: &str,
    request: &[u8],
    env: &[(&str, &std::path::Path)],
) -> Result<HelperRun, DirectoryError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let helper = config.helper.clone().unwrap_or_else(default_helper);
    let mut command_line = tokio::process::Command::new(&helper);
    if let Some(krb5_config) = &config.krb5_config {
        command_line.env("KRB5_CONFIG", krb5_config);
    }
    let mut child = command_line
        .arg(command)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            unavailable(format!(
                "cannot run the Kerberos helper {} ({e}): build it with `cargo build --release -p lantern-gss` and put it beside controller-server, or set auth.kerberos.helper",
                helper.display()
            ))
        })?;
    let exchange = async {
        let mut stdin = child.stdin.take().ok_or_else(|| unavailable("no pipe to the Kerberos helper"))?;
        stdin.write_all(request).await.map_err(|e| unavailable(format!("the Kerberos helper: {e}")))?;
        drop(stdin);
        let mut answer = zeroize::Zeroizing::new(Vec::with_capacity(kinit::MAX_MESSAGE + 1));
        let mut stdout = child.stdout.take().ok_or_else(|| unavailable("no pipe from the Kerberos helper"))?;
        let mut stderr = child.stderr.take().ok_or_else(|| unavailable("no pipe from the Kerberos helper"))?;
        let mut said = Vec::new();
        let (mut stdout, mut stderr) = ((&mut stdout).take(kinit::MAX_MESSAGE as u64), (&mut stderr).take(4096));
        let (read, _) = tokio::join!(stdout.read_to_end(&mut answer), stderr.read_to_end(&mut said));
        read.map_err(|e| unavailable(format!("the Kerberos helper: {e}")))?;
        let status = child.wait().await.map_err(|e| unavailable(format!("the Kerberos helper: {e}")))?;
        Ok(HelperRun { status: status.code(), answer, said: String::from_utf8_lossy(&said).trim().to_string() })
    };
    // The library has its own KDC time-out; this bounds everything else.
    let deadline = std::time::Duration::from_secs(config.timeout_seconds.saturating_mul(3).max(5));
    tokio::time::timeout(deadline, exchange)
        .await
        .unwrap_or_else(|_| Err(unavailable(format!("the Kerberos KDC did not answer within {}s", deadline.as_secs()))))
}

/// Checks `principal` and `password` with the KDC, through `lantern-kinit` (a process per
/// login, so that what the Kerberos library leaves in freed memory ends with it).
pub async fn authenticate(
    config: &KerberosConfig,
    principal: &str,
    password: &str,
) -> Result<Credentials, DirectoryError> {
    if !config.claims(principal) || password.is_empty() || password.len() > crate::web::login::MAX_PASSWORD_BYTES {
        return Err(DirectoryError::Wrong);
    }
    let run = run_helper(config, "login", &kinit::login_request(principal, password), &[]).await?;
    match run.status {
        Some(0) => {}
        Some(kinit::EXIT_WRONG_PASSWORD) => return Err(DirectoryError::Wrong),
        _ => return Err(unavailable(format!("the Kerberos KDC did not let {principal} in: {}", run.said))),
    }
    let (lifetime, token) =
        kinit::read_login_answer(&run.answer).map_err(|_| unavailable("the Kerberos helper's answer is malformed"))?;
    Ok(Credentials { token, lifetime })
}

/// A browser's single sign-on, accepted.
#[derive(Debug)]
pub struct Negotiated {
    pub principal: String,
    /// For `WWW-Authenticate` (mutual authentication).
    pub reply: Vec<u8>,
    pub delegated: Option<Credentials>,
}

/// Why single sign-on did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NegotiateRefused {
    /// The browser's token was refused (not for our keys, expired, replayed, malformed).
    Token(String),
    /// The helper could not run or answered badly.
    Unavailable(String),
}

/// Accepts a browser's Negotiate token with the keytab's keys, through `lantern-kinit accept`.
pub async fn accept(config: &KerberosConfig, token: &[u8]) -> Result<Negotiated, NegotiateRefused> {
    let Some(keytab) = &config.keytab else {
        return Err(NegotiateRefused::Unavailable("single sign-on needs auth.kerberos.keytab".into()));
    };
    let run = run_helper(config, "accept", &kinit::accept_request(token), &[("KRB5_KTNAME", keytab)])
        .await
        .map_err(|e| NegotiateRefused::Unavailable(e.to_string()))?;
    match run.status {
        Some(0) => {}
        Some(kinit::EXIT_REFUSED) => return Err(NegotiateRefused::Token(run.said)),
        _ => return Err(NegotiateRefused::Unavailable(format!("the Kerberos helper failed: {}", run.said))),
    }
    let answer = kinit::read_accept_answer(&run.answer)
        .map_err(|_| NegotiateRefused::Unavailable("the Kerberos helper's answer is malformed".into()))?;
    let delegated = answer.delegated.map(|(lifetime, token)| Credentials { token, lifetime });
    Ok(Negotiated { principal: answer.principal, reply: answer.reply, delegated })
}

/// The user's proof for a directive on the agent `host`: from their exported credentials (as
/// their sealed cookie brought them back), through `lantern-kinit ticket`, which asks the KDC for
/// a ticket to `host/<host>` with their TGT. The error says why not, for the user.
pub async fn prove(
    config: &KerberosConfig,
    credentials: &[u8],
    host: &str,
    binding: &[u8],
) -> Result<agent_link::KerberosProof, String> {
    let request = kinit::ticket_request(credentials, host, binding);
    let run = run_helper(config, "ticket", &request, &[]).await.map_err(|e| e.to_string())?;
    if run.status != Some(0) {
        return Err(format!("no Kerberos ticket for host/{host} could be made from your credentials: {}", run.said));
    }
    let (token, wrapped) =
        kinit::read_ticket_answer(&run.answer).map_err(|_| "the Kerberos helper's answer is malformed".to_string())?;
    Ok(agent_link::KerberosProof { token, wrapped })
}

fn unavailable(why: impl Into<String>) -> DirectoryError {
    DirectoryError::Unavailable(why.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> KerberosConfig {
        toml::from_str(
            r#"realm = "LANTERN.TEST"
               kdc = ["127.0.0.1:88"]
               [[roles]]
               principal = "alice@LANTERN.TEST"
               role = "Operator""#,
        )
        .unwrap()
    }

    #[test]
    fn only_user_principals_of_the_realm_are_claimed() {
        let c = config();
        assert!(c.claims("alice@LANTERN.TEST"));
        for name in [
            "alice",
            "alice@OTHER.TEST",
            "@LANTERN.TEST",
            "HTTP/x@LANTERN.TEST",
            "a@b@LANTERN.TEST",
            "alice@lantern.test",
        ] {
            assert!(!c.claims(name), "{name}");
        }
        assert_eq!(c.mapped_role("alice@LANTERN.TEST"), Some(Role::Operator));
        assert_eq!(c.mapped_role("bob@LANTERN.TEST"), None);
        assert_eq!(c.user_of("alice@LANTERN.TEST"), Some("alice"));
        assert_eq!(c.user_of("alice@OTHER.TEST"), None);
        assert_eq!(c.problem(), None);
        assert!(c.krb5_conf().contains("kdc = 127.0.0.1:88"));
    }
}
