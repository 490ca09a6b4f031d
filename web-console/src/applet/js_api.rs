//! The applet's JavaScript entry point, for any page that holds a console key (a vendor
//! portal's, or ours):
//!
//! ```js
//! import init, { LanternConsole } from "/web-console.js";
//! await init();
//! const console = new LanternConsole(canvas, {
//!   onStatus: (s) => { /* s.state, s.message, s.suite, s.epoch, s.keyRenewsInMs, s.keyExpiresInMs, s.fps, s.kbps */ },
//!   // Called for a fresh key: reason is "renew" (in-band switch) or "reconnect" (after a drop).
//!   keyProvider: async (reason) => ({ url, keyId, pms, suites, controllerKey }),
//! });
//! console.connect({
//!   url: "wss://controller/console/ws", keyId: "…32 hex…", pms: "…base64…",
//!   controllerKey: "…base64url, the console-key API's controller_key…",
//! });
//! ```
//! `controllerKey` pins the controller: a console server that does not sign the handshake with
//! it (something between the page and the controller) is stopped with a clear message.
//! The key travels from the page's TLS session into the applet by this call only: never in a
//! URL, an attribute that is logged, or the console link.

use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlCanvasElement;

use super::engine::{Console, ConsoleKey, KeyRequest, Status};
use super::parse_key;

#[wasm_bindgen(js_name = LanternConsole)]
pub struct JsConsole {
    console: Console,
}

#[wasm_bindgen(js_class = LanternConsole)]
impl JsConsole {
    /// Binds a console to `canvas`. `options` may hold `onStatus(status)` and
    /// `keyProvider(reason) -> Promise<key>`.
    #[wasm_bindgen(constructor)]
    pub fn new(canvas: HtmlCanvasElement, options: Option<Object>) -> Result<JsConsole, JsValue> {
        let console = Console::new(canvas)?;
        if let Some(options) = options {
            if let Ok(f) = Reflect::get(&options, &"onStatus".into())?.dyn_into::<Function>() {
                console.set_status_listener(Rc::new(move |s: &Status| {
                    let _ = f.call1(&JsValue::NULL, &status_object(s));
                }));
            }
            if let Ok(f) = Reflect::get(&options, &"keyProvider".into())?.dyn_into::<Function>() {
                console.set_key_provider(Rc::new(move |reason: KeyRequest| {
                    let reason = match reason {
                        KeyRequest::Renew => "renew",
                        KeyRequest::Reconnect => "reconnect",
                    };
                    let called = f.call1(&JsValue::NULL, &reason.into());
                    Box::pin(async move {
                        let value = called.map_err(js_error)?;
                        let value = match value.dyn_into::<Promise>() {
                            Ok(p) => JsFuture::from(p).await.map_err(js_error)?,
                            Err(v) => v,
                        };
                        key_from_js(&value)
                    })
                }));
            }
        }
        Ok(JsConsole { console })
    }

    /// Opens the link with `{ url, keyId, pms, controllerKey, suites? }`.
    pub fn connect(&self, key: JsValue) -> Result<(), JsValue> {
        let key = key_from_js(&key).map_err(|e| JsValue::from_str(&e))?;
        self.console.connect(key)
    }

    /// Switches the open link to a fresh key in-band (normally the key provider does this).
    pub fn renew(&self, key: JsValue) -> Result<(), JsValue> {
        let key = key_from_js(&key).map_err(|e| JsValue::from_str(&e))?;
        self.console.renew(key).map_err(|e| JsValue::from_str(&e))
    }

    #[wasm_bindgen(js_name = ctrlAltDel)]
    pub fn ctrl_alt_del(&self) {
        self.console.ctrl_alt_del();
    }

    /// Asks for the keyboard and mouse when another viewer holds them (`status().holder`).
    #[wasm_bindgen(js_name = requestControl)]
    pub fn request_control(&self) {
        self.console.request_control();
    }

    /// Hands the keyboard and mouse to viewer `to` (an id from `status().viewers`).
    #[wasm_bindgen(js_name = giveControl)]
    pub fn give_control(&self, to: u32) {
        self.console.give_control(to);
    }

    /// Types `text` on the host's keyboard.
    pub fn paste(&self, text: &str) {
        self.console.paste(text);
    }

    /// The screen's text, one line per row.
    #[wasm_bindgen(js_name = screenText)]
    pub fn screen_text(&self) -> String {
        self.console.screen_text()
    }

    pub fn status(&self) -> JsValue {
        status_object(&self.console.status())
    }

    /// Shows the host's serial console on `canvas` (keys typed there go to the serial port).
    #[wasm_bindgen(js_name = attachSerial)]
    pub fn attach_serial(&self, canvas: HtmlCanvasElement) -> Result<(), JsValue> {
        self.console.attach_serial(canvas)
    }

    /// The serial console's screen as text, one line per row.
    #[wasm_bindgen(js_name = serialText)]
    pub fn serial_text(&self) -> String {
        self.console.serial_text()
    }

    /// Types `text` on the host's serial port.
    #[wasm_bindgen(js_name = serialPaste)]
    pub fn serial_paste(&self, text: &str) {
        self.console.serial_paste(text);
    }

    pub fn disconnect(&self) {
        self.console.disconnect();
    }
}

fn key_from_js(value: &JsValue) -> Result<ConsoleKey, String> {
    let get = |name: &str| Reflect::get(value, &name.into()).ok().and_then(|v| v.as_string());
    let url = get("url").ok_or("key.url is missing")?;
    let key_id = get("keyId").ok_or("key.keyId is missing")?;
    let pms = get("pms").ok_or("key.pms is missing")?;
    let controller_key = get("controllerKey").ok_or("key.controllerKey is missing")?;
    let suites: Vec<String> = Reflect::get(value, &"suites".into())
        .ok()
        .filter(|v| v.is_object())
        .map(|v| js_sys::Array::from(&v).iter().filter_map(|s| s.as_string()).collect())
        .unwrap_or_default();
    parse_key(url, &key_id, &pms, &suites, &controller_key)
}

fn status_object(s: &Status) -> JsValue {
    let o = Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&o, &k.into(), &v);
    };
    set("state", s.state.into());
    set("message", s.message.as_str().into());
    set("suite", s.suite.map(JsValue::from).unwrap_or(JsValue::NULL));
    set("generation", s.generation.into());
    set("epoch", s.epoch.into());
    set("keyExpiresInMs", s.key_expires_in_ms.map(|v| JsValue::from(v as f64)).unwrap_or(JsValue::NULL));
    set("keyRenewsInMs", s.key_renews_in_ms.map(|v| JsValue::from(v as f64)).unwrap_or(JsValue::NULL));
    set("fps", s.fps.into());
    set("kbps", s.kbps.into());
    set("frames", (s.frames as f64).into());
    set("serialBytes", (s.serial_bytes as f64).into());
    set("hostStatus", s.host_status.as_str().into());
    set("renewals", s.renewals.into());
    let p = &s.presence;
    let id = |v: Option<u32>| v.map(JsValue::from).unwrap_or(JsValue::NULL);
    set("you", p.you.into());
    set("holder", id(p.holder));
    set("requestedBy", id(p.requested_by));
    let viewers = js_sys::Array::new();
    for v in &p.viewers {
        let entry = Object::new();
        let _ = Reflect::set(&entry, &"id".into(), &v.id.into());
        let _ = Reflect::set(&entry, &"name".into(), &v.name.as_str().into());
        let _ = Reflect::set(&entry, &"mayControl".into(), &v.may_control.into());
        viewers.push(&entry);
    }
    set("viewers", viewers.into());
    o.into()
}

fn js_error(v: JsValue) -> String {
    v.as_string()
        .or_else(|| Reflect::get(&v, &"message".into()).ok().and_then(|m| m.as_string()))
        .unwrap_or_else(|| "key provider failed".into())
}
