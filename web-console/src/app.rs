//! The root component: which page the user is on.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, HostSummary, SessionInfo};
use crate::pages::agents::Agents;
use crate::pages::audit::Audit;
use crate::pages::console::ConsolePage;
use crate::pages::hosts::Hosts;
use crate::pages::login::Login;
use crate::pages::password::ChangePassword;
use crate::pages::sessions::Sessions;
use crate::pages::users::Users;

#[derive(Clone, PartialEq)]
enum Page {
    Loading,
    Login,
    ChangePassword(SessionInfo),
    Hosts,
    Console(HostSummary),
    Audit,
    Users,
    Agents,
    Sessions,
}

#[component]
pub fn App() -> impl IntoView {
    let page = RwSignal::new(Page::Loading);
    let session = RwSignal::new(None::<SessionInfo>);
    // Pages ask it who is logged in (what they offer); the controller checks every request.
    provide_context(session);
    let enter = move |s: SessionInfo| {
        page.set(if s.must_change_password { Page::ChangePassword(s.clone()) } else { Page::Hosts });
        session.set(Some(s));
    };
    let arrival_error = RwSignal::new(None::<String>);
    let peers = RwSignal::new(Vec::<api::Peer>::new());
    let node = RwSignal::new(None::<(String, String)>);
    spawn_local(async move {
        // Arriving from a cooperating controller: its session token is in the fragment, which
        // no server ever sees. Take it out of the address bar before anything else.
        if let Some(token) = take_sso_fragment() {
            match api::login_with_token(&token).await {
                Ok(s) => {
                    enter(s);
                    return;
                }
                Err(e) => arrival_error.set(Some(e)),
            }
        }
        match api::session().await {
            Ok(s) => enter(s),
            Err(_) => page.set(Page::Login),
        }
    });
    Effect::new(move |_| {
        if session.get().is_some_and(|s| !s.must_change_password) {
            spawn_local(async move {
                if let Ok(info) = api::node().await {
                    node.set(Some((info.node_id, info.pin)));
                    peers.set(info.peers);
                }
            });
        }
    });
    let open_on = move |ev: leptos::ev::Event| {
        let peer = event_target_value(&ev);
        let csrf = session.get_untracked().map(|s| s.csrf_token).unwrap_or_default();
        spawn_local(async move {
            match api::move_to(&csrf, &peer).await {
                Ok(url) => {
                    if let Some(w) = web_sys::window() {
                        let _ = w.location().assign(&url);
                    }
                }
                Err(e) => arrival_error.set(Some(e)),
            }
        });
    };
    let logout = move |_| {
        let csrf = session.get_untracked().map(|s| s.csrf_token).unwrap_or_default();
        spawn_local(async move {
            let _ = api::logout(&csrf).await;
            session.set(None);
            page.set(Page::Login);
        });
    };
    view! {
        <header class="topbar">
            <span class="brand">"Lantern"</span>
            <Show when=move || session.get().is_some_and(|s| !s.must_change_password)>
                <nav>
                    <button id="nav-hosts" on:click=move |_| page.set(Page::Hosts)>"Hosts"</button>
                    <Show when=move || session.get().is_some_and(|s| s.role == "Administrator")>
                        <button id="nav-audit" on:click=move |_| page.set(Page::Audit)>"Audit"</button>
                        <button id="nav-users" on:click=move |_| page.set(Page::Users)>"Users"</button>
                        <button id="nav-agents" on:click=move |_| page.set(Page::Agents)>"Agents"</button>
                        <button id="nav-sessions" on:click=move |_| page.set(Page::Sessions)>"Sessions"</button>
                    </Show>
                </nav>
            </Show>
            <Show when=move || !peers.get().is_empty()>
                <select id="open-on" on:change=open_on>
                    <option value="">"Open on…"</option>
                    {move || peers.get().into_iter().map(|p| view! { <option value=p.id.clone()>{p.id.clone()}</option> }).collect_view()}
                </select>
            </Show>
            <Show when=move || session.get().is_some()>
                <span class="user" id="current-user">{move || session.get().map(|s| format!("{} ({})", s.username, s.role))}</span>
                <button id="btn-logout" on:click=logout>"Log out"</button>
            </Show>
        </header>
        <main>
            <p id="arrival-error" class="error">{move || arrival_error.get()}</p>
            {move || match page.get() {
                Page::Loading => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Page::Login => view! { <Login on_login=Callback::new(enter)/> }.into_any(),
                Page::ChangePassword(s) => view! { <ChangePassword session=s on_changed=Callback::new(enter)/> }.into_any(),
                Page::Hosts => view! { <Hosts on_open=Callback::new(move |h| page.set(Page::Console(h)))/> }.into_any(),
                Page::Audit => view! { <Audit/> }.into_any(),
                Page::Users => {
                    let csrf = session.get_untracked().map(|s| s.csrf_token).unwrap_or_default();
                    view! { <Users csrf=csrf/> }.into_any()
                }
                Page::Agents => {
                    let csrf = session.get_untracked().map(|s| s.csrf_token).unwrap_or_default();
                    view! { <Agents csrf=csrf/> }.into_any()
                }
                Page::Sessions => {
                    let csrf = session.get_untracked().map(|s| s.csrf_token).unwrap_or_default();
                    view! { <Sessions csrf=csrf/> }.into_any()
                }
                Page::Console(h) => {
                    let csrf = session.get_untracked().map(|s| s.csrf_token).unwrap_or_default();
                    view! { <ConsolePage host=h csrf=csrf on_back=Callback::new(move |()| page.set(Page::Hosts))/> }.into_any()
                }
            }}
        </main>
        // The node key's fingerprint, to check out of band: when the pages come through a relay,
        // the browser's trust in them rests on the certificate for that name.
        <Show when=move || node.get().is_some()>
            <footer class="node-identity" title="Compare with the controller's start-up output or GET /api/node">
                {move || node.get().map(|(id, _)| format!("Controller {id} · key "))}
                <code id="controller-fingerprint">{move || node.get().map(|(_, pin)| pin)}</code>
            </footer>
        </Show>
    }
}

/// The session token in `#sso=...`, removed from the address bar.
fn take_sso_fragment() -> Option<String> {
    let window = web_sys::window()?;
    let hash = window.location().hash().ok()?;
    let token = hash.strip_prefix("#sso=")?.to_string();
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some("/"));
    }
    Some(token)
}
