//! What both ends of a graphics update read the same way: the kinds, the tile types, the
//! 64x64 grid and the limits a decoder enforces (so an encoder must keep to them).

use crate::video::frame::{Framebuffer, Rect};

/// Tile edge in pixels: small enough that a typed character costs one tile, large enough
/// that a full 1080p frame is 510 tiles.
pub const TILE: u16 = 64;
pub const KIND_FULL: u8 = 0x10;
pub const KIND_DELTA: u8 = 0x11;
pub const KIND_STREAM_FULL: u8 = 0x12;
pub const KIND_STREAM_DELTA: u8 = 0x13;
pub const FLAG_RESTART: u8 = 1;

pub const TYPE_SOLID: u8 = 0;
pub const TYPE_PACKED: u8 = 1;
pub const TYPE_RUNS: u8 = 2;
pub const TYPE_RAW: u8 = 3;
/// Most copies one update may carry; the decoder refuses more.
pub const MAX_COPIES: usize = 4096;
/// Most parts one tile may be sent in; the decoder refuses more.
pub const MAX_TILE_PARTS: usize = 8;

/// Bits per packed index for a palette of `colours`.
pub fn index_bits(colours: usize) -> u8 {
    match colours {
        0..=2 => 1,
        3..=4 => 2,
        5..=16 => 4,
        _ => 8,
    }
}

pub fn packed_row_len(w: u16, bits: u8) -> usize {
    (usize::from(w) * usize::from(bits)).div_ceil(8)
}

/// The 64x64 tile grid over a frame.
pub struct Grid {
    pub width: u16,
    pub height: u16,
    pub cols: u32,
    pub rows: u32,
}

impl Grid {
    pub fn of(frame: &Framebuffer) -> Self {
        Self::sized(frame.width(), frame.height())
    }

    pub fn sized(width: u16, height: u16) -> Self {
        Self { width, height, cols: u32::from(width.div_ceil(TILE)), rows: u32::from(height.div_ceil(TILE)) }
    }

    pub fn count(&self) -> u32 {
        self.cols * self.rows
    }

    pub fn rect(&self, index: u32) -> Rect {
        let x = (index % self.cols) as u16 * TILE;
        let y = (index / self.cols) as u16 * TILE;
        Rect::new(x, y, TILE.min(self.width - x), TILE.min(self.height - y))
    }

    pub fn index_of(&self, rect: Rect) -> u32 {
        u32::from(rect.y / TILE) * self.cols + u32::from(rect.x / TILE)
    }
}
