//! Graphics-mode video: a framebuffer sent as copies and changed 64x64 tiles.
//!
//! The controller keeps the frame its viewers hold and sends what changed: first regions that
//! moved (a scroll, a dragged window), as copies the browser does itself, then, of each tile
//! that still differs, the smallest rectangle holding its changed pixels (a typed character, the
//! strip a moved window uncovered), in the cheapest of four forms the encoder picks per part
//! (one colour, a palette with packed indices, a palette with runs, or raw RGB). The tile data of one update
//! is deflated as one block, so runs and repeats across tiles cost little.
//!
//! ```text
//! update: kind (u8: 0x10 full, 0x11 delta) | width (u16) | height (u16)
//!         | copy count (varint) | copies | tile data length (varint) | deflate(tile data)
//! copy:   src x (u16) | src y (u16) | dst x (u16) | dst y (u16) | w (u16) | h (u16)
//! tile data: tile count (varint) | tiles, in increasing index order
//! tile:   index (varint; row-major on the 64x64 grid) | part x, y (u8 each, from the tile's
//!         corner) | part w - 1, h - 1 (u8 each) | type (u8) | body (for the part)
//!   0 solid:   r g b
//!   1 packed:  colours - 1 (u8) | colours x (r g b) | indices at 1, 2, 4 or 8 bits,
//!              most significant first, each row padded to a byte
//!   2 runs:    colours - 1 (u8) | colours x (r g b) | run count (varint)
//!              | runs: colour index (u8) | length - 1 (varint)
//!   3 raw:     w x h x (r g b)
//! ```
//! A full update resizes the decoder's frame and carries every tile. A decoder validates the
//! whole update before it changes its frame, so a bad update leaves the frame as it was.

use std::collections::HashMap;

use miniz_oxide::inflate::decompress_to_vec_with_limit;

use super::frame::{check_size, Framebuffer, Rect, BYTES_PER_PIXEL};
use crate::wire::codec::{Reader, Writer};
use crate::wire::DecodeError;

/// Tile edge in pixels: small enough that a typed character costs one tile, large enough
/// that a full 1080p frame is 510 tiles.
pub const TILE: u16 = 64;
pub const KIND_FULL: u8 = 0x10;
pub const KIND_DELTA: u8 = 0x11;

const TYPE_SOLID: u8 = 0;
const TYPE_PACKED: u8 = 1;
const TYPE_RUNS: u8 = 2;
const TYPE_RAW: u8 = 3;
/// Deflate level, chosen by `cargo bench -p shared --bench tiles` on 1080p workloads: above
/// level 1 the tile data of desktops shrinks by only 4 % (72.8 to 69.9 KB for a full desktop)
/// while full-screen motion takes twice as long to encode (75 to 139 ms a frame); inflating in
/// the browser costs the same at every level. The controller encodes every frame, so speed wins.
const DEFLATE_LEVEL: u8 = 1;
/// Fewest rows a scroll must keep in place before it is sent as a copy.
const MIN_SCROLL_ROWS: usize = 16;

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

/// How updates are compressed. The default is what the controller sends; other levels are
/// for measuring (`cargo bench -p shared --bench tiles`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoder {
    /// Deflate level, 0 (stored) to 10.
    pub level: u8,
}

impl Default for Encoder {
    fn default() -> Self {
        Self { level: DEFLATE_LEVEL }
    }
}

/// Encodes the whole frame: for a new viewer, or after a resize.
pub fn encode_full(frame: &Framebuffer) -> Vec<u8> {
    Encoder::default().full(frame)
}

/// Encodes what changed from `prev` (what the viewers hold) to `next`, and brings `prev` up
/// to `next`. `hints` are copies the source reported; the encoder keeps those that pay off and
/// looks for a vertical scroll itself. `None` when nothing changed.
pub fn encode_delta(prev: &mut Framebuffer, next: &Framebuffer, hints: &[Copy]) -> Option<Vec<u8>> {
    Encoder::default().delta(prev, next, hints)
}

impl Encoder {
    /// See [`encode_full`].
    pub fn full(&self, frame: &Framebuffer) -> Vec<u8> {
        let grid = Grid::of(frame);
        let tiles: Vec<Rect> = (0..grid.count()).map(|i| grid.rect(i)).collect();
        self.encode(KIND_FULL, frame, &[], &tiles)
    }

    /// See [`encode_delta`].
    pub fn delta(&self, prev: &mut Framebuffer, next: &Framebuffer, hints: &[Copy]) -> Option<Vec<u8>> {
        if prev.width() != next.width() || prev.height() != next.height() {
            *prev = next.clone();
            return Some(self.full(next));
        }
        let mut copies: Vec<Copy> = hints.iter().copied().filter(|c| copy_pays_off(prev, next, c)).collect();
        if copies.is_empty() {
            copies.extend(find_scroll(prev, next));
        }
        for c in &copies {
            prev.copy_within(c.src_x, c.src_y, c.dst);
        }
        let grid = Grid::of(next);
        let changed: Vec<Rect> = (0..grid.count()).filter_map(|i| changed_part(prev, next, grid.rect(i))).collect();
        if changed.is_empty() && copies.is_empty() {
            return None;
        }
        for r in &changed {
            for y in r.y..r.y + r.h {
                prev.span_mut(r.x, y, r.w).copy_from_slice(next.span(r.x, y, r.w));
            }
        }
        Some(self.encode(KIND_DELTA, next, &copies, &changed))
    }

    /// `tiles`: the parts to send, each inside one tile, in tile order.
    fn encode(&self, kind: u8, frame: &Framebuffer, copies: &[Copy], tiles: &[Rect]) -> Vec<u8> {
        let grid = Grid::of(frame);
        let mut data = Vec::new();
        data.put_varint(tiles.len() as u32);
        for &rect in tiles {
            let index = grid.index_of(rect);
            let tile = grid.rect(index);
            data.put_varint(index);
            for v in [rect.x - tile.x, rect.y - tile.y, rect.w - 1, rect.h - 1] {
                data.put_u8(v as u8);
            }
            encode_tile(frame, rect, &mut data);
        }
        let packed = miniz_oxide::deflate::compress_to_vec(&data, self.level);

        let mut out = Vec::with_capacity(packed.len() + 16 + copies.len() * 12);
        out.put_u8(kind);
        out.put_u16(frame.width());
        out.put_u16(frame.height());
        out.put_varint(copies.len() as u32);
        for c in copies {
            for v in [c.src_x, c.src_y, c.dst.x, c.dst.y, c.dst.w, c.dst.h] {
                out.put_u16(v);
            }
        }
        out.put_length_prefixed(&packed);
        out
    }
}

/// Writes one tile in its cheapest form.
fn encode_tile(frame: &Framebuffer, rect: Rect, out: &mut Vec<u8>) {
    let Some(palette) = Palette::of(frame, rect) else {
        return encode_tile_raw(frame, rect, out);
    };
    if palette.colours.len() == 1 {
        out.put_u8(TYPE_SOLID);
        out.extend_from_slice(&rgb_bytes(palette.colours[0]));
        return;
    }
    let raw_size = rect.area() * 3;
    let bits = index_bits(palette.colours.len());
    let packed_size = usize::from(rect.h) * packed_row_len(rect.w, bits);
    let runs = &palette.runs;
    let runs_size = runs.iter().map(|(_, len)| 1 + varint_len(len - 1)).sum::<usize>() + varint_len(runs.len() as u32);
    let header = 1 + palette.colours.len() * 3;
    if header + packed_size.min(runs_size) >= raw_size {
        return encode_tile_raw(frame, rect, out);
    }
    out.put_u8(if runs_size < packed_size { TYPE_RUNS } else { TYPE_PACKED });
    out.put_u8((palette.colours.len() - 1) as u8);
    for c in &palette.colours {
        out.extend_from_slice(&rgb_bytes(*c));
    }
    if runs_size < packed_size {
        out.put_varint(runs.len() as u32);
        for &(index, len) in runs {
            out.put_u8(index);
            out.put_varint(len - 1);
        }
    } else {
        for row in palette.indices.chunks_exact(usize::from(rect.w)) {
            let mut acc: u16 = 0;
            let mut filled = 0u8;
            for &index in row {
                acc = (acc << bits) | u16::from(index);
                filled += bits;
                if filled == 8 {
                    out.put_u8(acc as u8);
                    acc = 0;
                    filled = 0;
                }
            }
            if filled > 0 {
                out.put_u8((acc << (8 - filled)) as u8);
            }
        }
    }
}

fn encode_tile_raw(frame: &Framebuffer, rect: Rect, out: &mut Vec<u8>) {
    out.put_u8(TYPE_RAW);
    for y in rect.y..rect.y + rect.h {
        for px in frame.span(rect.x, y, rect.w).chunks_exact(BYTES_PER_PIXEL) {
            out.extend_from_slice(&px[..3]);
        }
    }
}

/// A tile seen as a palette: its distinct colours (at most 256), each pixel's index, and the
/// runs of one colour in raster order; made in one pass, looking a colour up only when it
/// differs from the pixel before.
struct Palette {
    colours: Vec<u32>,
    indices: Vec<u8>,
    runs: Vec<(u8, u32)>,
}

impl Palette {
    fn of(frame: &Framebuffer, rect: Rect) -> Option<Self> {
        let mut colours: Vec<u32> = Vec::new();
        let mut lookup: HashMap<u32, u8> = HashMap::new();
        let mut indices = Vec::with_capacity(rect.area());
        let mut runs: Vec<(u8, u32)> = Vec::new();
        let mut last: Option<(u32, u8)> = None;
        for y in rect.y..rect.y + rect.h {
            for px in frame.span(rect.x, y, rect.w).chunks_exact(BYTES_PER_PIXEL) {
                let key = pixel_key(px);
                let index = match last {
                    Some((k, i)) if k == key => i,
                    _ => {
                        let i = match lookup.get(&key) {
                            Some(&i) => i,
                            None if colours.len() == 256 => return None,
                            None => {
                                let i = colours.len() as u8;
                                lookup.insert(key, i);
                                colours.push(key);
                                i
                            }
                        };
                        last = Some((key, i));
                        i
                    }
                };
                indices.push(index);
                match runs.last_mut() {
                    Some((i, len)) if *i == index => *len += 1,
                    _ => runs.push((index, 1)),
                }
            }
        }
        Some(Palette { colours, indices, runs })
    }
}

fn pixel_key(px: &[u8]) -> u32 {
    u32::from(px[0]) << 16 | u32::from(px[1]) << 8 | u32::from(px[2])
}

fn rgb_bytes(key: u32) -> [u8; 3] {
    [(key >> 16) as u8, (key >> 8) as u8, key as u8]
}

/// Bits per packed index for a palette of `colours`.
fn index_bits(colours: usize) -> u8 {
    match colours {
        0..=2 => 1,
        3..=4 => 2,
        5..=16 => 4,
        _ => 8,
    }
}

fn packed_row_len(w: u16, bits: u8) -> usize {
    (usize::from(w) * usize::from(bits)).div_ceil(8)
}

fn varint_len(v: u32) -> usize {
    match v {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        _ => 4,
    }
}

/// The smallest rectangle of `tile` holding every pixel that differs between the frames.
fn changed_part(prev: &Framebuffer, next: &Framebuffer, tile: Rect) -> Option<Rect> {
    let rows: Vec<u16> =
        (tile.y..tile.y + tile.h).filter(|&y| prev.span(tile.x, y, tile.w) != next.span(tile.x, y, tile.w)).collect();
    let (&top, &bottom) = (rows.first()?, rows.last()?);
    let (mut left, mut right) = (tile.w, 0);
    for &y in &rows {
        let (a, b) = (prev.span(tile.x, y, tile.w), next.span(tile.x, y, tile.w));
        let differs =
            |i: &u16| a[usize::from(*i) * BYTES_PER_PIXEL..][..3] != b[usize::from(*i) * BYTES_PER_PIXEL..][..3];
        if let Some(first) = (0..left).find(differs) {
            left = first;
        }
        if let Some(last) = (right..tile.w).rev().find(differs) {
            right = last;
        }
    }
    Some(Rect::new(tile.x + left, top, right.max(left) - left + 1, bottom - top + 1))
}

/// A copy is worth sending when most of its destination rows arrive already in place.
fn copy_pays_off(prev: &Framebuffer, next: &Framebuffer, c: &Copy) -> bool {
    let src = Rect::new(c.src_x, c.src_y, c.dst.w, c.dst.h);
    if c.dst.is_empty() || !c.dst.fits(next.width(), next.height()) || !src.fits(prev.width(), prev.height()) {
        return false;
    }
    let matching = (0..c.dst.h)
        .filter(|r| prev.span(c.src_x, c.src_y + r, c.dst.w) == next.span(c.dst.x, c.dst.y + r, c.dst.w))
        .count();
    matching * 2 > usize::from(c.dst.h)
}

/// Finds the vertical scroll of the whole width that puts the most rows of `next` in place.
fn find_scroll(prev: &Framebuffer, next: &Framebuffer) -> Option<Copy> {
    let height = usize::from(next.height());
    let width = next.width();
    let prev_rows: Vec<u64> = (0..next.height()).map(|y| row_hash(prev.span(0, y, width))).collect();
    let next_rows: Vec<u64> = (0..next.height()).map(|y| row_hash(next.span(0, y, width))).collect();
    let changed: Vec<usize> = (0..height).filter(|&y| prev_rows[y] != next_rows[y]).collect();
    if changed.len() < MIN_SCROLL_ROWS {
        return None;
    }
    // Where each distinct row of the old frame was (its first place is enough for a vote).
    let mut first_seen: HashMap<u64, usize> = HashMap::with_capacity(height);
    for (y, h) in prev_rows.iter().enumerate().rev() {
        first_seen.insert(*h, y);
    }
    let mut votes: HashMap<isize, usize> = HashMap::new();
    for &y in &changed {
        if let Some(&from) = first_seen.get(&next_rows[y]) {
            *votes.entry(from as isize - y as isize).or_default() += 1;
        }
    }
    let (&shift, _) = votes.iter().filter(|(_, &n)| n >= MIN_SCROLL_ROWS).max_by_key(|(s, &n)| (n, -s.abs()))?;
    // The longest band of rows that this shift puts in place.
    let in_place = |y: usize| {
        let from = y as isize + shift;
        from >= 0
            && (from as usize) < height
            && next_rows[y] == prev_rows[from as usize]
            && next.span(0, y as u16, width) == prev.span(0, from as u16, width)
    };
    let (mut best, mut start) = ((0, 0), None);
    for y in 0..=height {
        match (y < height && in_place(y), start) {
            (true, None) => start = Some(y),
            (false, Some(s)) => {
                if y - s > best.1 - best.0 {
                    best = (s, y);
                }
                start = None;
            }
            _ => {}
        }
    }
    let (top, bottom) = best;
    if bottom - top < MIN_SCROLL_ROWS {
        return None;
    }
    Some(Copy {
        src_x: 0,
        src_y: (top as isize + shift) as u16,
        dst: Rect::new(0, top as u16, width, (bottom - top) as u16),
    })
}

fn row_hash(bytes: &[u8]) -> u64 {
    // FNV-1a over 8-byte words: only finds candidates, which are then compared byte for byte.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let v = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        h = (h ^ v).wrapping_mul(0x0100_0000_01b3);
    }
    for &b in words.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The 64x64 tile grid over a frame.
struct Grid {
    width: u16,
    height: u16,
    cols: u32,
    rows: u32,
}

impl Grid {
    fn of(frame: &Framebuffer) -> Self {
        Self::sized(frame.width(), frame.height())
    }

    fn sized(width: u16, height: u16) -> Self {
        Self { width, height, cols: u32::from(width.div_ceil(TILE)), rows: u32::from(height.div_ceil(TILE)) }
    }

    fn count(&self) -> u32 {
        self.cols * self.rows
    }

    fn rect(&self, index: u32) -> Rect {
        let x = (index % self.cols) as u16 * TILE;
        let y = (index / self.cols) as u16 * TILE;
        Rect::new(x, y, TILE.min(self.width - x), TILE.min(self.height - y))
    }

    fn index_of(&self, rect: Rect) -> u32 {
        u32::from(rect.y / TILE) * self.cols + u32::from(rect.x / TILE)
    }
}

/// A validated tile, pointing into the inflated tile data.
enum TileBody<'a> {
    Solid([u8; 3]),
    Packed { palette: &'a [u8], bits: u8, indices: &'a [u8] },
    Runs { palette: &'a [u8], runs: Vec<(u8, u32)> },
    Raw(&'a [u8]),
}

/// Applies one graphics update to `frame`. On error `frame` is unchanged.
pub fn apply(frame: &mut Framebuffer, update: &[u8]) -> Result<GraphicsDamage, DecodeError> {
    let mut r = Reader::new(update);
    let kind = r.u8("graphics update kind")?;
    let width = r.u16("frame width")?;
    let height = r.u16("frame height")?;
    let full = match kind {
        KIND_FULL => true,
        KIND_DELTA => false,
        other => return Err(DecodeError::Unknown { field: "graphics update kind", value: other }),
    };
    check_size(width, height).map_err(|_| DecodeError::Invalid { field: "frame size", reason: "out of range" })?;
    if !full && (frame.width() != width || frame.height() != height) {
        return Err(DecodeError::Invalid { field: "frame size", reason: "delta for another frame size" });
    }
    let copy_count = r.varint("copy count")? as usize;
    if copy_count > 4096 {
        return Err(DecodeError::TooLong { field: "copies", max: 4096 });
    }
    let mut copies = Vec::with_capacity(copy_count);
    for _ in 0..copy_count {
        let (src_x, src_y) = (r.u16("copy src x")?, r.u16("copy src y")?);
        let dst = Rect::new(r.u16("copy dst x")?, r.u16("copy dst y")?, r.u16("copy w")?, r.u16("copy h")?);
        let src = Rect::new(src_x, src_y, dst.w, dst.h);
        if !dst.fits(width, height) || !src.fits(width, height) {
            return Err(DecodeError::Invalid { field: "copy", reason: "outside the frame" });
        }
        copies.push(Copy { src_x, src_y, dst });
    }
    let grid = Grid::sized(width, height);
    // A tile's body is never larger than its raw form plus a full palette.
    let limit = grid.count() as usize * (usize::from(TILE) * usize::from(TILE) * 3 + 1024) + 8;
    let packed = r.length_prefixed(limit, "tile data")?;
    r.finish("graphics update")?;
    let data = decompress_to_vec_with_limit(packed, limit)
        .map_err(|_| DecodeError::Invalid { field: "tile data", reason: "bad deflate stream or too large" })?;

    let mut t = Reader::new(&data);
    let count = t.varint("tile count")?;
    if count > grid.count() {
        return Err(DecodeError::Invalid { field: "tile count", reason: "more tiles than the frame has" });
    }
    let mut tiles = Vec::with_capacity(count as usize);
    let mut next_index = 0;
    for _ in 0..count {
        let index = t.varint("tile index")?;
        if index < next_index || index >= grid.count() {
            return Err(DecodeError::Invalid { field: "tile index", reason: "out of order or outside the frame" });
        }
        next_index = index + 1;
        let tile = grid.rect(index);
        let [x, y, w, h] = t.array::<4>("tile part")?.map(u16::from);
        let rect = Rect::new(tile.x + x, tile.y + y, w + 1, h + 1);
        if x + w + 1 > tile.w || y + h + 1 > tile.h {
            return Err(DecodeError::Invalid { field: "tile part", reason: "outside its tile" });
        }
        tiles.push((rect, read_tile(&mut t, rect)?));
    }
    t.finish("tile data")?;
    if full && count != grid.count() {
        return Err(DecodeError::Invalid { field: "tile count", reason: "a full update must cover the frame" });
    }

    // Everything is valid: change the frame.
    if full {
        *frame = Framebuffer::new(width, height)
            .map_err(|_| DecodeError::Invalid { field: "frame size", reason: "out of range" })?;
    }
    for c in &copies {
        frame.copy_within(c.src_x, c.src_y, c.dst);
    }
    let mut rects = Vec::with_capacity(tiles.len());
    for (rect, body) in tiles {
        paint_tile(frame, rect, &body);
        rects.push(rect);
    }
    Ok(GraphicsDamage { resized: full, copies, rects })
}

fn read_tile<'a>(t: &mut Reader<'a>, rect: Rect) -> Result<TileBody<'a>, DecodeError> {
    let kind = t.u8("tile type")?;
    Ok(match kind {
        TYPE_SOLID => TileBody::Solid(t.array("solid colour")?),
        TYPE_RAW => TileBody::Raw(t.bytes(rect.area() * 3, "raw tile")?),
        TYPE_PACKED | TYPE_RUNS => {
            let colours = usize::from(t.u8("palette size")?) + 1;
            let palette = t.bytes(colours * 3, "palette")?;
            if kind == TYPE_PACKED {
                let bits = index_bits(colours);
                let indices = t.bytes(usize::from(rect.h) * packed_row_len(rect.w, bits), "packed indices")?;
                let mask = (1u16 << bits) - 1;
                let out_of_palette = indices
                    .iter()
                    .any(|&b| (0..8 / bits).any(|k| usize::from((u16::from(b) >> (k * bits)) & mask) >= colours));
                // Padding bits are indices too; the encoder writes zeros there.
                if out_of_palette {
                    return Err(DecodeError::Invalid { field: "packed indices", reason: "index outside the palette" });
                }
                TileBody::Packed { palette, bits, indices }
            } else {
                let count = t.varint("run count")? as usize;
                if count > rect.area() {
                    return Err(DecodeError::Invalid { field: "run count", reason: "more runs than pixels" });
                }
                let mut runs = Vec::with_capacity(count);
                let mut covered = 0usize;
                for _ in 0..count {
                    let index = t.u8("run colour")?;
                    let len = t.varint("run length")?.saturating_add(1);
                    if usize::from(index) >= colours {
                        return Err(DecodeError::Invalid { field: "run colour", reason: "index outside the palette" });
                    }
                    covered = covered.saturating_add(len as usize);
                    runs.push((index, len));
                }
                if covered != rect.area() {
                    return Err(DecodeError::Invalid { field: "runs", reason: "do not cover the tile exactly" });
                }
                TileBody::Runs { palette, runs }
            }
        }
        other => return Err(DecodeError::Unknown { field: "tile type", value: other }),
    })
}

fn paint_tile(frame: &mut Framebuffer, rect: Rect, body: &TileBody<'_>) {
    match body {
        TileBody::Solid(rgb) => frame.fill(rect, *rgb),
        TileBody::Raw(rgb) => {
            let mut src = rgb.chunks_exact(3);
            for y in rect.y..rect.y + rect.h {
                for (out, px) in frame.span_mut(rect.x, y, rect.w).chunks_exact_mut(BYTES_PER_PIXEL).zip(&mut src) {
                    out[..3].copy_from_slice(px);
                }
            }
        }
        TileBody::Packed { palette, bits, indices } => {
            let row_len = packed_row_len(rect.w, *bits);
            let mask = (1u16 << bits) - 1;
            for (r, y) in (rect.y..rect.y + rect.h).enumerate() {
                let row = &indices[r * row_len..(r + 1) * row_len];
                for (i, out) in frame.span_mut(rect.x, y, rect.w).chunks_exact_mut(BYTES_PER_PIXEL).enumerate() {
                    let bit = i * usize::from(*bits);
                    let byte = u16::from(row[bit / 8]);
                    let index = (byte >> (8 - usize::from(*bits) - bit % 8)) & mask;
                    out[..3].copy_from_slice(palette_colour(palette, index as u8));
                }
            }
        }
        TileBody::Runs { palette, runs } => {
            let mut pixels = runs.iter().flat_map(|&(index, len)| core::iter::repeat_n(index, len as usize));
            for y in rect.y..rect.y + rect.h {
                for (out, index) in frame.span_mut(rect.x, y, rect.w).chunks_exact_mut(BYTES_PER_PIXEL).zip(&mut pixels)
                {
                    out[..3].copy_from_slice(palette_colour(palette, index));
                }
            }
        }
    }
}

fn palette_colour(palette: &[u8], index: u8) -> &[u8] {
    let i = usize::from(index) * 3;
    &palette[i..i + 3]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame with a bit of everything: flat areas, a few-colour "text" area, a gradient.
    pub(crate) fn sample(width: u16, height: u16, seed: u32) -> Framebuffer {
        let mut f = Framebuffer::new(width, height).unwrap();
        f.fill(f.bounds(), [0x20, 0x30, 0x40]);
        for y in 0..height {
            for x in 0..width {
                let v = (u32::from(x) * 7 + u32::from(y) * 13 + seed) as u8;
                let px: [u8; 3] = if y < height / 3 {
                    [0x20, 0x30, 0x40]
                } else if y < 2 * height / 3 {
                    if (x / 3 + y / 5 + seed as u16).is_multiple_of(4) {
                        [255, 255, 255]
                    } else {
                        [0, 0, 0]
                    }
                } else {
                    [v, v.wrapping_mul(3), x as u8 ^ y as u8]
                };
                f.span_mut(x, y, 1)[..3].copy_from_slice(&px);
            }
        }
        f
    }

    #[test]
    fn full_and_delta_updates_reproduce_the_frame() {
        let a = sample(200, 150, 0);
        let mut view = Framebuffer::new(1, 1).unwrap();
        let damage = apply(&mut view, &encode_full(&a)).unwrap();
        assert!(damage.resized);
        assert_eq!(view, a);

        let mut prev = a.clone();
        let mut b = a.clone();
        b.fill(Rect::new(70, 70, 5, 5), [1, 2, 3]);
        let update = encode_delta(&mut prev, &b, &[]).unwrap();
        assert_eq!(prev, b, "the encoder's copy follows what it sent");
        let damage = apply(&mut view, &update).unwrap();
        assert_eq!(view, b);
        assert_eq!(damage.rects, vec![Rect::new(70, 70, 5, 5)], "only the changed part of one tile");
        assert!(encode_delta(&mut prev, &b, &[]).is_none(), "nothing changed");
    }

    #[test]
    fn a_scroll_is_sent_as_a_copy_and_is_much_smaller() {
        let a = sample(320, 240, 1);
        let mut b = a.clone();
        b.copy_within(0, 16, Rect::new(0, 0, 320, 224));
        b.fill(Rect::new(0, 224, 320, 16), [9, 9, 9]);
        let mut prev = a.clone();
        let update = encode_delta(&mut prev, &b, &[]).unwrap();
        let mut view = a.clone();
        let damage = apply(&mut view, &update).unwrap();
        assert_eq!(view, b);
        assert_eq!(damage.copies, vec![Copy { src_x: 0, src_y: 16, dst: Rect::new(0, 0, 320, 224) }]);
        assert!(damage.rects.len() <= 5, "only the bottom band's tiles: {:?}", damage.rects);
    }

    #[test]
    fn source_hints_that_do_not_match_are_ignored_and_the_result_is_still_exact() {
        let a = sample(128, 128, 2);
        let b = sample(128, 128, 3);
        let mut prev = a.clone();
        let bogus = Copy { src_x: 10, src_y: 10, dst: Rect::new(0, 60, 50, 50) };
        let update = encode_delta(&mut prev, &b, &[bogus]).unwrap();
        let mut view = a;
        let damage = apply(&mut view, &update).unwrap();
        assert!(damage.copies.is_empty());
        assert_eq!(view, b);
    }

    #[test]
    fn each_tile_type_is_chosen_where_it_is_cheapest() {
        let mut f = Framebuffer::new(256, 64).unwrap();
        f.fill(Rect::new(0, 0, 64, 64), [5, 6, 7]); // solid
        for y in 0..64u16 {
            for x in 64..256u16 {
                let px = match x {
                    64..=127 => {
                        if (x + y).is_multiple_of(2) {
                            [1, 1, 1]
                        } else {
                            [200, 200, 200]
                        }
                    } // packed
                    128..=191 => {
                        if x < 160 {
                            [10, 0, 0]
                        } else {
                            [0, 10, 0]
                        }
                    } // runs
                    _ => [(x * 3) as u8, (y * 5) as u8, (x ^ y) as u8], // raw
                };
                f.span_mut(x, y, 1)[..3].copy_from_slice(&px);
            }
        }
        let mut types = Vec::new();
        for i in 0..4u16 {
            let mut out = Vec::new();
            encode_tile(&f, Rect::new(i * 64, 0, 64, 64), &mut out);
            types.push(out[0]);
        }
        assert_eq!(types, [TYPE_SOLID, TYPE_PACKED, TYPE_RUNS, TYPE_RAW]);
        let mut view = Framebuffer::new(1, 1).unwrap();
        apply(&mut view, &encode_full(&f)).unwrap();
        assert_eq!(view, f);
    }

    #[test]
    fn bad_updates_are_errors_and_leave_the_frame_alone() {
        let a = sample(100, 70, 4);
        let mut view = a.clone();
        let mut prev = a.clone();
        let mut b = a.clone();
        b.fill(Rect::new(0, 0, 100, 70), [1, 1, 1]);
        let good = encode_delta(&mut prev, &b, &[]).unwrap();
        for cut in 0..good.len() {
            assert!(apply(&mut view, &good[..cut]).is_err(), "truncated at {cut}");
        }
        let mut other_size = good.clone();
        other_size[2] ^= 1;
        assert!(apply(&mut view, &other_size).is_err());
        let mut bad_copy = vec![KIND_DELTA, 0, 100, 0, 70, 1];
        for v in [0u16, 0, 90, 0, 20, 10] {
            bad_copy.extend_from_slice(&v.to_be_bytes());
        }
        bad_copy.push(0);
        assert!(apply(&mut view, &bad_copy).is_err());
        assert_eq!(view, a);
    }

    #[test]
    fn malformed_tile_data_is_refused() {
        let deflated = |data: &[u8]| {
            let mut out = vec![KIND_DELTA, 0, 64, 0, 64, 0];
            out.put_length_prefixed(&miniz_oxide::deflate::compress_to_vec(data, 1));
            out
        };
        let mut view = Framebuffer::new(64, 64).unwrap();
        // Each tile: index, then its part (x, y, w - 1, h - 1), here the whole 64x64 tile.
        let cases: [&[u8]; 7] = [
            &[1, 0, 0, 0, 63, 63, 9],                                       // unknown tile type
            &[1, 5, 0, 0, 63, 63, 0, 1, 2, 3],                              // index outside the frame
            &[2, 0, 0, 0, 63, 63, 0, 1, 2, 3, 0, 0, 0, 63, 63, 0, 1, 2, 3], // repeated index
            &[1, 0, 0, 0, 63, 63, 2, 0, 0, 0, 0, 1, 1, 5],                  // runs past the palette
            &[1, 0, 0, 0, 63, 63, 2, 0, 0, 0, 0, 1, 0, 5],                  // runs short of the part
            &[1, 0, 0, 0, 63, 63, 0, 1, 2, 3, 99],                          // trailing bytes
            &[1, 0, 10, 10, 60, 3, 0, 1, 2, 3],                             // part outside its tile
        ];
        for case in cases {
            assert!(apply(&mut view, &deflated(case)).is_err(), "{case:?}");
        }
        assert_eq!(view, Framebuffer::new(64, 64).unwrap());
    }
}
