//! A graphics framebuffer: what a graphical host shows and what the browser draws.
//!
//! Pixels are stored as RGBA bytes with alpha always 255, the layout of a canvas `ImageData`,
//! so the browser paints a changed region straight from this memory.

pub const BYTES_PER_PIXEL: usize = 4;
/// Largest width or height accepted (8K displays and some headroom).
pub const MAX_DIM: u16 = 8192;
/// Largest area accepted: 8192 x 4320, about 140 MiB of pixels.
pub const MAX_PIXELS: usize = 8192 * 4320;

/// A rectangle in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Rect {
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
}

impl Rect {
    pub const fn new(x: u16, y: u16, w: u16, h: u16) -> Self {
        Self { x, y, w, h }
    }

    pub fn is_empty(&self) -> bool {
        self.w == 0 || self.h == 0
    }

    /// Whether the whole rectangle lies on a `width` x `height` screen.
    pub fn fits(&self, width: u16, height: u16) -> bool {
        u32::from(self.x) + u32::from(self.w) <= u32::from(width)
            && u32::from(self.y) + u32::from(self.h) <= u32::from(height)
    }

    pub fn area(&self) -> usize {
        usize::from(self.w) * usize::from(self.h)
    }

    /// The part of this rectangle on a `width` x `height` screen.
    /// The smallest rectangle holding both.
    pub fn union(&self, other: &Rect) -> Rect {
        let (x, y) = (self.x.min(other.x), self.y.min(other.y));
        let right = (self.x + self.w).max(other.x + other.w);
        let bottom = (self.y + self.h).max(other.y + other.h);
        Rect::new(x, y, right - x, bottom - y)
    }

    pub fn clipped(&self, width: u16, height: u16) -> Rect {
        let (x, y) = (self.x.min(width), self.y.min(height));
        let right = (u32::from(self.x) + u32::from(self.w)).min(u32::from(width)) as u16;
        let bottom = (u32::from(self.y) + u32::from(self.h)).min(u32::from(height)) as u16;
        Rect::new(x, y, right - x, bottom - y)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("framebuffer size {width}x{height} is outside 1x1 to {MAX_DIM}x{MAX_DIM} or above {MAX_PIXELS} pixels")]
pub struct BadFrameSize {
    pub width: u16,
    pub height: u16,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Framebuffer {
    width: u16,
    height: u16,
    pixels: Vec<u8>,
}

impl core::fmt::Debug for Framebuffer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Framebuffer({}x{})", self.width, self.height)
    }
}

impl Framebuffer {
    /// A black screen.
    pub fn new(width: u16, height: u16) -> Result<Self, BadFrameSize> {
        check_size(width, height)?;
        let mut pixels = vec![0u8; usize::from(width) * usize::from(height) * BYTES_PER_PIXEL];
        for px in pixels.chunks_exact_mut(BYTES_PER_PIXEL) {
            px[3] = 255;
        }
        Ok(Self { width, height, pixels })
    }

    pub fn width(&self) -> u16 {
        self.width
    }

    pub fn height(&self) -> u16 {
        self.height
    }

    pub fn bounds(&self) -> Rect {
        Rect::new(0, 0, self.width, self.height)
    }

    /// All pixels, RGBA, row after row.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// Bytes in one row.
    pub fn stride(&self) -> usize {
        usize::from(self.width) * BYTES_PER_PIXEL
    }

    /// The RGBA bytes of `w` pixels of row `y` from column `x`. The caller keeps inside the
    /// screen (the codecs check rectangles against the size before they touch pixels).
    pub fn span(&self, x: u16, y: u16, w: u16) -> &[u8] {
        let start = self.offset(x, y);
        &self.pixels[start..start + usize::from(w) * BYTES_PER_PIXEL]
    }

    pub fn span_mut(&mut self, x: u16, y: u16, w: u16) -> &mut [u8] {
        let start = self.offset(x, y);
        &mut self.pixels[start..start + usize::from(w) * BYTES_PER_PIXEL]
    }

    pub fn pixel(&self, x: u16, y: u16) -> [u8; 4] {
        let o = self.offset(x, y);
        [self.pixels[o], self.pixels[o + 1], self.pixels[o + 2], self.pixels[o + 3]]
    }

    /// Fills `rect` (inside the screen) with one colour.
    pub fn fill(&mut self, rect: Rect, rgb: [u8; 3]) {
        let px = [rgb[0], rgb[1], rgb[2], 255];
        for y in rect.y..rect.y + rect.h {
            for out in self.span_mut(rect.x, y, rect.w).chunks_exact_mut(BYTES_PER_PIXEL) {
                out.copy_from_slice(&px);
            }
        }
    }

    /// Copies the pixels at `(src_x, src_y)` to `dst` (both inside the screen; they may
    /// overlap, as when a window is dragged a little or the screen scrolls).
    pub fn copy_within(&mut self, src_x: u16, src_y: u16, dst: Rect) {
        let len = usize::from(dst.w) * BYTES_PER_PIXEL;
        let rows: Box<dyn Iterator<Item = u16>> =
            if src_y < dst.y { Box::new((0..dst.h).rev()) } else { Box::new(0..dst.h) };
        for r in rows {
            let from = self.offset(src_x, src_y + r);
            let to = self.offset(dst.x, dst.y + r);
            self.pixels.copy_within(from..from + len, to);
        }
    }

    /// Changes the size; the new screen is black.
    pub fn resize(&mut self, width: u16, height: u16) -> Result<(), BadFrameSize> {
        *self = Self::new(width, height)?;
        Ok(())
    }

    /// Whether `rect` holds the same pixels here and in `other` (same size assumed).
    pub fn same_region(&self, other: &Framebuffer, rect: Rect) -> bool {
        (rect.y..rect.y + rect.h).all(|y| self.span(rect.x, y, rect.w) == other.span(rect.x, y, rect.w))
    }

    fn offset(&self, x: u16, y: u16) -> usize {
        (usize::from(y) * usize::from(self.width) + usize::from(x)) * BYTES_PER_PIXEL
    }
}

pub fn check_size(width: u16, height: u16) -> Result<(), BadFrameSize> {
    let ok = width > 0
        && height > 0
        && width <= MAX_DIM
        && height <= MAX_DIM
        && usize::from(width) * usize::from(height) <= MAX_PIXELS;
    if ok {
        Ok(())
    } else {
        Err(BadFrameSize { width, height })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_copies_move_pixels_like_memmove() {
        let mut fb = Framebuffer::new(4, 4).unwrap();
        for y in 0..4 {
            fb.fill(Rect::new(0, y, 4, 1), [y as u8 * 10, 0, 0]);
        }
        // Scroll up by one row, then down by one row.
        fb.copy_within(0, 1, Rect::new(0, 0, 4, 3));
        assert_eq!((0..4).map(|y| fb.pixel(0, y)[0]).collect::<Vec<_>>(), [10, 20, 30, 30]);
        fb.copy_within(0, 0, Rect::new(0, 1, 4, 3));
        assert_eq!((0..4).map(|y| fb.pixel(0, y)[0]).collect::<Vec<_>>(), [10, 10, 20, 30]);
    }

    #[test]
    fn sizes_are_bounded() {
        assert!(Framebuffer::new(0, 10).is_err());
        assert!(Framebuffer::new(MAX_DIM + 1, 1).is_err());
        assert!(Framebuffer::new(MAX_DIM, MAX_DIM).is_err());
        assert_eq!(Framebuffer::new(3, 2).unwrap().pixels().len(), 24);
        assert!(!Rect::new(60000, 0, 60000, 1).fits(u16::MAX, 1));
    }
}
