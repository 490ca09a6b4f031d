//! Graphics-mode video: a framebuffer sent as copies and changed 64x64 tiles.
//!
//! The controller keeps the frame its viewers hold and sends what changed: first regions that
//! moved, as copies the browser does itself (the source's own, a scroll found by row hashes,
//! and blocks found moved by a motion search, for a window the source repainted because it was
//! dragged beneath another), then rectangles of one colour (the strip a moved window
//! uncovered, joined across the tiles it crosses), then, of each tile that still differs, the
//! rectangles holding its changed pixels (a typed character; the two strips a moved window
//! uncovers at its corner), in the cheapest of four forms the encoder picks per part (one
//! colour, a palette with packed indices, a palette with runs, or raw RGB). All of it is
//! deflated as one body, so repeats cost little.
//!
//! The controller's updates to its viewers go further: their bodies are pieces of one deflate
//! stream per host ([`StreamEncoder`]), so an update may refer back to the 32 KiB sent before
//! it: the glyphs of a scrolling console, the same copy and strips one step on. The stream
//! restarts whenever a viewer joins (its first picture is a standalone full update), and every
//! viewer's [`StreamDecoder`] restarts with it. Both ends of a stream also keep what copies
//! covered ([`super::underlay`]), so the strips a dragged window uncovers, once it has moved
//! off where it was first seen, go as restores: rectangles put back from there.
//!
//! ```text
//! update: kind (u8: 0x10 full, 0x11 delta) | width (u16) | height (u16)
//!         | body length (varint) | deflate(body)
//! stream: kind (u8: 0x12 full, 0x13 delta) | flags (u8: bit 0, the stream restarts here)
//!         | width (u16) | height (u16) | piece length (varint) | the stream's next piece:
//!           the body, raw deflate ending in a sync flush whose final 00 00 ff ff is left off
//! body:   copy count (varint) | copies | restore count (varint) | restores
//!         | fill count (varint) | fills
//!         | tile count (varint) | tiles, in increasing index order; a tile may come in
//!           up to 8 parts, in a row (one part each in a full update)
//! copy:   src x (u16) | src y (u16) | dst x (u16) | dst y (u16) | w (u16) | h (u16)
//! restore: x (u16) | y (u16) | w (u16) | h (u16) (stream updates only)
//! fill:   x (u16) | y (u16) | w (u16) | h (u16) | r g b
//! tile:   index (varint; row-major on the 64x64 grid) | part x, y (u8 each, from the tile's
//!         corner) | part w - 1, h - 1 (u8 each) | type (u8) | body (for the part)
//!   0 solid:   r g b
//!   1 packed:  colours - 1 (u8) | colours x (r g b) | indices at 1, 2, 4 or 8 bits,
//!              most significant first, each row padded to a byte
//!   2 runs:    colours - 1 (u8) | colours x (r g b) | run count (varint)
//!              | runs: colour index (u8) | length - 1 (varint)
//!   3 raw:     w x h x (r g b)
//! ```
//! Copies apply in order, then restores, fills and tiles. A full update resizes the decoder's
//! frame and carries every tile. A decoder validates the whole update before it changes its frame, so a
//!
//! The code follows the concepts: [`format`] holds what both ends read the same way (kinds,
//! tile types, the grid, limits), [`decode`] the viewer's end, and `encode` (behind the `encode`
//! feature, which the browser's console leaves out) the diff, the motion and scroll searches,
//! tile coding and the stream encoder.

mod decode;
#[cfg(feature = "encode")]
mod encode;
pub mod format;

pub use decode::{apply, StreamDecoder};
#[cfg(feature = "encode")]
pub use encode::{encode_delta, encode_full, Encoder, StreamEncoder};
pub use format::{KIND_DELTA, KIND_FULL, KIND_STREAM_DELTA, KIND_STREAM_FULL, TILE};

use super::frame::{Framebuffer, Rect};
use super::underlay::Underlay;

/// A region the source says moved (RFB CopyRect, for one): a hint the encoder checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copy {
    pub src_x: u16,
    pub src_y: u16,
    pub dst: Rect,
}

/// What one update changed, so the painter redraws only that.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GraphicsDamage {
    /// The frame changed size: paint everything.
    pub resized: bool,
    /// Moves to repeat on the canvas, in order, before the rectangles are painted.
    pub copies: Vec<Copy>,
    pub rects: Vec<Rect>,
}

/// Makes a copy in `frame`, keeping what it covers in `under` when there is one: the
/// encoder on the viewers' frame and the decoder on its own, the same way.
pub(crate) fn apply_copy(frame: &mut Framebuffer, under: Option<&mut Underlay>, c: &Copy) {
    match under {
        Some(under) => under.copy(frame, c.src_x, c.src_y, c.dst),
        None => frame.copy_within(c.src_x, c.src_y, c.dst),
    }
}

#[cfg(all(test, feature = "encode"))]
mod tests;
