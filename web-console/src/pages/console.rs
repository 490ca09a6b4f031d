//! The console page: the applet's canvas, a toolbar and a status bar.

use std::rc::Rc;

use leptos::html;
use leptos::prelude::*;

use super::clipboard_panel::ClipboardPanel;
use super::directives::DirectivesPanel;
use super::host_panels::{EventsPanel, HealthPanel};
use super::keys_panel::KeysPanel;
use super::media_panel::MediaPanel;
use leptos::task::spawn_local;

use crate::api::{self, HostSummary, Transport};
use crate::applet::{Console, KeyRequest, Status};
use shared::wire::Layout;

/// The power buttons a host may have, in the order they are shown: its action, the button's
/// id, label and what it does.
const POWER_BUTTONS: [(&str, &str, &str, &str); 5] = [
    ("on", "btn-power-on", "Power on", "Power on the host"),
    (
        "shutdown",
        "btn-shutdown",
        "Shut down",
        "Ask the host to shut down (ACPI power button, or the OS of an agent's machine)",
    ),
    ("off", "btn-power-off", "Power off", "Power off at once, as pulling the plug"),
    ("reset", "btn-reset", "Reset", "Reset the host (an agent's machine reboots)"),
    ("nmi", "btn-nmi", "NMI", "Send a non-maskable interrupt (a hung kernel dumps its state)"),
];

/// The preferences that keep each host's keyboard layout: this and the host's id.
const LAYOUT_PREFIX: &str = "layout.";

/// The preference that keeps the console's zoom, and the values it takes.
const ZOOM: &str = "console.zoom";
const ZOOMS: [&str; 4] = ["fit", "1", "2", super::scaling::INTEGER];

#[component]
pub fn ConsolePage(host: HostSummary, csrf: String, on_back: Callback<()>) -> impl IntoView {
    let canvas_ref = NodeRef::<html::Canvas>::new();
    let frame_ref = NodeRef::<html::Div>::new();
    let status = RwSignal::new(Status::default());
    let console = StoredValue::new_local(None::<Console>);
    let screen_text = RwSignal::new(String::new());
    let show_text = RwSignal::new(false);
    let show_paste = RwSignal::new(false);
    let show_keys = RwSignal::new(false);
    let show_clipboard = RwSignal::new(false);
    let show_events = RwSignal::new(false);
    let show_health = RwSignal::new(false);
    let show_serial = RwSignal::new(false);
    let serial_ref = NodeRef::<html::Canvas>::new();
    let serial_text = RwSignal::new(String::new());
    let paste_text = RwSignal::new(String::new());
    let zoom = RwSignal::new(String::from("fit"));
    let layout = RwSignal::new(Layout::Us);
    // This user's layout for this host: remembered per host, as hosts differ.
    let layout_preference = format!("{LAYOUT_PREFIX}{}", host.id);
    // The zoom the user chose last, wherever they chose it, and the host's layout (kept by the
    // controller).
    let saved_layout = layout_preference.clone();
    spawn_local(async move {
        let Ok(saved) = api::preferences().await else { return };
        if let Some(z) = saved.get(ZOOM).filter(|z| ZOOMS.contains(&z.as_str())) {
            zoom.set(z.clone());
        }
        if let Some(l) = saved.get(&saved_layout).and_then(|l| Layout::from_name(l)) {
            layout.set(l);
            if let Some(c) = console.try_get_value().flatten() {
                c.set_layout(l);
            }
        }
    });
    let layout_csrf = csrf.clone();
    let choose_layout = move |ev: leptos::ev::Event| {
        let Some(chosen) = Layout::from_name(&event_target_value(&ev)) else { return };
        layout.set(chosen);
        if let Some(c) = console.get_value() {
            c.set_layout(chosen);
        }
        let (csrf, name) = (layout_csrf.clone(), layout_preference.clone());
        spawn_local(async move {
            // US is the default: nothing to keep.
            let value = (chosen != Layout::Us).then_some(chosen.name());
            if let Err(e) = api::set_preference(&csrf, &name, value).await {
                status.update(|s| s.message = format!("the layout is not remembered: {e}"));
            }
        });
    };
    let zoom_csrf = csrf.clone();
    let choose_zoom = move |ev: leptos::ev::Event| {
        let chosen = event_target_value(&ev);
        zoom.set(chosen.clone());
        let csrf = zoom_csrf.clone();
        spawn_local(async move {
            let _ = api::set_preference(&csrf, ZOOM, Some(&chosen)).await;
        });
    };
    let transport =
        if query_param("transport").as_deref() == Some("plain") { Transport::Plain } else { Transport::Secure };

    // Read by the power buttons below; the effect takes its own copies.
    let power_csrf = StoredValue::new(csrf.clone());
    let power_host = StoredValue::new(host.id.clone());
    let host_id = host.id.clone();
    Effect::new(move |_| {
        let Some(canvas) = canvas_ref.get() else { return };
        if console.with_value(Option::is_some) {
            return;
        }
        let c = match Console::new(canvas) {
            Ok(c) => c,
            Err(e) => {
                status.set(Status {
                    state: "closed",
                    message: format!("console failed to start: {e:?}"),
                    ..Status::default()
                });
                return;
            }
        };
        c.set_status_listener(Rc::new(move |s: &Status| status.set(s.clone())));
        c.set_layout(layout.get_untracked());
        let (provider_csrf, provider_host) = (csrf.clone(), host_id.clone());
        c.set_key_provider(Rc::new(move |_: KeyRequest| {
            let (csrf, host_id) = (provider_csrf.clone(), provider_host.clone());
            Box::pin(async move { api::console_key(&csrf, &host_id, transport).await })
        }));
        console.set_value(Some(c.clone()));

        let first = c.clone();
        let (csrf, host_id) = (csrf.clone(), host_id.clone());
        spawn_local(async move {
            match api::console_key(&csrf, &host_id, transport).await {
                Ok(key) => {
                    if let Err(e) = first.connect(key) {
                        status.set(Status {
                            state: "closed",
                            message: format!("cannot open the console: {e:?}"),
                            ..Status::default()
                        });
                    }
                }
                Err(e) => status.set(Status {
                    state: "closed",
                    message: format!("cannot get a console key: {e}"),
                    ..Status::default()
                }),
            }
        });
    });
    on_cleanup(move || {
        if let Some(c) = console.try_get_value().flatten() {
            c.disconnect();
        }
    });

    // The serial view's text (for copying and screen readers) follows it while it is open.
    Effect::new(move |_| {
        let _ = status.with(|s| s.serial_bytes);
        if show_serial.get() {
            if let Some(c) = console.get_value() {
                serial_text.set(c.serial_text());
            }
        }
    });

    // The text view follows the screen while it is open.
    Effect::new(move |_| {
        let _ = status.get();
        if show_text.get() {
            if let Some(c) = console.get_value() {
                screen_text.set(c.screen_text());
            }
        }
    });

    // The serial console is opened on the link the first time its view is shown: the
    // controller then sends its backlog (what came before) and streams from there.
    let serial_attached = StoredValue::new(false);
    let open_serial = move |_| {
        if !serial_attached.get_value() {
            if let (Some(canvas), Some(c)) = (serial_ref.get_untracked(), console.get_value()) {
                match c.attach_serial(canvas) {
                    Ok(()) => serial_attached.set_value(true),
                    Err(e) => status.update(|s| s.message = format!("serial console failed: {e:?}")),
                }
            }
        }
        show_serial.update(|v| *v = !*v);
    };

    let with_console = move |f: fn(&Console)| {
        if let Some(c) = console.get_value() {
            f(&c);
        }
    };
    let copy_text = move |_| {
        let Some(c) = console.get_value() else { return };
        let text = c.screen_text();
        screen_text.set(text.clone());
        if let Some(w) = web_sys::window() {
            let _ = w.navigator().clipboard().write_text(&text);
        }
    };
    // While the console is full screen: whether the browser gives it every key.
    let full_screen_keys = RwSignal::new(None::<bool>);
    let (png_link, text_link) = (NodeRef::<html::A>::new(), NodeRef::<html::A>::new());
    let screenshot_host = host.name.clone();
    let take_screenshot = move |_| {
        let (Some(c), Some(canvas), Some(png)) = (console.get_value(), canvas_ref.get(), png_link.get()) else {
            return;
        };
        let text = (!c.shows_graphics()).then(|| text_link.get()).flatten().map(|link| (link, c.screen_text()));
        if let Err(e) = super::screenshot::save(&canvas, &super::screenshot::stem(&screenshot_host), png, text) {
            status.update(|s| s.message = format!("the screenshot failed: {e:?}"));
        }
    };
    let full_screen = move |_| {
        if let Some(frame) = frame_ref.get() {
            if frame.request_fullscreen().is_ok() {
                spawn_local(async move { full_screen_keys.set(Some(lock_keyboard().await)) });
            }
        }
        focus(canvas_ref);
    };
    super::on_document_event("fullscreenchange", move || {
        let full = web_sys::window().and_then(|w| w.document()).and_then(|d| d.fullscreen_element()).is_some();
        if !full && full_screen_keys.get_untracked().is_some() {
            keyboard_lock_call(false);
            full_screen_keys.set(None);
        }
    });
    // Relative mouse: the canvas takes the pointer (Pointer Lock) and sends its motions, for
    // hosts without an absolute pointer (a BIOS, a guest with only a PS/2 mouse).
    let relative_mouse = RwSignal::new(false);
    let lock_pointer = move |_| {
        if let Some(canvas) = canvas_ref.get_untracked() {
            canvas.request_pointer_lock();
            let _ = canvas.focus();
        }
    };
    super::on_document_event("pointerlockchange", move || {
        relative_mouse.set(canvas_ref.get_untracked().is_some_and(|c| crate::applet::input::holds_pointer_lock(&c)));
    });
    let send_paste = move |_| {
        if let Some(c) = console.get_value() {
            c.paste(&paste_text.get_untracked());
        }
        show_paste.set(false);
        paste_text.set(String::new());
        focus(canvas_ref);
    };
    let canvas_class = move || format!("screen zoom-{}", zoom.get());
    // Integer scaling follows the canvas's size, the window's and full screen.
    let rescale = move || {
        if let (Some(canvas), Some(frame)) = (canvas_ref.get_untracked(), frame_ref.get_untracked()) {
            super::scaling::apply(&canvas, &frame, &zoom.get_untracked());
        }
    };
    Effect::new(move |_| {
        let _ = (zoom.get(), status.with(|s| s.frames), full_screen_keys.get());
        rescale();
    });
    let on_resize = window_event_listener(leptos::ev::resize, move |_| rescale());
    on_cleanup(move || on_resize.remove());
    let resize_host = move |_| {
        let (Some(c), Some(frame)) = (console.get_value(), frame_ref.get_untracked()) else { return };
        // The room in CSS pixels, as the canvas shows at 100 %.
        let (width, height) = super::scaling::room(&frame);
        c.resize_host(width.clamp(64.0, 8192.0) as u16, height.clamp(64.0, 8192.0) as u16);
        focus(canvas_ref);
    };
    // The controller refuses a viewer's input anyway; the page just does not offer it.
    let view_only = !host.rights.control;
    let can_power = host.power && host.rights.power;
    let may_power = host.rights.power;
    let has_recovery = host.recovery;
    let has_serial = host.serial;
    // A shell's console takes characters, whatever the layout.
    let is_graphical = host.kind != "local";
    let may_run = host.kind == "agent" && host.rights.run;
    let may_use_media = host.media && host.rights.media;
    let show_media = RwSignal::new(false);
    let (media_host, media_csrf) = (host.id.clone(), power_csrf.get_value());
    let show_directives = RwSignal::new(false);
    let (directives_host, directives_csrf) = (host.id.clone(), power_csrf.get_value());
    let (events_host, health_host, health_csrf) = (host.id.clone(), host.id.clone(), power_csrf.get_value());
    let has_action = {
        let actions = host.power_actions.clone();
        move |action: &str| actions.iter().any(|a| a == action)
    };
    // `local` power acts on the console's program, not a machine: say so.
    let power_note = (host.kind == "local")
        .then_some("Power acts on the console program: off stops it, on starts it, reset restarts it.");
    let act = move |action: &'static str| {
        let (csrf, host) = (power_csrf.get_value(), power_host.get_value());
        spawn_local(async move {
            if let Err(e) = api::power(&csrf, &host, action).await {
                status.update(|s| s.message = format!("power {action} failed: {e}"));
            }
        });
    };
    // Everything but power on can lose the host's work: asked first, naming the host.
    let confirming = RwSignal::new(None::<&'static str>);
    let press = move |action: &'static str| {
        if action == "on" {
            act(action);
        } else {
            confirming.set(Some(action));
        }
    };
    let on_confirm = Callback::new(move |action: &'static str| {
        act(action);
        focus(canvas_ref);
    });
    let on_cancel = Callback::new(move |()| focus(canvas_ref));

    view! {
        <section class="console">
            <div class="toolbar">
                <button id="btn-back" on:click=move |_| on_back.run(())>"← Hosts"</button>
                <strong class="host-name">{host.name.clone()}</strong>
                <Show when=move || view_only>
                    <span id="view-only" class="badge stopped" title="You may watch this console but not type">"View only"</span>
                </Show>
                <button id="btn-cad" disabled=view_only title="Send Ctrl-Alt-Del to the host" on:click=move |_| { with_console(Console::ctrl_alt_del); focus(canvas_ref); }>"Ctrl-Alt-Del"</button>
                <Show when=move || can_power>
                    <span class="power" title=power_note.unwrap_or("Power buttons")>
                        {POWER_BUTTONS
                            .iter()
                            .filter(|(action, ..)| has_action(action))
                            .map(|&(action, id, label, title)| view! { <button id=id title=title on:click=move |_| press(action)>{label}</button> })
                            .collect_view()}
                    </span>
                    {power_note.map(|note| view! { <span id="power-note" class="muted">{note}</span> })}
                </Show>
                <button id="btn-keys" disabled=view_only title="Keys and combinations the browser keeps for itself, and modifiers that stay down" on:click=move |_| show_keys.update(|v| *v = !*v)>"Keys"</button>
                <Show when=move || is_graphical>
                    <button id="btn-clipboard" title="The host's clipboard, both ways" on:click=move |_| show_clipboard.update(|v| *v = !*v)>"Clipboard"</button>
                </Show>
                <button id="btn-paste" disabled=view_only on:click=move |_| show_paste.update(|v| *v = !*v)>"Paste…"</button>
                <button id="btn-copy" title="Copy the screen's text" on:click=copy_text>"Copy text"</button>
                <button id="btn-text" on:click=move |_| show_text.update(|v| *v = !*v)>"Text view"</button>
                <button id="btn-events" on:click=move |_| show_events.update(|v| *v = !*v)>"Events"</button>
                <button id="btn-health" on:click=move |_| show_health.update(|v| *v = !*v)>"Health"</button>
                <Show when=move || has_serial>
                    <button id="btn-serial" title="The host's serial console (COM1)" on:click=open_serial>"Serial"</button>
                </Show>
                <Show when=move || may_use_media>
                    <button id="btn-media" title="Virtual media: an image of the controller's media folder as the host's CD" on:click=move |_| show_media.update(|v| *v = !*v)>"Media"</button>
                </Show>
                <Show when=move || may_run>
                    <button id="btn-directives" title="Run commands on the machine through its agent" on:click=move |_| show_directives.update(|v| *v = !*v)>"Directives"</button>
                </Show>
                <button id="btn-screenshot" title="Save the screen as a PNG (and a text screen's text)" on:click=take_screenshot>"Screenshot"</button>
                <a id="screenshot-link" class="hidden" node_ref=png_link></a>
                <a id="screenshot-text-link" class="hidden" node_ref=text_link></a>
                <button id="btn-fullscreen" on:click=full_screen>"Full screen"</button>
                <select id="zoom" on:change=choose_zoom prop:value=move || zoom.get()>
                    <option value="fit">"Fit"</option>
                    <option value="1">"100%"</option>
                    <option value="2">"200%"</option>
                    <option value="int" title="The largest whole number of screen pixels per host pixel that fits">"Integer"</option>
                </select>
                <Show when=move || is_graphical && !view_only>
                    <button id="btn-relative-mouse" title="Relative mouse for hosts without an absolute pointer (BIOS screens, a PS/2 mouse): the page takes the mouse until Esc" on:click=lock_pointer>"Relative mouse"</button>
                    <button id="btn-resize-host" title="Make the host's desktop the size of this window (servers that allow it, as TigerVNC does)" on:click=resize_host>"Resize host"</button>
                </Show>
                <Show when=move || is_graphical>
                    <select id="layout" title="The host's keyboard layout: keys and pasted text are typed for it" on:change=choose_layout.clone() prop:value=move || layout.get().name()>
                        {Layout::ALL.iter().map(|l| view! { <option value=l.name()>{l.title()}</option> }).collect_view()}
                    </select>
                </Show>
                <button id="btn-disconnect" on:click=move |_| with_console(Console::disconnect)>"Disconnect"</button>
            </div>
            <Show when=move || show_paste.get()>
                <div class="paste-panel">
                    <textarea id="paste-text" rows="4" placeholder="Text to type on the host" prop:value=paste_text on:input=move |ev| paste_text.set(event_target_value(&ev))></textarea>
                    <button id="btn-paste-send" on:click=send_paste>"Type it"</button>
                </div>
            </Show>
            <Show when=move || show_clipboard.get()>
                <ClipboardPanel console=console status=status may_send=!view_only/>
            </Show>
            <Show when=move || show_keys.get()>
                <KeysPanel console=console status=status canvas=canvas_ref/>
            </Show>
            <div class="frame" node_ref=frame_ref>
                <canvas id="console-canvas" class=canvas_class node_ref=canvas_ref></canvas>
                <Show when=move || relative_mouse.get()>
                    <div id="relative-mouse-hint" class="fullscreen-hint" role="status">"Relative mouse: the host's pointer follows the mouse. Press Esc to let go."</div>
                </Show>
                {move || full_screen_keys.get().map(|locked| view! {
                    <div id="fullscreen-hint" class="fullscreen-hint" role="status">
                        {if locked {
                            "Every key goes to the host. Press and hold Esc to leave full screen."
                        } else {
                            "Esc leaves full screen; Keys ▸ Esc sends it to the host."
                        }}
                    </div>
                })}
            </div>
            <Show when=move || show_text.get()>
                <pre id="screen-text" class="screen-text" aria-live="polite">{move || screen_text.get()}</pre>
            </Show>
            <div id="serial-panel" class="panel serial" class:hidden=move || !show_serial.get()>
                <p class="muted">"Serial console (COM1). Click it and type; the host's earlier output is shown too."</p>
                <canvas id="serial-canvas" class="screen zoom-fit" node_ref=serial_ref></canvas>
                <pre id="serial-text" class="screen-text" aria-live="polite">{move || serial_text.get()}</pre>
            </div>
            <Show when=move || show_events.get()>
                <EventsPanel host=events_host.clone() status=status/>
            </Show>
            <Show when=move || show_health.get()>
                <HealthPanel host=health_host.clone() csrf=health_csrf.clone() recovery=has_recovery can_power=may_power/>
            </Show>
            <Show when=move || show_media.get()>
                <MediaPanel host=media_host.clone() csrf=media_csrf.clone() console=console/>
            </Show>
            <Show when=move || show_directives.get()>
                <DirectivesPanel host=directives_host.clone() csrf=directives_csrf.clone()/>
            </Show>
            <PowerConfirmation host=host.name.clone() confirming=confirming on_confirm=on_confirm on_cancel=on_cancel/>
            <SharingBar status=status console=console may_control=!view_only/>
            <StatusBar status=status/>
        </section>
    }
}

/// The modal dialog that asks before a power action that can lose the host's work: the host
/// by name, what the action does, Cancel focused (Escape cancels too).
#[component]
fn PowerConfirmation(
    host: String,
    confirming: RwSignal<Option<&'static str>>,
    on_confirm: Callback<&'static str>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let dialog_ref = NodeRef::<html::Dialog>::new();
    let cancel_ref = NodeRef::<html::Button>::new();
    let button = move || confirming.get().and_then(|a| POWER_BUTTONS.iter().find(|b| b.0 == a));
    Effect::new(move |_| {
        let Some(dialog) = dialog_ref.get() else { return };
        if confirming.get().is_some() {
            if !dialog.open() {
                let _ = dialog.show_modal();
            }
            if let Some(cancel) = cancel_ref.get() {
                let _ = cancel.focus();
            }
        } else if dialog.open() {
            dialog.close();
        }
    });
    let close = move || confirming.set(None);
    let question = {
        let host = host.clone();
        move || button().map(|b| format!("{} {host}?", b.2)).unwrap_or_default()
    };
    let confirm_label = move || button().map(|b| format!("{} {host}", b.2)).unwrap_or_default();
    view! {
        <dialog id="power-confirm" class="confirm" node_ref=dialog_ref aria-labelledby="power-confirm-question"
            on:cancel=move |_: leptos::ev::Event| { close(); on_cancel.run(()); }>
            <p id="power-confirm-question"><strong>{question}</strong></p>
            <p id="power-confirm-detail" class="muted">{move || button().map(|b| b.3).unwrap_or_default()}</p>
            <div class="actions">
                <button id="power-confirm-cancel" node_ref=cancel_ref on:click=move |_| { close(); on_cancel.run(()); }>"Cancel"</button>
                <button id="power-confirm-ok" class="danger" on:click=move |_| {
                    if let Some(action) = confirming.get_untracked() {
                        close();
                        on_confirm.run(action);
                    }
                }>{confirm_label}</button>
            </div>
        </dialog>
    }
}

/// Who watches this host, who has the keyboard and mouse, and the buttons to ask for them or
/// hand them over.
#[component]
fn SharingBar(
    status: RwSignal<Status>,
    console: StoredValue<Option<Console>, LocalStorage>,
    may_control: bool,
) -> impl IntoView {
    let holder = move || {
        let s = status.get();
        match s.presence.holder {
            Some(_) if s.has_control() => "You have the keyboard and mouse".to_string(),
            Some(h) => format!("{} has the keyboard and mouse", s.viewer_name(h).unwrap_or("another viewer")),
            None => "Nobody has the keyboard and mouse".to_string(),
        }
    };
    let watchers = move || {
        let s = status.get();
        let names: Vec<String> = s
            .presence
            .viewers
            .iter()
            .map(|v| if v.id == s.presence.you { format!("{} (you)", v.name) } else { v.name.clone() })
            .collect();
        format!("Watching: {}", names.join(", "))
    };
    // Someone else asked, and this console can hand over.
    let asking = move || {
        let s = status.get();
        let asker = s.presence.requested_by.filter(|r| *r != s.presence.you && s.has_control())?;
        Some((asker, s.viewer_name(asker).unwrap_or("another viewer").to_string()))
    };
    let waiting = move || status.with(|s| s.presence.requested_by == Some(s.presence.you) && !s.has_control());
    let request = move |_| {
        if let Some(c) = console.get_value() {
            c.request_control();
        }
    };
    let give = move |_| {
        if let (Some(c), Some((to, _))) = (console.get_value(), asking()) {
            c.give_control(to);
        }
    };
    view! {
        <div id="sharing" class="sharing" aria-live="polite">
            <span id="sharing-holder">{holder}</span>
            <span id="sharing-viewers" class="muted">{watchers}</span>
            <Show when=move || may_control && !status.with(Status::has_control) && status.with(|s| !s.presence.viewers.is_empty())>
                <button id="btn-request-control" disabled=waiting on:click=request>
                    {move || if waiting() { "Asked for control…" } else { "Request control" }}
                </button>
            </Show>
            <Show when=move || asking().is_some()>
                <span id="sharing-request">{move || asking().map(|(_, name)| format!("{name} asks for the keyboard and mouse")).unwrap_or_default()}</span>
                <button id="btn-give-control" on:click=give>"Give control"</button>
            </Show>
        </div>
    }
}

#[component]
fn StatusBar(status: RwSignal<Status>) -> impl IntoView {
    let key_life = move || match status.get().key_renews_in_ms {
        Some(0) => "key renewing".into(),
        Some(ms) => format!("key renews in {} s", ms.div_ceil(1000)),
        None => "key renews –".into(),
    };
    view! {
        <footer class="statusbar">
            <span id="status-state" class=move || format!("state {}", status.get().state)>{move || status.get().state}</span>
            <span id="status-suite">{move || status.get().suite.unwrap_or("–")}</span>
            <span id="status-epoch">{move || { let s = status.get(); format!("key {}.{}", s.generation, s.epoch) }}</span>
            <span id="status-key-life">{key_life}</span>
            <span id="status-fps">{move || format!("{:.0} frames/s", status.get().fps)}</span>
            <span id="status-kbps">{move || format!("{:.1} kbit/s", status.get().kbps)}</span>
            <span id="status-host" class="muted">{move || status.get().host_status}</span>
            <span id="status-message" class="message">{move || status.get().message}</span>
        </footer>
    }
}

/// Calls `navigator.keyboard.lock()` or `unlock()` (the Keyboard Lock API, which Chromium
/// has): while the page is full screen, every key goes to it, Escape and the system's shortcuts
/// included. What `lock` answers (a promise), or `None` where the browser has no such API.
fn keyboard_lock_call(lock: bool) -> Option<wasm_bindgen::JsValue> {
    use wasm_bindgen::JsCast;
    let keyboard = js_sys::Reflect::get(&web_sys::window()?.navigator(), &"keyboard".into()).ok()?;
    let method = if lock { "lock" } else { "unlock" };
    let call = js_sys::Reflect::get(&keyboard, &method.into()).ok()?.dyn_into::<js_sys::Function>().ok()?;
    call.call0(&keyboard).ok()
}

/// Takes the keyboard for the full-screen console: whether the browser granted it.
async fn lock_keyboard() -> bool {
    use wasm_bindgen::JsCast;
    let Some(answer) = keyboard_lock_call(true) else { return false };
    match answer.dyn_into::<js_sys::Promise>() {
        Ok(promise) => wasm_bindgen_futures::JsFuture::from(promise).await.is_ok(),
        Err(_) => false,
    }
}

fn focus(canvas: NodeRef<html::Canvas>) {
    if let Some(c) = canvas.get_untracked() {
        let _ = c.focus();
    }
}

fn query_param(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    search.trim_start_matches('?').split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}
