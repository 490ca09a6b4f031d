use leptos::prelude::*;

use crate::api::{self, HostSummary};

#[component]
pub fn Hosts(on_open: Callback<HostSummary>) -> impl IntoView {
    let hosts = LocalResource::new(api::hosts);
    let carried = LocalResource::new(api::carried);
    view! {
        {move || carried.get().and_then(Result::ok).filter(|c| !c.consoles.is_empty()).map(|c| {
            let hosts_now = hosts.get().and_then(Result::ok).unwrap_or_default();
            view! { <CarriedConsoles carried=c hosts=hosts_now on_open=on_open/> }
        })}
        <section class="card">
            <h2>"Hosts"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || hosts.get().map(|result| match result {
                    Err(e) => view! { <p class="error">{e}</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="hosts">
                            <thead><tr><th>"Host"</th><th>"Kind"</th><th>"State"</th><th></th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|h| {
                                    let open = h.clone();
                                    view! {
                                        <tr>
                                            <td>{h.name.clone()}<div class="muted">{h.status.clone()}</div>{h.agent.clone().map(agent_line)}</td>
                                            <td>{h.kind.clone()}{if h.rights.control { "" } else { " (view only)" }}</td>
                                            <td><span class=format!("badge {}", h.state)>{h.state.clone()}</span></td>
                                            <td><button id=format!("open-{}", h.id) on:click=move |_| on_open.run(open.clone())>"Open console"</button></td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

/// The consoles the session had open on the controller it came from, with a button for each
/// this controller also has.
#[component]
fn CarriedConsoles(carried: api::Carried, hosts: Vec<HostSummary>, on_open: Callback<HostSummary>) -> impl IntoView {
    view! {
        <section class="card" id="carried-consoles">
            <h2>"Consoles you had open"</h2>
            <ul>
                {carried.consoles.into_iter().map(|c| {
                    let here = hosts.iter().find(|h| h.id == c.host && c.here).cloned();
                    let mode = if c.control { "control" } else { "view only" };
                    view! {
                        <li class="carried-console">
                            {format!("{} on {} ({mode}) ", c.name, c.node)}
                            {match here {
                                Some(h) => view! {
                                    <button id=format!("reopen-{}", c.host) on:click=move |_| on_open.run(h.clone())>"Open here"</button>
                                }.into_any(),
                                None => view! { <span class="muted">"not reachable from this controller"</span> }.into_any(),
                            }}
                        </li>
                    }
                }).collect_view()}
            </ul>
            <p class="muted">{format!("Your account is on {}.", carried.home)}</p>
        </section>
    }
}

/// What an agent's host shows under its name: connected or since when not, and its machine.
fn agent_line(agent: api::AgentInfo) -> impl IntoView {
    let state = match (agent.connected, agent.since) {
        (true, Some(since)) => format!("agent connected since {}", super::when(since)),
        (true, None) => "agent connected".to_string(),
        (false, Some(seen)) => format!("agent offline since {}", super::when(seen)),
        (false, None) => "agent never connected".to_string(),
    };
    let version = agent.version.map(|v| format!(" · agent {v}")).unwrap_or_default();
    let facts = agent.facts.map(|f| {
        let uptime = format!("up {}h {}m", f.uptime_s / 3600, f.uptime_s / 60 % 60);
        format!("{} · {} · kernel {} · {uptime} · {}", f.hostname, f.os, f.kernel, f.addresses.join(", "))
    });
    view! {
        <div class="muted agent-state">{state}{version}</div>
        <div class="muted agent-facts">{facts}</div>
    }
}
