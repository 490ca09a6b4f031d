//! The one writer of the audit trail and the host event logs.
//!
//! Every record is queued, in the order it was made, to one thread that owns the writes: no
//! SQLite write runs on the runtime's async workers, no two writers of the trail wait on each
//! other's locks, and the trail's order is the order of the queue. A security action waits for
//! its own record (see [`Journal::audit_first`]); everything else only waits for room in the
//! queue, which is bounded so that a slow disk slows callers down instead of filling memory.
//! A reader that must see every record made before it (the audit page after an action) asks
//! for [`Journal::flush`] first. Once a record is written, the events it makes go out on the
//! notice bus (`notify::Bus`), which never waits for its readers, and a count of writes moves
//! on for readers that follow the stored records themselves (the syslog forwarder).

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};

use super::users::StoreError;
use super::{AuditLog, EventLog};
use crate::notify::Bus;

/// Records waiting to be written, at most (each is a few hundred bytes).
const QUEUE: usize = 4096;

/// A handle on the writer; cheap to clone. The writer stops when the last handle is gone,
/// after writing what was queued.
#[derive(Clone)]
pub struct Journal {
    queue: mpsc::Sender<Entry>,
    written: watch::Receiver<u64>,
}

/// One audit record, as its maker gives it.
pub struct AuditEntry {
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: serde_json::Value,
}

impl AuditEntry {
    pub fn new(actor: &str, action: &str, target: &str, detail: serde_json::Value) -> Self {
        Self { actor: actor.to_string(), action: action.to_string(), target: target.to_string(), detail }
    }
}

/// One host event: what happened to a host, with a capture file kept beside it, if any.
pub struct EventEntry {
    pub host: String,
    pub severity: String,
    pub message: String,
    pub attachment: Option<String>,
    /// The Redfish event it also is, for the events subscribers get.
    pub notice: Option<crate::notify::Draft>,
}

impl EventEntry {
    pub fn new(host: &str, severity: &str, message: &str) -> Self {
        Self {
            host: host.to_string(),
            severity: severity.to_string(),
            message: message.to_string(),
            attachment: None,
            notice: None,
        }
    }

    pub fn with_notice(mut self, notice: crate::notify::Draft) -> Self {
        self.notice = Some(notice);
        self
    }

    pub fn with_attachment(mut self, attachment: Option<&str>) -> Self {
        self.attachment = attachment.map(str::to_string);
        self
    }
}

enum Entry {
    Audit(AuditEntry, Option<oneshot::Sender<Result<i64, StoreError>>>),
    Event(EventEntry),
    /// Answered once everything queued before it is written.
    Flush(oneshot::Sender<()>),
}

impl Journal {
    /// Starts the writer thread, which publishes the events its records make on `bus`.
    pub fn start(audit: Arc<AuditLog>, events: Arc<EventLog>, bus: Bus) -> std::io::Result<Self> {
        let (queue, entries) = mpsc::channel(QUEUE);
        let (writes, written) = watch::channel(0);
        std::thread::Builder::new()
            .name("lantern-journal".into())
            .spawn(move || write_all(entries, &audit, &events, &bus, &writes))?;
        Ok(Self { queue, written })
    }

    /// Moves on after every write (its value counts them); closed once the writer has stopped.
    pub fn writes(&self) -> watch::Receiver<u64> {
        self.written.clone()
    }

    /// Writes a security action's record and waits until it is in the trail: the caller
    /// refuses the action when this fails.
    pub async fn audit_first(&self, entry: AuditEntry) -> Result<i64, StoreError> {
        let (written, answer) = oneshot::channel();
        self.queue.send(Entry::Audit(entry, Some(written))).await.map_err(|_| StoreError::Task)?;
        answer.await.map_err(|_| StoreError::Task)?
    }

    /// Queues the record of something that has already happened. A failure to write it is
    /// logged loudly by the writer.
    pub async fn audit(&self, entry: AuditEntry) {
        if let Err(mpsc::error::SendError(Entry::Audit(lost, _))) = self.queue.send(Entry::Audit(entry, None)).await {
            tracing::error!(action = %lost.action, "audit trail writer is gone; record lost");
        }
    }

    /// Queues a host event.
    pub async fn event(&self, entry: EventEntry) {
        if let Err(mpsc::error::SendError(Entry::Event(lost))) = self.queue.send(Entry::Event(entry)).await {
            tracing::error!(host = %lost.host, "event log writer is gone; event lost");
        }
    }

    /// Waits until every record queued before this call is written (or failed).
    pub async fn flush(&self) {
        let (done, answer) = oneshot::channel();
        if self.queue.send(Entry::Flush(done)).await.is_ok() {
            let _ = answer.await;
        }
    }
}

/// The writer thread: takes entries in order until every handle is dropped.
fn write_all(
    mut entries: mpsc::Receiver<Entry>,
    audit: &AuditLog,
    events: &EventLog,
    bus: &Bus,
    writes: &watch::Sender<u64>,
) {
    while let Some(entry) = entries.blocking_recv() {
        let wrote = !matches!(entry, Entry::Flush(_));
        // A panic in one write must not end the writer and with it every later record.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write_one(entry, audit, events, bus)));
        if outcome.is_err() {
            tracing::error!("journal write panicked; the record it held is lost");
        }
        if wrote {
            writes.send_modify(|n| *n += 1);
        }
    }
}

/// Writes one entry, then publishes its notice: an event goes out whether or not the disk took
/// its record (a failing disk is when a team most needs to hear from the controller).
fn write_one(entry: Entry, audit: &AuditLog, events: &EventLog, bus: &Bus) {
    match entry {
        Entry::Audit(record, written) => {
            let notice = crate::notify::notice_of_audit(&record.actor, &record.action, &record.detail);
            let result = audit.record(&record.actor, &record.action, &record.target, record.detail);
            if let Err(err) = &result {
                tracing::error!(error = %err, action = %record.action, "audit trail write failed");
            }
            if let Some(written) = written {
                let _ = written.send(result);
            }
            notice.map(|n| bus.publish(n));
        }
        Entry::Event(event) => {
            let written = events.record_with(&event.host, &event.severity, &event.message, event.attachment.as_deref());
            if let Err(err) = written {
                tracing::error!(host = %event.host, error = %err, "event log write failed");
            }
            event.notice.map(|n| bus.publish(n));
        }
        Entry::Flush(done) => {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal() -> (Journal, Arc<AuditLog>, Arc<EventLog>) {
        let (audit, events) = (Arc::new(AuditLog::in_memory().unwrap()), Arc::new(EventLog::in_memory().unwrap()));
        (Journal::start(audit.clone(), events.clone(), Bus::default()).unwrap(), audit, events)
    }

    #[tokio::test]
    async fn records_are_written_in_the_order_they_were_made() {
        let (journal, audit, _) = journal();
        journal.audit(AuditEntry::new("a", "first", "", serde_json::json!({}))).await;
        let id = journal.audit_first(AuditEntry::new("a", "second", "", serde_json::json!({}))).await.unwrap();
        journal.audit(AuditEntry::new("a", "third", "", serde_json::json!({}))).await;
        journal.flush().await;
        let actions: Vec<String> = audit.page(None, 10).unwrap().into_iter().rev().map(|r| r.action).collect();
        assert_eq!(actions, ["first", "second", "third"]);
        assert_eq!(id, 2);
    }

    #[tokio::test]
    async fn written_records_that_are_events_go_out_on_the_bus() {
        let (audit, events, bus) =
            (Arc::new(AuditLog::in_memory().unwrap()), Arc::new(EventLog::in_memory().unwrap()), Bus::default());
        let mut notices = bus.subscribe();
        let journal = Journal::start(audit, events.clone(), bus).unwrap();
        journal.audit(AuditEntry::new("bob", "login.failed", "", serde_json::json!({ "source": "10.1.1.1" }))).await;
        journal.audit(AuditEntry::new("bob", "console.open", "vm", serde_json::json!({}))).await;
        let draft = crate::notify::Draft::host(crate::notify::registry::POWER_STATE_CHANGED, "vm", &["Off"]);
        journal.event(EventEntry::new("vm", "info", "Stopped").with_notice(draft)).await;
        journal.flush().await;
        assert_eq!(notices.recv().await.unwrap().message.key, "LoginFailed");
        let power = notices.recv().await.unwrap();
        assert_eq!((power.message.key, power.origin.as_str()), ("PowerStateChanged", "/redfish/v1/Systems/vm"));
        assert!(notices.try_recv().is_err(), "a console opening is no event");
        assert_eq!(events.count("vm").unwrap(), 1);
    }

    #[tokio::test]
    async fn a_flush_waits_for_queued_events() {
        let (journal, _, events) = journal();
        for n in 0..100 {
            journal.event(EventEntry::new("h", "info", &format!("event {n}"))).await;
        }
        journal.flush().await;
        assert_eq!(events.count("h").unwrap(), 100);
    }

    #[tokio::test]
    async fn a_record_does_not_wait_for_the_disk() {
        // Another process holds the database's write lock: a record made meanwhile is queued,
        // its maker goes on, and the record is written once the lock is free. Written inline,
        // it would have failed ("database is locked") when the busy timeout ran out.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lantern.db");
        let audit = Arc::new(AuditLog::open(&path).unwrap());
        let journal = Journal::start(audit.clone(), Arc::new(EventLog::open(&path).unwrap()), Bus::default()).unwrap();
        let other = rusqlite::Connection::open(&path).unwrap();
        other.execute_batch("BEGIN EXCLUSIVE").unwrap();
        journal.audit(AuditEntry::new("a", "while locked", "", serde_json::json!({}))).await;
        other.execute_batch("COMMIT").unwrap();
        journal.flush().await;
        assert_eq!(audit.count().unwrap(), 1);
    }
}
