//! Video fan-out: each update is encoded once per host; every viewer seals it under its own
//! keys. A viewer that falls behind skips to a fresh full frame instead of queueing updates.
//! Graphics updates are pieces of one deflate stream per host ([`tiles::StreamEncoder`]): a
//! viewer joins with a standalone full frame and the stream restarts for everyone at its
//! next update, which costs the others one update's worth of back-references.
//! A host may switch between text and graphics (a "no signal" notice between two pictures).
//! A graphical host's pointer shape is kept too, so a viewer who joins later gets it.

use std::sync::{Arc, Mutex};

use shared::video::cursor::Cursor;
use shared::video::frame::{Framebuffer, Rect};
use shared::video::text::{self, TextScreen};
use shared::video::tiles::{self, Copy, StreamEncoder};
use tokio::sync::broadcast;

use crate::sync::Locked;

/// Updates a slow viewer may fall behind by before it is resynchronised with a full frame.
/// The ring holds this many updates whether or not anyone lags, and a graphics update can be
/// megabytes (a 1080p frame of motion is about 5 MB), so it is short: catching up from a full
/// frame costs a lagging viewer no more than replaying many deltas would.
const BACKLOG: usize = 16;

pub struct VideoHub {
    state: Mutex<HubState>,
    /// The text on the host's clipboard, as it last copied some (VNC hosts), for its viewers;
    /// empty until then.
    clipboard: tokio::sync::watch::Sender<Arc<str>>,
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
    /// The pointer's shape as an update, while the screen is graphical and the source said.
    pointer: Option<Arc<Vec<u8>>>,
    stream: StreamEncoder,
    updates: broadcast::Sender<Arc<Vec<u8>>>,
}

/// A viewer's place in the stream: apply `full` first, then `pointer`, then every update
/// from `updates`.
pub struct Subscription {
    pub full: Option<Vec<u8>>,
    pub pointer: Option<Arc<Vec<u8>>>,
    pub updates: broadcast::Receiver<Arc<Vec<u8>>>,
}

impl Subscription {
    /// The updates that bring a new viewer to the current screen, in order.
    pub fn start(&self) -> impl Iterator<Item = &[u8]> {
        self.full.as_deref().into_iter().chain(self.pointer.as_deref().map(Vec::as_slice))
    }
}

impl Default for VideoHub {
    fn default() -> Self {
        Self {
            state: Mutex::new(HubState {
                screen: None,
                pointer: None,
                stream: StreamEncoder::new(tiles::Encoder::default()),
                updates: broadcast::channel(BACKLOG).0,
            }),
            clipboard: tokio::sync::watch::channel(Arc::from("")).0,
        }
    }
}

impl VideoHub {
    /// The host copied `text`: its viewers are told.
    pub fn publish_clipboard(&self, text: &str) {
        self.clipboard.send_replace(text.into());
    }

    /// The host's clipboard, now and as it changes.
    pub fn clipboard(&self) -> tokio::sync::watch::Receiver<Arc<str>> {
        self.clipboard.subscribe()
    }

    /// Publishes the host's current screen; sends viewers only what changed.
    pub fn publish(&self, screen: TextScreen) {
        let mut state = self.lock();
        let update = match &state.screen {
            Some(Screen::Text(prev)) => text::encode_delta(prev, &screen),
            _ => Some(text::encode_full(&screen)),
        };
        state.screen = Some(Screen::Text(screen));
        // A text screen has no pointer; a graphical source that comes back says its own again.
        state.pointer = None;
        state.send(update);
    }

    /// Publishes a graphical host's frame; `hints` are regions the source says it moved and
    /// `reported` those it says it changed otherwise (`None`: it did not say).
    pub fn publish_frame(&self, frame: &Framebuffer, hints: &[Copy], reported: Option<&[Rect]>) {
        let mut guard = self.lock();
        let state = &mut *guard;
        let first_picture = !matches!(state.screen, Some(Screen::Graphics(_)));
        let update = match &mut state.screen {
            Some(Screen::Graphics(prev)) => state.stream.delta(prev, frame, hints, reported),
            _ => {
                state.screen = Some(Screen::Graphics(frame.clone()));
                state.stream.restart();
                Some(state.stream.full(frame))
            }
        };
        if let Some(update) = &update {
            tracing::debug!(
                bytes = update.len(),
                copies = hints.len(),
                reported = reported.map(<[Rect]>::len),
                "graphics update"
            );
        }
        state.send(update);
        // A pointer that came before the first picture follows it.
        if let Some(pointer) = state.pointer.clone().filter(|_| first_picture) {
            state.send_shared(pointer);
        }
    }

    /// Publishes a graphical host's pointer shape. Before the host's first picture it is only
    /// kept, and sent after that picture: a text screen would not know what to do with it.
    pub fn publish_pointer(&self, pointer: &Cursor) {
        let mut state = self.lock();
        let update = Arc::new(pointer.encode());
        tracing::debug!(bytes = update.len(), "pointer update");
        state.pointer = Some(update.clone());
        if matches!(state.screen, Some(Screen::Graphics(_))) {
            state.send_shared(update);
        }
    }

    /// Joins the stream. Taking the full frame and subscribing happen under one lock, so the
    /// first update the viewer receives applies exactly to that frame, and it restarts the
    /// graphics stream.
    pub fn subscribe(&self) -> Subscription {
        let mut state = self.lock();
        state.stream.restart();
        Subscription {
            full: state.screen.as_ref().map(Screen::encode_full),
            pointer: state.pointer.clone(),
            updates: state.updates.subscribe(),
        }
    }

    /// The current screen's text, when it is a text screen (for tests and screen captures).
    pub fn text(&self) -> Option<String> {
        match self.lock().screen.as_ref()? {
            Screen::Text(s) => Some(s.text()),
            Screen::Graphics(_) => None,
        }
    }

    /// The current text screen itself, when it is one (for screenshots).
    pub fn text_screen(&self) -> Option<TextScreen> {
        match self.lock().screen.as_ref()? {
            Screen::Text(s) => Some(s.clone()),
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
        self.state.locked()
    }
}

impl HubState {
    fn send(&self, update: Option<Vec<u8>>) {
        if let Some(update) = update {
            self.send_shared(Arc::new(update));
        }
    }

    fn send_shared(&self, update: Arc<Vec<u8>>) {
        // No receivers is fine: nobody is watching.
        let _ = self.updates.send(update);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::video::cursor::KIND_CURSOR;
    use shared::video::text::{apply, Cell};
    use shared::video::tiles::StreamDecoder;

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
        hub.publish_frame(&frame, &[], None);
        let mut watcher = hub.subscribe();
        frame.fill(Rect::new(10, 10, 5, 5), [255, 0, 0]);
        hub.publish_frame(&frame, &[], None);
        hub.publish(TextScreen::new(80, 25).unwrap());
        hub.publish_frame(&frame, &[], None);
        let kinds: Vec<u8> = (0..3).map(|_| watcher.updates.try_recv().unwrap()[0]).collect();
        assert_eq!(kinds, [tiles::KIND_STREAM_DELTA, 1, tiles::KIND_STREAM_FULL], "delta, text full, graphics full");
        let late = hub.subscribe();
        let mut view = Framebuffer::new(1, 1).unwrap();
        tiles::apply(&mut view, &late.full.unwrap()).unwrap();
        assert_eq!(view, frame);
        assert_eq!(hub.frame(), Some(frame));
    }

    #[test]
    fn the_pointer_follows_the_first_picture_reaches_late_viewers_and_goes_with_a_text_screen() {
        let hub = VideoHub::default();
        hub.publish(TextScreen::new(80, 25).unwrap());
        let mut watcher = hub.subscribe();
        let arrow = Cursor { hotspot_x: 1, hotspot_y: 2, width: 4, height: 4, rgba: vec![9; 64] };
        // Said by the source inside its first update, before that update's picture is done.
        hub.publish_pointer(&arrow);
        assert!(watcher.updates.try_recv().is_err(), "a text screen gets no pointer");
        let frame = Framebuffer::new(64, 48).unwrap();
        hub.publish_frame(&frame, &[], None);
        let kinds: Vec<u8> = (0..2).map(|_| watcher.updates.try_recv().unwrap()[0]).collect();
        assert_eq!(kinds, [tiles::KIND_STREAM_FULL, KIND_CURSOR]);

        let late = hub.subscribe();
        let start: Vec<&[u8]> = late.start().collect();
        assert_eq!(start.len(), 2);
        assert_eq!(start[0][0], tiles::KIND_FULL);
        assert_eq!(Cursor::decode(start[1]).unwrap(), arrow);

        let hidden = Cursor::hidden();
        hub.publish_pointer(&hidden);
        assert_eq!(Cursor::decode(&watcher.updates.try_recv().unwrap()).unwrap(), hidden);

        hub.publish(TextScreen::new(80, 25).unwrap());
        assert_eq!(hub.subscribe().start().count(), 1, "no signal: a text screen, no pointer");
    }

    #[test]
    fn a_slow_graphics_viewer_skips_to_the_current_frame_while_a_fast_one_sees_every_update() {
        let hub = VideoHub::default();
        let mut frame = Framebuffer::new(320, 200).unwrap();
        hub.publish_frame(&frame, &[], None);
        let mut fast = hub.subscribe();
        let mut slow = hub.subscribe();
        let mut fast_view = Framebuffer::new(1, 1).unwrap();
        let mut fast_stream = StreamDecoder::default();
        fast_stream.apply(&mut fast_view, &fast.full.take().unwrap()).unwrap();
        for i in 0..(BACKLOG as u16 * 3) {
            frame.fill(Rect::new(i % 300, (i * 7) % 190, 20, 10), [i as u8, 255 - i as u8, 7]);
            hub.publish_frame(&frame, &[], None);
            // The fast viewer keeps up; the slow one does not read at all.
            fast_stream.apply(&mut fast_view, &fast.updates.try_recv().unwrap()).unwrap();
        }
        assert_eq!(fast_view, frame);
        assert!(matches!(slow.updates.try_recv(), Err(broadcast::error::TryRecvError::Lagged(_))));
        slow = hub.subscribe();
        let mut slow_view = Framebuffer::new(1, 1).unwrap();
        tiles::apply(&mut slow_view, &slow.full.unwrap()).unwrap();
        assert_eq!(slow_view, frame, "the slow viewer starts over from the current frame");
        // Its return restarted the stream; the fast viewer follows on through the restart.
        frame.fill(Rect::new(0, 0, 50, 50), [1, 2, 3]);
        hub.publish_frame(&frame, &[], None);
        fast_stream.apply(&mut fast_view, &fast.updates.try_recv().unwrap()).unwrap();
        assert_eq!(fast_view, frame);
    }

    #[test]
    fn viewers_joining_mid_stream_and_those_already_watching_all_follow_the_stream() {
        let hub = VideoHub::default();
        let mut frame = Framebuffer::new(256, 128).unwrap();
        hub.publish_frame(&frame, &[], None);
        let mut viewers: Vec<(Subscription, Framebuffer, StreamDecoder)> = Vec::new();
        for step in 0..12u16 {
            if step % 4 == 0 {
                let sub = hub.subscribe();
                let (mut view, mut stream) = (Framebuffer::new(1, 1).unwrap(), StreamDecoder::default());
                for update in sub.start() {
                    stream.apply(&mut view, update).unwrap();
                }
                viewers.push((sub, view, stream));
            }
            // The same glyph-like pattern again and again: later updates refer back to it.
            for x in 0..40u16 {
                frame.fill(Rect::new((step * 20 + x) % 250, 60 + x % 7, 1, 3), [200, 200, (x * 5) as u8]);
            }
            hub.publish_frame(&frame, &[], None);
            for (sub, view, stream) in &mut viewers {
                let update = sub.updates.try_recv().unwrap();
                stream.apply(view, &update).unwrap();
                assert_eq!(*view, frame, "step {step}");
            }
        }
    }
}
