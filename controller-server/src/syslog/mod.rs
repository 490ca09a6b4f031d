//! Forwarding every audit record and host event to a syslog collector (`[syslog]`): RFC 5424
//! messages with structured data, over TLS (RFC 5425), TCP (RFC 6587) or UDP (RFC 5426).
//!
//! The forwarder follows the stored records themselves, not the events as they happen: it
//! reads what comes after its place in each stream, sends it as one batch, and moves its place
//! on (in the database) only once the collector has read the batch to its end (see
//! [`transport`]). A collector that is down, a controller restarted, a batch cut off: what was
//! not confirmed is sent again, so every record arrives at least once, and nothing waits for
//! the collector but the forwarder itself, which retries with a growing pause.

pub mod cursor;
pub mod format;
pub mod transport;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::watch;

use crate::store::users::StoreError;
use crate::store::{AuditLog, EventLog};
use crate::sync::Locked;
use cursor::{Cursor, Place};
use transport::{Sender, Target, TlsFiles};

/// `[syslog]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyslogConfig {
    /// `tls://host[:6514]`, `tcp://host[:514]` or `udp://host[:514]` (best effort: nothing is
    /// resent over UDP).
    pub target: String,
    /// The CA (PEM) the collector's certificate is checked against; the system's when absent.
    pub ca_file: Option<PathBuf>,
    /// This controller's certificate and key (PEM), for a collector that asks for one.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// The facility of every message (`local0`, `authpriv`, `audit`, ...).
    pub facility: String,
    /// The HOSTNAME field; the controller's `node_id` when absent.
    pub hostname: Option<String>,
    /// The enterprise number in the structured data's names (`audit@32473`).
    pub enterprise_number: u32,
    /// Where a controller that never forwarded begins: `oldest` (the whole trail) or `now`.
    pub start: Start,
    /// Records of each stream per batch, at most.
    pub batch: u32,
    /// Each step's deadline (connecting, handshake, sending, the collector's close).
    pub timeout_seconds: u64,
    /// Longer messages are cut to this (rsyslog takes 8 KiB unless told otherwise).
    pub max_message_bytes: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Start {
    #[default]
    Oldest,
    Now,
}

impl Default for SyslogConfig {
    fn default() -> Self {
        Self {
            target: String::new(),
            ca_file: None,
            cert_file: None,
            key_file: None,
            facility: "local0".into(),
            hostname: None,
            enterprise_number: 32473,
            start: Start::Oldest,
            batch: 500,
            timeout_seconds: 10,
            max_message_bytes: 8192,
        }
    }
}

impl SyslogConfig {
    /// What is wrong with this configuration, if anything.
    pub fn problem(&self) -> Option<String> {
        let target = match Target::parse(&self.target) {
            Ok(target) => target,
            Err(problem) => return Some(problem),
        };
        if facility_code(&self.facility).is_none() {
            return Some(format!("syslog facility {:?} is not one of RFC 5424's", self.facility));
        }
        if self.cert_file.is_some() != self.key_file.is_some() {
            return Some("syslog: cert_file and key_file go together".into());
        }
        if target.transport != transport::Transport::Tls && (self.cert_file.is_some() || self.ca_file.is_some()) {
            return Some("syslog: ca_file, cert_file and key_file are for a tls:// target".into());
        }
        if self.batch == 0 || self.timeout_seconds == 0 || self.max_message_bytes < format::MIN_MESSAGE {
            return Some(format!(
                "syslog: batch and timeout_seconds must be positive, max_message_bytes at least {}",
                format::MIN_MESSAGE
            ));
        }
        None
    }
}

/// A facility's code by its usual name (RFC 5424 §6.2.1).
pub fn facility_code(name: &str) -> Option<u8> {
    const NAMES: [&str; 16] = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp", "ntp",
        "audit", "alert", "clock",
    ];
    if let Some(n) = name.strip_prefix("local").and_then(|n| n.parse::<u8>().ok()) {
        return (n < 8).then_some(16 + n);
    }
    NAMES.iter().position(|n| *n == name).and_then(|p| u8::try_from(p).ok())
}

/// How forwarding is going, since the controller started.
#[derive(Debug, Default)]
pub struct Status {
    /// Records the collector confirmed (or, over UDP, that were sent).
    pub forwarded: AtomicU64,
    /// Batches that did not get through (each is tried again).
    pub failures: AtomicU64,
    /// Why the last batch failed, while failing.
    pub last_error: Mutex<Option<String>>,
}

/// What the forwarder reads.
pub struct Sources {
    pub audit: Arc<AuditLog>,
    pub events: Arc<EventLog>,
    /// Moves on after each write (`Journal::writes`).
    pub writes: watch::Receiver<u64>,
    /// The database, where the forwarder keeps its place.
    pub database: PathBuf,
}

/// A burst of records is gathered this long into one batch.
const GATHER: Duration = Duration::from_millis(200);
/// A failed batch is tried again after this, doubling up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(30);
/// A forwarder that stopped on an error starts again after this.
const RESTART: Duration = Duration::from_secs(5);

/// Starts forwarding (needs a runtime); the task is supervised and restarts after an error.
pub fn start(config: &SyslogConfig, node_id: &str, sources: Sources) -> anyhow::Result<Arc<Status>> {
    if let Some(problem) = config.problem() {
        anyhow::bail!(problem);
    }
    let target = Target::parse(&config.target).map_err(anyhow::Error::msg)?;
    let files = TlsFiles {
        ca_file: config.ca_file.clone(),
        cert_file: config.cert_file.clone(),
        key_file: config.key_file.clone(),
    };
    let sender = Sender::new(target, &files, Duration::from_secs(config.timeout_seconds))?;
    let facility = facility_code(&config.facility).unwrap_or(16);
    let hostname = config.hostname.as_deref().unwrap_or(node_id);
    let origin = format::Origin::new(facility, hostname, config.enterprise_number, config.max_message_bytes);
    let cursor = Cursor::open(&sources.database)?;
    let status = Arc::new(Status::default());
    let forwarder = Arc::new(Forwarder {
        sources,
        cursor,
        sender,
        origin,
        start: config.start,
        batch: config.batch,
        status: status.clone(),
    });
    tracing::info!(target = %forwarder.sender.target(), "forwarding the audit trail and host events to syslog");
    tokio::spawn(supervise(forwarder));
    Ok(status)
}

struct Forwarder {
    sources: Sources,
    cursor: Cursor,
    sender: Sender,
    origin: format::Origin,
    start: Start,
    batch: u32,
    status: Arc<Status>,
}

/// Messages for everything after a place, and the place they reach.
struct Batch {
    messages: Vec<String>,
    upto: Place,
}

async fn supervise(forwarder: Arc<Forwarder>) {
    loop {
        match tokio::spawn(forwarder.clone().run()).await {
            // The journal has stopped and everything it wrote went out.
            Ok(Ok(())) => return,
            Ok(Err(err)) => tracing::error!(error = %err, "syslog forwarding stopped; starting it again"),
            Err(_) => tracing::error!("syslog forwarding panicked; starting it again"),
        }
        tokio::time::sleep(RESTART).await;
    }
}

impl Forwarder {
    async fn run(self: Arc<Self>) -> Result<(), StoreError> {
        let mut writes = self.sources.writes.clone();
        let mut place = self.first_place().await?;
        let mut retry = FIRST_RETRY;
        loop {
            // Seen before reading: a write during the read wakes the next wait at once.
            writes.borrow_and_update();
            let batch = self.read(place).await?;
            if batch.messages.is_empty() {
                if writes.changed().await.is_err() {
                    return Ok(());
                }
                tokio::time::sleep(GATHER).await;
                continue;
            }
            match self.sender.deliver(&batch.messages).await {
                Ok(()) => {
                    let this = self.clone();
                    crate::store::off_runtime(move || this.cursor.keep(batch.upto)).await?;
                    place = batch.upto;
                    self.status.forwarded.fetch_add(batch.messages.len() as u64, Ordering::Relaxed);
                    if self.status.last_error.locked().take().is_some() {
                        tracing::info!(target = %self.sender.target(), "syslog collector reached again");
                    }
                    retry = FIRST_RETRY;
                }
                Err(err) => {
                    self.status.failures.fetch_add(1, Ordering::Relaxed);
                    let first = self.status.last_error.locked().replace(err.to_string()).is_none();
                    if first {
                        tracing::warn!(error = %err, "syslog forwarding failed; records are kept and sent again");
                    }
                    tokio::time::sleep(retry).await;
                    retry = (retry * 2).min(MAX_RETRY);
                }
            }
        }
    }

    /// The kept place, or (never forwarded before) the configured start, kept at once.
    async fn first_place(self: &Arc<Self>) -> Result<Place, StoreError> {
        let this = self.clone();
        crate::store::off_runtime(move || {
            if let Some(place) = this.cursor.place()? {
                return Ok(place);
            }
            let place = match this.start {
                Start::Oldest => Place::default(),
                Start::Now => Place { audit: this.sources.audit.last_id()?, events: this.sources.events.last_id()? },
            };
            this.cursor.keep(place)?;
            Ok(place)
        })
        .await
    }

    /// Everything after `place`, at most a batch of each stream, in time order.
    async fn read(self: &Arc<Self>, place: Place) -> Result<Batch, StoreError> {
        let this = self.clone();
        crate::store::off_runtime(move || {
            let audit = this.sources.audit.after(place.audit, this.batch)?;
            let events = this.sources.events.after(place.events, this.batch)?;
            let upto = Place {
                audit: audit.last().map_or(place.audit, |r| r.id),
                events: events.last().map_or(place.events, |e| e.id),
            };
            let (mut audit, mut events) = (audit.into_iter().peekable(), events.into_iter().peekable());
            let mut messages = Vec::new();
            loop {
                let audit_first = match (audit.peek(), events.peek()) {
                    (Some(r), Some(e)) => r.at <= e.at,
                    (Some(_), None) => true,
                    (None, Some(_)) => false,
                    (None, None) => break,
                };
                let message = match audit_first {
                    true => audit.next().map(|r| this.origin.audit(&r)),
                    false => events.next().map(|e| this.origin.event(&e)),
                };
                messages.extend(message);
            }
            Ok(Batch { messages, upto })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facilities_are_known_by_name() {
        assert_eq!(facility_code("kern"), Some(0));
        assert_eq!(facility_code("authpriv"), Some(10));
        assert_eq!(facility_code("audit"), Some(13));
        assert_eq!(facility_code("local0"), Some(16));
        assert_eq!(facility_code("local7"), Some(23));
        assert_eq!(facility_code("local8"), None);
        assert_eq!(facility_code("LOCAL0"), None);
    }

    #[test]
    fn a_configuration_names_its_problem() {
        let good = SyslogConfig { target: "tls://logs:6514".into(), ..SyslogConfig::default() };
        assert_eq!(good.problem(), None);
        let bad = [
            SyslogConfig { target: "".into(), ..good.clone() },
            SyslogConfig { facility: "local9".into(), ..good.clone() },
            SyslogConfig { cert_file: Some("c.pem".into()), ..good.clone() },
            SyslogConfig { target: "udp://logs".into(), ca_file: Some("ca.pem".into()), ..good.clone() },
            SyslogConfig { max_message_bytes: 100, ..good.clone() },
        ];
        for config in bad {
            assert!(config.problem().is_some(), "{config:?}");
        }
    }
}
