//! A host's screen as it is now: a PNG of the picture, with text screens drawn as the console
//! draws them, or a text screen's text.

use shared::video::font::Font;
use shared::video::frame::Framebuffer;
use shared::video::render::render_screen;

use super::hub::VideoHub;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScreenshotError {
    #[error("the host has shown no screen yet")]
    NoScreen,
    #[error("the host shows a picture, which has no text")]
    NotText,
    #[error("the screen cannot be encoded: {0}")]
    Encode(String),
}

/// The screen as a PNG (RGB, 8 bits: what the host shows, without alpha).
pub fn png(video: &VideoHub) -> Result<Vec<u8>, ScreenshotError> {
    if let Some(frame) = video.frame() {
        return encode_png(&frame);
    }
    let screen = video.text_screen().ok_or(ScreenshotError::NoScreen)?;
    let font = Font::terminus().map_err(|e| ScreenshotError::Encode(format!("the console font: {e:?}")))?;
    let frame = render_screen(&font, &screen).ok_or(ScreenshotError::Encode("the screen is too large".into()))?;
    encode_png(&frame)
}

/// The text of a text screen, one line per row.
pub fn text(video: &VideoHub) -> Result<String, ScreenshotError> {
    match video.text() {
        Some(text) => Ok(text),
        None if video.frame().is_some() => Err(ScreenshotError::NotText),
        None => Err(ScreenshotError::NoScreen),
    }
}

pub fn encode_png(frame: &Framebuffer) -> Result<Vec<u8>, ScreenshotError> {
    let rgb: Vec<u8> = frame.pixels().chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, frame.width().into(), frame.height().into());
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let encode = |e: png::EncodingError| ScreenshotError::Encode(e.to_string());
    let mut writer = encoder.write_header().map_err(encode)?;
    writer.write_image_data(&rgb).map_err(encode)?;
    writer.finish().map_err(encode)?;
    Ok(out)
}
