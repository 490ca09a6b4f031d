//! A real OpenLDAP `slapd` for the directory tests, from a temporary folder (its own config,
//! database and certificate; nothing of the machine's `/etc/ldap` but the schema files),
//! listening on loopback for StartTLS (`ldap://`) and TLS (`ldaps://`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;

/// The directory's suffix and its administrator (who the tests change groups as).
pub const SUFFIX: &str = "dc=lantern,dc=test";
pub const ROOT_DN: &str = "cn=admin,dc=lantern,dc=test";
const ROOT_PASSWORD: &str = "directory root secret";

/// A user of the test directory.
pub struct Person<'a> {
    pub uid: &'a str,
    pub password: &'a str,
}

pub struct Slapd {
    child: Child,
    dir: tempfile::TempDir,
    /// `ldap://127.0.0.1:port` (StartTLS) and `ldaps://127.0.0.1:port`.
    pub ldap_url: String,
    pub ldaps_url: String,
}

/// A DN under `ou=people`.
pub fn person_dn(uid: &str) -> String {
    format!("uid={uid},ou=people,{SUFFIX}")
}

/// A DN under `ou=groups`.
pub fn group_dn(cn: &str) -> String {
    format!("cn={cn},ou=groups,{SUFFIX}")
}

impl Slapd {
    /// Starts slapd with `people` and `groups` (each a cn and its members' uids). Groups are
    /// `groupOfNames`; a group needs a member, so an empty one gets the root DN.
    pub async fn start(people: &[Person<'_>], groups: &[(&str, &[&str])]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("db");
        std::fs::create_dir(&db)?;
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])?;
        std::fs::write(dir.path().join("cert.pem"), cert.cert.pem())?;
        std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem())?;
        let config = format!(
            "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {dir}/slapd.pid
TLSCertificateFile {dir}/cert.pem
TLSCertificateKeyFile {dir}/key.pem
database mdb
maxsize 104857600
suffix \"{SUFFIX}\"
rootdn \"{ROOT_DN}\"
rootpw \"{ROOT_PASSWORD}\"
directory {db}
access to attrs=userPassword by self read by anonymous auth by * none
access to * by * read
",
            dir = dir.path().display(),
            db = db.display()
        );
        let conf = dir.path().join("slapd.conf");
        std::fs::write(&conf, config)?;
        let mut ldif = format!(
            "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Lantern test\ndc: lantern\n\n\
             dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n\
             dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n\n"
        );
        for p in people {
            ldif.push_str(&format!(
                "dn: {}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\nuserPassword: {}\n\n",
                person_dn(p.uid),
                p.password,
                uid = p.uid
            ));
        }
        for (cn, members) in groups {
            ldif.push_str(&format!("dn: {}\nobjectClass: groupOfNames\ncn: {cn}\n", group_dn(cn)));
            if members.is_empty() {
                ldif.push_str(&format!("member: {ROOT_DN}\n"));
            }
            for m in *members {
                ldif.push_str(&format!("member: {}\n", person_dn(m)));
            }
            ldif.push('\n');
        }
        let data = dir.path().join("data.ldif");
        std::fs::write(&data, ldif)?;
        crate::run_checked(Command::new("slapadd").arg("-f").arg(&conf).arg("-l").arg(&data)).context("slapadd")?;
        let (plain, tls) = (crate::free_port()?, crate::free_port()?);
        let ldap_url = format!("ldap://127.0.0.1:{plain}");
        let ldaps_url = format!("ldaps://127.0.0.1:{tls}");
        // `-d 0` keeps it in the foreground, as our child, with no debug output.
        let child = Command::new("slapd")
            .arg("-f")
            .arg(&conf)
            .arg("-h")
            .arg(format!("{ldap_url}/ {ldaps_url}/"))
            .args(["-d", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("slapd (Debian's slapd package) must be installed")?;
        let slapd = Self { child, dir, ldap_url, ldaps_url };
        for port in [plain, tls] {
            crate::wait_for("slapd listening", Duration::from_secs(20), || async move {
                Ok(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string()))
            })
            .await?;
        }
        Ok(slapd)
    }

    /// The certificate the directory presents (the controller's `ca_file`).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    /// Applies an LDIF change as the directory's administrator (with `ldapmodify`).
    pub fn modify(&self, ldif: &str) -> anyhow::Result<()> {
        let path = self.dir.path().join("change.ldif");
        std::fs::write(&path, ldif)?;
        crate::run_checked(
            Command::new("ldapmodify")
                .args(["-x", "-H", &self.ldap_url, "-D", ROOT_DN, "-w", ROOT_PASSWORD, "-f"])
                .arg(&path),
        )
        .context("ldapmodify")
        .map(drop)
    }

    /// Adds `uid` to group `cn`.
    pub fn add_member(&self, cn: &str, uid: &str) -> anyhow::Result<()> {
        self.modify(&format!("dn: {}\nchangetype: modify\nadd: member\nmember: {}\n", group_dn(cn), person_dn(uid)))
    }

    /// Stops the directory (as an outage would).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn folder(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}
