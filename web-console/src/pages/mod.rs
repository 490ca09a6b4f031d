//! The pages a user sees. Each is a small component named for it.

pub mod agents;
pub mod audit;
pub mod clipboard_panel;
pub mod console;
pub mod directives;
pub mod host_panels;
pub mod hosts;
pub mod keys_panel;
pub mod login;
pub mod media_file;
pub mod media_panel;
pub mod password;
pub mod scaling;
pub mod screenshot;
pub mod users;

/// A Unix time in milliseconds as the page shows it: `YYYY-MM-DD hh:mm:ss.mmm` (UTC).
pub fn when(ms: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    String::from(date.to_iso_string()).replace('T', " ").trim_end_matches('Z').to_string()
}
