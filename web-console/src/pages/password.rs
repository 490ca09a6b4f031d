use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, SessionInfo};

/// Shown at first login (and whenever the controller requires it): the first-run password
/// must be replaced before anything else works.
#[component]
pub fn ChangePassword(session: SessionInfo, on_changed: Callback<SessionInfo>) -> impl IntoView {
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let repeat = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let csrf = session.csrf_token.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if new.get_untracked() != repeat.get_untracked() {
            error.set(Some("the two new passwords differ".into()));
            return;
        }
        let csrf = csrf.clone();
        spawn_local(async move {
            match api::change_password(&csrf, &current.get_untracked(), &new.get_untracked()).await {
                Ok(session) => on_changed.run(session),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    view! {
        <form class="card login" on:submit=submit>
            <h1>"Choose a password"</h1>
            <p class="muted">{format!("{}, the first-run password must be replaced (10 characters or more).", session.username)}</p>
            <label>"Current password" <input id="current-password" type="password" autocomplete="current-password" on:input=move |ev| current.set(event_target_value(&ev))/></label>
            <label>"New password" <input id="new-password" type="password" autocomplete="new-password" on:input=move |ev| new.set(event_target_value(&ev))/></label>
            <label>"New password again" <input id="repeat-password" type="password" autocomplete="new-password" on:input=move |ev| repeat.set(event_target_value(&ev))/></label>
            <button id="password-button" type="submit">"Save"</button>
            <p id="password-error" class="error">{move || error.get()}</p>
        </form>
    }
}
