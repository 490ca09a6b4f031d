//! Video fan-out: each update is encoded once per host; every viewer seals it under its own
//! keys. A viewer that falls behind skips to a fresh full frame instead of queueing updates.

use std::sync::{Arc, Mutex};

use shared::video::text::{encode_delta, encode_full, TextScreen};
use tokio::sync::broadcast;

/// Updates a slow viewer may fall behind by before it is resynchronised with a full frame.
const BACKLOG: usize = 64;

pub struct VideoHub {
    state: Mutex<HubState>,
}

struct HubState {
    screen: Option<TextScreen>,
    updates: broadcast::Sender<Arc<Vec<u8>>>,
}

/// A viewer's place in the stream: apply `full` first, then every update from `updates`.
pub struct Subscription {
    pub full: Option<Vec<u8>>,
    pub updates: broadcast::Receiver<Arc<Vec<u8>>>,
}

impl Default for VideoHub {
    fn default() -> Self {
        Self { state: Mutex::new(HubState { screen: None, updates: broadcast::channel(BACKLOG).0 }) }
    }
}

impl VideoHub {
    /// Publishes the host's current screen; sends viewers only what changed.
    pub fn publish(&self, screen: TextScreen) {
        let mut state = self.lock();
        let update = match &state.screen {
            Some(prev) => encode_delta(prev, &screen),
            None => Some(encode_full(&screen)),
        };
        if let Some(update) = update {
            // No receivers is fine: nobody is watching.
            let _ = state.updates.send(Arc::new(update));
        }
        state.screen = Some(screen);
    }

    /// Joins the stream. Taking the full frame and subscribing happen under one lock, so the
    /// first update the viewer receives applies exactly to that frame.
    pub fn subscribe(&self) -> Subscription {
        let state = self.lock();
        Subscription { full: state.screen.as_ref().map(encode_full), updates: state.updates.subscribe() }
    }

    /// The current screen's text (for tests and screen captures).
    pub fn text(&self) -> Option<String> {
        self.lock().screen.as_ref().map(TextScreen::text)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::video::text::{apply, Cell};

    #[test]
    fn a_late_viewer_and_a_slow_viewer_both_end_up_on_the_current_screen() {
        let hub = VideoHub::default();
        let mut screen = TextScreen::new(10, 2).unwrap();
        hub.publish(screen.clone());
        let mut slow = hub.subscribe();
        for i in 0..(BACKLOG as u16 + 10) {
            screen.set(0, i % 10, Cell { ch: char::from(b'a' + (i % 26) as u8), ..Cell::default() });
            screen.set(1, 0, Cell { ch: char::from(b'0' + (i % 10) as u8), ..Cell::default() });
            hub.publish(screen.clone());
        }
        // The slow viewer lagged: it is told so and resubscribes for a full frame.
        assert!(matches!(slow.updates.try_recv(), Err(broadcast::error::TryRecvError::Lagged(_))));
        slow = hub.subscribe();
        let mut view = TextScreen::new(1, 1).unwrap();
        apply(&mut view, &slow.full.unwrap()).unwrap();
        assert_eq!(view, screen);
    }
}
