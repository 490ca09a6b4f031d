//! A real MIT Kerberos KDC for the Kerberos tests, from a temporary folder: its own
//! `krb5.conf`, `kdc.conf`, database and keytabs, on a loopback port; nothing of the machine's
//! `/etc`. The processes that must talk to it are pointed there by `KRB5_CONFIG` (see
//! [`Kdc::env`]).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};

pub const REALM: &str = "LANTERN.TEST";

pub struct Kdc {
    child: Child,
    dir: tempfile::TempDir,
    pub port: u16,
}

impl Kdc {
    /// Creates the realm, starts `krb5kdc` and adds `principals` (name, password).
    pub async fn start(principals: &[(&str, &str)]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = crate::free_port()?;
        let d = dir.path().display();
        std::fs::write(
            dir.path().join("krb5.conf"),
            format!(
                "[libdefaults]
    default_realm = {REALM}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    rdns = false
    dns_canonicalize_hostname = false
    udp_preference_limit = 1
    forwardable = true
    default_ccache_name = FILE:{d}/ccache
[realms]
    {REALM} = {{
        kdc = 127.0.0.1:{port}
        admin_server = 127.0.0.1:1
    }}
[domain_realm]
    localhost = {REALM}
    127.0.0.1 = {REALM}
"
            ),
        )?;
        std::fs::write(
            dir.path().join("kdc.conf"),
            format!(
                "[kdcdefaults]
    kdc_ports = {port}
    kdc_tcp_ports = {port}
[realms]
    {REALM} = {{
        database_name = {d}/principal
        key_stash_file = {d}/stash
        acl_file = {d}/kadm5.acl
        max_life = 10h
        max_renewable_life = 7d
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }}
[logging]
    kdc = FILE:{d}/kdc.log
"
            ),
        )?;
        std::fs::write(dir.path().join("kadm5.acl"), "")?;
        let kdc = Self { child: Command::new("true").spawn()?, dir, port };
        kdc.run(Command::new("kdb5_util").args(["create", "-s", "-r", REALM, "-P", "master password of the test"]))
            .context("kdb5_util (Debian's krb5-kdc) must be installed")?;
        for (name, password) in principals {
            kdc.add(name, password)?;
        }
        let child = kdc
            .command("krb5kdc")
            .args(["-n", "-r", REALM])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("krb5kdc")?;
        let mut kdc = kdc;
        let _ = kdc.child.wait();
        kdc.child = child;
        crate::wait_for("the KDC listening", Duration::from_secs(20), || async move {
            Ok(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string()))
        })
        .await?;
        Ok(kdc)
    }

    /// A command with this realm's configuration in its environment.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.envs(self.env());
        command
    }

    /// The environment that points Kerberos libraries at this realm.
    pub fn env(&self) -> Vec<(&'static str, PathBuf)> {
        vec![
            ("KRB5_CONFIG", self.dir.path().join("krb5.conf")),
            ("KRB5_KDC_PROFILE", self.dir.path().join("kdc.conf")),
            ("KRB5CCNAME", self.dir.path().join("ccache")),
        ]
    }

    fn run(&self, command: &mut Command) -> anyhow::Result<String> {
        crate::run_checked(command.envs(self.env()))
    }

    /// Adds a principal with a password.
    pub fn add(&self, name: &str, password: &str) -> anyhow::Result<()> {
        self.run(Command::new("kadmin.local").args(["-q", &format!("addprinc -pw \"{password}\" {name}")]))?;
        Ok(())
    }

    /// Adds a service principal with a random key and writes its keys to a keytab here. It is
    /// `ok_as_delegate`, so clients that delegate by the KDC's policy delegate to it.
    pub fn service_keytab(&self, name: &str) -> anyhow::Result<PathBuf> {
        let file = name.replace(['/', '@'], "_");
        let keytab = self.dir.path().join(format!("{file}.keytab"));
        self.run(Command::new("kadmin.local").args(["-q", &format!("addprinc -randkey +ok_as_delegate {name}")]))?;
        self.run(Command::new("kadmin.local").args(["-q", &format!("ktadd -k {} {name}", keytab.display())]))?;
        Ok(keytab)
    }

    /// `kinit -f` for `name` into the ticket cache at `ccache`: a forwardable ticket, which a
    /// browser may delegate.
    pub fn kinit_forwardable(&self, name: &str, password: &str, ccache: &Path) -> anyhow::Result<()> {
        use std::io::Write;
        let mut child = self
            .command("kinit")
            .env("KRB5CCNAME", ccache)
            .arg("-f")
            .arg(name)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("kinit (Debian's krb5-user) must be installed")?;
        child.stdin.take().context("stdin")?.write_all(format!("{password}\n").as_bytes())?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!("kinit {name}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    /// The controller's Kerberos helper, as `cargo build -p lantern-gss --bins` (which
    /// `scripts/test.sh` runs first) leaves it.
    pub fn helper() -> anyhow::Result<PathBuf> {
        let helper = crate::workspace_root().join("target/debug/lantern-kinit");
        anyhow::ensure!(helper.exists(), "{} is missing: `cargo build -p lantern-gss --bins` first", helper.display());
        Ok(helper)
    }

    pub fn folder(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the KDC (as an outage would).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Kdc {
    fn drop(&mut self) {
        self.stop();
    }
}
