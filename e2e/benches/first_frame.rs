//! Time from page load to the console's first painted picture, in headless Chromium: a user
//! opens a launch link (`/launch/<id>`, what a portal hands out) and waits for the screen. The
//! page's own clock measures it: from navigation start to the applet's `lantern-first-frame`
//! User Timing mark. Each launch is a fresh page load; the first is cold (nothing cached), the
//! rest are warm, as a returning user's.
//!
//! Usage: `trunk build --offline --release && cargo bench -p e2e --bench first_frame`;
//! `LANTERN_WEB_ROOT=dir` measures another build of the web console, `LANTERN_BENCH_RUNS=n`
//! sets the number of loads (default 15).

use std::time::Duration;

use anyhow::Context;
use e2e::browser::Browser;
use e2e::{wait_for, Controller};
use serde_json::{json, Value};

fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::var("LANTERN_BENCH_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(15);
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?.block_on(run(runs.max(2)))
}

async fn run(runs: usize) -> anyhow::Result<()> {
    let web_root = std::env::var_os("LANTERN_WEB_ROOT").map(std::path::PathBuf::from);
    let controller = Controller::start(|c| {
        if let Some(root) = web_root {
            c.web_root = root;
        }
    })
    .await?;
    let wasm = std::fs::metadata(controller_web_root(&controller).join("web-console_bg.wasm"))?.len();
    let browser = Browser::start().await?;
    let measured = async {
        browser.first_login(&controller).await?;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let launch = browser.api("POST", "/api/launches", json!({ "host": "local", "control": true })).await?;
            let url = launch["body"]["url"].as_str().context("a launch URL")?.to_string();
            browser.client.goto(&url).await?;
            let at = wait_for("the first painted frame", Duration::from_secs(30), || async {
                let mark = browser
                    .js("const m = performance.getEntriesByName('lantern-first-frame'); return m.length ? m[0].startTime : null;", vec![])
                    .await?;
                Ok(match mark {
                    Value::Number(n) => Ok(n.as_f64().unwrap_or(0.0)),
                    _ => Err("no frame painted yet".to_string()),
                })
            })
            .await?;
            times.push(at);
        }
        anyhow::Ok(times)
    }
    .await;
    browser.close().await;
    let times = measured?;
    let mut warm = times[1..].to_vec();
    warm.sort_by(f64::total_cmp);
    let median = warm[warm.len() / 2];
    let p90 = warm[(warm.len() * 9 / 10).min(warm.len() - 1)];
    println!("web console wasm: {wasm} bytes");
    println!("page load to first painted frame: cold {:.0} ms; warm ({} loads) median {median:.0} ms, p90 {p90:.0} ms, min {:.0} ms", times[0], warm.len(), warm[0]);
    Ok(())
}

fn controller_web_root(controller: &Controller) -> std::path::PathBuf {
    controller.running.state.web_root.clone()
}
