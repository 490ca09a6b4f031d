//! Video fan-out: each update is encoded once per host; every viewer seals it under its own
//! keys. A viewer that falls behind skips to a fresh full frame instead of queueing updates.
//! A host may switch between text and graphics (a "no signal" notice between two pictures).

use std::sync::{Arc, Mutex};

use shared::video::frame::Framebuffer;
use shared::video::text::{self, TextScreen};
use shared::video::tiles::{self, Copy};
use tokio::sync::broadcast;

/// Updates a slow viewer may fall behind by before it is resynchronised with a full frame.
/// The ring holds this many updates whether or not anyone lags, and a graphics update can be
/// megabytes (a 1080p frame of motion is about 5 MB), so it is short: catching up from a full
/// frame costs a lagging viewer no more than replaying many deltas would.
const BACKLOG: usize = 16;

pub struct VideoHub {
    state: Mutex<HubState>,
}

/// What the viewers hold: the last screen sent.
enum Screen {
    Text(TextScreen),
    Graphics(Framebuffer),
}

impl Screen {
    fn encode_full(&self) -> Vec<u8> {
        match self {
            Screen::Text(s) => text::encode_full(s),
            Screen::Graphics(f) => tiles::encode_full(f),
        }
    }
}

struct HubState {
    screen: Option<Screen>,
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
            Some(Screen::Text(prev)) => text::encode_delta(prev, &screen),
            _ => Some(text::encode_full(&screen)),
        };
        state.screen = Some(Screen::Text(screen));
        state.send(update);
    }

    /// Publishes a graphical host's frame; `hints` are regions the source says it moved.
    pub fn publish_frame(&self, frame: &Framebuffer, hints: &[Copy]) {
        let mut state = self.lock();
        let update = match &mut state.screen {
            Some(Screen::Graphics(prev)) => tiles::encode_delta(prev, frame, hints),
            _ => {
                state.screen = Some(Screen::Graphics(frame.clone()));
                Some(tiles::encode_full(frame))
            }
        };
        state.send(update);
    }

    /// Joins the stream. Taking the full frame and subscribing happen under one lock, so the
    /// first update the viewer receives applies exactly to that frame.
    pub fn subscribe(&self) -> Subscription {
        let state = self.lock();
        Subscription { full: state.screen.as_ref().map(Screen::encode_full), updates: state.updates.subscribe() }
    }

    /// The current screen's text, when it is a text screen (for tests and screen captures).
    pub fn text(&self) -> Option<String> {
        match self.lock().screen.as_ref()? {
            Screen::Text(s) => Some(s.text()),
            Screen::Graphics(_) => None,
        }
    }

    /// The current picture, when the host is graphical (for tests and screen captures).
    pub fn frame(&self) -> Option<Framebuffer> {
        match self.lock().screen.as_ref()? {
            Screen::Graphics(f) => Some(f.clone()),
            Screen::Text(_) => None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl HubState {
    fn send(&self, update: Option<Vec<u8>>) {
        if let Some(update) = update {
            // No receivers is fine: nobody is watching.
            let _ = self.updates.send(Arc::new(update));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::video::frame::Rect;
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

    #[test]
    fn a_host_can_go_from_graphics_to_text_and_back_and_late_viewers_get_the_right_mode() {
        let hub = VideoHub::default();
        let mut frame = Framebuffer::new(100, 80).unwrap();
        hub.publish_frame(&frame, &[]);
        let mut watcher = hub.subscribe();
        frame.fill(Rect::new(10, 10, 5, 5), [255, 0, 0]);
        hub.publish_frame(&frame, &[]);
        hub.publish(TextScreen::new(80, 25).unwrap());
        hub.publish_frame(&frame, &[]);
        let kinds: Vec<u8> = (0..3).map(|_| watcher.updates.try_recv().unwrap()[0]).collect();
        assert_eq!(kinds, [tiles::KIND_DELTA, 1, tiles::KIND_FULL], "delta, text full, graphics full");
        let late = hub.subscribe();
        let mut view = Framebuffer::new(1, 1).unwrap();
        tiles::apply(&mut view, &late.full.unwrap()).unwrap();
        assert_eq!(view, frame);
        assert_eq!(hub.frame(), Some(frame));
    }

    #[test]
    fn a_slow_graphics_viewer_skips_to_the_current_frame_while_a_fast_one_sees_every_update() {
        let hub = VideoHub::default();
        let mut frame = Framebuffer::new(320, 200).unwrap();
        hub.publish_frame(&frame, &[]);
        let mut fast = hub.subscribe();
        let mut slow = hub.subscribe();
        let mut fast_view = Framebuffer::new(1, 1).unwrap();
        tiles::apply(&mut fast_view, &fast.full.take().unwrap()).unwrap();
        for i in 0..(BACKLOG as u16 * 3) {
            frame.fill(Rect::new(i % 300, (i * 7) % 190, 20, 10), [i as u8, 255 - i as u8, 7]);
            hub.publish_frame(&frame, &[]);
            // The fast viewer keeps up; the slow one does not read at all.
            tiles::apply(&mut fast_view, &fast.updates.try_recv().unwrap()).unwrap();
        }
        assert_eq!(fast_view, frame);
        assert!(matches!(slow.updates.try_recv(), Err(broadcast::error::TryRecvError::Lagged(_))));
        slow = hub.subscribe();
        let mut slow_view = Framebuffer::new(1, 1).unwrap();
        tiles::apply(&mut slow_view, &slow.full.unwrap()).unwrap();
        assert_eq!(slow_view, frame, "the slow viewer starts over from the current frame");
    }
}
