//! The audit trail: who did what and when, newest first, with the chain check and an export.

use leptos::prelude::*;

use super::when;
use leptos::task::spawn_local;

use crate::api::{self, AuditRecord};

const PAGE: u32 = 50;

#[component]
pub fn Audit() -> impl IntoView {
    let records = RwSignal::new(Vec::<AuditRecord>::new());
    let error = RwSignal::new(None::<String>);
    let verdict = RwSignal::new(None::<String>);
    let more = RwSignal::new(true);
    let load = move |before: Option<i64>| {
        spawn_local(async move {
            match api::audit_page(before, PAGE).await {
                Ok(page) => {
                    more.set(page.len() as u32 == PAGE);
                    records.update(|r| r.extend(page));
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    load(None);
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
    view! {
        <section class="card wide">
            <div class="toolbar">
                <h2>"Audit trail"</h2>
                <button id="btn-verify" on:click=verify>"Verify chain"</button>
                <a class="button" href="/api/audit/export" download="lantern-audit.jsonl">"Export"</a>
            </div>
            <p id="audit-verdict" class="muted">{move || verdict.get()}</p>
            <p class="error">{move || error.get()}</p>
            <table class="hosts audit">
                <thead><tr><th>"#"</th><th>"When"</th><th>"Who"</th><th>"What"</th><th>"On"</th><th>"Details"</th></tr></thead>
                <tbody id="audit-rows">
                    <For each=move || records.get() key=|r| r.id let:r>
                        <tr>
                            <td>{r.id}</td>
                            <td>{when(r.at)}</td>
                            <td>{r.actor.clone()}</td>
                            <td class="action">{r.action.clone()}</td>
                            <td>{r.target.clone()}</td>
                            <td class="detail">{r.detail.clone()}</td>
                        </tr>
                    </For>
                </tbody>
            </table>
            <Show when=move || more.get()>
                <button on:click=move |_| load(records.get_untracked().last().map(|r| r.id))>"Older"</button>
            </Show>
        </section>
    }
}
