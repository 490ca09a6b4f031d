//! The audit trail: who did what, when and from where, newest first; narrowed by user, action
//! (or a family of actions), target and time; in pages; details as readable fields; the chain
//! check; and an export (JSON lines or CSV) of exactly what the filters keep.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::when;
use crate::api::{self, AuditFilter, AuditRecord};

const PAGE: u32 = 50;

/// The details of a record as `name: value` pairs, the source address aside (it has its own
/// column); text that is not a JSON object is shown as it is.
fn fields(detail: &str) -> (Option<String>, Vec<(String, String)>) {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(detail) else {
        return (None, if detail.trim().is_empty() { vec![] } else { vec![(String::new(), detail.to_string())] });
    };
    let mut source = None;
    let mut shown = Vec::new();
    for (name, value) in map {
        let text = match value {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        if name == "source" {
            source = Some(text);
        } else {
            shown.push((name.replace('_', " "), text));
        }
    }
    (source, shown)
}

/// A `datetime-local` value (the browser's local time) as Unix milliseconds.
fn local_ms(value: &str) -> Option<i64> {
    if value.is_empty() {
        return None;
    }
    let ms = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(value)).get_time();
    ms.is_finite().then_some(ms as i64)
}

#[component]
pub fn Audit() -> impl IntoView {
    let records = RwSignal::new(Vec::<AuditRecord>::new());
    let error = RwSignal::new(None::<String>);
    let verdict = RwSignal::new(None::<String>);
    let more = RwSignal::new(false);
    let actions = RwSignal::new(Vec::<String>::new());
    let filter = RwSignal::new(AuditFilter::default());
    // The pages above this one: the `before` each was read with (None for the newest).
    let above = RwSignal::new(Vec::<Option<i64>>::new());
    let current = RwSignal::new(None::<i64>);
    let load = move |before: Option<i64>| {
        let applied = filter.get_untracked();
        spawn_local(async move {
            match api::audit_page(&applied, before, PAGE).await {
                Ok(page) => {
                    error.set(None);
                    more.set(page.len() as u32 == PAGE);
                    current.set(before);
                    records.set(page);
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    load(None);
    spawn_local(async move {
        if let Ok(list) = api::audit_actions().await {
            actions.set(list);
        }
    });
    let (actor, action, target, from, to) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let apply = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        filter.set(AuditFilter {
            actor: actor.get_untracked(),
            action: action.get_untracked(),
            target: target.get_untracked(),
            from: local_ms(&from.get_untracked()),
            to: local_ms(&to.get_untracked()),
        });
        above.set(Vec::new());
        load(None);
    };
    let clear = move |_| {
        for field in [actor, action, target, from, to] {
            field.set(String::new());
        }
        filter.set(AuditFilter::default());
        above.set(Vec::new());
        load(None);
    };
    let older = move |_| {
        let Some(last) = records.get_untracked().last().map(|r| r.id) else { return };
        above.update(|a| a.push(current.get_untracked()));
        load(Some(last));
    };
    let newer = move |_| {
        let mut back = None;
        above.update(|a| back = a.pop());
        if let Some(before) = back {
            load(before);
        }
    };
    let verify = move |_| {
        spawn_local(async move {
            verdict.set(Some(match api::audit_verify().await {
                Ok(v) if v.intact => {
                    format!("Intact: {} records, last hash {}", v.records.unwrap_or(0), v.last_hash.unwrap_or_default())
                }
                Ok(v) => format!("BROKEN at record {}: {}", v.record.unwrap_or(0), v.reason.unwrap_or_default()),
                Err(e) => e,
            }));
        });
    };
    let text_input = move |id: &'static str, label: &'static str, value: RwSignal<String>| {
        view! {
            <label>{label}" "<input id=id prop:value=value on:input=move |ev| value.set(event_target_value(&ev))/></label>
        }
    };
    view! {
        <section class="card wide">
            <div class="toolbar">
                <h2>"Audit trail"</h2>
                <button id="btn-verify" on:click=verify>"Verify chain"</button>
                <a class="button" id="export-jsonl" href=move || api::audit_export_url(&filter.get(), "jsonl") download="lantern-audit.jsonl">"Export JSON lines"</a>
                <a class="button" id="export-csv" href=move || api::audit_export_url(&filter.get(), "csv") download="lantern-audit.csv">"Export CSV"</a>
            </div>
            <form id="audit-filters" class="toolbar" on:submit=apply>
                {text_input("filter-user", "User", actor)}
                <label>"Action "
                    <select id="filter-action" prop:value=action on:change=move |ev| action.set(event_target_value(&ev))>
                        <option value="">"any"</option>
                        {move || {
                            // Each family (`login`) first, then its actions.
                            let list = actions.get();
                            let mut families: Vec<String> = list.iter().filter_map(|a| a.split_once('.').map(|(f, _)| f.to_string())).collect();
                            families.dedup();
                            families.into_iter().map(|f| {
                                let members: Vec<String> = list.iter().filter(|a| a.starts_with(&format!("{f}."))).cloned().collect();
                                view! {
                                    <option value=f.clone()>{format!("{f} (all)")}</option>
                                    {members.into_iter().map(|a| view! { <option value=a.clone()>{format!("  {a}")}</option> }).collect_view()}
                                }
                            }).collect_view()
                        }}
                    </select>
                </label>
                {text_input("filter-target", "On", target)}
                <label>"From "<input id="filter-from" type="datetime-local" prop:value=from on:input=move |ev| from.set(event_target_value(&ev))/></label>
                <label>"To "<input id="filter-to" type="datetime-local" prop:value=to on:input=move |ev| to.set(event_target_value(&ev))/></label>
                <button id="filter-apply" type="submit">"Filter"</button>
                <button id="filter-clear" type="button" on:click=clear>"Clear"</button>
            </form>
            <p id="audit-verdict" class="muted">{move || verdict.get()}</p>
            <p class="error">{move || error.get()}</p>
            <table class="hosts audit">
                <thead><tr><th>"#"</th><th>"When"</th><th>"Who"</th><th>"From"</th><th>"What"</th><th>"On"</th><th>"Details"</th></tr></thead>
                <tbody id="audit-rows">
                    <For each=move || records.get() key=|r| r.id let:r>
                        {
                            let (source, shown) = fields(&r.detail);
                            view! {
                                <tr class="audit-record" data-actor=r.actor.clone() data-action=r.action.clone()>
                                    <td>{r.id}</td>
                                    <td>{when(r.at)}</td>
                                    <td class="actor">{r.actor.clone()}</td>
                                    <td class="source">{source.unwrap_or_default()}</td>
                                    <td class="action">{r.action.clone()}</td>
                                    <td>{r.target.clone()}</td>
                                    <td class="detail">
                                        {shown.into_iter().map(|(name, value)| view! {
                                            <span class="field"><span class="muted">{name}</span>" "{value}</span>
                                        }).collect_view()}
                                    </td>
                                </tr>
                            }
                        }
                    </For>
                </tbody>
            </table>
            <div class="toolbar">
                <button id="audit-newer" on:click=newer disabled=move || above.get().is_empty()>"Newer"</button>
                <span id="audit-page" class="muted">{move || format!("page {}", above.get().len() + 1)}</span>
                <button id="audit-older" on:click=older disabled=move || !more.get()>"Older"</button>
            </div>
        </section>
    }
}
