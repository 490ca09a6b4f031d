//! Who is here, for administrators: web sessions, Redfish sessions and console links, each
//! with its user, source address and start, and a button that ends it. The list is read again
//! every few seconds while the page is open.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ConsoleLink, Everyone, LoginSession};

/// How often the list is read again.
const REFRESH: std::time::Duration = std::time::Duration::from_secs(3);

#[component]
pub fn Sessions(csrf: String) -> impl IntoView {
    let everyone = RwSignal::new(Everyone::default());
    let message = RwSignal::new(None::<String>);
    let load = move || {
        spawn_local(async move {
            match api::everyone().await {
                Ok(now) => everyone.set(now),
                Err(e) => message.set(Some(e)),
            }
        });
    };
    load();
    if let Ok(handle) = set_interval_with_handle(load, REFRESH) {
        on_cleanup(move || handle.clear());
    }
    let csrf = StoredValue::new(csrf);
    let end = move |kind: &'static str, id: String| {
        let csrf = csrf.get_value();
        spawn_local(async move {
            match api::end_session(&csrf, kind, &id).await {
                Ok(()) => message.set(Some(format!("ended {kind} session {id}"))),
                Err(e) => message.set(Some(e)),
            }
            load();
        });
    };
    let logins = move |kind: &'static str, rows: Vec<LoginSession>| {
        rows.into_iter()
            .map(|s| {
                let id = s.id.clone();
                view! {
                    <tr class=format!("{kind}-session")>
                        <td>{s.user.clone()}{s.yours.then_some(" (you)")}</td>
                        <td>{s.source.clone().unwrap_or_else(|| "-".into())}</td>
                        <td>{super::when(s.since)}</td>
                        <td class="muted">{super::when(s.last_seen)}</td>
                        <td>
                            <button id=format!("end-{kind}-{id}") on:click=move |_| end(kind, id.clone())>"End"</button>
                        </td>
                    </tr>
                }
            })
            .collect_view()
    };
    let links = move |rows: Vec<ConsoleLink>| {
        rows.into_iter()
            .map(|l| {
                let id = l.id.to_string();
                view! {
                    <tr class="console-link" data-user=l.user.clone() data-host=l.host.clone()>
                        <td>{l.user.clone()}</td>
                        <td>{l.source.clone().unwrap_or_else(|| "-".into())}</td>
                        <td>{super::when(l.since)}</td>
                        <td>{l.host.clone()}</td>
                        <td>{l.listener.clone()}</td>
                        <td>{l.suite.clone()}</td>
                        <td>
                            <button id=format!("end-console-{id}") on:click=move |_| end("console", id.clone())>"End"</button>
                        </td>
                    </tr>
                }
            })
            .collect_view()
    };
    view! {
        <section class="card">
            <h2>"Sessions"</h2>
            <p id="sessions-message" class="muted">{move || message.get()}</p>
            <h3>"Console links"</h3>
            <table class="hosts" id="console-links">
                <thead><tr><th>"User"</th><th>"From"</th><th>"Since"</th><th>"Host"</th><th>"Listener"</th><th>"Suite"</th><th></th></tr></thead>
                <tbody>{move || links(everyone.get().console)}</tbody>
            </table>
            <h3>"Web sessions"</h3>
            <table class="hosts" id="web-sessions">
                <thead><tr><th>"User"</th><th>"From"</th><th>"Since"</th><th>"Last seen"</th><th></th></tr></thead>
                <tbody>{move || logins("web", everyone.get().web)}</tbody>
            </table>
            <h3>"Redfish sessions"</h3>
            <table class="hosts" id="redfish-sessions">
                <thead><tr><th>"User"</th><th>"From"</th><th>"Since"</th><th>"Last seen"</th><th></th></tr></thead>
                <tbody>{move || logins("redfish", everyone.get().redfish)}</tbody>
            </table>
        </section>
    }
}
