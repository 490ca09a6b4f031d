//! A text host's screen: a terminal emulator fed a program's output and published to viewers
//! at most every `COALESCE` (a shell printing a line at a time would otherwise send a frame
//! per line), and the bytes a viewer's keys and pastes type on it.

use std::pin::Pin;
use std::time::Duration;

use shared::terminal::{key_bytes, paste_bytes, Terminal};
use shared::wire::InputEvent;
use tokio::time::{Instant, Sleep};

use super::VideoHub;

/// Screen updates are gathered for this long before they are published.
const COALESCE: Duration = Duration::from_millis(12);

pub struct TerminalScreen {
    terminal: Terminal,
    /// Changed since the last published frame.
    dirty: bool,
    publish_at: Pin<Box<Sleep>>,
}

impl TerminalScreen {
    /// A blank terminal, published at once.
    pub fn start(cols: u16, rows: u16, video: &VideoHub) -> Self {
        let terminal = Terminal::new(cols, rows);
        video.publish(terminal.snapshot());
        Self { terminal, dirty: false, publish_at: Box::pin(tokio::time::sleep(COALESCE)) }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.terminal.feed(bytes);
        if !self.dirty {
            self.dirty = true;
            self.publish_at.as_mut().reset(Instant::now() + COALESCE);
        }
    }

    /// Resolves when gathered changes are due to be published; never while there are none.
    pub async fn due(&mut self) {
        if !self.dirty {
            std::future::pending::<()>().await;
        }
        self.publish_at.as_mut().await;
    }

    /// Publishes what changed, if anything did.
    pub fn publish(&mut self, video: &VideoHub) {
        if self.dirty {
            self.dirty = false;
            video.publish(self.terminal.snapshot());
        }
    }

    /// What a key or a paste types, in the modes the terminal is in; nothing for the rest.
    pub fn input_bytes(&self, event: InputEvent) -> Option<Vec<u8>> {
        let modes = self.terminal.modes();
        match event {
            InputEvent::Key(k) => key_bytes(&k, modes),
            InputEvent::Paste(text) => Some(paste_bytes(&text, modes)),
            InputEvent::Pointer(_)
            | InputEvent::Special(_)
            | InputEvent::Layout(_)
            | InputEvent::DesktopSize { .. }
            | InputEvent::Clipboard(_)
            | InputEvent::PointerMotion { .. } => None,
        }
    }
}
