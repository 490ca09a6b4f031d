//! The host's serial console in the browser: the byte stream from the controller is parsed
//! here, by the same terminal emulator the controller uses for `local` hosts, and painted
//! onto its own canvas, changed cells only. It runs whether or not a canvas is attached, so
//! opening the serial view shows everything the link has carried (the controller's backlog
//! first).

use shared::terminal::{key_bytes, paste_bytes, Terminal};
use shared::video::text::{self, Damage, TextScreen};
use shared::wire::KeyEvent;
use wasm_bindgen::JsValue;

use super::painter::Painter;

/// The classic serial console size.
const COLS: u16 = 80;
const ROWS: u16 = 24;

pub struct SerialConsole {
    terminal: Terminal,
    /// What the canvas shows, to paint only what changed.
    shown: TextScreen,
    painter: Option<Painter>,
}

impl Default for SerialConsole {
    fn default() -> Self {
        Self { terminal: Terminal::new(COLS, ROWS), shown: TextScreen::clamped(COLS, ROWS), painter: None }
    }
}

impl SerialConsole {
    pub fn feed(&mut self, bytes: &[u8]) {
        self.terminal.feed(bytes);
        if self.painter.is_some() {
            self.repaint();
        }
    }

    /// Shows the console on `painter`'s canvas from now on.
    pub fn attach(&mut self, painter: Painter) -> Result<(), JsValue> {
        self.shown = self.terminal.snapshot();
        painter.paint(&self.shown, &Damage { resized: true, ..Damage::default() })?;
        self.painter = Some(painter);
        Ok(())
    }

    fn repaint(&mut self) {
        let next = self.terminal.snapshot();
        let Some(update) = text::encode_delta(&self.shown, &next) else { return };
        // Our own update of our own screen: it applies, or the screen is left as it was.
        if let (Ok(damage), Some(painter)) = (text::apply(&mut self.shown, &update), &self.painter) {
            let _ = painter.paint(&self.shown, &damage);
        }
    }

    /// Starts over (the controller re-sends its backlog when the console is reopened).
    pub fn reset(&mut self) {
        self.terminal = Terminal::new(COLS, ROWS);
        if self.painter.is_some() {
            self.repaint();
        }
    }

    pub fn text(&self) -> String {
        self.terminal.snapshot().text()
    }

    /// The bytes a key sends to the host's serial port (in the terminal's current modes).
    pub fn key(&self, event: &KeyEvent) -> Option<Vec<u8>> {
        key_bytes(event, self.terminal.modes())
    }

    pub fn paste(&self, text: &str) -> Vec<u8> {
        paste_bytes(text, self.terminal.modes())
    }
}
