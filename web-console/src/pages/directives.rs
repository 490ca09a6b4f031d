//! Directives on an agent's host: type a command (or pick one an administrator saved), watch
//! its stdout and stderr stream back, then its exit status and duration; several at once; any
//! of them cancelled.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, Directive};

/// One directive's output as it streams in.
#[derive(Clone, Default)]
struct Output {
    text: Vec<(bool, String)>,
    lost: u64,
    exit: Option<api::DirectiveExit>,
}

fn outcome(exit: &api::DirectiveExit) -> String {
    let status = match (exit.code, exit.signal) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => "no status".to_string(),
    };
    let why = if exit.reason.is_empty() { String::new() } else { format!(" ({})", exit.reason) };
    format!("{status}{why} after {:.1} s, {} bytes of output", exit.duration_ms as f64 / 1000.0, exit.output_bytes)
}

#[component]
pub fn DirectivesPanel(host: String, csrf: String) -> impl IntoView {
    let list = RwSignal::new(Vec::<Directive>::new());
    let saved = RwSignal::new(Vec::<api::SavedDirective>::new());
    let message = RwSignal::new(None::<String>);
    let command = RwSignal::new(String::new());
    let shown = RwSignal::new(None::<u64>);
    let output = RwSignal::new(Output::default());
    let host = StoredValue::new(host);
    let csrf = StoredValue::new(csrf);
    let load = move || {
        spawn_local(async move {
            match api::directives(&host.get_value()).await {
                Ok(l) => list.set(l),
                Err(e) => message.set(Some(e)),
            }
        });
    };
    load();
    let load_saved = move || {
        spawn_local(async move {
            if let Ok(s) = api::saved_directives().await {
                saved.set(s);
            }
        });
    };
    load_saved();
    let is_admin = use_context::<RwSignal<Option<api::SessionInfo>>>()
        .is_some_and(|s| s.get_untracked().is_some_and(|s| s.role == "Administrator"));
    let save_name = RwSignal::new(String::new());
    let save = move |_| {
        let (name, text) = (save_name.get_untracked(), command.get_untracked());
        spawn_local(async move {
            match api::save_directive(&csrf.get_value(), name.trim(), &text).await {
                Ok(()) => {
                    message.set(None);
                    save_name.set(String::new());
                    load_saved();
                }
                Err(e) => message.set(Some(e)),
            }
        });
    };
    let unsave = move |name: String| {
        spawn_local(async move {
            match api::delete_saved_directive(&csrf.get_value(), &name).await {
                Ok(()) => load_saved(),
                Err(e) => message.set(Some(e)),
            }
        });
    };
    // Shows one directive's output, following it live until it ends.
    let show = move |id: u64| {
        shown.set(Some(id));
        output.set(Output::default());
        spawn_local(async move {
            let followed = api::follow_directive(&host.get_value(), id, |line| {
                if shown.get_untracked() != Some(id) {
                    return;
                }
                output.update(|o| {
                    if let Some(t) = line["stdout"].as_str() {
                        o.text.push((false, t.to_string()));
                    } else if let Some(t) = line["stderr"].as_str() {
                        o.text.push((true, t.to_string()));
                    } else if let Some(n) = line["lost"].as_u64() {
                        o.lost += n;
                    } else if !line["exit"].is_null() {
                        o.exit = serde_json::from_value(line["exit"].clone()).ok();
                    }
                });
            })
            .await;
            if let Err(e) = followed {
                message.set(Some(e));
            }
            load();
        });
    };
    let start = move |text: String, is_saved: bool| {
        spawn_local(async move {
            match api::run_directive(&csrf.get_value(), &host.get_value(), &text, is_saved).await {
                Ok(d) => {
                    message.set(None);
                    load();
                    show(d.id);
                }
                Err(e) => message.set(Some(e)),
            }
        });
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = command.get_untracked();
        if !text.trim().is_empty() {
            start(text, false);
        }
    };
    let cancel = move |id: u64| {
        spawn_local(async move {
            if let Err(e) = api::cancel_directive(&csrf.get_value(), &host.get_value(), id).await {
                message.set(Some(e));
            }
        });
    };
    view! {
        <div id="directives-panel" class="panel">
            <form id="directive-form" on:submit=submit>
                <input id="directive-command" class="wide" placeholder="A command to run on the machine" prop:value=command on:input=move |ev| command.set(event_target_value(&ev))/>
                <button id="directive-run" type="submit">"Run"</button>
                <Show when=move || !saved.get().is_empty()>
                    <select id="directive-saved" on:change=move |ev| {
                        let name = event_target_value(&ev);
                        if !name.is_empty() { start(name, true); }
                    }>
                        <option value="">"Saved…"</option>
                        {move || saved.get().into_iter().map(|s| view! { <option value=s.name.clone() title=s.command.clone()>{s.name.clone()}</option> }).collect_view()}
                    </select>
                </Show>
            </form>
            <Show when=move || is_admin>
                <details id="saved-manage">
                    <summary>"Saved directives"</summary>
                    <p class="muted">"Offered on every agent host. Those from the configuration file change only there."</p>
                    <div>
                        <input id="saved-name" placeholder="Name, e.g. collect logs" prop:value=save_name on:input=move |ev| save_name.set(event_target_value(&ev))/>
                        <button id="saved-save" on:click=save disabled=move || save_name.get().trim().is_empty() || command.get().trim().is_empty()>"Save the command above"</button>
                    </div>
                    <table class="hosts" id="saved-list">
                        <tbody>
                            {move || saved.get().into_iter().map(|s| {
                                let name = s.name.clone();
                                let by = s.saved_by.clone();
                                view! {
                                    <tr>
                                        <td>{s.name.clone()}</td>
                                        <td><code>{s.command.clone()}</code></td>
                                        <td class="muted">{by.clone().map_or("configuration file".to_string(), |u| format!("saved by {u}"))}</td>
                                        <td><Show when=move || by.is_some()>
                                            <button class="saved-delete" data-name=name.clone() on:click={let name = name.clone(); move |_| unsave(name.clone())}>"Delete"</button>
                                        </Show></td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </details>
            </Show>
            <p id="directives-message" class="error">{move || message.get()}</p>
            <table class="hosts" id="directives">
                <tbody>
                    {move || list.get().into_iter().map(|d| {
                        let id = d.id;
                        let state = d.exit.as_ref().map_or("running".to_string(), outcome);
                        let running = d.exit.is_none();
                        view! {
                            <tr id=format!("directive-{id}")>
                                <td><a href="#" on:click=move |ev| { ev.prevent_default(); show(id); }><code>{d.command.clone()}</code></a>
                                    <div class="muted">{format!("#{id} by {} at {}", d.user, super::when(d.started_at))}</div></td>
                                <td class="directive-state">{state}</td>
                                <td><Show when=move || running><button id=format!("cancel-{id}") on:click=move |_| cancel(id)>"Cancel"</button></Show></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <Show when=move || shown.get().is_some()>
                <h4>{move || format!("Directive #{}", shown.get().unwrap_or_default())}</h4>
                <pre id="directive-output" class="screen-text">
                    {move || {
                        let o = output.get();
                        let lost = (o.lost > 0).then(|| view! { <span class="muted">{format!("[{} bytes dropped]\n", o.lost)}</span> });
                        let text = o.text.into_iter().map(|(err, t)| view! { <span class:stderr=err>{t}</span> }).collect_view();
                        view! { {lost}{text} }
                    }}
                </pre>
                <p id="directive-exit">{move || output.get().exit.as_ref().map(outcome)}</p>
            </Show>
        </div>
    }
}
