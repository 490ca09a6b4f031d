//! Rectangle decoders that need more than a copy: Hextile and ZRLE (RFC 6143, 7.7.4 and 7.7.6),
//! for the client's pixel format (32 bits, R G B x in memory, so a compressed pixel is R G B).

use shared::video::frame::{Framebuffer, Rect, BYTES_PER_PIXEL};
use shared::video::zstream::{InflateError, Inflater};

use crate::{Error, Result};

pub const HEXTILE: u16 = 16;
const ZRLE_TILE: u16 = 64;

const HEX_RAW: u8 = 1;
const HEX_BACKGROUND: u8 = 2;
const HEX_FOREGROUND: u8 = 4;
const HEX_ANY_SUBRECTS: u8 = 8;
const HEX_SUBRECTS_COLOURED: u8 = 16;

/// The length of the Hextile tile at the start of `data`, or `None` if it is not all there.
pub fn hextile_tile_len(data: &[u8], tile: Rect) -> Result<Option<usize>> {
    let Some(&flags) = data.first() else { return Ok(None) };
    if flags & 0xe0 != 0 {
        return Err(Error::Invalid("hextile subencoding"));
    }
    if flags & HEX_RAW != 0 {
        return Ok(Some(1 + tile.area() * BYTES_PER_PIXEL));
    }
    let mut len = 1;
    if flags & HEX_BACKGROUND != 0 {
        len += 4;
    }
    if flags & HEX_FOREGROUND != 0 {
        len += 4;
    }
    if flags & HEX_ANY_SUBRECTS != 0 {
        let Some(&count) = data.get(len) else { return Ok(None) };
        let each = if flags & HEX_SUBRECTS_COLOURED != 0 { 6 } else { 2 };
        len += 1 + usize::from(count) * each;
    }
    Ok((data.len() >= len).then_some(len))
}

/// Paints one whole Hextile tile (`data` is exactly its bytes). `bg` and `fg` carry over
/// from tile to tile, as the encoding says.
pub fn paint_hextile_tile(
    data: &[u8],
    tile: Rect,
    frame: &mut Framebuffer,
    bg: &mut [u8; 4],
    fg: &mut [u8; 4],
) -> Result<()> {
    let flags = data[0];
    let mut rest = &data[1..];
    if flags & HEX_RAW != 0 {
        let row_len = usize::from(tile.w) * BYTES_PER_PIXEL;
        for (r, src) in rest.chunks_exact(row_len.max(1)).take(usize::from(tile.h)).enumerate() {
            put_row(frame, tile.x, tile.y + r as u16, src);
        }
        return Ok(());
    }
    let mut take = |n: usize| {
        let (head, tail) = rest.split_at(n);
        rest = tail;
        head
    };
    if flags & HEX_BACKGROUND != 0 {
        *bg = opaque(take(4));
    }
    if flags & HEX_FOREGROUND != 0 {
        *fg = opaque(take(4));
    }
    fill(frame, tile, *bg);
    if flags & HEX_ANY_SUBRECTS != 0 {
        let count = take(1)[0];
        for _ in 0..count {
            let colour = if flags & HEX_SUBRECTS_COLOURED != 0 { opaque(take(4)) } else { *fg };
            let xy = take(1)[0];
            let wh = take(1)[0];
            let sub = Rect::new(
                tile.x + u16::from(xy >> 4),
                tile.y + u16::from(xy & 15),
                u16::from(wh >> 4) + 1,
                u16::from(wh & 15) + 1,
            );
            if sub.x + sub.w > tile.x + tile.w || sub.y + sub.h > tile.y + tile.h {
                return Err(Error::Invalid("hextile subrectangle outside its tile"));
            }
            fill(frame, sub, colour);
        }
    }
    Ok(())
}

/// ZRLE keeps one zlib stream for the whole connection.
pub struct Zrle {
    inflater: Inflater,
    scratch: Vec<u8>,
}

impl Zrle {
    pub fn new() -> Self {
        Self { inflater: Inflater::zlib(), scratch: Vec::new() }
    }

    /// Decodes one ZRLE rectangle from its compressed bytes.
    pub fn decode(&mut self, compressed: &[u8], frame: &mut Framebuffer, rect: Rect) -> Result<()> {
        // Worst case per pixel: a one-pixel run in plain RLE is 4 bytes; plus tile headers.
        let limit = rect.area() * 4 + 4096 + usize::from(rect.w.div_ceil(64)) * usize::from(rect.h.div_ceil(64)) * 2048;
        self.scratch.clear();
        self.inflater.feed(compressed, &mut self.scratch, limit).map_err(|e| match e {
            InflateError::TooLarge => Error::Invalid("ZRLE data inflates past its rectangle"),
            InflateError::Corrupt => Error::Invalid("ZRLE zlib stream"),
        })?;
        let mut data = ZrleData { bytes: &self.scratch, pos: 0 };
        let mut y = rect.y;
        while y < rect.y + rect.h {
            let th = ZRLE_TILE.min(rect.y + rect.h - y);
            let mut x = rect.x;
            while x < rect.x + rect.w {
                let tw = ZRLE_TILE.min(rect.x + rect.w - x);
                zrle_tile(&mut data, frame, Rect::new(x, y, tw, th))?;
                x += tw;
            }
            y += th;
        }
        if data.pos != data.bytes.len() {
            return Err(Error::Invalid("ZRLE rectangle with trailing data"));
        }
        Ok(())
    }
}

struct ZrleData<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> ZrleData<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let out = self.bytes.get(self.pos..self.pos + n).ok_or(Error::Invalid("truncated ZRLE tile"))?;
        self.pos += n;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn cpixel(&mut self) -> Result<[u8; 4]> {
        let p = self.take(3)?;
        Ok([p[0], p[1], p[2], 255])
    }

    /// A run length: bytes of 255 add up, the first byte below 255 ends it; the length is the
    /// sum plus one.
    fn run_length(&mut self, max: usize) -> Result<usize> {
        let mut len = 1usize;
        loop {
            let b = self.u8()?;
            len += usize::from(b);
            if len > max {
                return Err(Error::Invalid("ZRLE run longer than its tile"));
            }
            if b != 255 {
                return Ok(len);
            }
        }
    }
}

fn zrle_tile(data: &mut ZrleData<'_>, frame: &mut Framebuffer, tile: Rect) -> Result<()> {
    let sub = data.u8()?;
    match sub {
        0 => {
            for y in tile.y..tile.y + tile.h {
                let row = data.take(usize::from(tile.w) * 3)?;
                for (out, px) in
                    frame.span_mut(tile.x, y, tile.w).chunks_exact_mut(BYTES_PER_PIXEL).zip(row.chunks_exact(3))
                {
                    out[..3].copy_from_slice(px);
                }
            }
        }
        1 => {
            let colour = data.cpixel()?;
            fill(frame, tile, colour);
        }
        2..=16 => {
            let palette: Vec<[u8; 4]> = (0..sub).map(|_| data.cpixel()).collect::<Result<_>>()?;
            let bits: u16 = match sub {
                2 => 1,
                3..=4 => 2,
                _ => 4,
            };
            let row_len = (usize::from(tile.w) * usize::from(bits)).div_ceil(8);
            for y in tile.y..tile.y + tile.h {
                let row = data.take(row_len)?;
                for (i, out) in frame.span_mut(tile.x, y, tile.w).chunks_exact_mut(BYTES_PER_PIXEL).enumerate() {
                    let bit = i * usize::from(bits);
                    let index = (u16::from(row[bit / 8]) >> (8 - bits as usize - bit % 8)) & ((1 << bits) - 1);
                    let colour = palette.get(usize::from(index)).ok_or(Error::Invalid("ZRLE palette index"))?;
                    out.copy_from_slice(colour);
                }
            }
        }
        128 | 130..=255 => {
            let palette: Vec<[u8; 4]> =
                if sub == 128 { Vec::new() } else { (0..sub - 128).map(|_| data.cpixel()).collect::<Result<_>>()? };
            let total = tile.area();
            let mut done = 0;
            while done < total {
                let (colour, len) = if sub == 128 {
                    (data.cpixel()?, data.run_length(total - done)?)
                } else {
                    let index = data.u8()?;
                    let colour = *palette.get(usize::from(index & 127)).ok_or(Error::Invalid("ZRLE palette index"))?;
                    let len = if index & 128 != 0 { data.run_length(total - done)? } else { 1 };
                    (colour, len)
                };
                for i in done..done + len {
                    let (x, y) = (tile.x + (i % usize::from(tile.w)) as u16, tile.y + (i / usize::from(tile.w)) as u16);
                    frame.span_mut(x, y, 1).copy_from_slice(&colour);
                }
                done += len;
            }
        }
        _ => return Err(Error::Invalid("ZRLE subencoding")),
    }
    Ok(())
}

fn opaque(px: &[u8]) -> [u8; 4] {
    [px[0], px[1], px[2], 255]
}

/// Writes one row of wire pixels (R G B x) at (x, y); the x byte is junk, so alpha is set.
pub fn put_row(frame: &mut Framebuffer, x: u16, y: u16, src: &[u8]) {
    let dst = frame.span_mut(x, y, (src.len() / BYTES_PER_PIXEL) as u16);
    dst.copy_from_slice(src);
    for px in dst.chunks_exact_mut(BYTES_PER_PIXEL) {
        px[3] = 255;
    }
}

fn fill(frame: &mut Framebuffer, rect: Rect, colour: [u8; 4]) {
    frame.fill(rect, [colour[0], colour[1], colour[2]]);
}
