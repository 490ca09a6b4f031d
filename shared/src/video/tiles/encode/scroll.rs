//! Scrolls: a source's copy is kept when it pays off, and a vertical scroll of the whole width
//! is found by row hashes when the source sent none.

use std::collections::HashMap;

use crate::video::frame::{Framebuffer, Rect};
use crate::video::tiles::Copy;

/// Fewest rows a scroll must keep in place before it is sent as a copy.
pub(super) const MIN_SCROLL_ROWS: usize = 16;

/// A copy is worth sending when most of its destination rows arrive already in place.
pub(super) fn copy_pays_off(prev: &Framebuffer, next: &Framebuffer, c: &Copy) -> bool {
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
pub(super) fn find_scroll(prev: &Framebuffer, next: &Framebuffer) -> Option<Copy> {
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
