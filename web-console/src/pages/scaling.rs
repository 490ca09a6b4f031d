//! How big the console's canvas is drawn. Fit, 100 % and 200 % are CSS classes; integer
//! scaling is worked out here: the largest whole number of device pixels per host pixel that
//! fits the room, so every host pixel is the same square of screen pixels (with
//! `image-rendering: pixelated`, nothing is blurred or uneven, at any device pixel ratio).

use web_sys::{HtmlCanvasElement, HtmlElement};

/// The zoom that is worked out here rather than by CSS.
pub const INTEGER: &str = "int";

/// The frame's padding (CSS pixels each side), which the canvas cannot use.
const PADDING: f64 = 8.0;

/// Sizes `canvas` for `zoom` inside `frame`: for integer scaling, in CSS pixels that are a
/// whole number of device pixels per host pixel; otherwise leaves it to the stylesheet.
pub fn apply(canvas: &HtmlCanvasElement, frame: &HtmlElement, zoom: &str) {
    let style = canvas.style();
    if zoom != INTEGER {
        let _ = style.remove_property("width");
        let _ = style.remove_property("height");
        return;
    }
    let Some(window) = web_sys::window() else { return };
    let ratio = window.device_pixel_ratio().max(0.1);
    let (width, height) = (f64::from(canvas.width().max(1)), f64::from(canvas.height().max(1)));
    let (room_width, room_height) = room(frame);
    let factor = whole_factor(width, height, room_width, room_height, ratio);
    let _ = style.set_property("width", &format!("{}px", width * factor / ratio));
    let _ = style.set_property("height", &format!("{}px", height * factor / ratio));
}

/// The room for the canvas in CSS pixels: the frame's width, and its height to the bottom of
/// the window (all of the screen in full screen).
pub fn room(frame: &HtmlElement) -> (f64, f64) {
    let Some(window) = web_sys::window() else { return (640.0, 480.0) };
    let full = window.document().and_then(|d| d.fullscreen_element()).is_some();
    let inner_height = window.inner_height().ok().and_then(|h| h.as_f64()).unwrap_or(480.0);
    let padding = if full { 0.0 } else { 2.0 * PADDING };
    let top = if full { 0.0 } else { frame.get_bounding_client_rect().top() };
    ((f64::from(frame.client_width()) - padding).max(1.0), (inner_height - top - padding).max(1.0))
}

/// Device pixels per host pixel: the most that fit, at least one.
fn whole_factor(width: f64, height: f64, room_width: f64, room_height: f64, ratio: f64) -> f64 {
    let fits = ((room_width * ratio) / width).min((room_height * ratio) / height).floor();
    fits.max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn the_factor_is_the_largest_whole_number_that_fits_in_device_pixels() {
        assert_eq!(whole_factor(640.0, 480.0, 1280.0, 1000.0, 1.0), 2.0);
        assert_eq!(whole_factor(640.0, 480.0, 1279.0, 1000.0, 1.0), 1.0);
        // Twice the device pixels on a HiDPI screen: the same room takes four of them.
        assert_eq!(whole_factor(640.0, 480.0, 1280.0, 1000.0, 2.0), 4.0);
        assert_eq!(whole_factor(1920.0, 1080.0, 800.0, 600.0, 1.0), 1.0, "never below one");
        assert_eq!(whole_factor(720.0, 400.0, 1100.0, 700.0, 1.5), 2.0);
    }
}
