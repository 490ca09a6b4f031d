//! A terminal: an xterm-compatible emulator (`vt100`) whose screen is a text-mode
//! [`TextScreen`], and the keymap from browser keys to the bytes such a terminal expects.
//!
//! The controller runs one per `local` host (a program in a pseudo-terminal); the applet runs
//! one per serial console, so the serial byte stream is parsed in the browser.

pub mod keymap;

use crate::video::text::{Attrs, Cell, Color, Cursor, Style, TextScreen};
pub use keymap::{key_bytes, paste_bytes, TermModes};

/// An emulated terminal of a fixed size.
pub struct Terminal {
    parser: vt100::Parser,
}

impl Terminal {
    /// A terminal of `cols` x `rows`, each brought into the text screen's valid range.
    pub fn new(cols: u16, rows: u16) -> Self {
        let size = TextScreen::clamped(cols, rows);
        Self { parser: vt100::Parser::new(size.rows(), size.cols(), 0) }
    }

    /// Feeds output of the program or serial port. Any bytes are accepted: the emulator
    /// ignores what it does not understand.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.parser.process(bytes);
    }

    /// The modes that change what keys send.
    pub fn modes(&self) -> TermModes {
        let screen = self.parser.screen();
        TermModes { application_cursor: screen.application_cursor(), bracketed_paste: screen.bracketed_paste() }
    }

    /// The screen as a text-mode frame.
    pub fn snapshot(&self) -> TextScreen {
        let screen = self.parser.screen();
        let (rows, cols) = screen.size();
        let mut out = TextScreen::clamped(cols, rows);
        for row in 0..rows {
            for col in 0..cols {
                let Some(cell) = screen.cell(row, col) else { continue };
                let mut attrs = 0;
                for (on, flag) in [
                    (cell.bold(), Attrs::BOLD),
                    (cell.italic(), Attrs::ITALIC),
                    (cell.underline(), Attrs::UNDERLINE),
                    (cell.inverse(), Attrs::INVERSE),
                    (cell.dim(), Attrs::DIM),
                    (cell.is_wide(), Attrs::WIDE),
                    (cell.is_wide_continuation(), Attrs::WIDE_CONTINUATION),
                ] {
                    if on {
                        attrs |= flag;
                    }
                }
                let ch = cell.contents().chars().next().unwrap_or(' ');
                let style = Style { fg: color(cell.fgcolor()), bg: color(cell.bgcolor()), attrs: Attrs(attrs) };
                out.set(row, col, Cell { ch, style });
            }
        }
        let (row, col) = screen.cursor_position();
        out.cursor = Cursor { row, col, visible: !screen.hide_cursor() };
        out
    }
}

fn color(c: vt100::Color) -> Color {
    match c {
        vt100::Color::Default => Color::Default,
        vt100::Color::Idx(i) => Color::Indexed(i),
        vt100::Color::Rgb(r, g, b) => Color::Rgb(r, g, b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_with_escapes_lands_on_the_screen_with_its_attributes() {
        let mut term = Terminal::new(20, 3);
        term.feed(b"plain \x1b[1;31mred\x1b[0m\r\nline 2\x1b[?1h");
        let screen = term.snapshot();
        let text = screen.text();
        assert!(text.starts_with("plain red"), "{text:?}");
        assert!(text.contains("line 2"));
        let red = screen.cell(0, 6).unwrap();
        assert_eq!((red.ch, red.style.fg, red.style.attrs.0 & Attrs::BOLD), ('r', Color::Indexed(1), Attrs::BOLD));
        assert_eq!((screen.cursor.row, screen.cursor.col), (1, 6));
        assert!(term.modes().application_cursor, "DECCKM set by the program");
    }

    #[test]
    fn junk_never_panics() {
        let mut term = Terminal::new(0, 0);
        term.feed(&[0x1b, b'[', 0xff, 0x9b, 0x00, 0x1b, b']', b'9', b'9', 0x07, 0xc3]);
        assert_eq!(term.snapshot().cols(), 1);
    }
}
