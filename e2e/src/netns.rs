//! Network namespaces for tests that need a firewall: a machine that can dial out but that
//! nothing can dial (an agent's, a controller's behind a relay).

use anyhow::bail;

/// A network namespace joined to this one by a veth pair, with a firewall that drops every
/// connection into it. Removed on drop.
pub struct Namespace {
    pub name: String,
    /// Our end's address: reachable from inside.
    pub host: String,
    /// The namespace's address.
    pub inside: String,
}

/// Runs `command` with `sh -c`; an error if it fails.
pub fn sh(command: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("sh").args(["-c", command]).status()?;
    if !status.success() {
        bail!("`{command}` failed: {status}");
    }
    Ok(())
}

impl Namespace {
    pub fn new() -> anyhow::Result<Self> {
        let n: u8 = rand::random_range(1..250);
        let name = format!("lnt{}", crate::marker());
        let veth = format!("lv{}", &name[3..9]);
        let (host, inside) = (format!("10.231.{n}.1"), format!("10.231.{n}.2"));
        sh(&format!("ip netns add {name}"))?;
        let ns = Self { name: name.clone(), host: host.clone(), inside: inside.clone() };
        sh(&format!(
            "ip link add {veth}a type veth peer name {veth}b && ip link set {veth}b netns {name} && \
             ip addr add {host}/30 dev {veth}a && ip link set {veth}a up && \
             ip netns exec {name} ip addr add {inside}/30 dev {veth}b && \
             ip netns exec {name} ip link set {veth}b up && ip netns exec {name} ip link set lo up"
        ))?;
        // Inbound: only what answers a connection the namespace made.
        let rules = std::env::temp_dir().join(format!("{name}.nft"));
        std::fs::write(
            &rules,
            "table inet agentwall {\n chain input {\n  type filter hook input priority 0; policy drop;\n  \
             ct state established,related accept\n  iif lo accept\n }\n}\n",
        )?;
        let loaded = sh(&format!("ip netns exec {name} nft -f {}", rules.display()));
        let _ = std::fs::remove_file(&rules);
        loaded?;
        Ok(ns)
    }

    /// Names that programs started in the namespace resolve (`ip netns exec` puts
    /// `/etc/netns/<name>/hosts` over `/etc/hosts` for them).
    pub fn resolve(&self, entries: &[(&str, &str)]) -> anyhow::Result<()> {
        let dir = std::path::Path::new("/etc/netns").join(&self.name);
        std::fs::create_dir_all(&dir)?;
        let lines: String = entries.iter().map(|(name, address)| format!("{address} {name}\n")).collect();
        std::fs::write(dir.join("hosts"), format!("127.0.0.1 localhost\n{lines}"))?;
        Ok(())
    }

    /// `program` to be run inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = sh(&format!("ip netns del {}", self.name));
        let _ = std::fs::remove_dir_all(std::path::Path::new("/etc/netns").join(&self.name));
    }
}
