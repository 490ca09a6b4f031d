//! The host's mouse pointer shape, drawn by the browser rather than into the picture.
//!
//! A graphical source that can tell its pointer apart (RFB's Cursor pseudo-encoding) stops
//! painting it into the framebuffer; the browser shows it as the canvas's own CSS cursor, so it
//! moves with the local mouse at once, with no round trip, and moving it sends no pixels. The
//! controller keeps the current shape for viewers who join later.
//!
//! ```text
//! update: kind (u8: 0x14) | hotspot x (u16) | hotspot y (u16) | width (u16) | height (u16)
//!         | pixel data length (varint) | deflate(width x height x (r g b a))
//! ```
//! A 0x0 cursor means the host hides its pointer. A cursor update is a graphics-mode update
//! that leaves the framebuffer alone.

use miniz_oxide::inflate::decompress_to_vec_with_limit;

use crate::wire::codec::{Reader, Writer};
use crate::wire::DecodeError;

pub const KIND_CURSOR: u8 = 0x14;
/// Largest cursor edge accepted. X allows bigger ones, but browsers ignore CSS cursors over
/// 128 pixels, so a larger one would not be shown anyway.
pub const MAX_CURSOR: u16 = 128;

/// A pointer shape: straight (not premultiplied) RGBA pixels, row by row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cursor {
    pub hotspot_x: u16,
    pub hotspot_y: u16,
    pub width: u16,
    pub height: u16,
    pub rgba: Vec<u8>,
}

impl Cursor {
    /// The hidden pointer.
    pub fn hidden() -> Self {
        Self::default()
    }

    pub fn is_hidden(&self) -> bool {
        self.width == 0 || self.height == 0
    }

    /// Encodes this shape as a cursor update.
    pub fn encode(&self) -> Vec<u8> {
        let packed = miniz_oxide::deflate::compress_to_vec(&self.rgba, 6);
        let mut out = Vec::with_capacity(packed.len() + 16);
        out.put_u8(KIND_CURSOR);
        for v in [self.hotspot_x, self.hotspot_y, self.width, self.height] {
            out.put_u16(v);
        }
        out.put_length_prefixed(&packed);
        out
    }

    /// Decodes a cursor update.
    pub fn decode(update: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(update);
        let kind = r.u8("cursor update kind")?;
        if kind != KIND_CURSOR {
            return Err(DecodeError::Unknown { field: "cursor update kind", value: kind });
        }
        let (hotspot_x, hotspot_y) = (r.u16("cursor hotspot x")?, r.u16("cursor hotspot y")?);
        let (width, height) = (r.u16("cursor width")?, r.u16("cursor height")?);
        if width > MAX_CURSOR || height > MAX_CURSOR {
            return Err(DecodeError::Invalid { field: "cursor size", reason: "larger than 128 pixels" });
        }
        if (width == 0) != (height == 0) {
            return Err(DecodeError::Invalid { field: "cursor size", reason: "empty in one direction only" });
        }
        if width > 0 && (hotspot_x >= width || hotspot_y >= height) {
            return Err(DecodeError::Invalid { field: "cursor hotspot", reason: "outside the cursor" });
        }
        let len = usize::from(width) * usize::from(height) * 4;
        let packed = r.length_prefixed(len + 1024, "cursor pixels")?;
        r.finish("cursor update")?;
        let rgba = decompress_to_vec_with_limit(packed, len)
            .map_err(|_| DecodeError::Invalid { field: "cursor pixels", reason: "bad deflate stream or too large" })?;
        if rgba.len() != len {
            return Err(DecodeError::Invalid { field: "cursor pixels", reason: "not width x height pixels" });
        }
        Ok(Self { hotspot_x, hotspot_y, width, height, rgba })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrow() -> Cursor {
        let (width, height) = (11u16, 19u16);
        let mut rgba = Vec::new();
        for y in 0..height {
            for x in 0..width {
                let inside = x <= y && x < 8;
                rgba.extend_from_slice(if inside { &[255, 255, 255, 255] } else { &[0, 0, 0, 0] });
            }
        }
        Cursor { hotspot_x: 0, hotspot_y: 0, width, height, rgba }
    }

    #[test]
    fn a_cursor_and_the_hidden_cursor_survive_the_wire() {
        for cursor in [arrow(), Cursor::hidden(), Cursor { hotspot_x: 127, hotspot_y: 3, ..big() }] {
            assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        }
        assert!(Cursor::decode(&Cursor::hidden().encode()).unwrap().is_hidden());
    }

    fn big() -> Cursor {
        Cursor { hotspot_x: 0, hotspot_y: 0, width: 128, height: 128, rgba: vec![7; 128 * 128 * 4] }
    }

    #[test]
    fn bad_cursor_updates_are_clear_errors() {
        let good = arrow().encode();
        let with = |at: usize, v: u16| {
            let mut u = good.clone();
            u[at..at + 2].copy_from_slice(&v.to_be_bytes());
            u
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (with(5, 129), "cursor size"),
            (with(5, 0), "cursor size"),
            (with(1, 11), "cursor hotspot"),
            (with(7, 18), "cursor pixels"),
            (good[..good.len() - 1].to_vec(), "cursor pixels"),
            ([good.clone(), vec![0]].concat(), "cursor update"),
            ([&[0x10][..], &good[1..]].concat(), "cursor update kind"),
        ];
        for (update, field) in cases {
            let err = Cursor::decode(&update).unwrap_err();
            assert!(err.to_string().contains(field), "{err} should name {field}");
        }
        for len in 0..good.len() {
            assert!(Cursor::decode(&good[..len]).is_err(), "truncated at {len}");
        }
    }
}
