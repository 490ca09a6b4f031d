//! User management for administrators: accounts, roles, and who may do what on each host.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, HostSummary, Rights, UserInfo};

const ROLES: [&str; 3] = ["Administrator", "Operator", "ReadOnly"];
/// Access choices per user and host; "default" follows the role.
const LEVELS: [(&str, &str); 7] = [
    ("default", "role default"),
    ("none", "no access"),
    ("view", "view"),
    ("control", "view + control"),
    ("power", "view + control + power"),
    ("media", "view + control + power + media"),
    ("run", "view + control + power + media + directives"),
];

#[component]
pub fn Users(csrf: String) -> impl IntoView {
    let users = RwSignal::new(Vec::<UserInfo>::new());
    let hosts = RwSignal::new(Vec::<HostSummary>::new());
    let message = RwSignal::new(None::<String>);
    let reload = move || {
        spawn_local(async move {
            match api::users().await {
                Ok(list) => users.set(list),
                Err(e) => message.set(Some(e)),
            }
            if let Ok(list) = api::hosts().await {
                hosts.set(list);
            }
        });
    };
    reload();

    let (name, password, role) =
        (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::from("Operator")));
    let create_csrf = csrf.clone();
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let csrf = create_csrf.clone();
        spawn_local(async move {
            match api::create_user(&csrf, &name.get_untracked(), &password.get_untracked(), &role.get_untracked()).await
            {
                Ok(u) => {
                    message.set(Some(format!("{} created; they choose their own password at first login", u.username)));
                    name.set(String::new());
                    password.set(String::new());
                    reload();
                }
                Err(e) => message.set(Some(e)),
            }
        });
    };
    let row_csrf = StoredValue::new(csrf.clone());
    view! {
        <section class="card wide">
            <h2>"Users"</h2>
            <p id="users-message" class="muted">{move || message.get()}</p>
            <table class="hosts" id="users-table">
                <thead><tr><th>"User"</th><th>"Role"</th><th>"Reset password"</th><th></th></tr></thead>
                <tbody>
                    <For each=move || users.get() key=|u| (u.id, u.role.clone()) let:u>
                        <UserRow user=u csrf=row_csrf.get_value() message=message on_change=Callback::new(move |()| reload())/>
                    </For>
                </tbody>
            </table>
            <form class="inline-form" on:submit=create>
                <input id="new-user-name" placeholder="user name" prop:value=name on:input=move |ev| name.set(event_target_value(&ev))/>
                <input id="new-user-password" type="password" placeholder="temporary password" prop:value=password on:input=move |ev| password.set(event_target_value(&ev))/>
                <select id="new-user-role" on:change=move |ev| role.set(event_target_value(&ev))>
                    {ROLES.iter().map(|r| view! { <option value=*r selected=*r == "Operator">{*r}</option> }).collect_view()}
                </select>
                <button id="btn-create-user" type="submit">"Add user"</button>
            </form>
            <h2>"Access per host"</h2>
            <p class="muted">"Administrators may do everything. Operators view, control and power every host, read-only users view, unless a host says otherwise here."</p>
            <For each=move || hosts.get() key=|h| h.id.clone() let:h>
                <HostAccess host=h users=users csrf=row_csrf.get_value() message=message/>
            </For>
        </section>
    }
}

#[component]
fn UserRow(user: UserInfo, csrf: String, message: RwSignal<Option<String>>, on_change: Callback<()>) -> impl IntoView {
    let reset = RwSignal::new(String::new());
    let id = user.id;
    let (role_csrf, reset_csrf, delete_csrf) = (csrf.clone(), csrf.clone(), csrf);
    let set_role = move |ev: leptos::ev::Event| {
        let (csrf, role) = (role_csrf.clone(), event_target_value(&ev));
        spawn_local(async move {
            if let Err(e) = api::update_user(&csrf, id, serde_json::json!({ "role": role })).await {
                message.set(Some(e));
            }
            on_change.run(());
        });
    };
    let do_reset = move |_| {
        let csrf = reset_csrf.clone();
        spawn_local(async move {
            match api::update_user(&csrf, id, serde_json::json!({ "reset_password": reset.get_untracked() })).await {
                Ok(u) => {
                    message.set(Some(format!("password of {} reset; they must change it at next login", u.username)))
                }
                Err(e) => message.set(Some(e)),
            }
            reset.set(String::new());
        });
    };
    let delete = move |_| {
        let csrf = delete_csrf.clone();
        spawn_local(async move {
            if let Err(e) = api::delete_user(&csrf, id).await {
                message.set(Some(e));
            }
            on_change.run(());
        });
    };
    let current = user.role.clone();
    view! {
        <tr>
            <td>{user.username.clone()}{if user.must_change_password { " (must change password)" } else { "" }}</td>
            <td>
                <select class="user-role" on:change=set_role>
                    {ROLES.iter().map(|r| view! { <option value=*r selected=*r == current>{*r}</option> }).collect_view()}
                </select>
            </td>
            <td>
                <input type="password" placeholder="new temporary password" prop:value=reset on:input=move |ev| reset.set(event_target_value(&ev))/>
                <button on:click=do_reset>"Reset"</button>
            </td>
            <td><button class="danger" on:click=delete>"Delete"</button></td>
        </tr>
    }
}

#[component]
fn HostAccess(
    host: HostSummary,
    users: RwSignal<Vec<UserInfo>>,
    csrf: String,
    message: RwSignal<Option<String>>,
) -> impl IntoView {
    let entries = RwSignal::new(Vec::<api::AccessEntry>::new());
    let host_id = host.id.clone();
    let load = {
        let host_id = host_id.clone();
        move || {
            let host_id = host_id.clone();
            spawn_local(async move {
                if let Ok(list) = api::host_access(&host_id).await {
                    entries.set(list);
                }
            });
        }
    };
    load();
    let csrf = StoredValue::new(csrf);
    let host_key = StoredValue::new(host_id);
    // Administrators may do everything everywhere; only the others have entries.
    let others = move || users.get().into_iter().filter(|u| u.role != "Administrator").collect::<Vec<_>>();
    let row = move |u: UserInfo| {
        let id = u.id;
        let level =
            move || entries.get().iter().find(|e| e.user_id == id).map(|e| level_of(e.rights)).unwrap_or("default");
        let load = load.clone();
        let change = move |ev: leptos::ev::Event| {
            let (csrf, host, choice, load) =
                (csrf.get_value(), host_key.get_value(), event_target_value(&ev), load.clone());
            spawn_local(async move {
                if let Err(e) = api::set_host_access(&csrf, &host, id, rights_of(&choice)).await {
                    message.set(Some(e));
                }
                load();
            });
        };
        view! {
            <tr>
                <td>{u.username.clone()}</td>
                <td>
                    <select class="host-access" on:change=change>
                        {LEVELS.iter().map(|(v, label)| view! { <option value=*v selected=move || level() == *v>{*label}</option> }).collect_view()}
                    </select>
                </td>
            </tr>
        }
    };
    view! {
        <h3>{host.name.clone()}</h3>
        <table class="hosts access">
            <tbody>
                <For each=others key=|u| u.id children=row/>
            </tbody>
        </table>
    }
}

fn level_of(r: Rights) -> &'static str {
    match (r.view, r.control, r.power) {
        _ if r.run => "run",
        _ if r.media => "media",
        (_, _, true) => "power",
        (_, true, false) => "control",
        (true, false, false) => "view",
        _ => "none",
    }
}

fn rights_of(level: &str) -> Option<Rights> {
    let (view, control, power, media, run) = match level {
        "none" => (false, false, false, false, false),
        "view" => (true, false, false, false, false),
        "control" => (true, true, false, false, false),
        "power" => (true, true, true, false, false),
        "media" => (true, true, true, true, false),
        "run" => (true, true, true, true, true),
        _ => return None,
    };
    Some(Rights { view, control, power, run, media })
}
