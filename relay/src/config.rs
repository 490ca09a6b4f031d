//! The relay's configuration: where it listens, the domain its controllers' names live under,
//! and which controllers (by the pin of their node key) may register. Nothing per controller
//! beyond that: no users, no keys but public ones.

use std::net::SocketAddr;
use std::path::Path;

use agent_link::Pin;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Browsers, agents and controllers all arrive here (a controller's connections start with
    /// the relay preamble, everyone else's with TLS).
    pub listen: SocketAddr,
    /// A controller named `ctl-a` is reached as `ctl-a.<domain>` (or by its bare name).
    pub domain: String,
    /// The pins (`SHA256:...`, as a controller's `GET /api/node` shows) that may register.
    pub allow: Vec<String>,
    /// Open connections at most, in all and from one address.
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    /// Paths waiting for their controller to attach, at most, per controller.
    pub max_pending_per_controller: usize,
    /// A connection must have said what it wants (its ClientHello, or a controller's frame)
    /// within this.
    pub hello_seconds: u64,
    /// A controller must attach a path within this.
    pub attach_seconds: u64,
    /// Controllers are pinged this often, and dropped after two silent intervals.
    pub ping_seconds: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 443)),
            domain: String::new(),
            allow: Vec::new(),
            max_connections: 8192,
            max_connections_per_address: 64,
            max_pending_per_controller: 256,
            hello_seconds: 10,
            attach_seconds: 10,
            ping_seconds: 15,
        }
    }
}

impl Config {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))?;
        toml::from_str(&text).map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))
    }

    /// The allow list, every entry checked.
    pub fn pins(&self) -> anyhow::Result<Vec<Pin>> {
        self.allow
            .iter()
            .map(|text| Pin::parse(text).map_err(|_| anyhow::anyhow!("allow: {text:?} is not a pin (SHA256:...)")))
            .collect()
    }
}
