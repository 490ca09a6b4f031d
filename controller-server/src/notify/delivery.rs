//! Delivery to subscribers: one task per subscription POSTs its events in order, each tried
//! again a few times, from a bounded queue of its own. The router hands each notice to the
//! queues with `try_send` and never waits, so a subscriber that is down, slow or hangs costs
//! at most its queue and its own task's time, never the controller's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};

use super::subscriptions::{Subscription, SubscriptionStore};
use super::{Bus, Notice};
use crate::config::EventsConfig;
use crate::store::users::StoreError;
use crate::sync::Locked;

/// What happened to a subscription's events so far (since the controller started).
#[derive(Debug, Default)]
pub struct Counts {
    pub delivered: AtomicU64,
    /// Given up after every retry.
    pub failed: AtomicU64,
    /// Not queued: the queue was full.
    pub dropped: AtomicU64,
    /// Why the last attempt failed, if the last attempt failed.
    pub last_error: Mutex<Option<String>>,
}

struct Outbox {
    subscription: Arc<Mutex<Subscription>>,
    queue: mpsc::Sender<Arc<Notice>>,
    counts: Arc<Counts>,
    task: tokio::task::AbortHandle,
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Why a subscription was not added.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error("at most {0} subscriptions are kept")]
    TooMany(usize),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Delivery {
    store: Arc<SubscriptionStore>,
    client: reqwest::Client,
    config: EventsConfig,
    outboxes: Mutex<HashMap<i64, Outbox>>,
}

impl Delivery {
    /// Starts delivering `bus`'s notices to the stored subscriptions (needs a runtime).
    pub fn start(bus: &Bus, store: Arc<SubscriptionStore>, config: EventsConfig) -> anyhow::Result<Arc<Self>> {
        let timeout = Duration::from_secs(config.timeout_seconds.max(1));
        let client = crate::tls::https_client("event subscribers", config.ca_file.as_deref(), timeout, timeout)?;
        let delivery = Arc::new(Self { store, client, config, outboxes: Mutex::new(HashMap::new()) });
        for subscription in delivery.store.all()? {
            delivery.open(subscription);
        }
        tokio::spawn(route(bus.subscribe(), Arc::downgrade(&delivery)));
        Ok(delivery)
    }

    pub fn config(&self) -> &EventsConfig {
        &self.config
    }

    /// Keeps `subscription` and starts sending to it.
    pub fn add(&self, subscription: Subscription) -> Result<Subscription, AddError> {
        if self.store.all()?.len() >= self.config.max_subscriptions {
            return Err(AddError::TooMany(self.config.max_subscriptions));
        }
        let added = self.store.add(subscription)?;
        self.open(added.clone());
        Ok(added)
    }

    pub fn remove(&self, id: i64) -> Result<bool, StoreError> {
        let removed = self.store.remove(id)?;
        self.outboxes.locked().remove(&id);
        Ok(removed)
    }

    pub fn set_context(&self, id: i64, context: &str) -> Result<bool, StoreError> {
        let changed = self.store.set_context(id, context)?;
        if let Some(outbox) = self.outboxes.locked().get(&id) {
            outbox.subscription.locked().context = context.to_string();
        }
        Ok(changed)
    }

    /// The subscriptions, oldest first, with what became of their events.
    pub fn list(&self) -> Vec<(Subscription, Arc<Counts>)> {
        let outboxes = self.outboxes.locked();
        let mut listed: Vec<_> =
            outboxes.values().map(|o| (o.subscription.locked().clone(), o.counts.clone())).collect();
        listed.sort_by_key(|(s, _)| s.id);
        listed
    }

    pub fn get(&self, id: i64) -> Option<(Subscription, Arc<Counts>)> {
        self.list().into_iter().find(|(s, _)| s.id == id)
    }

    fn open(&self, subscription: Subscription) {
        let (queue, queued) = mpsc::channel(self.config.queue.max(1));
        let counts = Arc::new(Counts::default());
        let id = subscription.id;
        let subscription = Arc::new(Mutex::new(subscription));
        let retry = Retry {
            attempts: self.config.retry_attempts,
            interval: Duration::from_secs(self.config.retry_interval_seconds),
        };
        let task = tokio::spawn(send_all(queued, subscription.clone(), self.client.clone(), counts.clone(), retry))
            .abort_handle();
        self.outboxes.locked().insert(id, Outbox { subscription, queue, counts, task });
    }

    /// Queues `notice` for every subscriber that wants it, waiting for none.
    fn hand_out(&self, notice: &Arc<Notice>) {
        for outbox in self.outboxes.locked().values() {
            if !outbox.subscription.locked().wants(notice.registry_prefix(), notice.message.resource_type) {
                continue;
            }
            if outbox.queue.try_send(notice.clone()).is_err() {
                outbox.counts.dropped.fetch_add(1, Ordering::Relaxed);
                crate::quiet_warn!("event queue full", "a subscriber's event queue is full; event dropped");
            }
        }
    }
}

/// Takes every notice off the bus for as long as the delivery lives.
async fn route(mut notices: broadcast::Receiver<Arc<Notice>>, delivery: std::sync::Weak<Delivery>) {
    loop {
        match notices.recv().await {
            Ok(notice) => match delivery.upgrade() {
                Some(delivery) => delivery.hand_out(&notice),
                None => return,
            },
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "event delivery fell behind the bus; events missed");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

#[derive(Clone, Copy)]
struct Retry {
    attempts: u32,
    interval: Duration,
}

/// One subscriber's sender: its events in order, each tried `1 + attempts` times.
async fn send_all(
    mut queued: mpsc::Receiver<Arc<Notice>>,
    subscription: Arc<Mutex<Subscription>>,
    client: reqwest::Client,
    counts: Arc<Counts>,
    retry: Retry,
) {
    while let Some(notice) = queued.recv().await {
        let mut tries = 0;
        loop {
            let target = subscription.locked().clone();
            match post(&client, &target, &notice).await {
                Ok(()) => {
                    counts.delivered.fetch_add(1, Ordering::Relaxed);
                    *counts.last_error.locked() = None;
                    break;
                }
                Err(why) => {
                    *counts.last_error.locked() = Some(why.clone());
                    if tries >= retry.attempts {
                        counts.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(subscription = target.id, event = notice.id, %why, "event given up");
                        break;
                    }
                    tries += 1;
                    tokio::time::sleep(retry.interval).await;
                }
            }
        }
    }
}

/// POSTs one event; `Err` says why it was not taken (never the subscriber's header values).
async fn post(client: &reqwest::Client, subscription: &Subscription, notice: &Notice) -> Result<(), String> {
    let mut request = client.post(&subscription.destination).json(&notice.event(&subscription.context));
    for (name, value) in &subscription.headers {
        request = request.header(name, value);
    }
    let response = request.send().await.map_err(|e| without_url(&e))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("the subscriber answered {}", response.status()))
    }
}

/// A client error's words without the URL, which may carry a subscriber's query string.
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "no answer in time"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "the request failed"
    };
    let mut source = std::error::Error::source(error);
    let mut cause = String::new();
    while let Some(inner) = source {
        cause = inner.to_string();
        source = inner.source();
    }
    if cause.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {cause}")
    }
}
