//! The canvas's keyboard, clipboard and mouse, as console input.

use shared::wire::{InputEvent, KeyEvent, Modifiers, PointerEvent};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{ClipboardEvent, HtmlCanvasElement, KeyboardEvent, MouseEvent, WheelEvent};

pub type EventListener = Closure<dyn FnMut(web_sys::Event)>;

/// What the canvas's listeners hand on.
pub trait InputSink: 'static {
    fn input(&self, event: InputEvent);
    fn paste(&self, text: &str);
    /// Whether the host shows a picture (the mouse means nothing on a text screen).
    fn is_graphical(&self) -> bool;
}

/// Keys, pastes, focus on click, and (for graphical hosts) the mouse, on `canvas`.
pub fn listen(canvas: &HtmlCanvasElement, sink: impl InputSink + Clone) -> Result<Vec<EventListener>, JsValue> {
    let mut listeners = Vec::new();
    for kind in ["keydown", "keyup"] {
        let (sink, down) = (sink.clone(), kind == "keydown");
        let listener = EventListener::new(move |ev: web_sys::Event| {
            if let Some(key) = key_event(&ev, down) {
                sink.input(InputEvent::Key(key));
            }
        });
        canvas.add_event_listener_with_callback(kind, listener.as_ref().unchecked_ref())?;
        listeners.push(listener);
    }
    let paster = sink.clone();
    listeners.push(on_paste(canvas, move |text| paster.paste(text))?);
    let focus_target = canvas.clone();
    let click = EventListener::new(move |_| {
        let _ = focus_target.focus();
    });
    canvas.add_event_listener_with_callback("mousedown", click.as_ref().unchecked_ref())?;
    listeners.push(click);
    listeners.extend(listen_for_pointer(canvas, sink)?);
    Ok(listeners)
}

/// A key event as console input; `None` for one the browser must handle (a paste shortcut,
/// an input method composing). Handled keys do nothing else in the page.
pub fn key_event(ev: &web_sys::Event, down: bool) -> Option<KeyEvent> {
    let ev = ev.dyn_ref::<KeyboardEvent>()?;
    if ev.is_composing() || is_paste_shortcut(ev) {
        return None; // let the browser deliver the paste event
    }
    ev.prevent_default();
    Some(KeyEvent { down, modifiers: modifiers(ev), key: ev.key(), code: ev.code() })
}

/// Calls `paste` with the text of each paste on `target`.
pub fn on_paste(target: &HtmlCanvasElement, paste: impl Fn(&str) + 'static) -> Result<EventListener, JsValue> {
    let listener = EventListener::new(move |ev: web_sys::Event| {
        let Ok(ev) = ev.dyn_into::<ClipboardEvent>() else { return };
        ev.prevent_default();
        if let Some(text) = ev.clipboard_data().and_then(|d| d.get_data("text").ok()) {
            paste(&text);
        }
    });
    target.add_event_listener_with_callback("paste", listener.as_ref().unchecked_ref())?;
    Ok(listener)
}

/// Mouse moves, buttons and the wheel, for graphical hosts: positions in framebuffer pixels,
/// or, while the canvas holds the pointer lock (relative mode, for hosts without an absolute
/// pointer), motions in framebuffer pixels.
fn listen_for_pointer(canvas: &HtmlCanvasElement, sink: impl InputSink + Clone) -> Result<Vec<EventListener>, JsValue> {
    let mut listeners = Vec::new();
    // What is left of the motion after whole host pixels went out (the canvas may be scaled).
    let remainder = std::rc::Rc::new(std::cell::Cell::new((0.0_f64, 0.0_f64)));
    for kind in ["mousemove", "mousedown", "mouseup", "wheel", "contextmenu"] {
        let (sink, canvas_ref, remainder) = (sink.clone(), canvas.clone(), remainder.clone());
        let listener = EventListener::new(move |ev: web_sys::Event| {
            let Ok(mouse) = ev.clone().dyn_into::<MouseEvent>() else { return };
            if !sink.is_graphical() {
                return;
            }
            // The host's own menus, not the browser's, answer a right click.
            ev.prevent_default();
            if kind == "contextmenu" {
                return;
            }
            let held = pointer_buttons(mouse.buttons());
            let event: Box<dyn Fn(u8) -> InputEvent> = if holds_pointer_lock(&canvas_ref) {
                let scale = |css: i32, pixels: u32| f64::from(pixels) / f64::from(css.max(1));
                let (rx, ry) = remainder.get();
                let mx = f64::from(mouse.movement_x()) * scale(canvas_ref.client_width(), canvas_ref.width()) + rx;
                let my = f64::from(mouse.movement_y()) * scale(canvas_ref.client_height(), canvas_ref.height()) + ry;
                let (dx, dy) = (mx.trunc(), my.trunc());
                remainder.set((mx - dx, my - dy));
                let (dx, dy) = (dx.clamp(-32767.0, 32767.0) as i16, dy.clamp(-32767.0, 32767.0) as i16);
                let moved = std::cell::Cell::new(false);
                // The motion goes with the first event; a wheel's release moves no further.
                Box::new(move |buttons| {
                    let (dx, dy) = if moved.replace(true) { (0, 0) } else { (dx, dy) };
                    InputEvent::PointerMotion { dx, dy, buttons }
                })
            } else {
                let (x, y) = frame_position(&canvas_ref, &mouse);
                Box::new(move |buttons| InputEvent::Pointer(PointerEvent { x, y, buttons }))
            };
            match ev.dyn_ref::<WheelEvent>() {
                // A wheel notch is a press and release of button 4 (up) or 5 (down).
                Some(wheel) if wheel.delta_y() != 0.0 => {
                    let notch = if wheel.delta_y() < 0.0 { 8 } else { 16 };
                    sink.input(event(held | notch));
                    sink.input(event(held));
                }
                Some(_) => {}
                None => sink.input(event(held)),
            }
        });
        canvas.add_event_listener_with_callback(kind, listener.as_ref().unchecked_ref())?;
        listeners.push(listener);
    }
    Ok(listeners)
}

fn modifiers(ev: &KeyboardEvent) -> Modifiers {
    let mut m = 0;
    for (on, bit) in [
        (ev.shift_key(), Modifiers::SHIFT),
        (ev.ctrl_key(), Modifiers::CTRL),
        (ev.alt_key(), Modifiers::ALT),
        (ev.meta_key(), Modifiers::META),
    ] {
        if on {
            m |= bit;
        }
    }
    if ev.get_modifier_state("AltGraph") {
        m |= Modifiers::ALT_GRAPH;
    }
    Modifiers(m)
}

/// Whether `canvas` has the pointer lock: the mouse moves the host's pointer by its motion.
pub fn holds_pointer_lock(canvas: &HtmlCanvasElement) -> bool {
    let locked = web_sys::window().and_then(|w| w.document()).and_then(|d| d.pointer_lock_element());
    locked.is_some_and(|e| e == ***canvas)
}

/// Where the mouse is, in canvas pixels (the canvas may be scaled by CSS).
fn frame_position(canvas: &HtmlCanvasElement, ev: &MouseEvent) -> (u16, u16) {
    let scale = |offset: i32, pixels: u32, css: i32| {
        let v = f64::from(offset) * f64::from(pixels) / f64::from(css.max(1));
        v.clamp(0.0, f64::from(pixels.saturating_sub(1))) as u16
    };
    (
        scale(ev.offset_x(), canvas.width(), canvas.client_width()),
        scale(ev.offset_y(), canvas.height(), canvas.client_height()),
    )
}

/// DOM buttons (1 left, 2 right, 4 middle) to RFB's (1 left, 2 middle, 4 right).
fn pointer_buttons(dom: u16) -> u8 {
    let mut b = 0;
    for (dom_bit, rfb_bit) in [(1, 1), (4, 2), (2, 4)] {
        if dom & dom_bit != 0 {
            b |= rfb_bit;
        }
    }
    b
}

/// Ctrl+V, Ctrl+Shift+V and Shift+Insert paste from the clipboard as keystrokes.
fn is_paste_shortcut(ev: &KeyboardEvent) -> bool {
    (ev.ctrl_key() && ev.key().eq_ignore_ascii_case("v")) || (ev.shift_key() && ev.key() == "Insert")
}
