use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, SessionInfo};

#[component]
pub fn Login(on_login: Callback<SessionInfo>) -> impl IntoView {
    let username = RwSignal::new(String::from("admin"));
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let methods = LocalResource::new(api::login_methods);
    let single_sign_on = move || methods.get().and_then(Result::ok).is_some_and(|m| m.negotiate);
    let sso = move |_| {
        busy.set(true);
        spawn_local(async move {
            match api::login_negotiate().await {
                Ok(session) => on_login.run(session),
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        spawn_local(async move {
            match api::login(&username.get_untracked(), &password.get_untracked()).await {
                Ok(session) => on_login.run(session),
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    view! {
        <form class="card login" on:submit=submit>
            <h1>"Lantern"</h1>
            <p class="muted">"Lights-out management"</p>
            <label>"User" <input id="username" autocomplete="username" prop:value=username on:input=move |ev| username.set(event_target_value(&ev))/></label>
            <label>"Password" <input id="password" type="password" autocomplete="current-password" prop:value=password on:input=move |ev| password.set(event_target_value(&ev))/></label>
            <button id="login-button" type="submit" disabled=busy>"Log in"</button>
            <Show when=single_sign_on>
                <button id="sso-button" type="button" class="secondary" disabled=busy on:click=sso>
                    "Single sign-on (Kerberos)"
                </button>
            </Show>
            <p id="login-error" class="error">{move || error.get()}</p>
        </form>
    }
}
