//! The media panel's part for a file on the user's own machine: pick an `.iso` (a CD) or an
//! `.img` (a USB disk), press *Attach*, and the host reads it from this page over the console
//! link while it stays open; bytes read, read rate and the file's name show as it goes.

use leptos::prelude::*;
use leptos::wasm_bindgen::JsCast;
use shared::wire::MediaDevice;

use crate::applet::media::{MediaState, MediaView};
use crate::applet::Console;

#[component]
pub fn BrowserFile(console: StoredValue<Option<Console>, LocalStorage>) -> impl IntoView {
    let files = RwSignal::new(console.get_value().map(|c| c.media()).unwrap_or_default());
    let writable = RwSignal::new(false);
    let picked = RwSignal::new(None::<String>);
    let message = RwSignal::new(String::new());
    if let Some(c) = console.get_value() {
        // The panel may close while the console goes on: a closed panel's signal is gone.
        c.set_media_listener(std::rc::Rc::new(move |views: &[MediaView]| {
            let _ = files.try_set(views.to_vec());
        }));
    }
    let input_ref = NodeRef::<leptos::html::Input>::new();
    let chosen_file = move || -> Option<web_sys::File> {
        let input: web_sys::HtmlInputElement = input_ref.get_untracked()?.unchecked_into();
        input.files()?.get(0)
    };
    let attach = move |_| {
        let (Some(c), Some(file)) = (console.get_value(), chosen_file()) else {
            return message.set("Pick a file first.".into());
        };
        let device = device_for(&file.name());
        let writable = device == MediaDevice::Usb && writable.get_untracked();
        message.set(String::new());
        c.attach_media(device, file, writable);
    };
    let detach = move |device: MediaDevice| {
        if let Some(c) = console.get_value() {
            c.eject_media(device);
        }
    };
    view! {
        <div id="media-browser" class="media-browser">
            <label>"From this computer: "
                <input id="media-file" type="file" accept=".iso,.img" node_ref=input_ref
                    on:change=move |_| picked.set(chosen_file().map(|f| f.name()))/>
            </label>
            <label class:hidden=move || picked.get().is_none_or(|name| device_for(&name) != MediaDevice::Usb)>
                <input id="media-writable" type="checkbox" prop:checked=move || writable.get()
                    on:change=move |ev| writable.set(event_target_checked(&ev))/>
                " writable"
            </label>
            <button id="btn-media-attach" on:click=attach disabled=move || picked.get().is_none()>
                {move || match picked.get().map(|name| device_for(&name)) {
                    Some(MediaDevice::Usb) => "Attach as USB disk",
                    _ => "Attach as CD",
                }}
            </button>
            <p id="media-browser-error" class="error">{move || message.get()}</p>
            <ul id="media-browser-files">
                {move || files.get().into_iter().map(|f| {
                    let device = f.device;
                    let live = f.state != MediaState::Detached;
                    view! {
                        <li class="media-file" data-device=device.name() data-state=state_name(f.state)>
                            <span class="media-file-status">{describe(&f)}</span>
                            <button class="btn-media-detach" on:click=move |_| detach(device) disabled=!live>"Eject"</button>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </div>
    }
}

/// An `.img` is a disk; anything else (an `.iso`) is a CD.
fn device_for(name: &str) -> MediaDevice {
    if name.to_ascii_lowercase().ends_with(".img") {
        MediaDevice::Usb
    } else {
        MediaDevice::Cd
    }
}

fn state_name(state: MediaState) -> &'static str {
    match state {
        MediaState::Attaching => "attaching",
        MediaState::Attached => "attached",
        MediaState::Detached => "detached",
    }
}

fn describe(f: &MediaView) -> String {
    let drive = match f.device {
        MediaDevice::Cd => "CD",
        MediaDevice::Usb => "USB disk",
    };
    let size = super::media_panel::size;
    match f.state {
        MediaState::Attaching => format!("{} ({}) as {drive}: attaching", f.name, size(f.size)),
        MediaState::Attached => format!(
            "{} ({}) as {drive}: the host has read {} ({}/s)",
            f.name,
            size(f.size),
            size(f.bytes_read),
            size(f.rate as u64)
        ),
        MediaState::Detached => {
            format!("{} as {drive}: detached ({}) after {} read", f.name, f.message, size(f.bytes_read))
        }
    }
}
