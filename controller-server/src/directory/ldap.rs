//! Checking a user against an LDAP directory: find their entry (a service account's search,
//! or a DN template), bind as them with their password, and read their groups (the entry's
//! `memberOf`, and a search under `group_base`).
//!
//! Names are escaped for the filter (RFC 4515) or the DN (RFC 4514) they go into, so
//! `*)(uid=*` is a name nobody has. An empty password is refused before the directory sees
//! it: LDAP treats a bind with a DN and no password as an anonymous bind, which succeeds.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ldap3::asn1::StructureTag;
use ldap3::{LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchOptions, StdStream};
use zeroize::Zeroizing;

use super::transport::{self, Endpoint, PumpEnd};
use super::{DirectoryError, LdapConfig};

/// A user entry's search may match at most this many entries (more than one is refused as
/// ambiguous); a group search, at most [`MAX_GROUPS`].
const MAX_USER_MATCHES: i32 = 2;
pub const MAX_GROUPS: usize = 1000;
/// Longest login name sent to the directory.
const MAX_NAME: usize = 256;
/// LDAP's resultCode for a wrong password (and for an unknown DN under a direct bind).
const INVALID_CREDENTIALS: u32 = 49;
const SIZE_LIMIT_EXCEEDED: u32 = 4;

/// A configured directory, ready to check logins.
pub struct LdapDirectory {
    config: LdapConfig,
    endpoint: Endpoint,
    tls: Arc<rustls::ClientConfig>,
    bind_password: Option<Zeroizing<String>>,
    timeout: Duration,
}

impl std::fmt::Debug for LdapDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapDirectory").field("url", &self.config.url).finish_non_exhaustive()
    }
}

/// What the directory said about a user whose password it accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    pub dn: String,
    pub groups: Vec<String>,
}

impl LdapDirectory {
    /// Reads the trust anchors and the service account's password; checks the section.
    pub fn new(config: &LdapConfig) -> anyhow::Result<Self> {
        if let Some(problem) = config.problem() {
            anyhow::bail!(problem);
        }
        let endpoint = Endpoint::parse(&config.url).ok_or_else(|| anyhow::anyhow!("auth.ldap: bad url"))?;
        let bind_password = match &config.bind_password_file {
            Some(path) => Some(read_secret(path)?),
            None => None,
        };
        Ok(Self {
            config: config.clone(),
            endpoint,
            tls: Arc::new(crate::tls::client_config("auth.ldap", config.ca_file.as_deref())?),
            bind_password,
            timeout: Duration::from_secs(config.timeout_seconds),
        })
    }

    /// Checks `name` and `password` with the directory. Runs as a task of its own, so that
    /// whatever the LDAP client does with a malformed answer stays inside it.
    pub async fn authenticate(self: &Arc<Self>, name: &str, password: &str) -> Result<DirectoryUser, DirectoryError> {
        if password.is_empty() {
            return Err(DirectoryError::Wrong);
        }
        self.run(name, Some(Zeroizing::new(password.to_string()))).await
    }

    /// The entry and groups of `name` as the service account finds them, with no password:
    /// for a user whom Kerberos has already authenticated. `Wrong` when there is no such
    /// entry, or no service account to search with.
    pub async fn look_up(self: &Arc<Self>, name: &str) -> Result<DirectoryUser, DirectoryError> {
        if self.config.bind_dn.is_none() || self.config.search_base.is_none() {
            return Err(DirectoryError::Wrong);
        }
        self.run(name, None).await
    }

    async fn run(
        self: &Arc<Self>,
        name: &str,
        password: Option<Zeroizing<String>>,
    ) -> Result<DirectoryUser, DirectoryError> {
        if name.is_empty() || name.len() > MAX_NAME || name.chars().any(char::is_control) {
            return Err(DirectoryError::Wrong);
        }
        let (this, name) = (self.clone(), name.to_string());
        // The whole exchange (connect, up to three binds and two searches) in a bounded time.
        let deadline = self.timeout * 4;
        let task = tokio::spawn(async move {
            tokio::time::timeout(deadline, this.exchange(&name, password.as_deref().map(String::as_str)))
                .await
                .unwrap_or_else(|_| {
                    Err(DirectoryError::Unavailable(format!(
                        "the directory did not finish the login within {}s",
                        deadline.as_secs()
                    )))
                })
        });
        task.await
            .unwrap_or_else(|_| Err(DirectoryError::Unavailable("the directory's answer could not be read".into())))
    }

    /// Finds the entry, binds as the user when there is a password, and reads the groups.
    async fn exchange(&self, name: &str, password: Option<&str>) -> Result<DirectoryUser, DirectoryError> {
        let (stream, pump) = transport::connect(&self.endpoint, self.tls.clone(), self.timeout).await?;
        let failed = |e: LdapError| failure(e, &pump);
        let settings = LdapConnSettings::new().set_std_stream(StdStream::Unix(stream));
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, "ldapi:///").await.map_err(failed)?;
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "directory connection ended");
            }
        });
        ldap.with_timeout(self.timeout);
        let escaped = ldap3::ldap_escape(name);
        let (dn, mut groups) = match (&self.config.bind_dn, &self.config.search_base) {
            (service, Some(base)) => {
                if let (Some(service), Some(secret)) = (service, &self.bind_password) {
                    let bound = ldap.simple_bind(service, secret).await.map_err(failed)?;
                    if bound.rc != 0 {
                        return Err(DirectoryError::Unavailable(format!(
                            "the directory refused the service account {service} (result code {}): check bind_dn and bind_password_file",
                            bound.rc
                        )));
                    }
                }
                let filter = self.config.user_filter.replace("{user}", &escaped);
                ldap.with_search_options(SearchOptions::new().sizelimit(MAX_USER_MATCHES));
                let found = ldap.search(base, Scope::Subtree, &filter, vec!["memberOf"]).await.map_err(failed)?;
                if found.1.rc != 0 && found.1.rc != SIZE_LIMIT_EXCEEDED {
                    return Err(DirectoryError::Unavailable(format!(
                        "the directory refused the user search (result code {}: {})",
                        found.1.rc, found.1.text
                    )));
                }
                let mut entries = found.0.into_iter().filter_map(|e| entry(e.0));
                match (entries.next(), entries.next()) {
                    (Some(one), None) => one,
                    (None, _) => return Err(DirectoryError::Wrong),
                    (Some(_), Some(_)) => {
                        crate::quiet_warn!("ldap ambiguous", "a login name matches several directory entries: refused");
                        return Err(DirectoryError::Wrong);
                    }
                }
            }
            (_, None) => {
                let template = self.config.user_dn_template.as_deref().unwrap_or_default();
                (template.replace("{user}", &ldap3::dn_escape(name)), Vec::new())
            }
        };
        // Groups are read before the user's bind while the service account is bound (it can
        // read them where users may not), after it otherwise.
        let service_reads_groups = self.config.search_base.is_some() && self.config.bind_dn.is_some();
        if service_reads_groups {
            groups.extend(self.groups(&mut ldap, &dn, &escaped, &pump).await?);
        }
        // Without a password (a user Kerberos has authenticated) there is nothing to bind; the
        // service account has read the groups.
        if let Some(password) = password {
            let bound = ldap.simple_bind(&dn, password).await.map_err(failed)?;
            match bound.rc {
                0 => {}
                INVALID_CREDENTIALS => return Err(DirectoryError::Wrong),
                rc => {
                    return Err(DirectoryError::Unavailable(format!(
                        "the directory refused the bind (result code {rc}: {})",
                        bound.text
                    )))
                }
            }
            if !service_reads_groups {
                if self.config.search_base.is_none() {
                    // A direct bind found no entry: read the user's own for its memberOf.
                    ldap.with_search_options(SearchOptions::new().sizelimit(1));
                    let own =
                        ldap.search(&dn, Scope::Base, "(objectClass=*)", vec!["memberOf"]).await.map_err(failed)?;
                    groups.extend(own.0.into_iter().filter_map(|e| entry(e.0)).flat_map(|(_, g)| g));
                }
                groups.extend(self.groups(&mut ldap, &dn, &escaped, &pump).await?);
            }
        }
        let _ = ldap.unbind().await;
        groups.truncate(MAX_GROUPS);
        Ok(DirectoryUser { dn, groups })
    }

    /// The DNs of the groups under `group_base` that name the user.
    async fn groups(
        &self,
        ldap: &mut ldap3::Ldap,
        dn: &str,
        escaped_name: &str,
        pump: &PumpEnd,
    ) -> Result<Vec<String>, DirectoryError> {
        let Some(base) = &self.config.group_base else { return Ok(Vec::new()) };
        let filter = self.config.group_filter.replace("{dn}", &ldap3::ldap_escape(dn)).replace("{user}", escaped_name);
        ldap.with_search_options(SearchOptions::new().sizelimit(MAX_GROUPS as i32));
        let found = ldap.search(base, Scope::Subtree, &filter, vec!["1.1"]).await.map_err(|e| failure(e, pump))?;
        match found.1.rc {
            0 => Ok(found.0.into_iter().filter_map(|e| entry(e.0)).map(|(dn, _)| dn).collect()),
            SIZE_LIMIT_EXCEEDED => Err(DirectoryError::Unavailable(format!(
                "the directory lists the user in more than {MAX_GROUPS} groups: narrow group_base or group_filter"
            ))),
            rc => Err(DirectoryError::Unavailable(format!(
                "the directory refused the group search (result code {rc}: {})",
                found.1.text
            ))),
        }
    }
}

/// What an LDAP client error means for the login: the pump's reason first, when it stopped the
/// connection (an oversize answer), else the client's.
fn failure(err: LdapError, pump: &PumpEnd) -> DirectoryError {
    let reason = pump.reason().unwrap_or_else(|| match err {
        LdapError::Timeout { .. } => "the directory did not answer in time".to_string(),
        other => format!("the directory connection failed: {other}"),
    });
    DirectoryError::Unavailable(reason)
}

/// A search result entry's DN and `memberOf` values, read without trusting its shape (the LDAP
/// client's own reader panics on a malformed one). Referrals and anything else are `None`.
fn entry(tag: StructureTag) -> Option<(String, Vec<String>)> {
    const SEARCH_RESULT_ENTRY: u64 = 4;
    let mut parts = tag.match_id(SEARCH_RESULT_ENTRY)?.expect_constructed()?.into_iter();
    let dn = String::from_utf8(parts.next()?.expect_primitive()?).ok()?;
    let mut groups = Vec::new();
    for attribute in parts.next().and_then(StructureTag::expect_constructed).unwrap_or_default() {
        let mut attribute = attribute.expect_constructed().unwrap_or_default().into_iter();
        let Some(kind) = attribute.next().and_then(StructureTag::expect_primitive) else { continue };
        if !kind.eq_ignore_ascii_case(b"memberOf") {
            continue;
        }
        let values = attribute.next().and_then(StructureTag::expect_constructed).unwrap_or_default();
        groups
            .extend(values.into_iter().filter_map(|v| String::from_utf8(v.expect_primitive()?).ok()).take(MAX_GROUPS));
    }
    Some((dn, groups))
}

fn read_secret(path: &Path) -> anyhow::Result<Zeroizing<String>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("auth.ldap: cannot read bind_password_file {}: {e}", path.display()))?,
    );
    Ok(Zeroizing::new(text.trim_end_matches(['\r', '\n']).to_string()))
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A TLS "directory" on loopback that reads the first request and answers `answer`; its
    /// certificate is in the returned folder's `ca.pem`.
    async fn fake_directory(answer: Vec<u8>) -> (LdapConfig, tempfile::TempDir) {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), certified.cert.pem()).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::try_from(certified.signing_key.serialize_der()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, answer) = (acceptor.clone(), answer.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let mut request = [0u8; 512];
                    let _ = tls.read(&mut request).await;
                    let _ = tls.write_all(&answer).await;
                    // Then as much more as the other end will take.
                    let filler = vec![0x04u8; 64 * 1024];
                    while tls.write_all(&filler).await.is_ok() {}
                });
            }
        });
        let config = toml::from_str(&format!(
            r#"url = "ldaps://127.0.0.1:{port}"
               ca_file = "{}"
               user_dn_template = "uid={{user}},dc=test"
               timeout_seconds = 5
               [[roles]]
               group = "cn=g"
               role = "ReadOnly""#,
            dir.path().join("ca.pem").display()
        ))
        .unwrap();
        (config, dir)
    }

    async fn outcome(answer: Vec<u8>) -> Result<DirectoryUser, DirectoryError> {
        let (config, _dir) = fake_directory(answer).await;
        let directory = Arc::new(LdapDirectory::new(&config).unwrap());
        directory.authenticate("dora", "a password").await
    }

    #[tokio::test]
    async fn an_oversize_answer_is_refused_before_it_is_read() {
        // The header of a 256 MiB message, then filler for as long as anyone reads.
        let err = outcome(vec![0x30, 0x84, 0x10, 0x00, 0x00, 0x00]).await.unwrap_err();
        let DirectoryError::Unavailable(why) = err else { panic!("{err:?}") };
        assert!(why.contains("more than the 262144 allowed"), "{why}");
    }

    #[tokio::test]
    async fn malformed_answers_are_clear_errors() {
        for answer in [
            vec![0x30, 0x03, 0x02, 0x01, 0x01],             // a message with no operation
            vec![0x30, 0x00],                               // an empty sequence
            vec![0x04, 0x02, 0x41, 0x42],                   // not a sequence at all
            vec![0x30, 0x05, 0x02, 0x01, 0x01, 0x61, 0x00], // a bind response with no result
        ] {
            let err = outcome(answer.clone()).await.unwrap_err();
            assert!(matches!(err, DirectoryError::Unavailable(_)), "{answer:02x?}: {err:?}");
        }
    }

    #[tokio::test]
    async fn empty_passwords_and_odd_names_never_reach_the_directory() {
        let (config, _dir) = fake_directory(Vec::new()).await;
        let directory = Arc::new(LdapDirectory::new(&config).unwrap());
        // An empty password would be an anonymous bind, which directories accept.
        assert_eq!(directory.authenticate("dora", "").await, Err(DirectoryError::Wrong));
        assert_eq!(directory.authenticate("", "a password").await, Err(DirectoryError::Wrong));
        assert_eq!(directory.authenticate("do\nra", "a password").await, Err(DirectoryError::Wrong));
        assert_eq!(directory.authenticate(&"d".repeat(300), "a password").await, Err(DirectoryError::Wrong));
    }
}
