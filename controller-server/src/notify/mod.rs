//! Events out: what happens on the controller, as Redfish events (messages of our registry,
//! [`registry`]), to subscribers by HTTPS POST ([`delivery`]) and to Server-Sent Events readers.
//!
//! The journal's writer publishes a [`Notice`] for each record that is an event a team watches
//! (a power change, a sensor crossing a threshold, a failed login...) on the [`Bus`] once it has
//! written the record; the bus never waits for its readers, so a slow or hung subscriber cannot
//! hold up the journal, and with it any action.

pub mod delivery;
pub mod registry;
pub mod subscriptions;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::sync::Locked;
use registry::Message;

/// One event, as subscribers get it.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// Increasing over the controller's life (and across restarts: it starts at the clock).
    pub id: u64,
    pub at_ms: i64,
    pub message: &'static Message,
    pub args: Vec<String>,
    /// The resource it concerns, as a Redfish URI.
    pub origin: String,
}

/// A notice before the bus numbers it.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub message: &'static Message,
    pub args: Vec<String>,
    pub origin: String,
}

impl Draft {
    pub fn new(message: &'static Message, args: &[&str], origin: String) -> Self {
        Self { message, args: args.iter().map(|a| a.to_string()).collect(), origin }
    }

    /// About a host (its `Systems` resource).
    pub fn host(message: &'static Message, host: &str, more: &[&str]) -> Self {
        let args: Vec<&str> = std::iter::once(host).chain(more.iter().copied()).collect();
        Self::new(message, &args, crate::redfish::systems::system_uri(host))
    }
}

impl Notice {
    pub fn message_id(&self) -> String {
        registry::message_id(self.message)
    }

    pub fn text(&self) -> String {
        registry::fill(self.message, &self.args)
    }

    /// One `EventRecord` of an `Event` resource (Event.v1_x).
    pub fn record(&self) -> Value {
        json!({
            "MemberId": "0",
            "EventId": self.id.to_string(),
            "EventTimestamp": crate::redfish::timestamp(self.at_ms),
            "MessageId": self.message_id(),
            "MessageArgs": self.args,
            "Message": self.text(),
            "MessageSeverity": self.message.severity,
            "Severity": self.message.severity,
            "OriginOfCondition": { "@odata.id": self.origin },
        })
    }

    /// The `Event` resource carrying this notice, for a subscriber with `context`.
    pub fn event(&self, context: &str) -> Value {
        json!({
            "@odata.type": "#Event.v1_7_0.Event",
            "Id": self.id.to_string(),
            "Name": "Lantern Event",
            "Context": context,
            "Events": [self.record()],
        })
    }

    pub fn registry_prefix(&self) -> &'static str {
        registry::PREFIX
    }
}

/// How many notices an SSE reader that reconnects with `Last-Event-ID` can catch up on.
const REPLAY: usize = 256;
/// Notices a reader may fall behind by before it misses some (readers take them at once;
/// this only covers a busy runtime).
const BACKLOG: usize = 1024;

/// Where notices go out: any number of readers, none of which the publisher waits for.
#[derive(Clone)]
pub struct Bus(Arc<BusInner>);

struct BusInner {
    sender: broadcast::Sender<Arc<Notice>>,
    next_id: AtomicU64,
    recent: Mutex<VecDeque<Arc<Notice>>>,
}

impl Default for Bus {
    fn default() -> Self {
        let (sender, _) = broadcast::channel(BACKLOG);
        let start = u64::try_from(crate::store::audit::now_ms()).unwrap_or(0);
        Self(Arc::new(BusInner { sender, next_id: AtomicU64::new(start), recent: Mutex::new(VecDeque::new()) }))
    }
}

impl Bus {
    /// Numbers `draft` and sends it to every reader there is now; returns it.
    pub fn publish(&self, draft: Draft) -> Arc<Notice> {
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        let notice = Arc::new(Notice {
            id,
            at_ms: crate::store::audit::now_ms(),
            message: draft.message,
            args: draft.args,
            origin: draft.origin,
        });
        {
            let mut recent = self.0.recent.locked();
            if recent.len() == REPLAY {
                recent.pop_front();
            }
            recent.push_back(notice.clone());
        }
        // No reader is not an error: nobody is listening.
        let _ = self.0.sender.send(notice.clone());
        notice
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Notice>> {
        self.0.sender.subscribe()
    }

    /// The notices still kept that came after `id`, oldest first.
    pub fn since(&self, id: u64) -> Vec<Arc<Notice>> {
        self.0.recent.locked().iter().filter(|n| n.id > id).cloned().collect()
    }
}

/// The notice an audit record makes, for the records a team watches: failed logins and
/// lockouts (the trail's own records, so every way in is covered by one rule).
pub fn notice_of_audit(actor: &str, action: &str, detail: &Value) -> Option<Draft> {
    let source = detail.get("source").and_then(Value::as_str).unwrap_or("an unknown address");
    let user = if actor.is_empty() { "(not an account)" } else { actor };
    match action {
        "login.failed" => {
            Some(Draft::new(registry::LOGIN_FAILED, &[user, source], "/redfish/v1/SessionService".into()))
        }
        "login.locked" => {
            let seconds = detail.get("seconds").map(Value::to_string).unwrap_or_default();
            Some(Draft::new(registry::ACCOUNT_LOCKED, &[user, source, &seconds], "/redfish/v1/AccountService".into()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readers_get_every_notice_in_order_and_late_readers_can_catch_up() {
        let bus = Bus::default();
        let mut reader = bus.subscribe();
        let first = bus.publish(Draft::host(registry::POWER_STATE_CHANGED, "vm", &["Off"]));
        let second = bus.publish(Draft::host(registry::SIGNAL_RESTORED, "vm", &[]));
        assert!(second.id > first.id);
        assert_eq!(reader.recv().await.unwrap(), first);
        assert_eq!(reader.recv().await.unwrap(), second);
        assert_eq!(bus.since(first.id), vec![second.clone()]);
        let event = first.event("ctx");
        assert_eq!(event["Events"][0]["MessageId"], "Lantern.1.0.PowerStateChanged");
        assert_eq!(event["Events"][0]["OriginOfCondition"]["@odata.id"], "/redfish/v1/Systems/vm");
        assert_eq!(event["Events"][0]["Message"], "The power state of host vm changed to Off.");
        assert_eq!(event["Context"], "ctx");
    }

    #[test]
    fn failed_logins_and_lockouts_are_notices_and_other_records_are_not() {
        let detail = json!({ "source": "10.0.0.9", "seconds": 300 });
        let failed = notice_of_audit("", "login.failed", &detail).unwrap();
        assert_eq!(failed.args, ["(not an account)", "10.0.0.9"]);
        let locked = notice_of_audit("bob", "login.locked", &detail).unwrap();
        assert_eq!((locked.message.key, locked.args[2].as_str()), ("LoginLockedOut", "300"));
        assert!(notice_of_audit("bob", "login.ok", &detail).is_none());
        assert!(notice_of_audit("bob", "password-check.failed", &detail).is_none());
    }
}
