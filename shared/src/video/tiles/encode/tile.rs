//! One part of a tile in its cheapest form: one colour, a palette with packed indices, a
//! palette with runs, or raw RGB.

use std::collections::HashMap;

use crate::video::frame::{Framebuffer, Rect, BYTES_PER_PIXEL};
use crate::video::tiles::format::{index_bits, packed_row_len, TYPE_PACKED, TYPE_RAW, TYPE_RUNS, TYPE_SOLID};
use crate::wire::codec::Writer;

/// Writes one tile in its cheapest form.
pub(crate) fn encode_tile(frame: &Framebuffer, rect: Rect, out: &mut Vec<u8>) {
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

fn varint_len(v: u32) -> usize {
    match v {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        _ => 4,
    }
}
