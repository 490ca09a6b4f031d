//! An update's body (copies, restores, fills, then tile data) and the header around it.

use super::diff::Parts;
use super::tile::encode_tile;
use crate::video::frame::Framebuffer;
use crate::video::tiles::format::{Grid, FLAG_RESTART};
use crate::wire::codec::Writer;

/// An update's body before compression: its copies, restores and fills, then the tile data
/// of its parts of tiles.
pub(super) fn body(frame: &Framebuffer, parts: &Parts) -> Vec<u8> {
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
pub(super) fn frame_update(kind: u8, restart: Option<bool>, frame: &Framebuffer, packed: &[u8]) -> Vec<u8> {
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
