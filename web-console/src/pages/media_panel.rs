//! The console page's virtual media panel: attach a file from this computer (`media_file`), or
//! insert an image from the controller's media folder, or from a URL on one of the controller's
//! listed image servers, into the host's CD drive or USB disk drive (writable if asked); see
//! what each holds and how much the host has read; eject it; set a one-time boot override.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::media_file::BrowserFile;
use crate::api::{self, DriveStatus, MediaImage, MediaStatus};
use crate::applet::Console;

/// How often an open panel asks how much the host has read.
const REFRESH: Duration = Duration::from_secs(2);

#[component]
pub fn MediaPanel(host: String, csrf: String, console: StoredValue<Option<Console>, LocalStorage>) -> impl IntoView {
    let images = RwSignal::new(Vec::<MediaImage>::new());
    let chosen = RwSignal::new(String::new());
    let url = RwSignal::new(String::new());
    let status = RwSignal::new(MediaStatus::default());
    let message = RwSignal::new(String::new());
    spawn_local(async move {
        if let Ok(list) = api::media_images().await {
            if let Some(first) = list.first() {
                chosen.set(first.name.clone());
            }
            images.set(list);
        }
    });
    let poll_host = host.clone();
    let refresh = move || {
        let host = poll_host.clone();
        spawn_local(async move {
            if let Ok(now) = api::media_status(&host).await {
                status.set(now);
            }
        });
    };
    refresh();
    if let Ok(handle) = set_interval_with_handle(refresh, REFRESH) {
        on_cleanup(move || handle.clear());
    }
    let (insert_host, insert_csrf) = (StoredValue::new(host.clone()), StoredValue::new(csrf.clone()));
    // Where the media folder's image or the URL goes: `cd` or `usb` (writable if ticked).
    let drive = RwSignal::new(String::from("cd"));
    let writable = RwSignal::new(false);
    let insert = move |mut body: serde_json::Value| {
        let (host, csrf) = (insert_host.get_value(), insert_csrf.get_value());
        let drive = drive.get_untracked();
        body["writable"] = (drive == "usb" && writable.get_untracked()).into();
        spawn_local(async move {
            match api::insert_media(&csrf, &host, &drive, body).await {
                Ok(now) => {
                    status.set(now);
                    message.set(String::new());
                }
                Err(e) => message.set(e),
            }
        });
    };
    let eject = move |drive: &'static str| {
        let (host, csrf) = (insert_host.get_value(), insert_csrf.get_value());
        spawn_local(async move {
            match api::eject_media(&csrf, &host, drive).await {
                Ok(now) => {
                    status.set(now);
                    message.set(String::new());
                }
                Err(e) => message.set(e),
            }
        });
    };
    let boot_choice = RwSignal::new(String::from("cd"));
    let set_boot = move |target: Option<String>| {
        let (host, csrf) = (insert_host.get_value(), insert_csrf.get_value());
        spawn_local(async move {
            match api::set_boot_once(&csrf, &host, target.as_deref()).await {
                Ok(now) => {
                    status.set(now);
                    message.set(String::new());
                }
                Err(e) => message.set(e),
            }
        });
    };
    let boot_described = move || match status.get().boot_once.as_deref() {
        Some("cd") => "The next start or reset boots from the CD, once.".to_string(),
        Some("usb") => "The next start or reset boots from the USB disk, once.".to_string(),
        Some("pxe") => "The next start or reset boots from the network (PXE), once.".to_string(),
        _ => "The host boots as usual.".to_string(),
    };
    let cd_described = move || describe("The CD drive", &status.get().cd);
    let usb_described = move || describe("The USB disk drive", &status.get().usb);
    view! {
        <div id="media-panel" class="panel">
            <BrowserFile console=console/>
            <select id="media-image" on:change=move |ev| chosen.set(event_target_value(&ev)) prop:value=move || chosen.get()>
                {move || images.get().into_iter().map(|i| {
                    let label = format!("{} ({})", i.name, size(i.size));
                    view! { <option value=i.name.clone()>{label}</option> }
                }).collect_view()}
            </select>
            <select id="media-drive" on:change=move |ev| drive.set(event_target_value(&ev)) prop:value=move || drive.get()>
                <option value="cd">"as CD"</option>
                <option value="usb">"as USB disk"</option>
            </select>
            <label class:hidden=move || drive.get() != "usb">
                <input id="media-insert-writable" type="checkbox" prop:checked=move || writable.get()
                    on:change=move |ev| writable.set(event_target_checked(&ev))/>
                " writable (the host's writes last until the disk is ejected; the image is never changed)"
            </label>
            <button id="btn-media-insert" on:click=move |_| insert(serde_json::json!({ "image": chosen.get_untracked() })) disabled=move || chosen.get().is_empty()>"Insert"</button>
            <input id="media-url" type="url" placeholder="https://images.example/rescue.iso" prop:value=move || url.get() on:input=move |ev| url.set(event_target_value(&ev))/>
            <button id="btn-media-insert-url" on:click=move |_| insert(serde_json::json!({ "url": url.get_untracked() })) disabled=move || url.get().is_empty()>"Insert URL"</button>
            <p class="media-drive"><span id="media-status">{cd_described}</span>" "
                <button id="btn-media-eject" on:click=move |_| eject("cd") disabled=move || status.with(|s| s.cd.inserted.is_none())>"Eject CD"</button>
            </p>
            <p class="media-drive"><span id="media-status-usb">{usb_described}</span>" "
                <button id="btn-media-eject-usb" on:click=move |_| eject("usb") disabled=move || status.with(|s| s.usb.inserted.is_none())>"Eject USB disk"</button>
            </p>
            <div class="boot-once">
                <select id="boot-once-target" on:change=move |ev| boot_choice.set(event_target_value(&ev)) prop:value=move || boot_choice.get()>
                    <option value="cd">"CD"</option>
                    <option value="usb" disabled=move || !status.with(|s| s.boot_targets.iter().any(|t| t == "usb"))>"USB disk"</option>
                    <option value="pxe" disabled=move || !status.with(|s| s.boot_targets.iter().any(|t| t == "pxe"))>"Network (PXE)"</option>
                </select>
                <button id="btn-boot-once" on:click=move |_| set_boot(Some(boot_choice.get_untracked()))
                    disabled=move || !status.with(|s| s.boot_targets.contains(&boot_choice.get()))>"Boot from it once"</button>
                <button id="btn-boot-once-clear" on:click=move |_| set_boot(None) disabled=move || status.with(|s| s.boot_once.is_none())>"Boot as usual"</button>
                <p id="boot-once-status">{boot_described}</p>
            </div>
            <p id="media-error" class="error">{move || message.get()}</p>
            <Show when=move || images.with(Vec::is_empty)>
                <p class="muted">"No images in the controller's media folder."</p>
            </Show>
        </div>
    }
}

/// What `drive` (e.g. "The CD drive") holds, as a sentence.
fn describe(drive: &str, s: &DriveStatus) -> String {
    match &s.inserted {
        None => format!("{drive} is empty."),
        Some(image) => format!(
            "{image} inserted{} ({}); the host has read {}{}",
            if s.writable { ", writable" } else { "" },
            size(s.size),
            size(s.bytes_read),
            if s.connected { "" } else { " (not connected)" }
        ),
    }
}

pub(super) fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}
