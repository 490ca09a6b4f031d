//! The Keys menu: what no keyboard can send through a browser (the browser or the user's own
//! system takes it first), and modifiers that stay down until the next key.

use leptos::html;
use leptos::prelude::*;

use crate::applet::{Console, Status};

/// The function keys' names, which are also their codes.
const FUNCTION_KEYS: [&str; 12] = ["F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9", "F10", "F11", "F12"];

/// Keys as the browser names them: `KeyboardEvent.key` and `.code`.
type Keys = &'static [(&'static str, &'static str)];

/// Single keys and chords: the button's id, label, what it does, and the keys.
const CHORDS: [(&str, &str, &str, Keys); 5] = [
    (
        "key-ctrl-alt-backspace",
        "Ctrl-Alt-Backspace",
        "Ends the X session on many Linux desktops",
        &[("Control", "ControlLeft"), ("Alt", "AltLeft"), ("Backspace", "Backspace")],
    ),
    ("key-print-screen", "Print Screen", "The Print Screen (SysRq) key", &[("PrintScreen", "PrintScreen")]),
    ("key-escape", "Esc", "Escape, which the browser keeps out of full screen", &[("Escape", "Escape")]),
    ("key-super", "Super", "The Windows or Super key alone", &[("Meta", "MetaLeft")]),
    ("key-alt-tab", "Alt-Tab", "Switch windows on the host", &[("Alt", "AltLeft"), ("Tab", "Tab")]),
];

/// Modifiers that latch: the button's id, label, key and code.
const LATCHES: [(&str, &str, &str, &str); 5] = [
    ("latch-ctrl", "Ctrl", "Control", "ControlLeft"),
    ("latch-alt", "Alt", "Alt", "AltLeft"),
    ("latch-shift", "Shift", "Shift", "ShiftLeft"),
    ("latch-super", "Super", "Meta", "MetaLeft"),
    ("latch-altgr", "AltGr", "AltGraph", "AltRight"),
];

/// The letters of Alt-SysRq and what Linux does with them.
const SYSRQ: [(&str, &str); 10] = [
    ("h", "h: help (in the kernel log)"),
    ("s", "s: sync disks"),
    ("u", "u: remount read-only"),
    ("b", "b: reboot at once"),
    ("e", "e: terminate all tasks"),
    ("i", "i: kill all tasks"),
    ("f", "f: call the OOM killer"),
    ("t", "t: dump tasks"),
    ("w", "w: dump blocked tasks"),
    ("c", "c: crash (dump)"),
];

#[component]
pub fn KeysPanel(
    console: StoredValue<Option<Console>, LocalStorage>,
    status: RwSignal<Status>,
    canvas: NodeRef<html::Canvas>,
) -> impl IntoView {
    let with_console = move |f: &dyn Fn(&Console)| {
        if let Some(c) = console.get_value() {
            f(&c);
        }
        if let Some(c) = canvas.get_untracked() {
            let _ = c.focus();
        }
    };
    let sysrq_letter = RwSignal::new(String::from("h"));
    let sysrq = move |_| {
        let letter = sysrq_letter.get_untracked();
        let code = format!("Key{}", letter.to_ascii_uppercase());
        with_console(&|c| c.chord(&[("Alt", "AltLeft"), ("PrintScreen", "PrintScreen"), (&letter, &code)]));
    };
    let latched = move |code: &'static str| status.with(|s| s.latched.iter().any(|l| l == code));
    view! {
        <div id="keys-panel" class="panel keys">
            <div class="row">
                <span class="muted">"Ctrl-Alt-"</span>
                {FUNCTION_KEYS
                    .iter()
                    .map(|&f| {
                        let id = format!("key-ctrl-alt-{}", f.to_ascii_lowercase());
                        let title = format!("Ctrl-Alt-{f}: on Linux, virtual console {}", &f[1..]);
                        view! {
                            <button id=id title=title on:click=move |_| with_console(&|c| c.chord(&[("Control", "ControlLeft"), ("Alt", "AltLeft"), (f, f)]))>{f}</button>
                        }
                    })
                    .collect_view()}
            </div>
            <div class="row">
                {CHORDS
                    .iter()
                    .map(|&(id, label, title, keys)| view! { <button id=id title=title on:click=move |_| with_console(&|c| c.chord(keys))>{label}</button> })
                    .collect_view()}
                <span class="muted">"Alt-SysRq-"</span>
                <select id="sysrq-letter" title="The letter to press with Alt-SysRq" prop:value=move || sysrq_letter.get() on:change=move |ev| sysrq_letter.set(event_target_value(&ev))>
                    {SYSRQ.iter().map(|&(letter, what)| view! { <option value=letter>{what}</option> }).collect_view()}
                </select>
                <button id="key-sysrq" title="Alt, SysRq (Print Screen) and the letter, as Linux's magic SysRq wants" on:click=sysrq>"Send"</button>
            </div>
            <div class="row">
                <span class="muted" title="Pressed, a modifier stays down on the host until the next other key is let go">"Hold until the next key:"</span>
                {LATCHES
                    .iter()
                    .map(|&(id, label, key, code)| view! {
                        <button id=id class:latched=move || latched(code) aria-pressed=move || latched(code).to_string()
                            on:click=move |_| with_console(&|c| c.toggle_latch(key, code))>{label}</button>
                    })
                    .collect_view()}
            </div>
        </div>
    }
}
