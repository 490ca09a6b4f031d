//! Draws the screen onto the canvas, only where it changed.
//!
//! Text mode: cells are rendered into a small RGBA buffer per damaged span and put onto the
//! canvas with `putImageData`, so a keystroke's echo crosses the JS boundary as a few hundred
//! bytes, never as a whole frame. The canvas has one pixel per font pixel; CSS scales it with
//! `image-rendering: pixelated`.
//!
//! Graphics mode: moved regions are blitted by the canvas itself; changed tiles go across from
//! the decoder's framebuffer, merged into bands, one `ImageData` per band. The host's pointer
//! is not in the picture: it is the canvas's CSS cursor, drawn by the browser at the mouse.

use shared::video::cursor::Cursor as Pointer;
use shared::video::frame::{Framebuffer, Rect, BYTES_PER_PIXEL};
use shared::video::text::{Cursor, Damage, TextScreen};
use shared::video::tiles::GraphicsDamage;
use wasm_bindgen::{Clamped, JsCast, JsValue};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData};

use shared::video::font::{Font, GLYPH_HEIGHT, GLYPH_WIDTH};
use shared::video::render::render_cell;

pub struct Painter {
    canvas: HtmlCanvasElement,
    ctx: CanvasRenderingContext2d,
    font: Font,
}

impl Painter {
    pub fn new(canvas: HtmlCanvasElement, font: Font) -> Result<Self, JsValue> {
        let ctx =
            canvas.get_context("2d")?.ok_or_else(|| JsValue::from_str("canvas has no 2d context"))?.dyn_into_ctx()?;
        Ok(Self { canvas, ctx, font })
    }

    /// Repaints what `damage` says changed.
    pub fn paint(&self, screen: &TextScreen, damage: &Damage) -> Result<(), JsValue> {
        if damage.resized {
            self.canvas.set_width(u32::from(screen.cols()) * GLYPH_WIDTH as u32);
            self.canvas.set_height(u32::from(screen.rows()) * GLYPH_HEIGHT as u32);
            return self.paint_all(screen);
        }
        if damage.scrolled > 0 {
            self.scroll(screen, damage.scrolled)?;
        }
        for &(row, start, end) in &damage.spans {
            self.paint_span(screen, row, start, end)?;
        }
        if let Some(old) = damage.old_cursor {
            self.paint_span(screen, old.row, old.col, old.col.saturating_add(1))?;
        }
        let c = screen.cursor;
        self.paint_span(screen, c.row, c.col, c.col.saturating_add(1))
    }

    /// Shows `pointer` as the mouse cursor over the canvas (`None`: the browser's own).
    pub fn set_pointer(&self, pointer: Option<&Pointer>) -> Result<(), JsValue> {
        let style = match pointer {
            None => String::new(),
            Some(p) if p.is_hidden() => "none".into(),
            Some(p) => {
                let document =
                    self.canvas.owner_document().ok_or_else(|| JsValue::from_str("canvas has no document"))?;
                let image: HtmlCanvasElement =
                    document.create_element("canvas")?.dyn_into().map_err(|_| JsValue::from_str("not a canvas"))?;
                image.set_width(u32::from(p.width));
                image.set_height(u32::from(p.height));
                let ctx = image.get_context("2d")?.ok_or_else(|| JsValue::from_str("no 2d context"))?.dyn_into_ctx()?;
                let pixels = ImageData::new_with_u8_clamped_array_and_sh(
                    Clamped(&p.rgba),
                    u32::from(p.width),
                    u32::from(p.height),
                )?;
                ctx.put_image_data(&pixels, 0.0, 0.0)?;
                format!("url({}) {} {}, default", image.to_data_url()?, p.hotspot_x, p.hotspot_y)
            }
        };
        self.canvas.style().set_property("cursor", &style)
    }

    /// Repaints what a graphics update changed.
    pub fn paint_frame(&self, frame: &Framebuffer, damage: &GraphicsDamage) -> Result<(), JsValue> {
        let size = (u32::from(frame.width()), u32::from(frame.height()));
        if damage.resized || (self.canvas.width(), self.canvas.height()) != size {
            self.canvas.set_width(size.0);
            self.canvas.set_height(size.1);
            return self.put_rect(frame, frame.bounds());
        }
        // The canvas copies onto itself through a snapshot of all of itself, once per call: a
        // few large copies (a scroll) are cheap that way, many small ones (a window moved
        // beneath another) are cheaper put from the frame, which already holds their pixels.
        let canvas_area = frame.bounds().area();
        let copied: usize = damage.copies.iter().map(|c| c.dst.area()).sum();
        if damage.copies.len() * canvas_area > 2 * copied {
            for c in &damage.copies {
                self.put_rect(frame, c.dst)?;
            }
            for band in merge_bands(&damage.rects) {
                self.put_rect(frame, band)?;
            }
            return Ok(());
        }
        for c in &damage.copies {
            let (w, h) = (f64::from(c.dst.w), f64::from(c.dst.h));
            self.ctx.draw_image_with_html_canvas_element_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
                &self.canvas,
                f64::from(c.src_x),
                f64::from(c.src_y),
                w,
                h,
                f64::from(c.dst.x),
                f64::from(c.dst.y),
                w,
                h,
            )?;
        }
        for band in merge_bands(&damage.rects) {
            self.put_rect(frame, band)?;
        }
        Ok(())
    }

    /// Puts one rectangle of the frame onto the canvas. A full-width band is already one
    /// contiguous slice of the frame; anything narrower is gathered row by row.
    fn put_rect(&self, frame: &Framebuffer, r: Rect) -> Result<(), JsValue> {
        if r.is_empty() {
            return Ok(());
        }
        let gathered;
        let pixels = if r.x == 0 && r.w == frame.width() {
            let start = usize::from(r.y) * frame.stride();
            &frame.pixels()[start..start + usize::from(r.h) * frame.stride()]
        } else {
            let mut buf = Vec::with_capacity(r.area() * BYTES_PER_PIXEL);
            for y in r.y..r.y + r.h {
                buf.extend_from_slice(frame.span(r.x, y, r.w));
            }
            gathered = buf;
            &gathered[..]
        };
        let image = ImageData::new_with_u8_clamped_array_and_sh(Clamped(pixels), u32::from(r.w), u32::from(r.h))?;
        self.ctx.put_image_data(&image, f64::from(r.x), f64::from(r.y))
    }

    /// Moves the canvas's pixels up by `rows` text rows: the browser copies them, so a scrolling
    /// console costs one blit instead of a repaint of every row.
    fn scroll(&self, screen: &TextScreen, rows: u16) -> Result<(), JsValue> {
        let width = f64::from(screen.cols()) * GLYPH_WIDTH as f64;
        let shift = f64::from(rows) * GLYPH_HEIGHT as f64;
        let kept = f64::from(screen.rows().saturating_sub(rows)) * GLYPH_HEIGHT as f64;
        self.ctx.draw_image_with_html_canvas_element_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
            &self.canvas,
            0.0,
            shift,
            width,
            kept,
            0.0,
            0.0,
            width,
            kept,
        )
    }

    pub fn paint_all(&self, screen: &TextScreen) -> Result<(), JsValue> {
        for row in 0..screen.rows() {
            self.paint_span(screen, row, 0, screen.cols())?;
        }
        Ok(())
    }

    fn paint_span(&self, screen: &TextScreen, row: u16, start: u16, end: u16) -> Result<(), JsValue> {
        let end = end.min(screen.cols());
        if row >= screen.rows() || start >= end {
            return Ok(());
        }
        let cells = &screen.row(row)[usize::from(start)..usize::from(end)];
        let width = cells.len() * GLYPH_WIDTH;
        let mut rgba = vec![0u8; width * GLYPH_HEIGHT * 4];
        for (i, cell) in cells.iter().enumerate() {
            let col = start + i as u16;
            let is_cursor = screen.cursor.visible && screen.cursor == (Cursor { row, col, visible: true });
            render_cell(&self.font, cell, is_cursor, &mut rgba, width, i * GLYPH_WIDTH);
        }
        let image = ImageData::new_with_u8_clamped_array_and_sh(Clamped(&rgba), width as u32, GLYPH_HEIGHT as u32)?;
        self.ctx.put_image_data(&image, f64::from(start) * GLYPH_WIDTH as f64, f64::from(row) * GLYPH_HEIGHT as f64)
    }
}

/// Joins rectangles that continue each other along a row (tiles arrive in row-major order),
/// so a changed line of tiles costs one `putImageData` instead of one per tile.
fn merge_bands(rects: &[Rect]) -> Vec<Rect> {
    let mut bands: Vec<Rect> = Vec::with_capacity(rects.len());
    for &r in rects {
        match bands.last_mut() {
            Some(b) if b.y == r.y && b.h == r.h && u32::from(b.x) + u32::from(b.w) == u32::from(r.x) => b.w += r.w,
            _ => bands.push(r),
        }
    }
    bands
}

trait IntoCtx {
    fn dyn_into_ctx(self) -> Result<CanvasRenderingContext2d, JsValue>;
}

impl IntoCtx for js_sys::Object {
    fn dyn_into_ctx(self) -> Result<CanvasRenderingContext2d, JsValue> {
        self.dyn_into::<CanvasRenderingContext2d>().map_err(|_| JsValue::from_str("not a 2d context"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::video::render::DEFAULT_FG;
    use shared::video::text::{apply, encode_delta, encode_full, Cell, Color, Style};
    use wasm_bindgen::JsCast;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn canvas() -> HtmlCanvasElement {
        let document = web_sys::window().unwrap().document().unwrap();
        let canvas = document.create_element("canvas").unwrap().dyn_into::<HtmlCanvasElement>().unwrap();
        document.body().unwrap().append_child(&canvas).unwrap();
        canvas
    }

    /// The canvas's pixels of one cell, as "on" (foreground) and "off" bits per row.
    fn cell_bits(ctx: &CanvasRenderingContext2d, row: u16, col: u16, fg: [u8; 3]) -> Vec<u8> {
        let data = ctx.get_image_data(f64::from(col) * 8.0, f64::from(row) * 16.0, 8.0, 16.0).unwrap().data().to_vec();
        (0..16)
            .map(|y| {
                (0..8).fold(0u8, |acc, x| if data[(y * 8 + x) * 4..][..3] == fg { acc | (0x80 >> x) } else { acc })
            })
            .collect()
    }

    #[test]
    fn cells_are_painted_glyph_exact_and_updates_touch_only_their_cells() {
        let canvas = canvas();
        let painter = Painter::new(canvas.clone(), Font::terminus().unwrap()).unwrap();
        let ctx = painter.ctx.clone();
        let font = Font::terminus().unwrap();

        let mut host = TextScreen::new(20, 4).unwrap();
        host.set(1, 2, Cell { ch: 'A', style: Style::default() });
        host.cursor = Cursor { row: 3, col: 0, visible: false };
        let mut browser = TextScreen::new(1, 1).unwrap();
        let damage = apply(&mut browser, &encode_full(&host)).unwrap();
        painter.paint(&browser, &damage).unwrap();
        assert_eq!(canvas.width(), 160);
        assert_eq!(canvas.height(), 64);
        assert_eq!(cell_bits(&ctx, 1, 2, DEFAULT_FG), font.glyph('A'));

        // Paint a marker where nothing changes; a delta must leave it alone.
        ctx.set_fill_style_str("#ff00ff");
        ctx.fill_rect(0.0, 0.0, 8.0, 16.0);
        let mut next = host.clone();
        next.set(2, 5, Cell { ch: '┌', style: Style { fg: Color::Indexed(2), ..Style::default() } });
        let damage = apply(&mut browser, &encode_delta(&host, &next).unwrap()).unwrap();
        painter.paint(&browser, &damage).unwrap();
        assert_eq!(cell_bits(&ctx, 2, 5, [0x00, 0xaa, 0x00]), font.glyph('┌'));
        assert_eq!(cell_bits(&ctx, 0, 0, [0xff, 0x00, 0xff]), vec![0xff; 16]);

        // A scroll by one row moves the pixels: the marker and the glyphs go up one row.
        let mut scrolled = TextScreen::new(20, 4).unwrap();
        for row in 0..3 {
            for col in 0..20 {
                scrolled.set(row, col, *next.cell(row + 1, col).unwrap());
            }
        }
        scrolled.set(3, 0, Cell { ch: 'z', style: Style::default() });
        scrolled.cursor = next.cursor;
        let delta = encode_delta(&next, &scrolled).unwrap();
        let damage = apply(&mut browser, &delta).unwrap();
        assert_eq!(damage.scrolled, 1);
        painter.paint(&browser, &damage).unwrap();
        assert_eq!(cell_bits(&ctx, 0, 2, DEFAULT_FG), font.glyph('A'));
        assert_eq!(cell_bits(&ctx, 1, 5, [0x00, 0xaa, 0x00]), font.glyph('┌'));
        assert_eq!(cell_bits(&ctx, 3, 0, DEFAULT_FG), font.glyph('z'));
        assert_eq!(cell_bits(&ctx, 2, 5, [0x00, 0xaa, 0x00]), vec![0; 16]);
    }

    /// The canvas's RGBA pixels.
    fn canvas_pixels(canvas: &HtmlCanvasElement) -> Vec<u8> {
        let ctx = canvas.get_context("2d").unwrap().unwrap().dyn_into_ctx().unwrap();
        ctx.get_image_data(0.0, 0.0, f64::from(canvas.width()), f64::from(canvas.height())).unwrap().data().to_vec()
    }

    #[test]
    fn graphics_copies_few_or_many_and_the_hosts_pointer_reach_the_canvas() {
        use shared::video::cursor::Cursor as Pointer;
        use shared::video::tiles::Copy;
        let canvas = canvas();
        let painter = Painter::new(canvas.clone(), Font::terminus().unwrap()).unwrap();
        let mut frame = Framebuffer::new(200, 100).unwrap();
        for y in 0..100u16 {
            for x in 0..200u16 {
                frame.span_mut(x, y, 1)[..3].copy_from_slice(&[x as u8, (y * 2) as u8, (x ^ y) as u8]);
            }
        }
        painter.paint_frame(&frame, &GraphicsDamage { resized: true, ..GraphicsDamage::default() }).unwrap();
        assert_eq!(canvas_pixels(&canvas), frame.pixels());

        // One large copy (a scroll), blitted by the canvas.
        let scroll = Copy { src_x: 0, src_y: 10, dst: Rect::new(0, 0, 200, 90) };
        frame.copy_within(scroll.src_x, scroll.src_y, scroll.dst);
        painter.paint_frame(&frame, &GraphicsDamage { copies: vec![scroll], ..GraphicsDamage::default() }).unwrap();
        assert_eq!(canvas_pixels(&canvas), frame.pixels());

        // Many small ones (a window moved beneath another), put from the frame instead.
        let copies: Vec<Copy> =
            (0..20u16).map(|i| Copy { src_x: i * 8, src_y: 50, dst: Rect::new(i * 8 + 3, 60 + i % 3, 5, 5) }).collect();
        for c in &copies {
            frame.copy_within(c.src_x, c.src_y, c.dst);
        }
        painter.paint_frame(&frame, &GraphicsDamage { copies, ..GraphicsDamage::default() }).unwrap();
        assert_eq!(canvas_pixels(&canvas), frame.pixels());

        // The host's pointer is the canvas's cursor; hidden, none; back to text, the page's own.
        let arrow = Pointer { hotspot_x: 1, hotspot_y: 2, width: 4, height: 4, rgba: vec![200; 64] };
        painter.set_pointer(Some(&arrow)).unwrap();
        let cursor = canvas.style().get_property_value("cursor").unwrap();
        assert!(cursor.starts_with("url(\"data:image/png;base64,") && cursor.contains(" 1 2"), "{cursor}");
        painter.set_pointer(Some(&Pointer::hidden())).unwrap();
        assert_eq!(canvas.style().get_property_value("cursor").unwrap(), "none");
        painter.set_pointer(None).unwrap();
        assert_eq!(canvas.style().get_property_value("cursor").unwrap(), "");
    }
}
