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
pub mod sessions;
pub mod users;

/// A Unix time in milliseconds as the page shows it: `YYYY-MM-DD hh:mm:ss.mmm` (UTC).
pub fn when(ms: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    String::from(date.to_iso_string()).replace('T', " ").trim_end_matches('Z').to_string()
}

/// Calls `listener` on each `event` at the document (`pointerlockchange` and
/// `fullscreenchange` fire there) until the calling component goes away.
pub fn on_document_event(event: &'static str, listener: impl Fn() + 'static) {
    use wasm_bindgen::JsCast;
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    let listener = wasm_bindgen::closure::Closure::<dyn Fn()>::new(listener).into_js_value();
    let _ = document.add_event_listener_with_callback(event, listener.unchecked_ref());
    let kept = send_wrapper::SendWrapper::new((document, listener));
    leptos::prelude::on_cleanup(move || {
        let (document, listener) = &*kept;
        let _ = document.remove_event_listener_with_callback(event, listener.unchecked_ref());
    });
}
