//! Shared state of the controller, built once from the configuration.

use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use shared::session::ServerConfig;

use crate::config::Config;
use crate::console::KeyStore;
use crate::hosts::HostRegistry;
use crate::store::sessions::SessionKind;
use crate::store::{AuditLog, UserStore};
use crate::web::headers::content_security_policy;
use crate::web::sessions::WebSessions;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub users: Arc<UserStore>,
    pub audit: Arc<AuditLog>,
    pub events: Arc<crate::store::EventLog>,
    /// The one writer of the audit trail and the event logs.
    pub journal: crate::store::Journal,
    /// Where the events the journal's records make go out (SSE readers listen here).
    pub notices: crate::notify::Bus,
    /// Redfish event subscriptions and the delivery to them.
    pub subscriptions: Arc<crate::notify::delivery::Delivery>,
    /// What the controller measures about itself, and who may scrape it (`[metrics]`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The console links attached to hosts now (the *Sessions* page).
    pub console_links: Arc<crate::console::live::LiveLinks>,
    pub metrics_access: Option<crate::metrics::scrape::Access>,
    /// How forwarding to syslog goes, when `[syslog]` is set.
    pub syslog: Option<Arc<crate::syslog::Status>>,
    pub sessions: WebSessions,
    /// Redfish sessions (`X-Auth-Token`), apart from the web's cookie sessions.
    pub redfish_sessions: WebSessions,
    /// Each host's recovery timer, for the hosts configured with one.
    pub recoveries: std::collections::HashMap<String, Arc<crate::recovery::Recovery>>,
    /// Where screen captures and other files are kept.
    pub data_dir: PathBuf,
    /// Each host's health sensors, for the hosts whose backend has a source.
    pub health: std::collections::HashMap<String, Arc<crate::health::Health>>,
    pub keys: KeyStore,
    pub launches: crate::console::launch::LaunchStore,
    pub hosts: HostRegistry,
    /// Enrolled agents, their links and their directives.
    pub agents: crate::agents::Agents,
    pub link_config: ServerConfig,
    pub web_root: PathBuf,
    /// Where the images for virtual media are, and the web servers they may come from.
    pub media_folder: PathBuf,
    pub media_urls: crate::media::url::UrlSources,
    pub plain_ws_url: Option<String>,
    /// Origins besides the request's own that may make state-changing requests.
    pub trusted_origins: Vec<String>,
    /// The HTTPS listener's port: a page of ours is on it, whichever name the browser used.
    pub site_port: u16,
    pub csp: String,
    /// Whether some origin may frame our pages (then X-Frame-Options, which cannot name
    /// origins, is left out and the CSP decides).
    pub frameable: bool,
    /// Login throttling and the argon2 budget, for every way in.
    pub logins: crate::web::login::LoginGate,
    /// The directory that checks logins of names with no local account (`[auth.ldap]`).
    pub directory: Option<Arc<crate::directory::Directory>>,
    /// Seals users' Kerberos credentials for their browsers (a key that never leaves here).
    pub sealer: crate::directory::seal::Sealer,
    /// This controller's identity for portable session tokens, and its peers.
    pub node: crate::federation::Node,
    pub peers: Vec<crate::config::PeerConfig>,
    pub trusted_nodes: std::collections::HashMap<String, String>,
    /// What each session token issued here lets its audience fetch, and the clients that fetch
    /// from peers.
    pub grants: crate::federation::grants::Grants,
    pub peer_clients: crate::federation::client::PeerClients,
    session_idle: Duration,
    /// How long a new console socket has for its handshake.
    pub console_handshake: Duration,
    /// Set once the controller is stopping: listeners stop accepting, console links close.
    shutting_down: tokio::sync::watch::Sender<bool>,
    /// How many console links are open.
    open_links: Arc<tokio::sync::watch::Sender<usize>>,
    /// The registration at a relay, when `[relay]` is set (once the site is up).
    pub relay: std::sync::OnceLock<tokio::sync::watch::Receiver<crate::relay::RelayStatus>>,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Needs a tokio runtime (host backends start here).
    pub fn new(config: &Config, users: Arc<UserStore>, audit: Arc<AuditLog>) -> anyhow::Result<Self> {
        let node = crate::federation::Node::load_or_create(
            config.node_id.clone(),
            &config.node_key_file.clone().unwrap_or_else(|| config.data_dir.join("node-key")),
        )?;
        // Before the first record: every record from now on is anchored.
        audit.anchor_with(node.audit_anchor());
        let events = Arc::new(crate::store::EventLog::open(&config.data_dir.join("lantern.db"))?);
        let notices = crate::notify::Bus::default();
        let journal = crate::store::Journal::start(audit.clone(), events.clone(), notices.clone())?;
        let subscriptions = crate::notify::delivery::Delivery::start(
            &notices,
            Arc::new(crate::notify::subscriptions::SubscriptionStore::open(&config.data_dir.join("lantern.db"))?),
            config.events.clone(),
        )?;
        let syslog = match &config.syslog {
            Some(syslog) => Some(crate::syslog::start(
                syslog,
                &config.node_id,
                crate::syslog::Sources {
                    audit: audit.clone(),
                    events: events.clone(),
                    writes: journal.writes(),
                    database: config.data_dir.join("lantern.db"),
                },
            )?),
            None => None,
        };
        let control_idle = Duration::from_secs(config.console.control_idle_seconds);
        let hosts = HostRegistry::start(&config.hosts, &config.data_dir, control_idle);
        for host in hosts.all() {
            tokio::spawn(log_status_changes(host, journal.clone()));
        }
        let health = start_health(config, &journal);
        let agent_store = Arc::new(crate::store::agents::AgentStore::open(&config.data_dir.join("lantern.db"))?);
        let agents = crate::agents::Agents::start(
            config.agents.clone(),
            agent_store,
            &node,
            &hosts,
            crate::agents::HostServices {
                sensor_history: config.health.history,
                journal: journal.clone(),
                events: events.clone(),
                data_dir: config.data_dir.clone(),
            },
        )?;
        let recoveries = start_recovery(config, &hosts, &events, &journal)?;
        let plain_ws_url = config
            .console_public_plain_url
            .clone()
            .or_else(|| config.console_plain_listen.map(|addr| format!("ws://{addr}/console/ws")));
        let index = std::fs::read_to_string(config.web_root.join("index.html")).ok();
        if index.is_none() {
            tracing::warn!(web_root = %config.web_root.display(), "web console not built: no index.html");
        }
        let session_idle = Duration::from_secs(config.auth.session_idle_minutes * 60);
        let trusted_origins = config.allowed_origins.clone();
        let state = Self(Arc::new(Inner {
            users: users.clone(),
            audit,
            sessions: WebSessions::new(users.clone(), SessionKind::Web, session_idle),
            redfish_sessions: WebSessions::new(users.clone(), SessionKind::Redfish, session_idle),
            health,
            recoveries,
            data_dir: config.data_dir.clone(),
            keys: KeyStore::new(Duration::from_secs(config.console.key_ttl_seconds)),
            launches: crate::console::launch::LaunchStore::new(Duration::from_secs(
                config.console.launch_session_minutes * 60,
            )),
            hosts,
            agents,
            events,
            journal,
            notices,
            subscriptions,
            metrics: Arc::new(crate::metrics::Metrics::new()),
            console_links: Arc::default(),
            metrics_access: config.metrics.as_ref().map(crate::metrics::scrape::Access::from_config).transpose()?,
            syslog,
            link_config: ServerConfig {
                suites: config.suites()?,
                schedule: config.schedule(),
                identity: node.console_identity(),
            },
            web_root: config.web_root.clone(),
            media_folder: config.media.folder.clone().unwrap_or_else(|| config.data_dir.join("media")),
            media_urls: crate::media::url::UrlSources::new(&config.media)?,
            csp: content_security_policy(index.as_deref(), plain_ws_url.as_deref(), &config.frame_ancestors),
            frameable: !config.frame_ancestors.is_empty(),
            plain_ws_url,
            trusted_origins,
            site_port: config.listen.port(),
            logins: crate::web::login::LoginGate::new(config.login_policy()),
            sealer: crate::directory::seal::Sealer::new(),
            directory: crate::directory::Directory::from_config(
                config.auth.ldap.as_ref(),
                config.auth.kerberos.as_ref(),
            )?,
            node,
            peers: config.peers.clone(),
            trusted_nodes: config.peers.iter().map(|p| (p.id.clone(), p.public_key.clone())).collect(),
            grants: Default::default(),
            peer_clients: crate::federation::client::PeerClients::new(&config.peers)?,
            session_idle,
            console_handshake: Duration::from_secs(config.limits.console_handshake_seconds.max(1)),
            shutting_down: tokio::sync::watch::channel(false).0,
            open_links: Arc::new(tokio::sync::watch::channel(0).0),
            relay: std::sync::OnceLock::new(),
        }));
        tokio::spawn(housekeeping(Arc::downgrade(&state.0)));
        Ok(state)
    }

    pub fn session_idle(&self) -> Duration {
        self.session_idle
    }

    /// What `user` may do on `host_id` now, as the store says (a host's class sets the role's
    /// defaults: the controller's own shell is for administrators unless granted).
    pub fn rights(
        &self,
        user: &crate::store::User,
        host_id: &str,
    ) -> Result<crate::store::HostRights, crate::store::users::StoreError> {
        let class = match self.hosts.get(host_id) {
            Some(host) if host.kind == "local" => crate::store::HostClass::ControllerShell,
            _ => crate::store::HostClass::Managed,
        };
        self.users.rights(user, host_id, class)
    }

    /// The host's sensors: sampled here (`local`), or reported by its agent.
    pub fn health_of(&self, host_id: &str) -> Option<Arc<crate::health::Health>> {
        self.health.get(host_id).cloned().or_else(|| self.agents.slot(host_id).map(|s| s.health.clone()))
    }

    /// The host's recovery timer: a configured host's, or an agent host's.
    pub fn recovery_of(&self, host_id: &str) -> Option<Arc<crate::recovery::Recovery>> {
        self.recoveries.get(host_id).cloned().or_else(|| self.agents.slot(host_id).and_then(|s| s.recovery.clone()))
    }

    /// Starts stopping the controller.
    pub fn shutdown(&self) {
        self.shutting_down.send_replace(true);
    }

    /// Resolves once the controller is stopping.
    pub fn stopping(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut stopping = self.shutting_down.subscribe();
        async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        }
    }

    /// Counts an open console link until the guard is dropped, so that shutting down can
    /// wait for every link's close record.
    pub fn link_guard(&self) -> LinkGuard {
        self.open_links.send_modify(|n| *n += 1);
        LinkGuard(self.open_links.clone())
    }

    /// Waits until every console link has closed.
    pub async fn links_closed(&self) {
        let _ = self.open_links.subscribe().wait_for(|open| *open == 0).await;
    }

    /// Records a security action before it takes effect: when the trail cannot take the
    /// record, the action is refused (503) rather than done unrecorded. The write is the
    /// journal's, off the runtime, in turn with every other record.
    pub async fn audit_first(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        detail: serde_json::Value,
    ) -> Result<(), crate::web::error::ApiError> {
        let written = self.journal.audit_first(crate::store::AuditEntry::new(actor, action, target, detail)).await;
        written.map(|_| ()).map_err(|err| {
            tracing::error!(error = %err, action, "audit trail write failed; action refused");
            crate::web::error::ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "the audit trail cannot be written, so the action is refused",
            )
        })
    }

    /// Adds a record to the audit trail of something that has already happened: queued to
    /// the journal, whose failure to write it is logged loudly.
    pub async fn audit(&self, actor: &str, action: &str, target: &str, detail: serde_json::Value) {
        self.journal.audit(crate::store::AuditEntry::new(actor, action, target, detail)).await;
    }

    /// Reads the audit trail or the event logs once every record made before the call is
    /// written (an action's own record is on the page that follows it); off the runtime.
    pub async fn read_journal<T: Send + 'static>(
        &self,
        read: impl FnOnce(&AuditLog, &crate::store::EventLog) -> Result<T, crate::store::users::StoreError> + Send + 'static,
    ) -> Result<T, crate::store::users::StoreError> {
        self.journal.flush().await;
        let (audit, events) = (self.audit.clone(), self.events.clone());
        crate::store::off_runtime(move || read(&audit, &events)).await
    }

    /// Adds an event to a host's event log (queued to the journal).
    pub async fn event(&self, host: &str, severity: &str, message: &str) {
        self.journal.event(crate::store::EventEntry::new(host, severity, message)).await;
    }

    /// Adds an event to a host's event log that subscribers also get, as `notice`.
    pub async fn event_notice(&self, host: &str, severity: &str, message: &str, notice: crate::notify::Draft) {
        self.journal.event(crate::store::EventEntry::new(host, severity, message).with_notice(notice)).await;
    }
}

/// Every so often: expired console keys are dropped (and their PMS wiped) and idle sessions
/// deleted, whether or not anyone asks for a new one. Ends with the state.
async fn housekeeping(state: std::sync::Weak<Inner>) {
    let mut every = tokio::time::interval(Duration::from_secs(10));
    loop {
        every.tick().await;
        let Some(state) = state.upgrade() else { return };
        state.keys.prune();
        let (users, idle) = (state.users.clone(), state.session_idle);
        drop(state);
        let pruned = crate::store::off_runtime(move || users.prune_sessions(idle, crate::store::audit::now_ms())).await;
        if let Err(err) = pruned {
            tracing::error!(error = %err, "cannot prune idle sessions");
        }
    }
}

/// One open console link, counted while it lives.
pub struct LinkGuard(Arc<tokio::sync::watch::Sender<usize>>);

impl Drop for LinkGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Starts the recovery timer of every host configured with one; whether it is on comes from
/// the database (a user's choice) or else the configuration.
fn start_recovery(
    config: &Config,
    hosts: &HostRegistry,
    events: &Arc<crate::store::EventLog>,
    journal: &crate::store::Journal,
) -> anyhow::Result<std::collections::HashMap<String, Arc<crate::recovery::Recovery>>> {
    let mut recoveries = std::collections::HashMap::new();
    for host_config in &config.hosts {
        let (Some(recovery), Some(host)) = (&host_config.recovery, hosts.get(&host_config.id)) else { continue };
        let enabled = match events.setting(&host.id, "recovery")?.as_deref() {
            Some(value) => value == "on",
            None => recovery.enabled,
        };
        let timer = Arc::new(crate::recovery::Recovery::new(recovery, enabled));
        let captures = crate::recovery::captures_dir(&config.data_dir, &host.id);
        tokio::spawn(crate::recovery::run(host, timer.clone(), journal.clone(), captures));
        recoveries.insert(host_config.id.clone(), timer);
    }
    Ok(recoveries)
}

/// Starts sampling the sensors of every host whose backend has some.
fn start_health(
    config: &Config,
    journal: &crate::store::Journal,
) -> std::collections::HashMap<String, Arc<crate::health::Health>> {
    let every = Duration::from_secs(config.health.interval_seconds.max(1));
    let mut health = std::collections::HashMap::new();
    for host in &config.hosts {
        let source = match &host.backend {
            crate::config::BackendConfig::Local { sysfs, .. } => crate::health::Source::Sysfs(sysfs.clone()),
            _ => continue,
        };
        let sensors = Arc::new(crate::health::Health::new(config.health.history));
        tokio::spawn(crate::health::sample(host.id.clone(), source, sensors.clone(), journal.clone(), every));
        health.insert(host.id.clone(), sensors);
    }
    health
}

/// Writes every status of a host, from the first, into its event log; a change of power or
/// signal after the first is also an event for subscribers.
pub(crate) async fn log_status_changes(host: Arc<crate::hosts::Host>, journal: crate::store::Journal) {
    use shared::wire::message::HostState;
    let mut status = host.status.clone();
    let mut before = None;
    loop {
        let (state, severity, message) = {
            let s = status.borrow_and_update();
            let severity = match s.state {
                HostState::Running | HostState::Stopped => "info",
                HostState::NoSignal => "warning",
            };
            (s.state, severity, s.text.clone())
        };
        let mut entry = crate::store::EventEntry::new(&host.id, severity, &message);
        if let Some(notice) = before.and_then(|was| status_notice(&host.id, was, state, &message)) {
            entry = entry.with_notice(notice);
        }
        journal.event(entry).await;
        before = Some(state);
        if status.changed().await.is_err() {
            return;
        }
    }
}

/// The event a host's move from `was` to `now` is for subscribers, if any.
fn status_notice(
    host: &str,
    was: shared::wire::message::HostState,
    now: shared::wire::message::HostState,
    text: &str,
) -> Option<crate::notify::Draft> {
    use crate::notify::{registry, Draft};
    use shared::wire::message::HostState::{NoSignal, Running, Stopped};
    match (was, now) {
        (Running | NoSignal, Stopped) => Some(Draft::host(registry::POWER_STATE_CHANGED, host, &["Off"])),
        (Stopped, Running | NoSignal) => Some(Draft::host(registry::POWER_STATE_CHANGED, host, &["On"])),
        (Running, NoSignal) => Some(Draft::host(registry::SIGNAL_LOST, host, &[text])),
        (NoSignal, Running) => Some(Draft::host(registry::SIGNAL_RESTORED, host, &[])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::status_notice;
    use shared::wire::message::HostState::{NoSignal, Running, Stopped};

    #[test]
    fn power_and_signal_changes_are_events_and_other_status_news_is_not() {
        let key = |was, now| status_notice("vm", was, now, "no picture").map(|d| (d.message.key, d.args));
        assert_eq!(key(Running, Stopped), Some(("PowerStateChanged", vec!["vm".into(), "Off".into()])));
        assert_eq!(key(Stopped, NoSignal).map(|k| k.1[1].clone()), Some("On".into()));
        assert_eq!(key(Running, NoSignal), Some(("HostSignalLost", vec!["vm".into(), "no picture".into()])));
        assert_eq!(key(NoSignal, Running).map(|k| k.0), Some("HostSignalRestored"));
        assert_eq!(key(Running, Running), None);
    }
}
