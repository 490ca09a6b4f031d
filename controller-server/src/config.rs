//! The controller's configuration: one TOML file, every field documented, safe defaults.
//! Command-line flags override the file (see `main.rs`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use shared::crypto::CipherSuite;
use shared::wire::handshake::KeySchedule;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// HTTPS listener for the site, the API and the `wss://` console.
    pub listen: SocketAddr,
    /// Plain listener for the console alone (`ws://`), the in-the-clear link of the design for
    /// LAN tools, relays and native clients; the console cipher protects it end to end.
    /// `None` turns it off.
    pub console_plain_listen: Option<SocketAddr>,
    /// The `ws://` URL the applet is told for the plain listener, when it differs from
    /// `console_plain_listen` (a relay or proxy in front of it).
    pub console_public_plain_url: Option<String>,
    /// Where the controller keeps its database and generated certificate.
    pub data_dir: PathBuf,
    /// The built web console (trunk's output folder).
    pub web_root: PathBuf,
    /// PEM certificate chain and private key. When absent, a self-signed certificate is made
    /// on first start and kept in `data_dir`.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Origins (scheme://host:port) besides the controller's own that may open the console
    /// WebSocket and send state-changing requests, e.g. a vendor portal.
    pub allowed_origins: Vec<String>,
    /// Origins (scheme://host:port) whose pages may show the controller in a frame, e.g. a
    /// vendor portal. Empty: no framing at all.
    pub frame_ancestors: Vec<String>,
    /// This controller's name in portable session tokens.
    pub node_id: String,
    /// Its Ed25519 signing key (32 bytes); made on first start. Default: `data_dir/node-key`.
    pub node_key_file: Option<PathBuf>,
    /// Cooperating controllers: users may move to them, and their session tokens are accepted.
    pub peers: Vec<PeerConfig>,
    /// Virtual media: where images are, and which web servers may serve them.
    pub media: MediaConfig,
    /// Redfish events to subscribers (`[events]`).
    pub events: EventsConfig,
    pub console: ConsoleConfig,
    pub auth: AuthConfig,
    pub limits: LimitsConfig,
    pub health: HealthConfig,
    pub agents: AgentsConfig,
    /// Who may scrape `/metrics` (`[metrics]`); not served without it.
    pub metrics: Option<crate::metrics::scrape::MetricsConfig>,
    /// Every audit record and host event forwarded to a syslog collector (`[syslog]`).
    pub syslog: Option<crate::syslog::SyslogConfig>,
    /// A relay to be reached through (`lantern-relay`), for a controller nobody can dial.
    pub relay: Option<RelayConfig>,
    /// Managed hosts. Default: the embedded `local` host.
    pub hosts: Vec<HostConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Accepted cipher suites, most preferred first (default `chacha20-poly1305`, then the
    /// design's `rc4-hmac-sha1`, whose long-term keystream biases (RFC 7465) survive the
    /// 3072-byte drop, and which is also the slower of the two in browsers).
    pub suites: Vec<String>,
    /// A console key must be used within this many seconds of being issued.
    pub key_ttl_seconds: u64,
    /// How long one PMS may protect a link before the applet must switch to a fresh one.
    pub key_life_seconds: u64,
    /// A direction moves to the next key epoch after this many bytes...
    pub epoch_bytes: u32,
    /// ...or after this many seconds, whichever comes first.
    pub epoch_seconds: u32,
    /// How long a console opened through a launch may keep renewing its keys.
    pub launch_session_minutes: u64,
    /// A viewer who asks for the keyboard and mouse gets them once the holder has been idle
    /// this long (at once, if the holder already was).
    pub control_idle_seconds: u64,
}

/// What a connection may cost.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Open connections at most, per listener.
    pub max_connections: usize,
    /// Open connections at most from one address, per listener.
    pub max_connections_per_address: usize,
    /// Seconds a client has for its TLS handshake ...
    pub tls_handshake_seconds: u64,
    /// ... for a request's headers ...
    pub header_read_seconds: u64,
    /// ... and for the console handshake (hello and key confirmation) on a new WebSocket.
    pub console_handshake_seconds: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_connections_per_address: 64,
            tls_handshake_seconds: 10,
            header_read_seconds: 10,
            console_handshake_seconds: 10,
        }
    }
}

impl LimitsConfig {
    pub fn listener(&self) -> crate::limits::Limits {
        crate::limits::Limits {
            connections: self.max_connections.max(1),
            per_address: self.max_connections_per_address.max(1),
            tls_handshake: std::time::Duration::from_secs(self.tls_handshake_seconds.max(1)),
            header_read: std::time::Duration::from_secs(self.header_read_seconds.max(1)),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// A web session ends after this many minutes without a request.
    pub session_idle_minutes: u64,
    /// A failed login is answered after this many milliseconds, doubled for each further
    /// failure in a row, up to `failed_login_max_delay_ms`.
    pub failed_login_delay_ms: u64,
    pub failed_login_max_delay_ms: u64,
    /// This many failures in a row lock the account (and any name tried) ...
    pub lockout_after: u32,
    /// ... for this many seconds.
    pub lockout_seconds: u64,
    /// Directory login over LDAP: names with no local account are checked there.
    pub ldap: Option<crate::directory::LdapConfig>,
    /// Kerberos password login for `user@REALM` (a build with the `kerberos` feature).
    pub kerberos: Option<crate::directory::kerberos::KerberosConfig>,
}

/// `[relay]`: the controller dials out to a `lantern-relay` and registers under `name`;
/// browsers and agents then reach it as `<name>.<the relay's domain>` through the relay, which
/// forwards their TLS to it unopened.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    /// The relay's address, `host:port` (also accepted as `url`).
    #[serde(alias = "url")]
    pub address: String,
    /// This controller's name there: a DNS label.
    pub name: String,
    /// The name browsers use through the relay (`<name>.<the relay's domain>`), added to the
    /// self-signed certificate made at first start. A deployment gives the controller a
    /// certificate for this name from a CA the browsers trust (`tls_cert`, `tls_key`).
    pub host: Option<String>,
    /// A silent relay is given up on after this many seconds (it pings more often).
    #[serde(default = "RelayConfig::default_silence")]
    pub silence_seconds: u64,
}

impl RelayConfig {
    fn default_silence() -> u64 {
        45
    }
}

/// Agents: `lantern-agent` on managed machines dials out to `/agent/link` on the HTTPS port.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentsConfig {
    /// The URL agents are told to dial in the enrolment command (default: this listener's
    /// address); set it to the name agents reach the controller by.
    pub public_url: Option<String>,
    /// An enrolment token is valid this long.
    pub enrolment_minutes: u64,
    /// An agent is pinged this often, and dropped when an answer takes longer than
    /// `ping_timeout_seconds` (a half-open link).
    pub ping_seconds: u64,
    pub ping_timeout_seconds: u64,
    /// The association is refreshed this often.
    pub refresh_seconds: u64,
    /// A directive ends after this long, or once it printed this many bytes.
    pub directive_timeout_seconds: u64,
    pub directive_max_output_bytes: u64,
    /// Commands an administrator saved, offered on every agent host's directives page.
    pub saved: Vec<SavedDirective>,
    /// Automatic recovery for every agent host: its agent's heartbeat services the timer (only
    /// while the agent's `heartbeat_check` passes, when it has one), and a machine whose
    /// heartbeat stops is rebooted through its agent. Off unless given.
    pub recovery: Option<RecoveryConfig>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SavedDirective {
    pub name: String,
    pub command: String,
}

impl Default for AgentsConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            enrolment_minutes: 60,
            ping_seconds: 15,
            ping_timeout_seconds: 10,
            refresh_seconds: 24 * 3600,
            directive_timeout_seconds: 600,
            directive_max_output_bytes: 64 << 20,
            saved: Vec::new(),
            recovery: None,
        }
    }
}

impl AgentsConfig {
    pub fn link(&self) -> agent_link::ControllerConfig {
        agent_link::ControllerConfig {
            handshake_ms: 10_000,
            ping_every_ms: self.ping_seconds.max(1) * 1000,
            ping_timeout_ms: self.ping_timeout_seconds.max(1) * 1000,
            refresh_every_ms: self.refresh_seconds.max(1) * 1000,
            refresh_timeout_ms: 30_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfig {
    /// Sensors are read this often.
    pub interval_seconds: u64,
    /// Readings kept per sensor for the history plot (360 at 10 s: the last hour).
    pub history: usize,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self { interval_seconds: 10, history: 360 }
    }
}

/// `[events]`: how events reach Redfish subscribers.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// The CA (PEM) subscribers' certificates are checked against; the system's trust anchors
    /// when absent.
    pub ca_file: Option<PathBuf>,
    /// An event a subscriber does not take is tried again this many times...
    pub retry_attempts: u32,
    /// ...this far apart, then given up (and counted).
    pub retry_interval_seconds: u64,
    /// Events waiting for one subscriber, at most; beyond that new ones are dropped (and
    /// counted), so a subscriber that is down costs bounded memory.
    pub queue: usize,
    /// Subscriptions, at most.
    pub max_subscriptions: usize,
    /// One POST's deadline, connection included.
    pub timeout_seconds: u64,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            ca_file: None,
            retry_attempts: 3,
            retry_interval_seconds: 30,
            queue: 1000,
            max_subscriptions: 32,
            timeout_seconds: 10,
        }
    }
}

/// `[media]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// Images users may insert as virtual media (`.iso`, `.img`). Default: `data_dir/media`.
    pub folder: Option<PathBuf>,
    /// Web servers the controller may read images from (`host` or `host:port`), so that it
    /// cannot be turned against its own network. Empty: no URLs.
    pub url_hosts: Vec<String>,
    /// The CA (PEM) for `https` image servers; the system's trust anchors when absent.
    pub ca_file: Option<PathBuf>,
}

/// A cooperating controller.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// Its `node_id`.
    pub id: String,
    /// Where its site is (`https://host:port`).
    pub url: String,
    /// Its public key as its `/api/node` shows it (base64url, 32 bytes).
    pub public_key: String,
    /// The most its users may do here, whatever role their token names (default `ReadOnly`):
    /// a peer's administrator is not this controller's administrator unless this says so.
    #[serde(default = "default_peer_role")]
    pub role_cap: crate::store::Role,
    /// The peer's certificate or its CA (PEM), for fetching migrating sessions' data from it;
    /// the system's trust anchors when absent.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Hand users' delegated Kerberos credentials to this peer, and take them from it, when
    /// they move (both controllers must say so). Off by default.
    #[serde(default)]
    pub kerberos: bool,
}

fn default_peer_role() -> crate::store::Role {
    crate::store::Role::ReadOnly
}

// No deny_unknown_fields here: serde cannot combine it with `flatten`; the backend enum
// below rejects unknown keys instead.
#[derive(Debug, Clone, Deserialize)]
pub struct HostConfig {
    /// Short identifier used in URLs and the API.
    pub id: String,
    /// Name shown to users.
    pub name: String,
    /// Automatic server recovery (a dead-man timer); absent: not offered for this host.
    #[serde(default)]
    pub recovery: Option<RecoveryConfig>,
    #[serde(flatten)]
    pub backend: BackendConfig,
}

/// Automatic server recovery: the host must service a dead-man timer (QEMU's guest agent
/// answering pings, or `POST /api/hosts/<id>/heartbeat`); when it stops, the controller logs
/// the event with a capture of the screen and resets the host, at most `max_resets` times per
/// `window_seconds`. The timer arms at the first heartbeat after power on, so a host that
/// never sends one (no agent installed) is never reset.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecoveryConfig {
    /// Whether recovery is on at first start; users with the power right switch it on and off
    /// in the console (the choice is kept in the database).
    pub enabled: bool,
    /// No heartbeat for this long resets the host.
    pub timeout_seconds: u64,
    pub max_resets: u32,
    pub window_seconds: u64,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self { enabled: true, timeout_seconds: 120, max_resets: 3, window_seconds: 3600 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum BackendConfig {
    /// A pseudo-terminal on the controller's machine, shown in text mode.
    Local {
        /// Program to run; default: the controller user's login shell (`$SHELL`, else /bin/sh).
        #[serde(default)]
        command: Option<String>,
        #[serde(default)]
        args: Vec<String>,
        /// Run the program as this user instead of the controller's own (through `runuser`,
        /// which needs the controller to run as root). Without it, the shell can read the
        /// controller's database and keys.
        #[serde(default)]
        run_as: Option<String>,
        #[serde(default = "default_cols")]
        cols: u16,
        #[serde(default = "default_rows")]
        rows: u16,
        /// Where the controller machine's sensors are read (Linux hwmon and thermal zones
        /// under `class/`); the local host is this machine.
        #[serde(default = "default_sysfs")]
        sysfs: PathBuf,
    },
    /// Any RFB (VNC) server, shown in graphics mode: QEMU's `-vnc`, TigerVNC, x11vnc.
    Vnc {
        /// `host:port` of the server, e.g. "127.0.0.1:5900" (QEMU's `-vnc :0`).
        address: String,
        /// A file whose first line is the VNC password, for servers that ask for one.
        #[serde(default)]
        password_file: Option<PathBuf>,
    },
    /// A QEMU virtual machine the controller starts (at start-up, and on power on). The
    /// controller adds `-display none` and the VNC display and QMP on unix sockets in
    /// `data_dir/qemu/<id>/`; `args` describe the machine.
    Qemu {
        #[serde(default = "default_qemu")]
        program: String,
        #[serde(default)]
        args: Vec<String>,
        /// Give the machine a virtio-serial port for the QEMU guest agent (`qemu-ga`) and ping
        /// it: its answers service the recovery timer.
        #[serde(default = "default_true")]
        guest_agent: bool,
        /// Attach the machine's first serial port (COM1, Linux's ttyS0) as the host's serial
        /// console. `args` must then not give a `-serial` of their own.
        #[serde(default = "default_true")]
        serial: bool,
        /// Also write everything the serial port says to this file (QEMU empties it at start).
        #[serde(default)]
        serial_log: Option<PathBuf>,
    },
}

fn default_qemu() -> String {
    "qemu-system-x86_64".into()
}

/// `scheme://host[:port]` with nothing after: what browsers send as Origin, and what a CSP
/// source list may hold without changing its meaning.
fn is_origin(text: &str) -> bool {
    let Some((scheme, authority)) = text.split_once("://") else { return false };
    matches!(scheme, "http" | "https")
        && !authority.is_empty()
        && authority.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
}

fn default_true() -> bool {
    true
}

fn default_sysfs() -> PathBuf {
    PathBuf::from("/sys")
}

fn default_cols() -> u16 {
    100
}
fn default_rows() -> u16 {
    30
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            // The plain listener is for LAN tools and relays: off unless configured.
            console_plain_listen: None,
            console_public_plain_url: None,
            data_dir: PathBuf::from("data"),
            media: MediaConfig::default(),
            events: EventsConfig::default(),
            web_root: PathBuf::from("web-console/dist"),
            tls_cert: None,
            tls_key: None,
            allowed_origins: Vec::new(),
            frame_ancestors: Vec::new(),
            node_id: "lantern".into(),
            node_key_file: None,
            peers: Vec::new(),
            console: ConsoleConfig::default(),
            auth: AuthConfig::default(),
            limits: LimitsConfig::default(),
            health: HealthConfig::default(),
            agents: AgentsConfig::default(),
            relay: None,
            syslog: None,
            metrics: None,
            hosts: vec![HostConfig {
                recovery: None,
                id: "local".into(),
                name: "Local shell".into(),
                backend: BackendConfig::Local {
                    command: None,
                    args: Vec::new(),
                    run_as: None,
                    cols: default_cols(),
                    rows: default_rows(),
                    sysfs: default_sysfs(),
                },
            }],
        }
    }
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        let schedule = KeySchedule::default();
        Self {
            suites: [CipherSuite::ChaCha20Poly1305, CipherSuite::Rc4HmacSha1]
                .iter()
                .map(|s| s.name().to_string())
                .collect(),
            key_ttl_seconds: 60,
            key_life_seconds: u64::from(schedule.key_life_millis / 1000),
            epoch_bytes: schedule.epoch_bytes,
            epoch_seconds: schedule.epoch_millis / 1000,
            launch_session_minutes: 60,
            control_idle_seconds: 30,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_idle_minutes: 30,
            failed_login_delay_ms: 500,
            failed_login_max_delay_ms: 8000,
            lockout_after: 5,
            lockout_seconds: 300,
            ldap: None,
            kerberos: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid configuration {path}: {source}")]
    Parse { path: PathBuf, source: Box<toml::de::Error> },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        let config: Config = toml::from_str(&text)
            .map_err(|source| ConfigError::Parse { path: path.into(), source: Box::new(source) })?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.suites()?;
        if let Some(problem) = self.auth.ldap.as_ref().and_then(|l| l.problem()) {
            return Err(ConfigError::Invalid(problem));
        }
        if let Some(problem) = self.auth.kerberos.as_ref().and_then(|k| k.problem()) {
            return Err(ConfigError::Invalid(problem));
        }
        if let Some(problem) = self.metrics.as_ref().and_then(|m| m.problem()) {
            return Err(ConfigError::Invalid(problem));
        }
        if let Some(problem) = self.syslog.as_ref().and_then(|s| s.problem()) {
            return Err(ConfigError::Invalid(problem));
        }
        let c = &self.console;
        if c.key_ttl_seconds == 0 || c.key_life_seconds < 10 || c.epoch_bytes < 1024 || c.epoch_seconds == 0 {
            return Err(ConfigError::Invalid(
                "console intervals must be positive (key_life_seconds at least 10, epoch_bytes at least 1024)".into(),
            ));
        }
        if c.key_life_seconds > u64::from(u32::MAX / 1000) {
            return Err(ConfigError::Invalid("console.key_life_seconds is too large".into()));
        }
        let mut ids = std::collections::HashSet::new();
        for host in &self.hosts {
            if host.id.is_empty() || !host.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(ConfigError::Invalid(format!("host id {:?} must be letters, digits, - or _", host.id)));
            }
            if !ids.insert(&host.id) {
                return Err(ConfigError::Invalid(format!("host id {:?} appears twice", host.id)));
            }
            if let BackendConfig::Vnc { address, .. } = &host.backend {
                if !address.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()) {
                    return Err(ConfigError::Invalid(format!(
                        "host {:?}: address {address:?} is not host:port",
                        host.id
                    )));
                }
            }
            let BackendConfig::Local { cols, rows, .. } = &host.backend else { continue };
            if shared::video::text::TextScreen::new(*cols, *rows).is_err() {
                return Err(ConfigError::Invalid(format!(
                    "host {:?}: terminal size {cols}x{rows} is outside 1x1 to {}x{}",
                    host.id,
                    shared::video::text::MAX_COLS,
                    shared::video::text::MAX_ROWS
                )));
            }
        }
        for origin in self.allowed_origins.iter().chain(&self.frame_ancestors) {
            if !is_origin(origin) {
                return Err(ConfigError::Invalid(format!(
                    "{origin:?} is not an origin like https://portal.example:8443"
                )));
            }
        }
        for peer in &self.peers {
            use base64::Engine;
            let key = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&peer.public_key).map(|k| k.len());
            if peer.id.is_empty() || peer.id == self.node_id || !is_origin(&peer.url) || key != Ok(32) {
                return Err(ConfigError::Invalid(format!(
                    "peer {:?} needs its own id, an origin-like url and a 32-byte base64url public_key",
                    peer.id
                )));
            }
        }
        if self.auth.lockout_after == 0 {
            return Err(ConfigError::Invalid("auth.lockout_after must be at least 1".into()));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::Invalid("tls_cert and tls_key go together".into()));
        }
        Ok(())
    }

    /// Accepted suites in preference order.
    pub fn suites(&self) -> Result<Vec<CipherSuite>, ConfigError> {
        let suites: Vec<CipherSuite> = self
            .console
            .suites
            .iter()
            .map(|name| {
                CipherSuite::from_name(name)
                    .ok_or_else(|| ConfigError::Invalid(format!("unknown cipher suite {name:?}")))
            })
            .collect::<Result<_, _>>()?;
        if suites.is_empty() {
            return Err(ConfigError::Invalid("console.suites must name at least one suite".into()));
        }
        Ok(suites)
    }

    pub fn login_policy(&self) -> crate::store::users::LoginPolicy {
        let a = &self.auth;
        crate::store::users::LoginPolicy {
            first_delay: std::time::Duration::from_millis(a.failed_login_delay_ms),
            max_delay: std::time::Duration::from_millis(a.failed_login_max_delay_ms.max(a.failed_login_delay_ms)),
            lock_after: a.lockout_after,
            lock_for: std::time::Duration::from_secs(a.lockout_seconds),
        }
    }

    pub fn schedule(&self) -> KeySchedule {
        KeySchedule {
            epoch_bytes: self.console.epoch_bytes,
            epoch_millis: self.console.epoch_seconds.saturating_mul(1000),
            key_life_millis: (self.console.key_life_seconds * 1000) as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_prefer_chacha_but_accept_rc4() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(c.suites().unwrap(), [CipherSuite::ChaCha20Poly1305, CipherSuite::Rc4HmacSha1]);
    }

    #[test]
    fn the_plain_listener_runs_only_where_a_file_asks_for_it() {
        let without: Config = toml::from_str("listen = \"127.0.0.1:9443\"").unwrap();
        assert_eq!(without.console_plain_listen, None, "omitting the key disables it");
        let with: Config = toml::from_str("console_plain_listen = \"127.0.0.1:8081\"").unwrap();
        assert_eq!(with.console_plain_listen, Some(SocketAddr::from(([127, 0, 0, 1], 8081))));
    }

    #[test]
    fn a_file_can_require_chacha_and_add_hosts() {
        let c: Config = toml::from_str(
            r#"
            listen = "127.0.0.1:9443"
            [console]
            suites = ["chacha20-poly1305"]
            [[hosts]]
            id = "shell2"
            name = "Second shell"
            kind = "local"
            command = "/bin/sh"
            "#,
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.suites().unwrap(), vec![CipherSuite::ChaCha20Poly1305]);
        assert_eq!(c.hosts[0].id, "shell2");
    }

    #[test]
    fn mistakes_are_reported() {
        assert!(toml::from_str::<Config>("listen = 5").is_err());
        assert!(toml::from_str::<Config>("typo = 1").is_err());
        let mut c = Config::default();
        c.console.suites = vec!["rot13".into()];
        assert!(c.validate().unwrap_err().to_string().contains("rot13"));
        for bad in
            ["portal.example", "https://portal.example/path", "https://a.example 'unsafe-inline'", "javascript://x"]
        {
            let c = Config { frame_ancestors: vec![bad.into()], ..Config::default() };
            assert!(c.validate().is_err(), "{bad}");
        }
        let c = Config { frame_ancestors: vec!["https://portal.example:8443".into()], ..Config::default() };
        c.validate().unwrap();
        let mut c = Config::default();
        c.hosts[0].backend =
            BackendConfig::Local { command: None, args: vec![], run_as: None, cols: 0, rows: 25, sysfs: "/sys".into() };
        assert!(c.validate().unwrap_err().to_string().contains("terminal size 0x25"));
    }
}
