//! Shared viewing: who watches a host and who holds its keyboard and mouse.
//!
//! Any number of links watch a host; one at a time types and points. The first viewer allowed
//! to control takes the keyboard; a link from the same web session as the holder (the same
//! person reconnecting) takes it back. Others may ask: the holder hands it over, or it passes
//! by itself once the holder has been idle for the configured time. When the holder leaves,
//! control goes to whoever asked, else to the longest-watching viewer allowed to control.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use shared::wire::{Presence, Viewer};
use tokio::sync::watch;

use crate::sync::Locked;

/// A change of hands, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handover {
    pub from: Option<String>,
    pub to: String,
    pub reason: &'static str,
}

pub struct Sharing {
    state: Mutex<State>,
    /// Bumped on every change, so each link can send its viewer the new presence.
    changed: watch::Sender<u64>,
    idle: Duration,
}

#[derive(Default)]
struct State {
    next_id: u32,
    viewers: Vec<Entry>,
    holder: Option<u32>,
    requested: Option<u32>,
}

struct Entry {
    id: u32,
    name: String,
    web_session: String,
    may_control: bool,
    last_input: Instant,
}

impl Sharing {
    /// `idle`: how long a holder may be idle before a request takes control from them.
    pub fn new(idle: Duration) -> Self {
        Self { state: Mutex::new(State { next_id: 1, ..State::default() }), changed: watch::channel(0).0, idle }
    }

    /// Tells when anything changes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// A new viewer; returns its id and any handover its arrival caused.
    pub fn join(&self, name: &str, web_session: &str, may_control: bool) -> (u32, Option<Handover>) {
        let (id, handover) = self.change(|s| {
            let id = s.next_id;
            s.next_id += 1;
            s.viewers.push(Entry {
                id,
                name: name.to_string(),
                web_session: web_session.to_string(),
                may_control,
                last_input: Instant::now(),
            });
            let holder_session = s.holder.and_then(|h| s.entry(h)).map(|e| e.web_session.clone());
            let handover = match holder_session {
                None if may_control => s.hand_to(id, "first to arrive"),
                Some(session) if may_control && session == web_session => s.hand_to(id, "reconnected"),
                _ => None,
            };
            (id, handover)
        });
        (id, handover)
    }

    /// Whether a link of `web_session` watches this host, and if so whether one of them may
    /// control it (what a moving session carries as its open consoles).
    pub fn watched_by(&self, web_session: &str) -> Option<bool> {
        let s = self.lock();
        let mine: Vec<&Entry> = s.viewers.iter().filter(|e| e.web_session == web_session).collect();
        (!mine.is_empty()).then(|| mine.iter().any(|e| e.may_control))
    }

    /// The viewer's link ended.
    pub fn leave(&self, id: u32) -> Option<Handover> {
        self.change(|s| {
            s.viewers.retain(|e| e.id != id);
            if s.requested == Some(id) {
                s.requested = None;
            }
            if s.holder != Some(id) {
                return None;
            }
            s.holder = None;
            let next = s.requested.or_else(|| s.viewers.iter().find(|e| e.may_control).map(|e| e.id));
            next.and_then(|n| s.hand_to(n, "the holder left"))
        })
    }

    /// Whether `id` may type and point now; counts as activity when it may.
    pub fn input(&self, id: u32) -> bool {
        let mut s = self.lock();
        if s.holder != Some(id) {
            return false;
        }
        if let Some(e) = s.entry_mut(id) {
            e.last_input = Instant::now();
        }
        true
    }

    /// `id` asks for control: granted at once when nobody holds it or the holder is idle,
    /// otherwise the holder is asked.
    pub fn request(&self, id: u32) -> Option<Handover> {
        let idle = self.idle;
        self.change(|s| {
            if !s.entry(id).is_some_and(|e| e.may_control) || s.holder == Some(id) {
                return None;
            }
            let holder_idle = s.holder.and_then(|h| s.entry(h)).map(|e| e.last_input.elapsed() >= idle);
            match holder_idle {
                None => s.hand_to(id, "nobody held control"),
                Some(true) => s.hand_to(id, "the holder was idle"),
                Some(false) => {
                    s.requested = Some(id);
                    None
                }
            }
        })
    }

    /// The holder gives control to `to`.
    pub fn give(&self, from: u32, to: u32) -> Option<Handover> {
        self.change(|s| {
            if s.holder != Some(from) || !s.entry(to).is_some_and(|e| e.may_control) {
                return None;
            }
            s.hand_to(to, "given by the holder")
        })
    }

    /// A waiting request is granted once the holder has been idle long enough.
    pub fn tick(&self) -> Option<Handover> {
        let idle = self.idle;
        let due = {
            let s = self.lock();
            let holder_idle = s.holder.and_then(|h| s.entry(h)).is_some_and(|e| e.last_input.elapsed() >= idle);
            s.requested.is_some() && holder_idle
        };
        if !due {
            return None;
        }
        self.change(|s| s.requested.and_then(|r| s.hand_to(r, "the holder was idle")))
    }

    /// How many viewers the host has now.
    pub fn viewers(&self) -> usize {
        self.lock().viewers.len()
    }

    /// The presence as viewer `you` sees it.
    pub fn view(&self, you: u32) -> Presence {
        let s = self.lock();
        Presence {
            you,
            holder: s.holder,
            requested_by: s.requested,
            viewers: s
                .viewers
                .iter()
                .map(|e| Viewer { id: e.id, name: e.name.clone(), may_control: e.may_control })
                .collect(),
        }
    }

    /// Runs `f` on the state and tells every viewer.
    fn change<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let out = f(&mut self.lock());
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.locked()
    }
}

impl State {
    fn entry(&self, id: u32) -> Option<&Entry> {
        self.viewers.iter().find(|e| e.id == id)
    }

    fn entry_mut(&mut self, id: u32) -> Option<&mut Entry> {
        self.viewers.iter_mut().find(|e| e.id == id)
    }

    fn hand_to(&mut self, to: u32, reason: &'static str) -> Option<Handover> {
        let from = self.holder.and_then(|h| self.entry(h)).map(|e| e.name.clone());
        let entry = self.entry_mut(to)?;
        // The new holder starts out active, so a request right after does not take it back.
        entry.last_input = Instant::now();
        let to_name = entry.name.clone();
        self.holder = Some(to);
        if self.requested == Some(to) {
            self.requested = None;
        }
        Some(Handover { from, to: to_name, reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_controller_holds_others_watch_and_the_holder_gives_control_away() {
        let sharing = Sharing::new(Duration::from_secs(60));
        let (viewer, none) = sharing.join("viewer", "s0", false);
        assert_eq!(none, None, "a view-only viewer never takes control");
        let (alice, got) = sharing.join("alice", "s1", true);
        assert_eq!(got.map(|h| h.to), Some("alice".into()));
        let (bob, none) = sharing.join("bob", "s2", true);
        assert_eq!(none, None);
        assert!(sharing.input(alice));
        assert!(!sharing.input(bob));
        assert!(!sharing.input(viewer));

        // Bob asks while Alice is active: he waits, and everyone can see he asked.
        assert_eq!(sharing.request(bob), None);
        assert_eq!(sharing.view(viewer).requested_by, Some(bob));
        assert_eq!(sharing.request(viewer), None, "a view-only viewer cannot ask");
        // Alice gives it to him.
        let h = sharing.give(alice, bob).unwrap();
        assert_eq!((h.from.as_deref(), h.to.as_str()), (Some("alice"), "bob"));
        assert!(sharing.input(bob));
        assert!(!sharing.input(alice));
        assert_eq!(sharing.view(alice).requested_by, None);
        assert_eq!(sharing.give(alice, bob), None, "only the holder gives");
        assert_eq!(sharing.give(bob, viewer), None, "never to a view-only viewer");

        // The holder leaves: control goes to the longest-watching viewer who may control.
        assert_eq!(sharing.leave(bob).map(|h| h.to), Some("alice".into()));
        assert_eq!(sharing.view(viewer).viewers.len(), 2);
        assert_eq!((sharing.watched_by("s0"), sharing.watched_by("s1")), (Some(false), Some(true)));
        assert_eq!(sharing.watched_by("s2"), None, "bob left");
    }

    #[test]
    fn an_idle_holder_loses_control_to_a_request_and_a_reconnect_keeps_it() {
        let sharing = Sharing::new(Duration::from_millis(50));
        let (alice, _) = sharing.join("alice", "s1", true);
        let (bob, _) = sharing.join("bob", "s2", true);
        assert!(sharing.input(alice));
        assert_eq!(sharing.request(bob), None, "alice is active");
        assert_eq!(sharing.tick(), None);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(sharing.tick().map(|h| h.reason), Some("the holder was idle"));
        assert!(sharing.input(bob));

        // Bob's page reconnects (a second link from his session): it takes control at once.
        let (bob_again, h) = sharing.join("bob", "s2", true);
        assert_eq!(h.map(|h| h.reason), Some("reconnected"));
        assert!(sharing.input(bob_again));
        assert!(!sharing.input(bob));
        // An idle holder loses control to a request straight away.
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(sharing.request(alice).map(|h| h.reason), Some("the holder was idle"));
    }
}
