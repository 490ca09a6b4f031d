//! The window around a console: timers, the clock, randomness, and the page being left for
//! (or coming back from) the browser's back/forward cache.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::input::EventListener;

pub fn window() -> Result<web_sys::Window, JsValue> {
    web_sys::window().ok_or_else(|| JsValue::from_str("no window"))
}

/// Milliseconds since the page started loading.
pub fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0)
}

/// A User Timing mark at each link's first painted picture, for the browser's performance
/// tools (and `cargo bench -p e2e --bench first_frame`): time from page load to a usable screen.
pub fn mark_first_picture() {
    if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
        let _ = performance.mark("lantern-first-frame");
    }
}

pub fn random_nonce() -> Result<[u8; 32], JsValue> {
    let mut nonce = [0u8; 32];
    window()?.crypto()?.get_random_values_with_u8_array(&mut nonce)?;
    Ok(nonce)
}

pub fn set_timeout(ms: u64, f: impl FnOnce() + 'static) -> Result<(), JsValue> {
    let closure = Closure::once_into_js(f);
    let ms = i32::try_from(ms).unwrap_or(i32::MAX);
    window()?.set_timeout_with_callback_and_timeout_and_arguments_0(closure.unchecked_ref(), ms)?;
    Ok(())
}

/// An interval timer, cleared when dropped.
pub struct Interval {
    id: i32,
    _callback: Closure<dyn FnMut()>,
}

impl Interval {
    pub fn every(ms: i32, f: impl FnMut() + 'static) -> Result<Self, JsValue> {
        let callback = Closure::<dyn FnMut()>::new(f);
        let id =
            window()?.set_interval_with_callback_and_timeout_and_arguments_0(callback.as_ref().unchecked_ref(), ms)?;
        Ok(Self { id, _callback: callback })
    }
}

impl Drop for Interval {
    fn drop(&mut self) {
        if let Ok(w) = window() {
            w.clear_interval_with_handle(self.id);
        }
    }
}

/// `pagehide` and `pageshow` on the window (only shows from the back/forward cache are
/// passed on), removed when dropped.
pub struct PageListeners(Vec<(&'static str, EventListener)>);

impl PageListeners {
    pub fn new(hidden: impl Fn() + 'static, restored: impl Fn() + 'static) -> Result<Self, JsValue> {
        let window = window()?;
        let hide = EventListener::new(move |_| hidden());
        let show = EventListener::new(move |ev: web_sys::Event| {
            if js_sys::Reflect::get(&ev, &JsValue::from_str("persisted")).is_ok_and(|p| p.is_truthy()) {
                restored();
            }
        });
        let mut listeners = Vec::new();
        for (kind, listener) in [("pagehide", hide), ("pageshow", show)] {
            window.add_event_listener_with_callback(kind, listener.as_ref().unchecked_ref())?;
            listeners.push((kind, listener));
        }
        Ok(Self(listeners))
    }
}

impl Drop for PageListeners {
    fn drop(&mut self) {
        if let Ok(w) = window() {
            for (kind, listener) in &self.0 {
                let _ = w.remove_event_listener_with_callback(kind, listener.as_ref().unchecked_ref());
            }
        }
    }
}
