//! The agent's configuration (`/etc/lantern-agent/agent.toml`); every field has a safe default
//! and a missing file means all defaults.

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const DEFAULT_PATH: &str = "/etc/lantern-agent/agent.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The local user directives and the console's shell run as. Unset: the agent's own user,
    /// unless that is root, in which case directives are refused (never silently as root);
    /// `"root"` must be written out to mean it.
    pub run_as: Option<String>,
    /// The shell a directive's command line runs in (`shell -c command`).
    pub shell: String,
    /// The console's login shell for `run_as` (default: that user's own, from the password
    /// database; set it for a user whose own is `nologin`).
    pub console_shell: Option<String>,
    /// Directives running at once, at most.
    pub max_directives: usize,
    /// Caps on what the controller asks of one directive.
    pub max_directive_seconds: u64,
    pub max_output_bytes: u64,
    /// How often the agent tells the controller the machine is alive (the recovery timer's
    /// heartbeat), its facts and its sensors.
    pub heartbeat_seconds: u64,
    /// A command whose success is the machine's health: the heartbeat goes only while it exits
    /// 0, so the controller's recovery timer reboots a machine whose check keeps failing.
    /// Empty: the agent being alive is the heartbeat.
    pub heartbeat_check: Vec<String>,
    pub facts_seconds: u64,
    pub sensors_seconds: u64,
    /// Where sensors are read (`<sysfs>/class/hwmon`, `<sysfs>/class/thermal`).
    pub sysfs: PathBuf,
    /// What rebooting and shutting down the machine run.
    pub reboot_command: Vec<String>,
    pub shutdown_command: Vec<String>,
    /// PEM certificates to check the controller's web certificate against. Unset: the web
    /// certificate is not checked, since the link inside is authenticated end to end by the
    /// controller's pinned identity key (so a renewed certificate strands no agent).
    pub ca_file: Option<PathBuf>,
    /// The machine's own VNC server, offered as the host's screen: `127.0.0.1:5900`, or
    /// `unix:/run/vnc.sock`. Unset: the host's console is the text console only. Only this
    /// address is ever dialled; the controller cannot name another.
    pub screen: Option<String>,
    /// Kerberos-authenticated directives.
    pub kerberos: Option<crate::kerberos::KerberosConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            run_as: None,
            shell: "/bin/sh".into(),
            console_shell: None,
            max_directives: 16,
            max_directive_seconds: 24 * 3600,
            max_output_bytes: 1 << 30,
            heartbeat_seconds: 10,
            heartbeat_check: Vec::new(),
            facts_seconds: 60,
            sensors_seconds: 10,
            sysfs: PathBuf::from("/sys"),
            reboot_command: vec!["reboot".into()],
            shutdown_command: vec!["poweroff".into()],
            ca_file: None,
            screen: None,
            kerberos: None,
        }
    }
}

impl Config {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let config: Self = toml::from_str(&text).map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))?;
                if config.kerberos.is_some() && cfg!(not(feature = "kerberos")) {
                    anyhow::bail!("{}: {}", path.display(), crate::kerberos::BUILT_WITHOUT);
                }
                Ok(config)
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(err) => Err(anyhow::anyhow!("{}: {err}", path.display())),
        }
    }

    /// Who directives and the console run as: `Ok(None)` for the agent's own user.
    pub fn run_as(&self) -> Result<Option<&str>, &'static str> {
        let me = nix::unistd::geteuid();
        let is_me = |user: &str| {
            (user == "root" && me.is_root())
                || nix::unistd::User::from_name(user).ok().flatten().is_some_and(|u| u.uid == me)
        };
        match self.run_as.as_deref() {
            Some(user) if is_me(user) => Ok(None),
            Some(user) if me.is_root() => Ok(Some(user)),
            // Switching users needs root.
            Some(_) => Err("run_as names another user, and switching users needs the agent to run as root"),
            None if me.is_root() => {
                Err("the agent runs as root and run_as is not set: directives never run as root silently (set run_as)")
            }
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_the_defaults_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Config::load(&dir.path().join("none.toml")).unwrap().shell, "/bin/sh");
        let path = dir.path().join("agent.toml");
        std::fs::write(&path, "run_as = \"nobody\"\nmax_directives = 2\n").unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!((config.run_as.as_deref(), config.max_directives), (Some("nobody"), 2));
        std::fs::write(&path, "run_az = \"nobody\"\n").unwrap();
        assert!(Config::load(&path).is_err());
    }
}
