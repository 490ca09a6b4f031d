//! What changed from the viewers' frame to the source's: copies that pay off, moved blocks,
//! then the changed parts of each tile, with strips of one colour and what moved content
//! covered taken out as fills and restores.

use super::motion::{find_moves, motions};
use super::scroll::{copy_pays_off, find_scroll, MIN_SCROLL_ROWS};
use crate::video::frame::{Framebuffer, Rect, BYTES_PER_PIXEL};
use crate::video::tiles::format::{Grid, MAX_COPIES, MAX_TILE_PARTS, TILE};
use crate::video::tiles::{apply_copy, Copy};
use crate::video::underlay::Underlay;

/// What changed between two frames.
pub(super) enum Change {
    /// A new size: everything.
    Resized,
    Parts(Parts),
}

/// An update's changes, in the order a decoder makes them.
#[derive(Default)]
pub(super) struct Parts {
    /// Regions moved.
    pub(super) copies: Vec<Copy>,
    /// Rectangles put back from what moved content covered (streams only).
    pub(super) restores: Vec<Rect>,
    /// Rectangles of one colour.
    pub(super) fills: Vec<Fill>,
    /// Parts of tiles sent as pixels, in tile order.
    pub(super) tiles: Vec<Rect>,
}

impl Parts {
    /// Every tile of the frame, whole.
    pub(super) fn whole(frame: &Framebuffer) -> Self {
        let grid = Grid::of(frame);
        Self { tiles: (0..grid.count()).map(|i| grid.rect(i)).collect(), ..Self::default() }
    }
}

/// Works out what changed from `prev` (what the viewers hold) to `next` and brings `prev` up
/// to `next`; `None` when nothing did. Only tiles the source `reported` or copied to are looked
/// at, when it says.
pub(super) fn diff(
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
pub(super) type Fill = (Rect, [u8; 3]);

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
pub(super) struct Dirty {
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

    pub(super) fn tile(&self, index: u32) -> bool {
        self.tiles.as_ref().is_none_or(|t| t[index as usize])
    }

    /// Whether the tile holding pixel (x, y) may differ.
    pub(super) fn at(&self, x: u16, y: u16) -> bool {
        self.tile(u32::from(y / TILE) * self.cols + u32::from(x / TILE))
    }
}

/// Whether every pixel of `rect` has one colour.
pub(super) fn is_flat(frame: &Framebuffer, rect: Rect) -> bool {
    let first = frame.span(rect.x, rect.y, 1);
    (rect.y..rect.y + rect.h)
        .all(|y| frame.span(rect.x, y, rect.w).chunks_exact(BYTES_PER_PIXEL).all(|px| px[..3] == first[..3]))
}

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
