//! Tight encoding (7), its lossless part: fill, and basic compression with the copy, palette
//! and gradient filters over four persistent zlib streams. JPEG is never sent to a client
//! that asks for no JPEG quality level, as this one does not; a JPEG rectangle is an error.
//!
//! With our pixel format (32 bits, depth 24) a pixel travels as a 3-byte TPIXEL, R G B.
//! A rectangle is read whole before anything is decoded, so a rectangle that has not all
//! arrived yet changes neither the frame nor the zlib streams.

use shared::video::frame::{Framebuffer, Rect, BYTES_PER_PIXEL};
use shared::video::zstream::{InflateError, Inflater};

use crate::client::Step;
use crate::input::Input;
use crate::{Error, Result};

const TPIXEL: usize = 3;
const FILL: u8 = 0x8;
const JPEG: u8 = 0x9;
const FILTER_COPY: u8 = 0;
const FILTER_PALETTE: u8 = 1;
const FILTER_GRADIENT: u8 = 2;
/// Data shorter than this is sent as it is, not compressed.
const MIN_COMPRESSED: usize = 12;

/// The decoder's state between rectangles: the four zlib streams.
pub struct Tight {
    streams: [Inflater; 4],
    scratch: Vec<u8>,
}

enum Filter<'a> {
    Copy,
    /// The palette's TPIXELs.
    Palette(&'a [u8]),
    Gradient,
}

impl Tight {
    pub fn new() -> Self {
        Self { streams: core::array::from_fn(|_| Inflater::zlib()), scratch: Vec::new() }
    }

    /// Reads one Tight rectangle from `input` and paints it into `frame` at `rect`. Returns
    /// `Halt::Incomplete` (having changed nothing) until all of it has arrived.
    pub(crate) fn read(&mut self, input: &mut Input<'_>, frame: &mut Framebuffer, rect: Rect) -> Step<()> {
        let control = input.u8()?;
        let kind = control >> 4;
        if kind == FILL {
            let colour = input.array::<TPIXEL>()?;
            self.reset(control);
            frame.fill(rect, colour);
            return Ok(());
        }
        if kind == JPEG {
            return Err(Error::Invalid("Tight JPEG rectangle (no JPEG quality was asked for)").into());
        }
        if kind & 0x8 != 0 {
            return Err(Error::Invalid("Tight compression type").into());
        }
        let stream = usize::from(kind & 0x3);
        let filter_id = if kind & 0x4 != 0 { input.u8()? } else { FILTER_COPY };
        let (w, h) = (usize::from(rect.w), usize::from(rect.h));
        let (filter, size) = match filter_id {
            FILTER_COPY => (Filter::Copy, w * h * TPIXEL),
            FILTER_GRADIENT => (Filter::Gradient, w * h * TPIXEL),
            FILTER_PALETTE => {
                let colours = usize::from(input.u8()?) + 1;
                let palette = input.bytes(colours * TPIXEL)?;
                let size = if colours == 2 { h * w.div_ceil(8) } else { w * h };
                (Filter::Palette(palette), size)
            }
            _ => return Err(Error::Invalid("Tight filter").into()),
        };
        // Everything is read before the streams are touched.
        let data = if size < MIN_COMPRESSED {
            let data = input.bytes(size)?;
            self.reset(control);
            data
        } else {
            let len = compact_length(input)?;
            let compressed = input.bytes(len)?;
            self.reset(control);
            self.scratch.clear();
            self.streams[stream].feed(compressed, &mut self.scratch, size).map_err(|e| match e {
                InflateError::TooLarge => Error::Invalid("Tight data inflates past its rectangle"),
                InflateError::Corrupt => Error::Invalid("Tight zlib stream"),
            })?;
            if self.scratch.len() != size {
                return Err(Error::Invalid("Tight data shorter than its rectangle").into());
            }
            &self.scratch[..]
        };
        paint(frame, rect, &filter, data)?;
        Ok(())
    }

    /// Bits 0 to 3 of the control byte restart zlib streams 0 to 3.
    fn reset(&mut self, control: u8) {
        for (i, stream) in self.streams.iter_mut().enumerate() {
            if control & (1 << i) != 0 {
                stream.reset();
            }
        }
    }
}

/// A length in 1 to 3 bytes, 7 bits each, low bits first (the third byte gives 8 bits).
fn compact_length(input: &mut Input<'_>) -> Step<usize> {
    let mut len = 0usize;
    for (i, shift) in [0, 7, 14].into_iter().enumerate() {
        let byte = input.u8()?;
        if i == 2 {
            return Ok(len | usize::from(byte) << shift);
        }
        len |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
    }
    Ok(len)
}

fn paint(frame: &mut Framebuffer, rect: Rect, filter: &Filter<'_>, data: &[u8]) -> Result<()> {
    if rect.is_empty() {
        return Ok(());
    }
    let w = usize::from(rect.w);
    match filter {
        Filter::Copy => {
            for (y, row) in (rect.y..).zip(data.chunks_exact(w * TPIXEL)) {
                put_tpixels(frame.span_mut(rect.x, y, rect.w), row);
            }
        }
        Filter::Palette(palette) => {
            let colours = palette.len() / TPIXEL;
            if colours == 2 {
                for (y, row) in (rect.y..).zip(data.chunks_exact(w.div_ceil(8))) {
                    let bits = row.iter().flat_map(|&b| (0..8).rev().map(move |k| usize::from((b >> k) & 1)));
                    for (out, index) in frame.span_mut(rect.x, y, rect.w).chunks_exact_mut(BYTES_PER_PIXEL).zip(bits) {
                        out[..3].copy_from_slice(&palette[index * TPIXEL..][..TPIXEL]);
                    }
                }
            } else {
                if data.iter().any(|&i| usize::from(i) >= colours) {
                    return Err(Error::Invalid("Tight palette index outside the palette"));
                }
                for (y, row) in (rect.y..).zip(data.chunks_exact(w)) {
                    for (out, &index) in frame.span_mut(rect.x, y, rect.w).chunks_exact_mut(BYTES_PER_PIXEL).zip(row) {
                        out[..3].copy_from_slice(&palette[usize::from(index) * TPIXEL..][..TPIXEL]);
                    }
                }
            }
        }
        Filter::Gradient => {
            // Each channel is sent as its difference from left + above - above-left (clamped),
            // with pixels outside the rectangle taken as zero.
            let mut above = vec![0u8; w * TPIXEL];
            let mut row_out = vec![0u8; w * TPIXEL];
            for (y, row) in (rect.y..).zip(data.chunks_exact(w * TPIXEL)) {
                for x in 0..w {
                    for c in 0..TPIXEL {
                        let left = if x > 0 { i16::from(row_out[(x - 1) * TPIXEL + c]) } else { 0 };
                        let up = i16::from(above[x * TPIXEL + c]);
                        let up_left = if x > 0 { i16::from(above[(x - 1) * TPIXEL + c]) } else { 0 };
                        let predicted = (left + up - up_left).clamp(0, 255) as u8;
                        row_out[x * TPIXEL + c] = predicted.wrapping_add(row[x * TPIXEL + c]);
                    }
                }
                put_tpixels(frame.span_mut(rect.x, y, rect.w), &row_out);
                core::mem::swap(&mut above, &mut row_out);
            }
        }
    }
    Ok(())
}

fn put_tpixels(out: &mut [u8], tpixels: &[u8]) {
    for (out, px) in out.chunks_exact_mut(BYTES_PER_PIXEL).zip(tpixels.chunks_exact(TPIXEL)) {
        out[..3].copy_from_slice(px);
    }
}
