//! Windows the source repainted because they were dragged beneath another: the motion that
//! explains most of a sample of changed blocks, and the blocks it moved, as copies.

use std::collections::HashMap;

use super::diff::{is_flat, Dirty};
use crate::video::frame::{Framebuffer, Rect};
use crate::video::tiles::Copy;

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
pub(super) fn motions(prev: &Framebuffer, next: &Framebuffer, hints: &[Copy], dirty: &Dirty) -> Vec<(i32, i32)> {
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
pub(super) fn find_moves(prev: &Framebuffer, next: &Framebuffer, (dx, dy): (i32, i32), dirty: &Dirty) -> Vec<Copy> {
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
