//! Text screens drawn as pixels, glyph for glyph as the console shows them: the applet paints
//! its canvas with this, and the controller makes screenshots of text hosts with it.

use super::font::{Font, GLYPH_HEIGHT, GLYPH_WIDTH};
use super::frame::{Framebuffer, BYTES_PER_PIXEL};
use super::text::{Attrs, Cell, Color, Cursor, TextScreen};

pub const DEFAULT_FG: [u8; 3] = [0xd0, 0xd0, 0xd0];
pub const DEFAULT_BG: [u8; 3] = [0x00, 0x00, 0x00];

/// One cell into an RGBA buffer `stride_px` pixels wide, at pixel column `x0` of its first row.
pub fn render_cell(font: &Font, cell: &Cell, is_cursor: bool, rgba: &mut [u8], stride_px: usize, x0: usize) {
    let attrs = cell.style.attrs;
    let bold = attrs.has(Attrs::BOLD);
    let mut fg = rgb(cell.style.fg, DEFAULT_FG, bold);
    let mut bg = rgb(cell.style.bg, DEFAULT_BG, false);
    if attrs.has(Attrs::DIM) {
        fg = fg.map(|c| c / 2 + bg[0] / 4);
    }
    if attrs.has(Attrs::INVERSE) != is_cursor {
        std::mem::swap(&mut fg, &mut bg);
    }
    let glyph = if attrs.has(Attrs::WIDE_CONTINUATION) { font.glyph(' ') } else { font.glyph(cell.ch) };
    for (y, &bits) in glyph.iter().enumerate() {
        let mut bits = bits;
        if bold {
            // Double-strike: the classic way to embolden a bitmap font.
            bits |= bits >> 1;
        }
        if attrs.has(Attrs::UNDERLINE) && y == GLYPH_HEIGHT - 1 {
            bits = 0xff;
        }
        for x in 0..GLYPH_WIDTH {
            let on = bits & (0x80 >> x) != 0;
            let c = if on { fg } else { bg };
            let at = (y * stride_px + x0 + x) * 4;
            rgba[at..at + 4].copy_from_slice(&[c[0], c[1], c[2], 0xff]);
        }
    }
}

/// The whole screen, cursor included, as a picture of `cols * 8` by `rows * 16` pixels.
pub fn render_screen(font: &Font, screen: &TextScreen) -> Option<Framebuffer> {
    let width = usize::from(screen.cols()) * GLYPH_WIDTH;
    let frame_width = u16::try_from(width).ok()?;
    let mut frame =
        Framebuffer::new(frame_width, u16::try_from(usize::from(screen.rows()) * GLYPH_HEIGHT).ok()?).ok()?;
    let mut band = vec![0u8; width * GLYPH_HEIGHT * BYTES_PER_PIXEL];
    for row in 0..screen.rows() {
        for (i, cell) in screen.row(row).iter().enumerate() {
            let col = i as u16;
            let is_cursor = screen.cursor.visible && screen.cursor == (Cursor { row, col, visible: true });
            render_cell(font, cell, is_cursor, &mut band, width, i * GLYPH_WIDTH);
        }
        for (y, line) in band.chunks_exact(width * BYTES_PER_PIXEL).enumerate() {
            let y = u16::try_from(usize::from(row) * GLYPH_HEIGHT + y).ok()?;
            frame.span_mut(0, y, frame_width).copy_from_slice(line);
        }
    }
    Some(frame)
}

/// xterm's 256-colour palette, with the VGA text-mode colours for the first sixteen.
fn rgb(color: Color, default: [u8; 3], bright: bool) -> [u8; 3] {
    const BASE: [[u8; 3]; 16] = [
        [0x00, 0x00, 0x00],
        [0xaa, 0x00, 0x00],
        [0x00, 0xaa, 0x00],
        [0xaa, 0x55, 0x00],
        [0x00, 0x00, 0xaa],
        [0xaa, 0x00, 0xaa],
        [0x00, 0xaa, 0xaa],
        [0xaa, 0xaa, 0xaa],
        [0x55, 0x55, 0x55],
        [0xff, 0x55, 0x55],
        [0x55, 0xff, 0x55],
        [0xff, 0xff, 0x55],
        [0x55, 0x55, 0xff],
        [0xff, 0x55, 0xff],
        [0x55, 0xff, 0xff],
        [0xff, 0xff, 0xff],
    ];
    match color {
        Color::Default if bright => [0xff, 0xff, 0xff],
        Color::Default => default,
        Color::Indexed(i) if i < 8 && bright => BASE[usize::from(i) + 8],
        Color::Indexed(i) if i < 16 => BASE[usize::from(i)],
        Color::Indexed(i) if i < 232 => {
            let i = i - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            [level(i / 36), level((i / 6) % 6), level(i % 6)]
        }
        Color::Indexed(i) => {
            let v = 8 + (i - 232) * 10;
            [v, v, v]
        }
        Color::Rgb(r, g, b) => [r, g, b],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::text::Style;

    /// A cell of a picture as "on" (foreground `fg`) bits per row.
    fn cell_bits(frame: &Framebuffer, row: u16, col: u16, fg: [u8; 3]) -> Vec<u8> {
        (0..16u16)
            .map(|y| {
                let span = frame.span(col * 8, row * 16 + y, 8);
                (0..8).fold(0u8, |acc, x| if span[x * 4..x * 4 + 3] == fg { acc | (0x80 >> x) } else { acc })
            })
            .collect()
    }

    #[test]
    fn a_screen_renders_glyph_for_glyph_with_its_colours_and_cursor() {
        let font = Font::terminus().unwrap();
        let mut screen = TextScreen::new(20, 4).unwrap();
        screen.set(1, 2, Cell { ch: 'A', style: Style::default() });
        screen.set(2, 5, Cell { ch: '┌', style: Style { fg: Color::Indexed(2), ..Style::default() } });
        screen.cursor = Cursor { row: 3, col: 7, visible: true };
        let frame = render_screen(&font, &screen).unwrap();
        assert_eq!((frame.width(), frame.height()), (160, 64));
        assert_eq!(cell_bits(&frame, 1, 2, DEFAULT_FG), font.glyph('A'));
        assert_eq!(cell_bits(&frame, 2, 5, [0x00, 0xaa, 0x00]), font.glyph('┌'));
        assert_eq!(cell_bits(&frame, 0, 0, DEFAULT_FG), font.glyph(' '));
        // The cursor is the cell inverted: a blank drawn all in the foreground colour.
        assert_eq!(cell_bits(&frame, 3, 7, DEFAULT_FG), vec![0xff; 16]);
        assert!(frame.pixels().chunks(4).all(|p| p[3] == 0xff), "opaque");
    }
}
