//! Round trips and the encoder's choices, decoded by the viewer's end.

use super::decode::apply;
use super::encode::tile::encode_tile;
use super::encode::*;
use super::format::*;
use super::*;
use crate::video::zstream::Deflater;
use crate::wire::codec::Writer;

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
            let glyph = (cx.wrapping_mul(2_654_435_761) ^ cy.wrapping_mul(40_503) ^ seed).wrapping_mul(2_246_822_519);
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
