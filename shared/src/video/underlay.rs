//! What moved content covers. A window dragged across the desktop goes as a copy each step; the
//! pixels it covers are kept here, and what it uncovers a step later, which is almost always
//! what it covered, is put back from here (a restore: a rectangle, a few bytes) rather than
//! sent again. RDP keeps covered screen bits for the same reason (its SaveBitmap order).
//!
//! The controller's stream encoder and every viewer's stream decoder keep one each, and change
//! it the same way from the same updates, so a restore means the same pixels at both ends; the
//! encoder only sends one after checking that it gives exactly the source's pixels.

use super::frame::{Framebuffer, Rect, BYTES_PER_PIXEL};

pub struct Underlay {
    pixels: Framebuffer,
    /// Per pixel: whether what the frame shows there was put by a copy. Covering such a pixel
    /// again keeps what lay beneath the moved content, not the moved content itself.
    moved: Vec<bool>,
}

impl Underlay {
    /// Nothing kept yet, for a frame the size of `frame`.
    pub fn of(frame: &Framebuffer) -> Self {
        let mut pixels = frame.clone();
        pixels.fill(frame.bounds(), [0, 0, 0]);
        Self { pixels, moved: vec![false; usize::from(frame.width()) * usize::from(frame.height())] }
    }

    /// Whether this underlay is for a frame of `frame`'s size.
    pub fn fits(&self, frame: &Framebuffer) -> bool {
        self.pixels.width() == frame.width() && self.pixels.height() == frame.height()
    }

    /// Copies `(src_x, src_y)` to `dst` in `frame` (as [`Framebuffer::copy_within`]), first
    /// keeping what `dst` showed where that had not itself been moved there.
    pub fn copy(&mut self, frame: &mut Framebuffer, src_x: u16, src_y: u16, dst: Rect) {
        for y in dst.y..dst.y + dst.h {
            let moved = &self.moved[self.index(dst.x, y)..][..usize::from(dst.w)];
            let shown = frame.span(dst.x, y, dst.w);
            let kept = self.pixels.span_mut(dst.x, y, dst.w);
            // Runs of pixels not moved there, each kept in one slice copy: inside a dragged
            // window every pixel was moved there, and only its leading edge is kept.
            let mut x = 0;
            while let Some(start) = moved[x..].iter().position(|m| !m).map(|i| x + i) {
                let end = moved[start..].iter().position(|m| *m).map_or(moved.len(), |i| start + i);
                let bytes = start * BYTES_PER_PIXEL..end * BYTES_PER_PIXEL;
                kept[bytes.clone()].copy_from_slice(&shown[bytes]);
                x = end;
            }
        }
        frame.copy_within(src_x, src_y, dst);
        self.mark(dst, true);
    }

    /// Puts back what `rect` of `frame` covers.
    pub fn restore(&mut self, frame: &mut Framebuffer, rect: Rect) {
        for y in rect.y..rect.y + rect.h {
            frame.span_mut(rect.x, y, rect.w).copy_from_slice(self.pixels.span(rect.x, y, rect.w));
        }
        self.mark(rect, false);
    }

    /// `rect` of the frame now shows the source's own pixels (sent, filled or restored).
    pub fn settle(&mut self, rect: Rect) {
        self.mark(rect, false);
    }

    /// Whether restoring `rect` would give exactly `frame`'s pixels there.
    pub fn holds(&self, frame: &Framebuffer, rect: Rect) -> bool {
        self.pixels.same_region(frame, rect)
    }

    fn mark(&mut self, rect: Rect, moved: bool) {
        for y in rect.y..rect.y + rect.h {
            let start = self.index(rect.x, y);
            self.moved[start..start + usize::from(rect.w)].fill(moved);
        }
    }

    fn index(&self, x: u16, y: u16) -> usize {
        usize::from(y) * usize::from(self.pixels.width()) + usize::from(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_dragged_in_steps_uncovers_what_it_covered_once_it_has_moved_off_where_it_was_drawn() {
        let column = |x: u16| [x as u8, 100, 200];
        let mut desktop = Framebuffer::new(40, 20).unwrap();
        for x in 0..40 {
            desktop.fill(Rect::new(x, 0, 1, 20), column(x));
        }
        let mut frame = desktop.clone();
        frame.fill(Rect::new(0, 5, 10, 10), [255, 0, 0]); // the window, as first drawn
        let mut under = Underlay::of(&frame);
        // Steps of 3 pixels to the right. What lay beneath where the window was first drawn
        // was never shown, so the first steps uncover nothing kept; from the fourth step on,
        // the window uncovers only desktop it covered while moving.
        for step in 0..6u16 {
            under.copy(&mut frame, 3 * step, 5, Rect::new(3 * step + 3, 5, 10, 10));
            let uncovered = Rect::new(3 * step, 5, 3, 10);
            assert_eq!(under.holds(&desktop, uncovered), step >= 4, "step {step}");
            if under.holds(&desktop, uncovered) {
                under.restore(&mut frame, uncovered);
            } else {
                for x in uncovered.x..uncovered.x + 3 {
                    frame.fill(Rect::new(x, 5, 1, 10), column(x));
                }
                under.settle(uncovered);
            }
        }
        let mut expected = desktop.clone();
        expected.fill(Rect::new(18, 5, 10, 10), [255, 0, 0]);
        assert_eq!(frame, expected);
    }
}
