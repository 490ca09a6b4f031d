//! The viewer's end: standalone updates and the host's stream, each validated whole before
//! the frame changes.

use miniz_oxide::inflate::decompress_to_vec_with_limit;

use super::format::{
    index_bits, packed_row_len, Grid, FLAG_RESTART, KIND_DELTA, KIND_FULL, KIND_STREAM_DELTA, KIND_STREAM_FULL,
    MAX_COPIES, MAX_TILE_PARTS, TILE, TYPE_PACKED, TYPE_RAW, TYPE_RUNS, TYPE_SOLID,
};
use super::{apply_copy, Copy, GraphicsDamage};
use crate::video::frame::{check_size, Framebuffer, Rect, BYTES_PER_PIXEL};
use crate::video::underlay::Underlay;
use crate::video::zstream::Inflater;
use crate::wire::codec::Reader;
use crate::wire::DecodeError;

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
