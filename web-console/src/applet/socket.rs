//! The WebSocket of a console link: binary records in and out, open and close reported.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, MessageEvent, WebSocket};

/// What a socket reports, to whoever drives the link.
pub trait SocketEvents: Clone + 'static {
    fn opened(&self);
    fn record(&self, bytes: Vec<u8>);
    fn closed(&self);
}

/// An open (or opening) socket with its handlers; they go when it is closed or dropped.
pub struct Socket {
    ws: WebSocket,
    _handlers: [Closure<dyn FnMut(JsValue)>; 4],
}

type Setter = fn(&WebSocket, Option<&js_sys::Function>);
const SETTERS: [Setter; 4] =
    [WebSocket::set_onopen, WebSocket::set_onmessage, WebSocket::set_onclose, WebSocket::set_onerror];

impl Socket {
    pub fn open(url: &str, events: impl SocketEvents) -> Result<Self, JsValue> {
        let ws = WebSocket::new(url)?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let (open, message, close, error) = (events.clone(), events.clone(), events.clone(), events);
        let watched = ws.clone();
        let handlers: [Closure<dyn FnMut(JsValue)>; 4] = [
            Closure::new(move |_: JsValue| open.opened()),
            Closure::new(move |ev: JsValue| {
                let data = ev.dyn_into::<MessageEvent>().map(|m| m.data());
                if let Ok(buf) = data.and_then(|d| d.dyn_into::<js_sys::ArrayBuffer>()) {
                    message.record(js_sys::Uint8Array::new(&buf).to_vec());
                }
            }),
            Closure::new(move |_: JsValue| close.closed()),
            // A socket refused before it opens (blocked by the page's CSP, for one) may report
            // only an error and never a close event; one that is already closed is closed.
            Closure::new(move |_: JsValue| {
                if watched.ready_state() == WebSocket::CLOSED {
                    error.closed();
                }
            }),
        ];
        for (set, handler) in SETTERS.into_iter().zip(&handlers) {
            set(&ws, Some(handler.as_ref().unchecked_ref()));
        }
        Ok(Self { ws, _handlers: handlers })
    }

    pub fn is_open(&self) -> bool {
        self.ws.ready_state() == WebSocket::OPEN
    }

    pub fn send(&self, record: &[u8]) {
        // A failed send means the socket is closing; its close event reports it.
        let _ = self.ws.send_with_u8_array(record);
    }

    /// Asks the socket to close; its close event follows.
    pub fn request_close(&self) {
        let _ = self.ws.close();
    }

    /// Closes the socket with nothing more reported.
    pub fn close(self) {
        for set in SETTERS {
            set(&self.ws, None);
        }
        let _ = self.ws.close();
    }
}
