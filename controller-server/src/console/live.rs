//! The console links attached to hosts now, for the *Sessions* page: who, from where, since
//! when, on which host, listener and suite; and a way for an administrator to end one (or all
//! of a web session's), which its link carries out at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::watch;

use crate::sync::Locked;

#[derive(Debug, Clone, Serialize)]
pub struct LiveLink {
    pub id: u64,
    pub user: String,
    pub source: Option<String>,
    /// Unix time in milliseconds.
    pub since: i64,
    pub host: String,
    /// `wss` or `ws`.
    pub listener: &'static str,
    pub suite: String,
    /// The web session whose key opened it (not the cookie).
    #[serde(skip)]
    pub web_session: String,
}

/// A listed link, and where the name of whoever ends it is sent.
type Entry = (LiveLink, watch::Sender<Option<String>>);

#[derive(Default)]
pub struct LiveLinks {
    next: AtomicU64,
    links: Mutex<HashMap<u64, Entry>>,
}

/// A link's place in the list, left when dropped; says who ended it, if someone did.
pub struct Registration {
    links: Arc<LiveLinks>,
    id: u64,
    ended: watch::Receiver<Option<String>>,
}

impl LiveLinks {
    /// Lists `link` (its id is given here) until the registration is dropped.
    pub fn register(self: &Arc<Self>, mut link: LiveLink) -> Registration {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        link.id = id;
        let (end, ended) = watch::channel(None);
        self.links.locked().insert(id, (link, end));
        Registration { links: self.clone(), id, ended }
    }

    /// Every link, oldest first.
    pub fn list(&self) -> Vec<LiveLink> {
        let mut all: Vec<LiveLink> = self.links.locked().values().map(|(l, _)| l.clone()).collect();
        all.sort_by_key(|l| l.id);
        all
    }

    /// Asks link `id` to end, as `by` wants; the link as listed, if there was one.
    pub fn end(&self, id: u64, by: &str) -> Option<LiveLink> {
        let links = self.links.locked();
        let (link, end) = links.get(&id)?;
        end.send_replace(Some(by.to_string()));
        Some(link.clone())
    }

    /// Asks every link of `web_session` to end; how many there were.
    pub fn end_session(&self, web_session: &str, by: &str) -> usize {
        let mut ended = 0;
        for (_, end) in self.links.locked().values().filter(|(l, _)| l.web_session == web_session) {
            end.send_replace(Some(by.to_string()));
            ended += 1;
        }
        ended
    }
}

impl Registration {
    /// Waits until someone ends the link; who.
    pub async fn ended(&mut self) -> String {
        // The guard `wait_for` gives is let go of before anything else is awaited.
        let by = self.ended.wait_for(Option::is_some).await.map(|by| by.clone());
        match by {
            Ok(by) => by.unwrap_or_default(),
            // Unlisted (the sender goes with the entry): nobody can end it any more.
            Err(_) => std::future::pending().await,
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.links.links.locked().remove(&self.id);
    }
}

/// Who ended the link, once someone does; never for a link not listed.
pub async fn ended(registration: &mut Option<Registration>) -> String {
    match registration {
        Some(r) => r.ended().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(session: &str) -> LiveLink {
        LiveLink {
            id: 0,
            user: "otto".into(),
            source: Some("10.0.0.9".into()),
            since: 1,
            host: "web1".into(),
            listener: "wss",
            suite: "chacha20-poly1305".into(),
            web_session: session.into(),
        }
    }

    #[tokio::test]
    async fn an_ended_link_hears_who_ended_it_and_leaves_the_list_when_dropped() {
        let links = Arc::new(LiveLinks::default());
        let mut first = links.register(link("s1"));
        let mut second = links.register(link("s2"));
        assert_eq!(links.list().iter().map(|l| l.id).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(links.end(1, "admin").map(|l| l.user), Some("otto".into()));
        assert_eq!(first.ended().await, "admin");
        assert_eq!(links.end_session("s2", "root"), 1);
        assert_eq!(second.ended().await, "root");
        drop(first);
        assert_eq!(links.list().len(), 1);
        assert!(links.end(1, "admin").is_none());
    }
}
