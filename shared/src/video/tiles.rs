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
//! bad update leaves the frame as it was.

use std::collections::HashMap;

use miniz_oxide::inflate::decompress_to_vec_with_limit;

use super::frame::{check_size, Framebuffer, Rect, BYTES_PER_PIXEL};
use super::underlay::Underlay;
use super::zstream::{Deflater, Inflater};
use crate::wire::codec::{Reader, Writer};
use crate::wire::DecodeError;

/// Tile edge in pixels: small enough that a typed character costs one tile, large enough
/// that a full 1080p frame is 510 tiles.
pub const TILE: u16 = 64;
pub const KIND_FULL: u8 = 0x10;
pub const KIND_DELTA: u8 = 0x11;
pub const KIND_STREAM_FULL: u8 = 0x12;
pub const KIND_STREAM_DELTA: u8 = 0x13;
const FLAG_RESTART: u8 = 1;

const TYPE_SOLID: u8 = 0;
const TYPE_PACKED: u8 = 1;
const TYPE_RUNS: u8 = 2;
const TYPE_RAW: u8 = 3;
/// Deflate level, chosen by replaying recorded TigerVNC sessions through the stream
/// (`cargo run --release -p rfb --example replay`): against level 1, level 3 sends 26 % less
/// for a scrolling terminal, 9 to 11 % less for dragged windows and 23 % less for full-screen
/// motion, for 28 % more encoding time on motion (8.8 ms an update); levels 4 to 6 save at
/// most 4 % more and cost up to 60 % more time. The stream's back-references to earlier
/// updates are what the higher levels find.
const DEFLATE_LEVEL: u8 = 3;
/// Most copies one update may carry; the decoder refuses more.
const MAX_COPIES: usize = 4096;
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
        let packed = miniz_oxide::deflate::compress_to_vec(&body(frame, &Parts::whole(frame)), self.level);
        frame_update(KIND_FULL, None, frame, &packed)
    }

    /// See [`encode_delta`].
    pub fn delta(&self, prev: &mut Framebuffer, next: &Framebuffer, hints: &[Copy]) -> Option<Vec<u8>> {
        Some(match diff(prev, next, hints, None, None)? {
            Change::Resized => self.full(next),
            Change::Parts(parts) => {
                let packed = miniz_oxide::deflate::compress_to_vec(&body(next, &parts), self.level);
                frame_update(KIND_DELTA, None, next, &packed)
            }
        })
    }
}

/// The host's side of its viewers' graphics stream: updates as pieces of one deflate stream.
pub struct StreamEncoder {
    level: u8,
    /// `None`: the next update starts a new stream.
    stream: Option<Deflater>,
    /// What moved content covers in the viewers' frame, as their decoders keep it; starts
    /// over with the stream.
    under: Option<Underlay>,
}

impl StreamEncoder {
    pub fn new(encoder: Encoder) -> Self {
        Self { level: encoder.level, stream: None, under: None }
    }

    /// The next update starts the stream over, with nothing to refer back to: a viewer that
    /// joins now can follow from there.
    pub fn restart(&mut self) {
        self.stream = None;
    }

    /// The whole frame, as the stream's next update (after a resize).
    pub fn full(&mut self, frame: &Framebuffer) -> Vec<u8> {
        self.under = Some(Underlay::of(frame));
        self.pack(KIND_STREAM_FULL, frame, &body(frame, &Parts::whole(frame)))
    }

    /// As [`encode_delta`], as the stream's next update. `reported`: the rectangles the source
    /// said it changed besides its copies, so only those are compared (`None`: look everywhere).
    pub fn delta(
        &mut self,
        prev: &mut Framebuffer,
        next: &Framebuffer,
        hints: &[Copy],
        reported: Option<&[Rect]>,
    ) -> Option<Vec<u8>> {
        // A restart: the viewers start over with nothing kept beneath moved content.
        if self.stream.is_none() || self.under.as_ref().is_some_and(|u| !u.fits(prev)) {
            self.under = None;
        }
        let under = self.under.get_or_insert_with(|| Underlay::of(prev));
        Some(match diff(prev, next, hints, reported, Some(under))? {
            Change::Resized => self.full(next),
            Change::Parts(parts) => self.pack(KIND_STREAM_DELTA, next, &body(next, &parts)),
        })
    }

    fn pack(&mut self, kind: u8, frame: &Framebuffer, body: &[u8]) -> Vec<u8> {
        let restart = self.stream.is_none();
        let stream = self.stream.get_or_insert_with(|| Deflater::new(self.level));
        let piece = stream.piece(body);
        frame_update(kind, Some(restart), frame, &piece)
    }
}

/// What changed between two frames.
enum Change {
    /// A new size: everything.
    Resized,
    Parts(Parts),
}

/// An update's changes, in the order a decoder makes them.
#[derive(Default)]
struct Parts {
    /// Regions moved.
    copies: Vec<Copy>,
    /// Rectangles put back from what moved content covered (streams only).
    restores: Vec<Rect>,
    /// Rectangles of one colour.
    fills: Vec<Fill>,
    /// Parts of tiles sent as pixels, in tile order.
    tiles: Vec<Rect>,
}

impl Parts {
    /// Every tile of the frame, whole.
    fn whole(frame: &Framebuffer) -> Self {
        let grid = Grid::of(frame);
        Self { tiles: (0..grid.count()).map(|i| grid.rect(i)).collect(), ..Self::default() }
    }
}

/// Works out what changed from `prev` (what the viewers hold) to `next` and brings `prev` up
/// to `next`; `None` when nothing did. Only tiles the source `reported` or copied to are looked
/// at, when it says.
fn diff(
    prev: &mut Framebuffer,
    next: &Framebuffer,
    hints: &[Copy],
    reported: Option<&[Rect]>,
    mut under: Option<&mut Underlay>,
) -> Option<Change> {
    if prev.width() != next.width() || prev.height() != next.height() {
        *prev = next.clone();
        return Some(Change::Resized);
    }
    let grid = Grid::of(next);
    let dirty = Dirty::of(&grid, reported, hints);
    // What copies do not cover goes as tile data, so a source's flood of them is cut short.
    let mut copies: Vec<Copy> =
        hints.iter().copied().filter(|c| copy_pays_off(prev, next, c)).take(MAX_COPIES).collect();
    // A scroll changes at least that many whole rows.
    let scroll_possible =
        reported.is_none_or(|r| r.iter().map(Rect::area).sum::<usize>() >= usize::from(next.width()) * MIN_SCROLL_ROWS);
    if copies.is_empty() && scroll_possible {
        copies.extend(find_scroll(prev, next));
    }
    for c in &copies {
        apply_copy(prev, under.as_deref_mut(), c);
    }
    for motion in motions(prev, next, hints, &dirty) {
        let mut moves = find_moves(prev, next, motion, &dirty);
        moves.truncate(MAX_COPIES - copies.len());
        for c in &moves {
            apply_copy(prev, under.as_deref_mut(), c);
        }
        copies.extend(moves);
    }
    let parts: Vec<Rect> =
        (0..grid.count()).filter(|&i| dirty.tile(i)).flat_map(|i| changed_parts(prev, next, grid.rect(i))).collect();
    if parts.is_empty() && copies.is_empty() {
        return None;
    }
    for r in &parts {
        for y in r.y..r.y + r.h {
            prev.span_mut(r.x, y, r.w).copy_from_slice(next.span(r.x, y, r.w));
        }
    }
    let (fills, parts) = split_fills(next, parts);
    let (restores, tiles) = match under {
        Some(under) => {
            for r in fills.iter().map(|(r, _)| r).chain(&parts) {
                under.settle(*r);
            }
            split_restores(under, next, parts)
        }
        None => (Vec::new(), parts),
    };
    Some(Change::Parts(Parts { copies, restores, fills, tiles }))
}

/// Makes a copy in `frame`, keeping what it covers in `under` when there is one: the
/// encoder on the viewers' frame and the decoder on its own, the same way.
fn apply_copy(frame: &mut Framebuffer, under: Option<&mut Underlay>, c: &Copy) {
    match under {
        Some(under) => under.copy(frame, c.src_x, c.src_y, c.dst),
        None => frame.copy_within(c.src_x, c.src_y, c.dst),
    }
}

/// Takes the parts that what moved content covered gives back exactly out of `parts`,
/// joined where they continue each other, as [`split_fills`] does.
fn split_restores(under: &Underlay, next: &Framebuffer, parts: Vec<Rect>) -> (Vec<Rect>, Vec<Rect>) {
    let (restores, rest): (Vec<Rect>, Vec<Rect>) = parts.into_iter().partition(|p| under.holds(next, *p));
    let mut joined: Vec<(Rect, ())> = Vec::with_capacity(restores.len());
    for r in restores {
        join(&mut joined, r, ());
    }
    (joined.into_iter().map(|(r, _)| r).collect(), rest)
}

/// A rectangle of one colour.
type Fill = (Rect, [u8; 3]);

/// Takes the parts of one colour out of `parts`, joined where they continue each other along
/// a row or a column: the strip a moved window uncovers is one fill, not a part in every tile
/// it crosses.
fn split_fills(frame: &Framebuffer, parts: Vec<Rect>) -> (Vec<Fill>, Vec<Rect>) {
    let mut fills: Vec<Fill> = Vec::new();
    let mut rest = Vec::with_capacity(parts.len());
    for p in parts {
        if !is_flat(frame, p) {
            rest.push(p);
            continue;
        }
        let px = frame.pixel(p.x, p.y);
        join(&mut fills, p, [px[0], px[1], px[2]]);
    }
    (fills, rest)
}

/// Adds `p` to `list`, into an earlier rectangle of the same `kind` that it continues along a
/// row or down a column, if there is one.
fn join<K: PartialEq>(list: &mut Vec<(Rect, K)>, p: Rect, kind: K) {
    let below = |f: &Rect| f.x == p.x && f.w == p.w && f.y + f.h == p.y;
    let beside = |f: &Rect| f.y == p.y && f.h == p.h && f.x + f.w == p.x;
    match list.iter_mut().rev().find(|(f, k)| *k == kind && (below(f) || beside(f))) {
        Some((f, _)) if below(f) => f.h += p.h,
        Some((f, _)) => f.w += p.w,
        None => list.push((p, kind)),
    }
}

/// Which tiles may differ: those the source reported changing or copied to, or every tile
/// when it did not say.
struct Dirty {
    /// By tile index; `None`: all.
    tiles: Option<Vec<bool>>,
    cols: u32,
}

impl Dirty {
    fn of(grid: &Grid, reported: Option<&[Rect]>, hints: &[Copy]) -> Self {
        let tiles = reported.map(|reported| {
            let mut tiles = vec![false; grid.count() as usize];
            for r in reported.iter().chain(hints.iter().map(|c| &c.dst)) {
                let r = r.clipped(grid.width, grid.height);
                if r.is_empty() {
                    continue;
                }
                for row in u32::from(r.y / TILE)..=u32::from((r.y + r.h - 1) / TILE) {
                    for col in u32::from(r.x / TILE)..=u32::from((r.x + r.w - 1) / TILE) {
                        tiles[(row * grid.cols + col) as usize] = true;
                    }
                }
            }
            tiles
        });
        Self { tiles, cols: grid.cols }
    }

    fn tile(&self, index: u32) -> bool {
        self.tiles.as_ref().is_none_or(|t| t[index as usize])
    }

    /// Whether the tile holding pixel (x, y) may differ.
    fn at(&self, x: u16, y: u16) -> bool {
        self.tile(u32::from(y / TILE) * self.cols + u32::from(x / TILE))
    }
}

/// Most distinct motions looked for in one update.
const MAX_MOTIONS: usize = 4;
/// How far (in pixels, each way) a motion is searched for when the source gave no hint of it.
const MOTION_SEARCH: i32 = 16;
/// Changed blocks sampled to search for a motion.
const MOTION_SAMPLES: usize = 16;

/// Motions worth looking for: the motion that explains the most of a sample of changed blocks
/// nearby, then the distinct offsets of the source's copies. A window dragged beneath
/// another is copied by the source only where it shows both before and after (if at all);
/// the rest it repaints, yet it is the same window, moved the same way.
fn motions(prev: &Framebuffer, next: &Framebuffer, hints: &[Copy], dirty: &Dirty) -> Vec<(i32, i32)> {
    let mut out: Vec<(i32, i32)> = Vec::new();
    let hinted =
        hints.iter().map(|c| (i32::from(c.dst.x) - i32::from(c.src_x), i32::from(c.dst.y) - i32::from(c.src_y)));
    // The searched motion first: it explains the most of what changed, while a hint may be a
    // sliver moved by a step the picture has since gone past.
    for v in search_motion(prev, next, dirty).into_iter().chain(hinted) {
        if v != (0, 0) && !out.contains(&v) && out.len() < MAX_MOTIONS {
            out.push(v);
        }
    }
    out
}

/// The offset within [`MOTION_SEARCH`] under which most of a sample of changed, detailed
/// blocks of `next` are found whole in `prev`; `None` if none is found for two blocks.
fn search_motion(prev: &Framebuffer, next: &Framebuffer, dirty: &Dirty) -> Option<(i32, i32)> {
    let (width, height) = (next.width(), next.height());
    let mut candidates = Vec::new();
    'scan: for y in (0..height.saturating_sub(MOTION_BLOCK - 1)).step_by(usize::from(MOTION_BLOCK)) {
        for x in (0..width.saturating_sub(MOTION_BLOCK - 1)).step_by(usize::from(MOTION_BLOCK)) {
            let block = Rect::new(x, y, MOTION_BLOCK, MOTION_BLOCK);
            if !dirty.at(x, y) {
                continue;
            }
            // A flat block matches anywhere flat: it says nothing about where things went.
            if !prev.same_region(next, block) && !is_flat(next, block) {
                candidates.push(block);
                if candidates.len() == MOTION_SAMPLES * 4 {
                    break 'scan;
                }
            }
        }
    }
    let step = (candidates.len() / MOTION_SAMPLES).max(1);
    let mut votes: HashMap<(i32, i32), usize> = HashMap::new();
    for block in candidates.iter().step_by(step) {
        for dy in -MOTION_SEARCH..=MOTION_SEARCH {
            for dx in -MOTION_SEARCH..=MOTION_SEARCH {
                if (dx, dy) != (0, 0) && moved_by(prev, next, *block, (dx, dy)) {
                    *votes.entry((dx, dy)).or_default() += 1;
                }
            }
        }
    }
    votes.into_iter().filter(|&(_, n)| n >= 2).max_by_key(|&((dx, dy), n)| (n, -(dx.abs() + dy.abs()))).map(|(v, _)| v)
}

/// Edge of the blocks a motion is checked in: a window's content moves in whole blocks, its
/// ragged edges go as tile data.
const MOTION_BLOCK: u16 = 16;

/// Changed blocks of `next` that are blocks of `prev` moved by `(dx, dy)`, as copies: runs of
/// blocks along a band become one copy, and equal runs of successive bands one taller copy.
/// Listed against the motion (the bands and blocks it moves towards first), so no copy reads
/// what an earlier one already wrote.
fn find_moves(prev: &Framebuffer, next: &Framebuffer, (dx, dy): (i32, i32), dirty: &Dirty) -> Vec<Copy> {
    let (width, height) = (next.width(), next.height());
    let mut bands: Vec<u16> = (0..height.div_ceil(MOTION_BLOCK)).collect();
    if dy > 0 {
        bands.reverse();
    }
    let mut copies: Vec<Copy> = Vec::new();
    for band in bands {
        let y = band * MOTION_BLOCK;
        let h = MOTION_BLOCK.min(height - y);
        let mut runs: Vec<Rect> = Vec::new();
        for x in (0..width).step_by(usize::from(MOTION_BLOCK)) {
            let block = Rect::new(x, y, MOTION_BLOCK.min(width - x), h);
            // Unchanged blocks are the most, and the quickest to rule out; a flat block costs
            // less as a fill or tile data (a few bytes, deflated) than as a copy.
            if !dirty.at(x, y)
                || prev.same_region(next, block)
                || is_flat(next, block)
                || !moved_by(prev, next, block, (dx, dy))
            {
                continue;
            }
            match runs.last_mut() {
                Some(run) if run.x + run.w == x => run.w += block.w,
                _ => runs.push(block),
            }
        }
        if dx > 0 {
            runs.reverse();
        }
        for dst in runs {
            let copy = Copy { src_x: (i32::from(dst.x) - dx) as u16, src_y: (i32::from(dst.y) - dy) as u16, dst };
            // The same run one band on (against the motion's rows): one taller copy.
            let last = copies.last_mut().filter(|c| c.dst.x == dst.x && c.dst.w == dst.w);
            match last {
                Some(c) if dy > 0 && dst.y + dst.h == c.dst.y => {
                    c.dst.y = dst.y;
                    c.src_y = copy.src_y;
                    c.dst.h += dst.h;
                }
                Some(c) if dy <= 0 && c.dst.y + c.dst.h == dst.y => c.dst.h += dst.h,
                _ => copies.push(copy),
            }
        }
    }
    copies
}

/// Whether `block` of `next` is the same block of `prev` moved by `(dx, dy)`; false where the
/// source would lie off the frame.
fn moved_by(prev: &Framebuffer, next: &Framebuffer, block: Rect, (dx, dy): (i32, i32)) -> bool {
    let (sx, sy) = (i32::from(block.x) - dx, i32::from(block.y) - dy);
    let (Ok(sx), Ok(sy)) = (u16::try_from(sx), u16::try_from(sy)) else { return false };
    Rect::new(sx, sy, block.w, block.h).fits(prev.width(), prev.height())
        && (0..block.h).all(|r| prev.span(sx, sy + r, block.w) == next.span(block.x, block.y + r, block.w))
}

/// Whether every pixel of `rect` has one colour.
fn is_flat(frame: &Framebuffer, rect: Rect) -> bool {
    let first = frame.span(rect.x, rect.y, 1);
    (rect.y..rect.y + rect.h)
        .all(|y| frame.span(rect.x, y, rect.w).chunks_exact(BYTES_PER_PIXEL).all(|px| px[..3] == first[..3]))
}

/// An update's body before compression: its copies, restores and fills, then the tile data
/// of its parts of tiles.
fn body(frame: &Framebuffer, parts: &Parts) -> Vec<u8> {
    let Parts { copies, restores, fills, tiles } = parts;
    let grid = Grid::of(frame);
    let mut data = Vec::with_capacity(copies.len() * 12 + restores.len() * 8 + fills.len() * 11 + tiles.len() * 64);
    data.put_varint(copies.len() as u32);
    for c in copies {
        for v in [c.src_x, c.src_y, c.dst.x, c.dst.y, c.dst.w, c.dst.h] {
            data.put_u16(v);
        }
    }
    data.put_varint(restores.len() as u32);
    for r in restores {
        for v in [r.x, r.y, r.w, r.h] {
            data.put_u16(v);
        }
    }
    data.put_varint(fills.len() as u32);
    for (r, colour) in fills {
        for v in [r.x, r.y, r.w, r.h] {
            data.put_u16(v);
        }
        data.extend_from_slice(colour);
    }
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
    data
}

/// An update around its compressed body; `restart` is there for stream kinds only.
fn frame_update(kind: u8, restart: Option<bool>, frame: &Framebuffer, packed: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(packed.len() + 16);
    out.put_u8(kind);
    if let Some(restart) = restart {
        out.put_u8(if restart { FLAG_RESTART } else { 0 });
    }
    out.put_u16(frame.width());
    out.put_u16(frame.height());
    out.put_length_prefixed(packed);
    out
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

/// Most parts one tile may be sent in; the decoder refuses more.
const MAX_TILE_PARTS: usize = 8;
/// Pixels a part may grow by, besides the changed row it takes in, rather than be split in
/// two (a part's header and palette cost about this much).
const PART_SLACK: usize = 256;

/// The rectangles of `tile` holding every pixel that differs between the frames, in row
/// order. Each changed row joins the part above it unless that would grow the part by more
/// than [`PART_SLACK`] pixels besides the row: by many unchanged rows between them, or by
/// widening all the rows the part already has. So two typed characters lines apart are two
/// parts, and so is the corner a moved window uncovers, where a thin strip down its side
/// meets a wide one along its edge; a box over both would take in the window's own corner.
/// Rows that only narrow stay in one part: glyph rows of text, whose repeats deflate finds
/// best at one width.
fn changed_parts(prev: &Framebuffer, next: &Framebuffer, tile: Rect) -> Vec<Rect> {
    let mut parts: Vec<Rect> = Vec::new();
    let mut current: Option<Rect> = None;
    for y in tile.y..tile.y + tile.h {
        let Some((left, right)) = changed_span(prev.span(tile.x, y, tile.w), next.span(tile.x, y, tile.w)) else {
            continue;
        };
        let row = Rect::new(tile.x + left, y, right - left + 1, 1);
        if let Some(part) = &mut current {
            let joined = part.union(&row);
            if joined.area() <= part.area() + row.area() + PART_SLACK {
                *part = joined;
                continue;
            }
            parts.push(*part);
        }
        current = Some(row);
    }
    parts.extend(current);
    if parts.len() > MAX_TILE_PARTS {
        let joined = parts.iter().skip(1).fold(parts[0], |all, p| all.union(p));
        parts = vec![joined];
    }
    parts
}

/// The first and last pixel that differ between two rows, if any does.
fn changed_span(a: &[u8], b: &[u8]) -> Option<(u16, u16)> {
    if a == b {
        return None;
    }
    let differs = |i: &usize| a[i * BYTES_PER_PIXEL..][..3] != b[i * BYTES_PER_PIXEL..][..3];
    let pixels = a.len() / BYTES_PER_PIXEL;
    let first = (0..pixels).find(differs)?;
    let last = (first..pixels).rev().find(differs)?;
    Some((first as u16, last as u16))
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

/// Applies one standalone graphics update (kinds 0x10 and 0x11) to `frame`. On error `frame`
/// is unchanged.
pub fn apply(frame: &mut Framebuffer, update: &[u8]) -> Result<GraphicsDamage, DecodeError> {
    let header = Header::read(frame, update)?;
    if header.restart.is_some() {
        return Err(DecodeError::Invalid { field: "graphics update kind", reason: "a stream update needs its stream" });
    }
    let data = decompress_to_vec_with_limit(header.packed, header.limit)
        .map_err(|_| DecodeError::Invalid { field: "tile data", reason: "bad deflate stream or too large" })?;
    apply_tiles(frame, &header, &data, None)
}

/// A viewer's end of the host's graphics stream: takes every graphics update, standalone or
/// streamed, in the order the controller sent them.
pub struct StreamDecoder {
    inflater: Inflater,
    /// Whether the stream is followed from a restart and nothing has gone wrong since.
    following: bool,
    data: Vec<u8>,
    /// What moved content covers, kept as the encoder keeps it; starts over with the stream.
    under: Option<Underlay>,
}

impl Default for StreamDecoder {
    fn default() -> Self {
        Self { inflater: Inflater::raw(), following: false, data: Vec::new(), under: None }
    }
}

impl StreamDecoder {
    /// Applies the next update to `frame`. On error `frame` is unchanged; a stream that could
    /// not be followed stays refused until it restarts.
    pub fn apply(&mut self, frame: &mut Framebuffer, update: &[u8]) -> Result<GraphicsDamage, DecodeError> {
        let header = Header::read(frame, update)?;
        let Some(restart) = header.restart else { return apply(frame, update) };
        if restart {
            self.inflater.reset();
            self.following = true;
            self.under = None;
        }
        if !self.following {
            return Err(DecodeError::Invalid { field: "graphics stream", reason: "not followed from its start" });
        }
        if self.inflater.piece(header.packed, &mut self.data, header.limit).is_err() {
            self.following = false;
            return Err(DecodeError::Invalid { field: "tile data", reason: "bad deflate stream or too large" });
        }
        let under = match &mut self.under {
            Some(under) if under.fits(frame) => under,
            slot => slot.insert(Underlay::of(frame)),
        };
        apply_tiles(frame, &header, &self.data, Some(under))
    }
}

/// An update's fields before its tile data.
struct Header<'a> {
    full: bool,
    /// For stream kinds: whether the stream restarts here.
    restart: Option<bool>,
    width: u16,
    height: u16,
    packed: &'a [u8],
    /// Most bytes the tile data may inflate to.
    limit: usize,
}

impl<'a> Header<'a> {
    fn read(frame: &Framebuffer, update: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(update);
        let kind = r.u8("graphics update kind")?;
        let (full, streamed) = match kind {
            KIND_FULL => (true, false),
            KIND_DELTA => (false, false),
            KIND_STREAM_FULL => (true, true),
            KIND_STREAM_DELTA => (false, true),
            other => return Err(DecodeError::Unknown { field: "graphics update kind", value: other }),
        };
        let restart = match streamed {
            true => match r.u8("stream flags")? {
                0 => Some(false),
                FLAG_RESTART => Some(true),
                other => return Err(DecodeError::Unknown { field: "stream flags", value: other }),
            },
            false => None,
        };
        let width = r.u16("frame width")?;
        let height = r.u16("frame height")?;
        check_size(width, height).map_err(|_| DecodeError::Invalid { field: "frame size", reason: "out of range" })?;
        if !full && (frame.width() != width || frame.height() != height) {
            return Err(DecodeError::Invalid { field: "frame size", reason: "delta for another frame size" });
        }
        let grid = Grid::sized(width, height);
        // A tile's body is never larger than its raw form plus a full palette; a fill comes
        // from a tile at most.
        let tiles = grid.count() as usize * (usize::from(TILE) * usize::from(TILE) * 3 + 1024 + 11);
        let limit = tiles + MAX_COPIES * 12 + 16;
        let packed = r.length_prefixed(limit, "update body")?;
        r.finish("graphics update")?;
        Ok(Self { full, restart, width, height, packed, limit })
    }
}

/// Validates the inflated body of an update, then applies the update to `frame`.
/// Applies an update's inflated body; `under` for stream updates (standalone ones may not
/// restore).
fn apply_tiles(
    frame: &mut Framebuffer,
    header: &Header<'_>,
    data: &[u8],
    mut under: Option<&mut Underlay>,
) -> Result<GraphicsDamage, DecodeError> {
    let Header { full, width, height, .. } = *header;
    let grid = Grid::sized(width, height);
    let mut t = Reader::new(data);
    let copy_count = t.varint("copy count")? as usize;
    if copy_count > MAX_COPIES {
        return Err(DecodeError::TooLong { field: "copies", max: MAX_COPIES });
    }
    let mut copies = Vec::with_capacity(copy_count);
    for _ in 0..copy_count {
        let (src_x, src_y) = (t.u16("copy src x")?, t.u16("copy src y")?);
        let dst = Rect::new(t.u16("copy dst x")?, t.u16("copy dst y")?, t.u16("copy w")?, t.u16("copy h")?);
        let src = Rect::new(src_x, src_y, dst.w, dst.h);
        if !dst.fits(width, height) || !src.fits(width, height) {
            return Err(DecodeError::Invalid { field: "copy", reason: "outside the frame" });
        }
        copies.push(Copy { src_x, src_y, dst });
    }
    let restore_count = t.varint("restore count")?;
    if restore_count > 0 && under.is_none() {
        return Err(DecodeError::Invalid { field: "restore count", reason: "restores need the stream" });
    }
    if restore_count as usize > grid.count() as usize * MAX_TILE_PARTS {
        return Err(DecodeError::Invalid {
            field: "restore count",
            reason: "more restores than the frame's tiles take",
        });
    }
    let mut restores = Vec::with_capacity(restore_count as usize);
    for _ in 0..restore_count {
        let rect = Rect::new(t.u16("restore x")?, t.u16("restore y")?, t.u16("restore w")?, t.u16("restore h")?);
        if !rect.fits(width, height) {
            return Err(DecodeError::Invalid { field: "restore", reason: "outside the frame" });
        }
        restores.push(rect);
    }
    // Fills, like restores, are parts of tiles (joined where they continue each other).
    let fill_count = t.varint("fill count")?;
    if fill_count as usize > grid.count() as usize * MAX_TILE_PARTS {
        return Err(DecodeError::Invalid { field: "fill count", reason: "more fills than the frame's tiles take" });
    }
    let mut fills = Vec::with_capacity(fill_count as usize);
    for _ in 0..fill_count {
        let rect = Rect::new(t.u16("fill x")?, t.u16("fill y")?, t.u16("fill w")?, t.u16("fill h")?);
        if !rect.fits(width, height) {
            return Err(DecodeError::Invalid { field: "fill", reason: "outside the frame" });
        }
        fills.push((rect, t.array::<3>("fill colour")?));
    }
    let count = t.varint("tile count")?;
    if count as usize > grid.count() as usize * MAX_TILE_PARTS {
        return Err(DecodeError::Invalid { field: "tile count", reason: "more parts than the frame's tiles take" });
    }
    let mut tiles = Vec::with_capacity(count as usize);
    let mut last: Option<(u32, usize)> = None;
    for _ in 0..count {
        let index = t.varint("tile index")?;
        let parts = match last {
            Some((previous, n)) if previous == index => n + 1,
            Some((previous, _)) if previous > index => 0,
            _ => 1,
        };
        // A full update has each tile once, so its count says it covers the frame.
        let most = if full { 1 } else { MAX_TILE_PARTS };
        if parts == 0 || parts > most || index >= grid.count() {
            return Err(DecodeError::Invalid { field: "tile index", reason: "out of order or outside the frame" });
        }
        last = Some((index, parts));
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
        if let Some(under) = under.as_deref_mut() {
            *under = Underlay::of(frame);
        }
    }
    for c in &copies {
        apply_copy(frame, under.as_deref_mut(), c);
    }
    let mut rects = Vec::with_capacity(restores.len() + fills.len() + tiles.len());
    if let Some(under) = under.as_deref_mut() {
        for &rect in &restores {
            under.restore(frame, rect);
            rects.push(rect);
        }
    }
    for (rect, colour) in fills {
        frame.fill(rect, colour);
        rects.push(rect);
    }
    for (rect, body) in tiles {
        paint_tile(frame, rect, &body);
        rects.push(rect);
    }
    if let Some(under) = under {
        for rect in &rects[restores.len()..] {
            under.settle(*rect);
        }
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
            let colours = rgba_palette(palette);
            let row_len = packed_row_len(rect.w, *bits);
            let bits = usize::from(*bits);
            let per_byte = 8 / bits;
            let mask = u8::MAX >> (8 - bits);
            for (row, y) in indices.chunks_exact(row_len).zip(rect.y..rect.y + rect.h) {
                let out = frame.span_mut(rect.x, y, rect.w).chunks_exact_mut(BYTES_PER_PIXEL);
                let mut pixels =
                    row.iter().flat_map(|&byte| (0..per_byte).map(move |k| (byte >> (8 - bits * (k + 1))) & mask));
                for (out, index) in out.zip(&mut pixels) {
                    out.copy_from_slice(&colours[usize::from(index)]);
                }
            }
        }
        TileBody::Runs { palette, runs } => {
            let colours = rgba_palette(palette);
            let (mut x, mut y) = (0u16, rect.y);
            for &(index, len) in runs {
                let colour = colours[usize::from(index)];
                let mut left = len as usize;
                // A run goes on from one row of the part to the next.
                while left > 0 {
                    let take = left.min(usize::from(rect.w - x));
                    for out in frame.span_mut(rect.x + x, y, take as u16).chunks_exact_mut(BYTES_PER_PIXEL) {
                        out.copy_from_slice(&colour);
                    }
                    left -= take;
                    x += take as u16;
                    if x == rect.w {
                        (x, y) = (0, y + 1);
                    }
                }
            }
        }
    }
}

/// A palette's colours as pixels, alpha included, for copying whole.
fn rgba_palette(palette: &[u8]) -> Vec<[u8; BYTES_PER_PIXEL]> {
    palette.chunks_exact(3).map(|c| [c[0], c[1], c[2], 255]).collect()
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

    /// A desktop: a text window at `at` beneath a plain window that stays put.
    fn desktop_with_window_at(at: (u16, u16), seed: u32) -> Framebuffer {
        let mut f = Framebuffer::new(640, 400).unwrap();
        f.fill(f.bounds(), [0x30, 0x50, 0x70]);
        for y in 0..250u16 {
            for x in 0..300u16 {
                let (cx, cy) = (u32::from(x / 6), u32::from(y / 13));
                // A "glyph" per 6x13 cell: bits of a hash of the cell, so no two lines repeat.
                let glyph =
                    (cx.wrapping_mul(2_654_435_761) ^ cy.wrapping_mul(40_503) ^ seed).wrapping_mul(2_246_822_519);
                let bit = u32::from(x % 6) + 5 * u32::from(y % 13);
                let ink = x % 6 < 5 && y % 13 < 10 && (glyph >> (bit % 31)) & 1 == 1;
                let px = if ink { [0, 0, 0] } else { [255, 255, 255] };
                f.span_mut(at.0 + x, at.1 + y, 1)[..3].copy_from_slice(&px);
            }
        }
        f.fill(Rect::new(200, 100, 250, 250), [0xc0, 0xc0, 0xc0]);
        f
    }

    #[test]
    fn a_window_dragged_beneath_another_goes_as_copies_found_by_search_or_by_the_hint() {
        let (a, b) = (desktop_with_window_at((20, 20), 0), desktop_with_window_at((28, 24), 0));
        // What the same change costs when nothing moved: new text in the window's new place.
        let repainted = encode_delta(&mut a.clone(), &desktop_with_window_at((28, 24), 1), &[]).unwrap();
        // All the source copied: one row of the window that showed before and after.
        let sliver = Copy { src_x: 20, src_y: 30, dst: Rect::new(28, 34, 170, 1) };
        for hints in [vec![], vec![sliver]] {
            let mut prev = a.clone();
            let update = encode_delta(&mut prev, &b, &hints).unwrap();
            let mut view = a.clone();
            let damage = apply(&mut view, &update).unwrap();
            assert_eq!(view, b);
            assert_eq!(prev, b);
            let copied: usize = damage.copies.iter().map(|c| c.dst.area()).sum();
            assert!(copied > 300 * 250 / 2, "most of the window is copied: {:?}", damage.copies);
            assert!(update.len() * 4 < repainted.len(), "{} B moved, {} B repainted", update.len(), repainted.len());
        }
        // Up and to the left, the other way round, beyond the search: the hint finds it.
        let far = desktop_with_window_at((60, 50), 0);
        let back = Copy { src_x: 60, src_y: 60, dst: Rect::new(20, 30, 170, 1) };
        let mut prev = far.clone();
        let update = encode_delta(&mut prev, &a, &[back]).unwrap();
        let mut view = far;
        apply(&mut view, &update).unwrap();
        assert_eq!(view, a);
        // Text that was beneath the other window shows now and is sent; the rest is copied.
        assert!(update.len() * 3 < repainted.len(), "{} B moved, {} B repainted", update.len(), repainted.len());
    }

    #[test]
    fn the_stream_compares_only_what_the_source_reported_and_refers_back_to_earlier_updates() {
        let a = sample(640, 256, 5);
        let mut encoder = StreamEncoder::new(Encoder::default());
        let (mut prev, mut view, mut decoder) = (a.clone(), a.clone(), StreamDecoder::default());
        let mut next = a.clone();
        next.fill(Rect::new(10, 10, 8, 8), [1, 2, 3]);
        next.fill(Rect::new(300, 200, 8, 8), [4, 5, 6]);
        let reported = [Rect::new(10, 10, 8, 8)];
        let update = encoder.delta(&mut prev, &next, &[], Some(&reported)).unwrap();
        assert_eq!(update[1], FLAG_RESTART, "the first update of a stream restarts it");
        let damage = decoder.apply(&mut view, &update).unwrap();
        assert_eq!(damage.rects, vec![Rect::new(10, 10, 8, 8)], "the unreported change is not looked at");
        assert_eq!(view, prev, "the encoder holds what the viewer holds");

        // The same "glyphs" again elsewhere: the second piece refers back to the first.
        let glyphs = sample(64, 64, 9);
        let mut sizes = Vec::new();
        for x in [0u16, 128] {
            for y in 0..64 {
                next.span_mut(x, y, 64).copy_from_slice(glyphs.span(0, y, 64));
            }
            let update = encoder.delta(&mut prev, &next, &[], None).unwrap();
            assert_eq!(update[1], 0, "the stream goes on");
            decoder.apply(&mut view, &update).unwrap();
            assert_eq!(view, next);
            sizes.push(update.len());
        }
        assert!(sizes[1] * 4 < sizes[0], "{sizes:?}");
        // A decoder that joins mid-stream refuses it until the next restart.
        let mut late = StreamDecoder::default();
        next.fill(Rect::new(0, 0, 4, 4), [9, 9, 9]);
        let update = encoder.delta(&mut prev, &next, &[], None).unwrap();
        let mut late_view = view.clone();
        assert!(late.apply(&mut late_view, &update).is_err());
        assert_eq!(late_view, view, "and leaves its frame alone");
        encoder.restart();
        next.fill(Rect::new(0, 0, 4, 4), [8, 8, 8]);
        let update = encoder.delta(&mut prev, &next, &[], None).unwrap();
        late.apply(&mut late_view, &update).unwrap();
        decoder.apply(&mut view, &update).unwrap();
        assert_eq!(late_view, view);
    }

    #[test]
    fn a_window_dragged_over_text_puts_back_what_it_uncovers_once_it_has_been_seen() {
        // A desktop of "text" with a window on top, dragged left 4 pixels a step; the source
        // says so with a copy, and repaints the strip the window uncovers.
        let desktop = sample(320, 192, 11);
        let window = sample(48, 64, 12);
        let at = |step: u16| {
            let mut f = desktop.clone();
            for y in 0..64 {
                f.span_mut(200 - 4 * step, 100 + y, 48).copy_from_slice(window.span(0, y, 48));
            }
            f
        };
        let mut encoder = StreamEncoder::new(Encoder::default());
        let (mut prev, mut decoder) = (at(0), StreamDecoder::default());
        let mut view = Framebuffer::new(1, 1).unwrap();
        decoder.apply(&mut view, &encoder.full(&prev)).unwrap();
        let mut sizes = Vec::new();
        for step in 1..=24u16 {
            let next = at(step);
            let x = 200 - 4 * step;
            let hint = Copy { src_x: x + 4, src_y: 100, dst: Rect::new(x, 100, 48, 64) };
            let update = encoder.delta(&mut prev, &next, &[hint], Some(&[Rect::new(x + 48, 100, 4, 64)])).unwrap();
            decoder.apply(&mut view, &update).unwrap();
            assert_eq!(view, next, "step {step}");
            sizes.push(update.len());
        }
        // For 12 steps the window uncovers what lay beneath where it was first drawn, which
        // no viewer has seen; after that, only what it covered on its way.
        let (unseen, seen) = (sizes[..12].iter().sum::<usize>(), sizes[12..].iter().sum::<usize>());
        assert!(seen * 3 < unseen, "{sizes:?}");
    }

    #[test]
    fn one_coloured_strips_across_tiles_go_as_one_fill_each() {
        let a = sample(320, 240, 6);
        let mut b = a.clone();
        // What a window moved right and down uncovers: an L of desktop colour over five tiles.
        b.fill(Rect::new(30, 10, 4, 200), [0x30, 0x50, 0x70]);
        b.fill(Rect::new(34, 10, 250, 2), [0x30, 0x50, 0x70]);
        let mut view = a.clone();
        let damage = apply(&mut view, &encode_delta(&mut a.clone(), &b, &[]).unwrap()).unwrap();
        assert_eq!(view, b);
        // Beyond the corner's tile (sent as a tile part: its changed box is not one colour),
        // four parts along the top and three down the side: one fill each way.
        assert_eq!(damage.rects.len(), 3, "{:?}", damage.rects);
        assert!(damage.rects.contains(&Rect::new(64, 10, 220, 2)), "{:?}", damage.rects);
        assert!(damage.rects.contains(&Rect::new(30, 64, 4, 146)), "{:?}", damage.rects);
    }

    #[test]
    fn one_tile_may_hold_more_fills_than_the_frame_has_tiles() {
        // Three one-colour rows far apart in a one-tile frame: three parts, three fills.
        let a = sample(64, 64, 13);
        let mut b = a.clone();
        for (y, colour) in [(0, [1, 1, 1]), (20, [2, 2, 2]), (40, [3, 3, 3])] {
            b.fill(Rect::new(0, y, 64, 1), colour);
        }
        let mut prev = a.clone();
        let update = encode_delta(&mut prev, &b, &[]).unwrap();
        let mut view = a.clone();
        let damage = apply(&mut view, &update).unwrap();
        assert_eq!(view, b);
        assert_eq!(damage.rects.len(), 3);
    }

    #[test]
    fn a_flood_of_source_copies_is_cut_to_what_a_decoder_takes() {
        let a = sample(320, 240, 4);
        let mut b = a.clone();
        // Each 2x1 strip of the left half moved one pixel right: 6,000 true copies.
        let mut hints = Vec::new();
        for y in 0..240u16 {
            for x in (0..150u16).step_by(6) {
                b.copy_within(x, y, Rect::new(x + 1, y, 2, 1));
                hints.push(Copy { src_x: x, src_y: y, dst: Rect::new(x + 1, y, 2, 1) });
            }
        }
        assert!(hints.len() > MAX_COPIES);
        let mut prev = a.clone();
        let update = encode_delta(&mut prev, &b, &hints).unwrap();
        let mut view = a;
        let damage = apply(&mut view, &update).unwrap();
        assert_eq!(damage.copies.len(), MAX_COPIES);
        assert_eq!(view, b);
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
        assert!(!damage.copies.contains(&bogus));
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
        // A copy, a restore and a fill that reach past the frame's right edge (the restore
        // in a stream: a standalone update may not restore at all).
        let u16s = |values: &[u16]| values.iter().flat_map(|v| v.to_be_bytes()).collect::<Vec<u8>>();
        let bad_copy = [&[1][..], &u16s(&[0, 0, 90, 0, 20, 10]), &[0, 0, 0]].concat();
        let bad_restore = [&[0, 1][..], &u16s(&[90, 0, 20, 10]), &[0, 0]].concat();
        let good_restore = [&[0, 1][..], &u16s(&[80, 0, 20, 10]), &[0, 0]].concat();
        let bad_fill = [&[0, 0, 1][..], &u16s(&[90, 0, 20, 10]), &[1, 2, 3, 0]].concat();
        let standalone = |body: &[u8]| {
            let mut update = vec![KIND_DELTA, 0, 100, 0, 70];
            update.put_length_prefixed(&miniz_oxide::deflate::compress_to_vec(body, 1));
            update
        };
        let streamed = |body: &[u8]| {
            let mut update = vec![KIND_STREAM_DELTA, FLAG_RESTART, 0, 100, 0, 70];
            update.put_length_prefixed(&Deflater::new(1).piece(body));
            update
        };
        for (update, field) in [
            (standalone(&bad_copy), "copy"),
            (standalone(&good_restore), "restore count"),
            (streamed(&bad_restore), "restore"),
            (standalone(&bad_fill), "fill"),
        ] {
            let err = StreamDecoder::default().apply(&mut view, &update).unwrap_err();
            assert!(err.to_string().contains(field), "{err}");
        }
        assert_eq!(view, a);
        assert!(StreamDecoder::default().apply(&mut view, &streamed(&good_restore)).is_ok(), "in a stream");
    }

    #[test]
    fn malformed_tile_data_is_refused() {
        // A body with no copies, restores or fills, then `data` as its tiles.
        let deflated = |data: &[u8]| {
            let mut out = vec![KIND_DELTA, 0, 64, 0, 64];
            out.put_length_prefixed(&miniz_oxide::deflate::compress_to_vec(&[&[0, 0, 0], data].concat(), 1));
            out
        };
        let mut view = Framebuffer::new(64, 64).unwrap();
        // Each tile: index, then its part (x, y, w - 1, h - 1), here the whole 64x64 tile.
        let part = [0u8, 0, 0, 63, 63, 0, 1, 2, 3]; // tile 0, whole, solid
        let parts = |n: usize| [&[n as u8][..], &part.repeat(n)].concat();
        let too_many_parts = parts(MAX_TILE_PARTS + 1);
        let cases: [&[u8]; 7] = [
            &[1, 0, 0, 0, 63, 63, 9],                      // unknown tile type
            &[1, 5, 0, 0, 63, 63, 0, 1, 2, 3],             // index outside the frame
            &too_many_parts,                               // one tile in too many parts
            &[1, 0, 0, 0, 63, 63, 2, 0, 0, 0, 0, 1, 1, 5], // runs past the palette
            &[1, 0, 0, 0, 63, 63, 2, 0, 0, 0, 0, 1, 0, 5], // runs short of the part
            &[1, 0, 0, 0, 63, 63, 0, 1, 2, 3, 99],         // trailing bytes
            &[1, 0, 10, 10, 60, 3, 0, 1, 2, 3],            // part outside its tile
        ];
        for case in cases {
            assert!(apply(&mut view, &deflated(case)).is_err(), "{case:?}");
        }
        assert_eq!(view, Framebuffer::new(64, 64).unwrap());
        assert!(apply(&mut view, &deflated(&[0])).is_ok(), "the same framing with no tiles is fine");
        assert!(apply(&mut view, &deflated(&parts(MAX_TILE_PARTS))).is_ok(), "a tile in several parts is fine");
        assert_eq!(view.pixel(10, 10), [1, 2, 3, 255]);

        // Tiles out of order, and a full update that names one tile twice (and so misses one).
        let mut two_tiles = Framebuffer::new(128, 64).unwrap();
        let mut update = vec![KIND_DELTA, 0, 128, 0, 64];
        let backwards = [&[0, 0, 0, 2][..], &[1, 0, 0, 63, 63, 0, 1, 2, 3], &part].concat();
        update.put_length_prefixed(&miniz_oxide::deflate::compress_to_vec(&backwards, 1));
        assert!(apply(&mut two_tiles, &update).is_err(), "tiles out of order");
        let mut update = vec![KIND_FULL, 0, 128, 0, 64];
        update.put_length_prefixed(&miniz_oxide::deflate::compress_to_vec(&[&[0, 0, 0], &parts(2)[..]].concat(), 1));
        assert!(apply(&mut two_tiles, &update).is_err(), "a full update with a tile twice");
        assert_eq!(two_tiles, Framebuffer::new(128, 64).unwrap());
    }

    #[test]
    fn the_corner_a_moved_window_uncovers_goes_as_thin_parts_not_a_box_over_the_window() {
        let pattern = |f: &mut Framebuffer, r: Rect, seed: u16| {
            for y in r.y..r.y + r.h {
                for x in r.x..r.x + r.w {
                    let on = (x / 3 + y / 5 + seed).is_multiple_of(4);
                    let px = if on { [255, 255, 255] } else { [seed as u8, 0, 0] };
                    f.span_mut(x, y, 1)[..3].copy_from_slice(&px);
                }
            }
        };
        let mut a = Framebuffer::new(256, 192).unwrap();
        let all = a.bounds();
        pattern(&mut a, all, 0);
        let mut b = a.clone();
        pattern(&mut a, Rect::new(6, 4, 150, 120), 1);
        // The window moved up and left by (4, 2), as the source's copy says: it uncovers a
        // thin strip down its right side, then a wide one along its bottom edge.
        for y in 0..120 {
            b.span_mut(2, 2 + y, 150).copy_from_slice(a.span(6, 4 + y, 150));
        }
        let mut moved = a.clone();
        moved.copy_within(6, 4, Rect::new(2, 2, 150, 120));
        let uncovered = (0..b.height())
            .flat_map(|y| (0..b.width()).map(move |x| (x, y)))
            .filter(|&(x, y)| moved.pixel(x, y) != b.pixel(x, y))
            .count();
        let hint = Copy { src_x: 6, src_y: 4, dst: Rect::new(2, 2, 150, 120) };
        let mut prev = a.clone();
        let update = encode_delta(&mut prev, &b, &[hint]).unwrap();
        let mut view = a.clone();
        let damage = apply(&mut view, &update).unwrap();
        assert_eq!(view, b);
        assert_eq!(damage.copies, [hint]);
        let sent: usize = damage.rects.iter().map(Rect::area).sum();
        // A box per tile would take in 24x58 pixels of the window's corner.
        let corner = 24 * 58;
        assert!(sent < uncovered + corner / 2, "{sent} pixels sent for {uncovered} uncovered: {:?}", damage.rects);
    }
}
