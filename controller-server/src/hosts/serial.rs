//! A host's serial console: the bytes its serial port (or pseudo-terminal) writes, kept in a
//! bounded backlog so that a viewer who opens the console later sees what came before, and
//! fanned out to every viewer as they arrive.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::sync::Locked;

/// Past output kept for new viewers.
pub const BACKLOG: usize = 64 << 10;
/// Chunks in flight per viewer before a slow one skips ahead.
const IN_FLIGHT: usize = 256;

pub struct SerialHub {
    state: Mutex<State>,
}

struct State {
    backlog: VecDeque<u8>,
    updates: broadcast::Sender<Arc<Vec<u8>>>,
}

/// A viewer's start: the backlog, then everything after it.
pub struct SerialSubscription {
    pub backlog: Vec<u8>,
    pub updates: broadcast::Receiver<Arc<Vec<u8>>>,
}

impl Default for SerialHub {
    fn default() -> Self {
        Self { state: Mutex::new(State { backlog: VecDeque::new(), updates: broadcast::channel(IN_FLIGHT).0 }) }
    }
}

impl SerialHub {
    /// Output from the host.
    pub fn publish(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut state = self.lock();
        state.backlog.extend(bytes);
        if state.backlog.len() > BACKLOG {
            let mut cut = state.backlog.len() - BACKLOG;
            // Start the kept part at a line, when one starts soon, so it opens cleanly.
            if let Some(newline) = state.backlog.iter().skip(cut).take(1024).position(|b| *b == b'\n') {
                cut += newline + 1;
            }
            state.backlog.drain(..cut);
        }
        // No receivers is fine: nobody is watching.
        let _ = state.updates.send(Arc::new(bytes.to_vec()));
    }

    /// Joins the stream: the backlog and the updates after it, taken under one lock so that
    /// nothing is seen twice or lost in between.
    pub fn subscribe(&self) -> SerialSubscription {
        let state = self.lock();
        SerialSubscription { backlog: state.backlog.iter().copied().collect(), updates: state.updates.subscribe() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.locked()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_viewers_get_the_backlog_then_the_rest() {
        let hub = SerialHub::default();
        hub.publish(b"boot 1\r\n");
        let mut early = hub.subscribe();
        hub.publish(b"boot 2\r\n");
        let mut late = hub.subscribe();
        hub.publish(b"login: ");
        assert_eq!(early.backlog, b"boot 1\r\n");
        assert_eq!(early.updates.try_recv().unwrap().as_slice(), b"boot 2\r\n");
        assert_eq!(late.backlog, b"boot 1\r\nboot 2\r\n");
        assert_eq!(late.updates.try_recv().unwrap().as_slice(), b"login: ");
        assert!(late.updates.try_recv().is_err());
    }

    #[test]
    fn the_backlog_is_bounded_and_starts_at_a_line() {
        let hub = SerialHub::default();
        for i in 0..20_000 {
            hub.publish(format!("line {i}\n").as_bytes());
        }
        let backlog = hub.subscribe().backlog;
        assert!(backlog.len() <= BACKLOG);
        assert!(backlog.len() > BACKLOG - 1024);
        assert!(backlog.starts_with(b"line "), "{:?}", &backlog[..16]);
        assert!(backlog.ends_with(b"line 19999\n"));
    }
}
