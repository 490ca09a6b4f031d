//! Console page panels about the host rather than its screen: its event log (paged, with the
//! screen captures of automatic resets), its health sensors with their history, and the
//! automatic recovery switch.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::when;
use crate::api::{self, HostEvent, RecoveryStatus, Sensor, Sensors};
use crate::applet::Status;

const EVENTS_PAGE: u32 = 20;
/// How often an open health panel asks again (the controller samples every 10 s by default).
const HEALTH_REFRESH: Duration = Duration::from_secs(5);

/// The host's event log, newest first, a page at a time; follows the host's status while on
/// the first page.
#[component]
pub fn EventsPanel(host: String, status: RwSignal<Status>) -> impl IntoView {
    let events = RwSignal::new(Vec::<HostEvent>::new());
    // `None`: the newest page; `Some(id)`: the page of events before `id`.
    let before = RwSignal::new(None::<i64>);
    let newer = RwSignal::new(Vec::<Option<i64>>::new());
    let load_host = host.clone();
    Effect::new(move |_| {
        let _ = status.with(|s| s.host_status.clone());
        let (host, page) = (load_host.clone(), before.get());
        spawn_local(async move {
            if let Ok(list) = api::host_events(&host, page, EVENTS_PAGE).await {
                events.set(list);
            }
        });
    });
    let older = move |_| {
        if let Some(last) = events.with(|e| e.last().map(|e| e.id)) {
            newer.update(|stack| stack.push(before.get_untracked()));
            before.set(Some(last));
        }
    };
    let back = move |_| {
        let previous = newer.try_update(|stack| stack.pop()).flatten().flatten();
        before.set(previous);
    };
    let full_page = move || events.with(|e| e.len() as u32 == EVENTS_PAGE);
    view! {
        <div id="host-events-panel" class="panel">
            <table id="host-events" class="hosts audit">
                <tbody>
                    <For each=move || events.get() key=|e| e.id let:e>
                        <tr class=format!("severity-{}", e.severity)>
                            <td>{when(e.at)}</td>
                            <td>{e.severity.clone()}</td>
                            <td>
                                {e.message.clone()}
                                {e.attachment.clone().map(|name| view! {
                                    " "
                                    <a class="capture" target="_blank" rel="noopener" href=format!("/api/hosts/{}/captures/{name}", host.clone())>"screen"</a>
                                })}
                            </td>
                        </tr>
                    </For>
                </tbody>
            </table>
            <div class="pager">
                <button id="btn-events-newer" disabled=move || before.get().is_none() on:click=back>"← Newer"</button>
                <button id="btn-events-older" disabled=move || !full_page() on:click=older>"Older →"</button>
            </div>
        </div>
    }
}

/// The host's sensors, each with its reading and a plot of its recent history, and the
/// automatic recovery switch where the host has recovery.
#[component]
pub fn HealthPanel(host: String, csrf: String, recovery: bool, can_power: bool) -> impl IntoView {
    let sensors = RwSignal::new(None::<Sensors>);
    let timer = RwSignal::new(None::<RecoveryStatus>);
    let refresh_host = host.clone();
    let refresh = move || {
        let host = refresh_host.clone();
        spawn_local(async move {
            if let Ok(s) = api::sensors(&host).await {
                sensors.set(Some(s));
            }
            if recovery {
                if let Ok(t) = api::recovery(&host).await {
                    timer.set(Some(t));
                }
            }
        });
    };
    refresh();
    if let Ok(handle) = set_interval_with_handle(refresh, HEALTH_REFRESH) {
        on_cleanup(move || handle.clear());
    }
    let switch_host = host.clone();
    let switch = move |ev: leptos::ev::Event| {
        let enabled = event_target_checked(&ev);
        let (csrf, host) = (csrf.clone(), switch_host.clone());
        spawn_local(async move {
            if let Ok(t) = api::set_recovery(&csrf, &host, enabled).await {
                timer.set(Some(t));
            }
        });
    };
    view! {
        <div id="health-panel" class="panel">
            <Show when=move || recovery>
                <p id="recovery" class="recovery">
                    <label>
                        <input id="recovery-enabled" type="checkbox" disabled=!can_power
                            prop:checked=move || timer.with(|t| t.as_ref().is_some_and(|t| t.enabled))
                            on:change=switch.clone()/>
                        " Automatic server recovery"
                    </label>
                    " "
                    <span id="recovery-status" class="muted">{move || timer.get().map(|t| recovery_words(&t)).unwrap_or_default()}</span>
                </p>
            </Show>
            {move || match sensors.get() {
                None => view! { <p class="muted">"Reading sensors…"</p> }.into_any(),
                Some(s) if !s.available || s.sensors.is_empty() => {
                    view! { <p id="sensors-unavailable" class="muted">"Health sensors: not available for this host."</p> }.into_any()
                }
                Some(s) => view! {
                    <table id="sensors" class="hosts sensors">
                        <thead><tr><th>"Sensor"</th><th>"Reading"</th><th>"Status"</th><th>"Thresholds"</th><th>"History"</th></tr></thead>
                        <tbody>
                            {s.sensors.into_iter().map(|sensor| view! { <SensorRow sensor/> }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            }}
        </div>
    }
}

fn recovery_words(t: &RecoveryStatus) -> String {
    let state = match (t.enabled, t.armed) {
        (false, _) => "off".to_string(),
        (true, true) => format!("armed: a reset follows {} s without a heartbeat", t.timeout_seconds),
        (true, false) => "on, waiting for the host's first heartbeat".to_string(),
    };
    let last = match (t.last_heartbeat_ms_ago, &t.last_source) {
        (Some(ms), Some(source)) => format!("; last heartbeat {} s ago ({source})", ms / 1000),
        _ => String::new(),
    };
    format!("{state}{last}; {} of {} resets used in {} s", t.resets_in_window, t.max_resets, t.window_seconds)
}

#[component]
fn SensorRow(sensor: Sensor) -> impl IntoView {
    let t = sensor.thresholds;
    let bounds: Vec<String> = [
        ("critical <", t.lower_critical),
        ("caution <", t.lower_caution),
        ("caution >", t.upper_caution),
        ("critical >", t.upper_critical),
    ]
    .iter()
    .filter_map(|(name, v)| v.map(|v| format!("{name} {v:.1}")))
    .collect();
    let points = plot_points(&sensor.history, PLOT_W, PLOT_H);
    view! {
        <tr class=format!("sensor level-{}", sensor.level) data-sensor=sensor.id.clone()>
            <td>{sensor.name.clone()}</td>
            <td class="reading">{format!("{:.1} {}", sensor.value, sensor.unit)}</td>
            <td>{sensor.level.clone()}</td>
            <td class="muted">{bounds.join(", ")}</td>
            <td>
                <svg class="plot" width=PLOT_W.to_string() height=PLOT_H.to_string() viewBox=format!("0 0 {PLOT_W} {PLOT_H}") role="img"
                    aria-label=format!("{} over the last {} readings", sensor.name, sensor.history.len())>
                    <polyline fill="none" stroke="currentColor" stroke-width="1.5" points=points/>
                </svg>
            </td>
        </tr>
    }
}

const PLOT_W: f64 = 240.0;
const PLOT_H: f64 = 36.0;

/// SVG polyline points for a history: time left to right, value bottom to top, scaled to the
/// readings' own range (a flat line sits in the middle).
fn plot_points(history: &[(i64, f64)], width: f64, height: f64) -> String {
    let (Some(first), Some(last)) = (history.first(), history.last()) else { return String::new() };
    let (lo, hi) = history.iter().fold((f64::MAX, f64::MIN), |(lo, hi), (_, v)| (lo.min(*v), hi.max(*v)));
    let span_t = (last.0 - first.0).max(1) as f64;
    let span_v = hi - lo;
    history
        .iter()
        .map(|(at, v)| {
            let x = if history.len() == 1 { width } else { (at - first.0) as f64 / span_t * width };
            let y = if span_v > 0.0 { height - 2.0 - (v - lo) / span_v * (height - 4.0) } else { height / 2.0 };
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn plots_span_the_box_and_a_flat_line_sits_in_the_middle() {
        assert_eq!(plot_points(&[], 100.0, 20.0), "");
        assert_eq!(plot_points(&[(0, 1.0), (10, 3.0)], 100.0, 20.0), "0.0,18.0 100.0,2.0");
        assert_eq!(plot_points(&[(0, 5.0), (10, 5.0)], 100.0, 20.0), "0.0,10.0 100.0,10.0");
    }
}
