//! Sequential read throughput of virtual media in the real QEMU test guest: `dd` of the whole
//! medium, timed by the guest's own clock, with the medium served two ways in the same run:
//! straight from a file in the controller's media folder (the direct path), and from a file
//! picked in headless Chromium and streamed over the console link (the browser path). The
//! guest's page cache is dropped before each read; runs alternate between the paths. The guest
//! runs under TCG on the same two cores as the browser, so each path is also measured without
//! it: `nbdcopy` (libnbd) reads the whole medium from the same NBD export QEMU uses.
//!
//! Usage: `trunk build --offline --release && scripts/guest-image.sh &&
//! cargo bench -p e2e --bench media_throughput`; `LANTERN_BENCH_RUNS=n` sets the runs per path
//! (default 5), `LANTERN_BENCH_MIB=n` the medium's size (default 256: an installer image is larger
//! still, and the guest's clock, in hundredths of a second, times it to within 1 %).

use std::path::Path;
use std::time::Duration;

use e2e::browser::Browser;
use e2e::media::{attach_from_this_computer, browser_file_becomes, serial_canvas};
use e2e::qemu::{open_booted_console, qemu_host};
use e2e::{marker, wait_for, Controller};
use fantoccini::elements::Element;
use fantoccini::Locator;
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let env = |name: &str, default: usize| std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default);
    let (runs, mib) = (env("LANTERN_BENCH_RUNS", 5).max(1), env("LANTERN_BENCH_MIB", 256).max(1));
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?.block_on(run(runs, mib))
}

async fn run(runs: usize, mib: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let media = dir.path().join("media");
    std::fs::create_dir_all(&media)?;
    // Random bytes: nothing on the way can make them smaller. A CD's size is whole sectors.
    let image = media.join("bench.iso");
    std::fs::write(&image, (0..mib << 20).map(|_| rand::random::<u8>()).collect::<Vec<u8>>())?;
    let size = (mib << 20) as f64;
    let serial = dir.path().join("serial.log");
    let vm = qemu_host(&serial);
    let folder = media.clone();
    let controller = Controller::start(move |c| {
        c.hosts.push(vm);
        c.media.folder = Some(folder);
    })
    .await?;
    let browser = Browser::start().await?;
    let measured = async {
        open_booted_console(&controller, &browser, &serial).await?;
        let c = &browser.client;
        c.find(Locator::Id("btn-media")).await?.click().await?;
        c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Id("media-file")).await?;
        let canvas = serial_canvas(c).await?;
        let export = controller.qemu_run_dir("vm").join("cd.sock");
        let (mut direct, mut streamed) = (Vec::new(), Vec::new());
        let (mut direct_alone, mut streamed_alone) = (Vec::new(), Vec::new());
        for run in 0..runs {
            let inserted = browser.api("PUT", "/api/hosts/vm/media/cd", json!({ "image": "bench.iso" })).await?;
            anyhow::ensure!(inserted["status"] == 200, "insert from the folder: {inserted}");
            let seconds = guest_reads_whole_medium(&canvas, &serial).await?;
            direct.push(size / seconds / 1e6);
            direct_alone.push(size / nbdcopy_seconds(&export).await? / 1e6);
            browser.api("DELETE", "/api/hosts/vm/media/cd", serde_json::Value::Null).await?;

            attach_from_this_computer(c, &image).await?;
            browser_file_becomes(&browser, "cd", "attached").await?;
            let seconds = guest_reads_whole_medium(&canvas, &serial).await?;
            streamed.push(size / seconds / 1e6);
            streamed_alone.push(size / nbdcopy_seconds(&export).await? / 1e6);
            c.find(Locator::Css("#media-browser-files .btn-media-detach")).await?.click().await?;
            browser_file_becomes(&browser, "cd", "detached").await?;
            println!(
                "run {}: guest: direct {:.1} MB/s, browser {:.1} MB/s; nbdcopy: direct {:.1} MB/s, browser {:.1} MB/s",
                run + 1,
                direct[run],
                streamed[run],
                direct_alone[run],
                streamed_alone[run]
            );
        }
        println!("media_throughput: {mib} MiB read sequentially, medians of {runs} alternating runs");
        for (who, direct, streamed) in
            [("the guest (dd)", &mut direct, &mut streamed), ("nbdcopy", &mut direct_alone, &mut streamed_alone)]
        {
            let (direct, streamed) = (median(direct), median(streamed));
            println!(
                "  read by {who}: direct (file export) {direct:.1} MB/s, browser (over the console) {streamed:.1} MB/s, ratio {:.2}",
                streamed / direct
            );
        }
        anyhow::Ok(())
    }
    .await;
    browser.close().await;
    measured
}

/// Has the guest read its whole CD once its drive has the medium, with a cold page cache, and
/// returns how long the read took by the guest's clock.
async fn guest_reads_whole_medium(canvas: &Element, serial: &Path) -> anyhow::Result<f64> {
    let m = marker();
    canvas
        .send_keys(&format!(
            "for i in 1 2 3 4 5 6 7 8 9 10; do dd if=/dev/sr0 of=/dev/null bs=2048 count=1 2>/dev/null && break; sleep 1; done; echo 3 > /proc/sys/vm/drop_caches; a=$(cut -d' ' -f1 /proc/uptime); dd if=/dev/sr0 of=/dev/null bs=1M 2>/dev/null; echo read-{m} $? $a $(cut -d' ' -f1 /proc/uptime)\n"
        ))
        .await?;
    let needle = format!("read-{m} 0 ");
    let line = wait_for("the guest's read of the medium", Duration::from_secs(300), || async {
        let logged = std::fs::read_to_string(serial).unwrap_or_default();
        // The echo of the typed command names `$?`; only the printed line has a 0 there.
        Ok(match logged.lines().find(|l| l.starts_with(&needle)) {
            Some(line) => Ok(line.to_string()),
            None => Err(logged.lines().rev().take(3).collect::<Vec<_>>().join(" | ")),
        })
    })
    .await?;
    let times: Vec<f64> = line.split_whitespace().skip(2).filter_map(|t| t.trim().parse().ok()).collect();
    let [start, end] = times[..] else { anyhow::bail!("cannot read the guest's times in {line:?}") };
    anyhow::ensure!(end > start, "the guest's clock did not move: {line:?}");
    Ok(end - start)
}

/// How long `nbdcopy` takes to read the whole medium from the export on `socket`.
async fn nbdcopy_seconds(socket: &Path) -> anyhow::Result<f64> {
    let started = std::time::Instant::now();
    let out = tokio::process::Command::new("nbdcopy")
        .arg(format!("nbd+unix:///media?socket={}", socket.display()))
        .arg("null:")
        .output()
        .await?;
    anyhow::ensure!(out.status.success(), "nbdcopy: {}", String::from_utf8_lossy(&out.stderr));
    Ok(started.elapsed().as_secs_f64())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
