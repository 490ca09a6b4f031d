//! The console's Screenshot button: the canvas as a PNG (the browser encodes it: the canvas
//! holds the host's pixels exactly, the pointer being a CSS cursor), and for text screens their
//! text as well, saved as downloads named for the host and the time.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Blob, BlobPropertyBag, HtmlAnchorElement, HtmlCanvasElement, Url};

/// Saves `canvas` as `<stem>.png` through `png_link`, and `text` (a text screen's) as
/// `<stem>.txt` through `text_link`. Each link keeps its file until the next screenshot.
pub fn save(
    canvas: &HtmlCanvasElement,
    stem: &str,
    png_link: HtmlAnchorElement,
    text: Option<(HtmlAnchorElement, String)>,
) -> Result<(), JsValue> {
    if let Some((link, text)) = text {
        let parts = js_sys::Array::of1(&JsValue::from_str(&text));
        let options = BlobPropertyBag::new();
        options.set_type("text/plain;charset=utf-8");
        let blob = Blob::new_with_str_sequence_and_options(&parts, &options)?;
        offer(&link, &blob, &format!("{stem}.txt"))?;
    }
    let name = format!("{stem}.png");
    let saved = Closure::once_into_js(move |blob: JsValue| {
        if let Some(blob) = blob.dyn_ref::<Blob>() {
            let _ = offer(&png_link, blob, &name);
        }
    });
    canvas.to_blob(saved.unchecked_ref())
}

/// Points `link` at `blob` (letting go of what it held) and follows it: a download.
fn offer(link: &HtmlAnchorElement, blob: &Blob, name: &str) -> Result<(), JsValue> {
    let old = link.href();
    if old.starts_with("blob:") {
        Url::revoke_object_url(&old)?;
    }
    link.set_href(&Url::create_object_url_with_blob(blob)?);
    link.set_download(name);
    link.click();
    Ok(())
}

/// A file name's stem for a screenshot of `host` now: `<host>-YYYYMMDD-hhmmss` (UTC).
pub fn stem(host: &str) -> String {
    let now = js_sys::Date::new_0();
    let safe: String = host.chars().map(|c| if c.is_alphanumeric() || c == '-' { c } else { '_' }).collect();
    format!(
        "{safe}-{:04}{:02}{:02}-{:02}{:02}{:02}",
        now.get_utc_full_year(),
        now.get_utc_month() + 1,
        now.get_utc_date(),
        now.get_utc_hours(),
        now.get_utc_minutes(),
        now.get_utc_seconds()
    )
}
