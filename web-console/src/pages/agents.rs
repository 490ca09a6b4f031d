//! Agents, for administrators: enrol a machine (a single-use token and the one-line command to
//! run on it), see every agent's state and facts, revoke one.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, AgentRow};

#[component]
pub fn Agents(csrf: String) -> impl IntoView {
    let agents = RwSignal::new(Vec::<AgentRow>::new());
    let message = RwSignal::new(None::<String>);
    let command = RwSignal::new(None::<api::Enrolment>);
    let load = move || {
        spawn_local(async move {
            match api::agents().await {
                Ok(list) => agents.set(list),
                Err(e) => message.set(Some(e)),
            }
        });
    };
    load();
    let csrf = StoredValue::new(csrf);
    let host_id = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let enrol = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (csrf, id, label) = (csrf.get_value(), host_id.get_untracked(), name.get_untracked());
        spawn_local(async move {
            match api::enrol(&csrf, id.trim(), label.trim()).await {
                Ok(made) => {
                    message.set(None);
                    command.set(Some(made));
                }
                Err(e) => message.set(Some(e)),
            }
            load();
        });
    };
    let revoke = move |host: String| {
        let csrf = csrf.get_value();
        spawn_local(async move {
            if let Err(e) = api::revoke_agent(&csrf, &host).await {
                message.set(Some(e));
            }
            load();
        });
    };
    view! {
        <section class="card">
            <h2>"Agents"</h2>
            <form id="enrol-form" on:submit=enrol>
                <label>"Host id "<input id="enrol-host" required prop:value=host_id on:input=move |ev| host_id.set(event_target_value(&ev))/></label>
                <label>" Name "<input id="enrol-name" prop:value=name on:input=move |ev| name.set(event_target_value(&ev))/></label>
                <button id="enrol-button" type="submit">"Make an enrolment token"</button>
            </form>
            {move || command.get().map(|made| view! {
                <p>"Run this on " {made.host_id.clone()} " (once, before " {super::when(made.expires_at)} "):"</p>
                <pre id="enrol-command" class="command">{made.command.clone()}</pre>
                <p class="muted">"Then keep it connected with " <code>"lantern-agent run"</code> " (the systemd unit lantern-agent.service)."</p>
            })}
            <p id="agents-message" class="error">{move || message.get()}</p>
            <table class="hosts" id="agents">
                <thead><tr><th>"Host"</th><th>"State"</th><th>"Machine"</th><th></th></tr></thead>
                <tbody>
                    {move || agents.get().into_iter().map(|a| {
                        let state = match (a.revoked_at, a.connected) {
                            (Some(at), _) => format!("revoked {}", super::when(at)),
                            (None, true) => "connected".to_string(),
                            (None, false) => a.last_seen.map_or("never connected".to_string(), |at| format!("offline, last seen {}", super::when(at))),
                        };
                        let machine = a.facts.clone().map(|f| format!("{} · {} · {}", f.hostname, f.os, f.kernel)).unwrap_or_default();
                        let host = a.host_id.clone();
                        let revocable = a.revoked_at.is_none();
                        view! {
                            <tr>
                                <td>{a.name.clone()}<div class="muted">{a.host_id.clone()}{a.version.clone().map(|v| format!(" · agent {v}"))}</div></td>
                                <td>{state}</td>
                                <td class="muted">{machine}</td>
                                <td>
                                    <Show when=move || revocable>
                                        <button id=format!("revoke-{}", host) on:click={
                                            let host = host.clone();
                                            move |_| revoke(host.clone())
                                        }>"Revoke"</button>
                                    </Show>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}
