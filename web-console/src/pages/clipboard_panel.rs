//! The clipboard panel: the host's clipboard as it last copied (VNC hosts: UTF-8 where the
//! server has the Extended Clipboard, Latin-1 otherwise), put on this computer's clipboard on a
//! click; and text sent to the host's clipboard.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::applet::{Console, Status};

#[component]
pub fn ClipboardPanel(
    console: StoredValue<Option<Console>, LocalStorage>,
    status: RwSignal<Status>,
    may_send: bool,
) -> impl IntoView {
    let host_text = move || status.with(|s| s.host_clipboard.as_deref().map(String::from));
    let outgoing = RwSignal::new(String::new());
    let message = RwSignal::new(String::new());
    let copy = move |_| {
        let Some(text) = host_text() else { return };
        let Some(window) = web_sys::window() else { return };
        let written = window.navigator().clipboard().write_text(&text);
        spawn_local(async move {
            message.set(match wasm_bindgen_futures::JsFuture::from(written).await {
                Ok(_) => "Copied to this computer's clipboard.".into(),
                Err(e) => format!("The browser did not take it: {}", e.as_string().unwrap_or_else(|| format!("{e:?}"))),
            });
        });
    };
    let send = move |_| {
        if let Some(c) = console.get_value() {
            c.set_host_clipboard(&outgoing.get_untracked());
            message.set("Sent to the host's clipboard.".into());
        }
    };
    view! {
        <div id="clipboard-panel" class="panel clipboard">
            <label for="clipboard-host">"The host's clipboard"</label>
            <textarea id="clipboard-host" rows="3" readonly placeholder="Nothing copied on the host yet" prop:value=move || host_text().unwrap_or_default()></textarea>
            <button id="btn-clipboard-copy" disabled=move || host_text().is_none() on:click=copy>"Copy to this computer"</button>
            <label for="clipboard-send-text">"Text for the host's clipboard"</label>
            <textarea id="clipboard-send-text" rows="3" disabled=!may_send prop:value=outgoing on:input=move |ev| outgoing.set(event_target_value(&ev))></textarea>
            <button id="btn-clipboard-send" disabled=!may_send on:click=send>"Send to the host"</button>
            <span id="clipboard-message" class="muted" aria-live="polite">{move || message.get()}</span>
        </div>
    }
}
