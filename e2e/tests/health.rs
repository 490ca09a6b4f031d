//! The console page's host panels in a real browser: the health panel shows the sensors read
//! from sysfs with a plot of their history, the recovery switch turns automatic recovery off
//! (and the event log says who did), and the event log pages back through older events.

use std::time::Duration;

use controller_server::config::RecoveryConfig;
use e2e::{scenario, wait_for};
use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_sensors_plot_the_recovery_switch_and_the_paged_event_log() {
    let sysfs = tempfile::tempdir().unwrap();
    let chip = sysfs.path().join("class/hwmon/hwmon0");
    std::fs::create_dir_all(&chip).unwrap();
    for (file, value) in
        [("name", "coretemp"), ("temp1_input", "45000"), ("temp1_label", "Package"), ("temp1_max", "80000")]
    {
        std::fs::write(chip.join(file), value).unwrap();
    }
    let root = sysfs.path().to_path_buf();
    scenario!(
        move |c| {
            c.health.interval_seconds = 1;
            c.hosts[0].recovery =
                Some(RecoveryConfig { enabled: true, timeout_seconds: 60, max_resets: 1, window_seconds: 600 });
            if let controller_server::config::BackendConfig::Local { sysfs, .. } = &mut c.hosts[0].backend {
                *sysfs = root;
            }
        },
        |controller, browser| {
            browser.first_login(&controller).await?;
            // Old events to page through.
            for i in 0..30 {
                controller.running.state.events.record("local", "info", &format!("old event {i}"))?;
            }
            browser.open_console("local").await?;
            let c = &browser.client;
            // A second reading (a warmer one) gives the plot two points.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            std::fs::write(chip.join("temp1_input"), "50000")?;
            c.find(Locator::Id("btn-health")).await?.click().await?;
            let row = "#sensors tr[data-sensor='coretemp-hwmon0-temp1']";
            wait_for("the sensor's second reading", Duration::from_secs(20), || async {
                let text = match c.find(Locator::Css(row)).await {
                    Ok(row) => row.text().await?,
                    Err(_) => String::new(),
                };
                Ok(if text.contains("50.0 Cel") { Ok(()) } else { Err(text) })
            })
            .await?;
            let points =
                c.find(Locator::Css(&format!("{row} polyline"))).await?.attr("points").await?.unwrap_or_default();
            assert!(points.split(' ').count() >= 2, "a plot of the history: {points}");
            let row_text = c.find(Locator::Css(row)).await?.text().await?;
            assert!(row_text.contains("coretemp Package") && row_text.contains("caution > 80.0"), "{row_text}");

            // The recovery switch.
            let status = c.find(Locator::Id("recovery-status")).await?.text().await?;
            assert!(status.contains("waiting for the host's first heartbeat"), "{status}");
            c.find(Locator::Id("recovery-enabled")).await?.click().await?;
            wait_for("recovery to be off", Duration::from_secs(10), || async {
                let on = controller.running.state.recoveries["local"].status().enabled;
                Ok(if on { Err("still on".to_string()) } else { Ok(()) })
            })
            .await?;

            // The event log: the newest page says who switched recovery off; older pages follow.
            c.find(Locator::Id("btn-events")).await?.click().await?;
            let events = || async { c.find(Locator::Id("host-events")).await?.text().await };
            wait_for("the switch in the event log", Duration::from_secs(10), || async {
                let text = events().await?;
                Ok(if text.contains("Automatic recovery switched off by admin (web)") { Ok(()) } else { Err(text) })
            })
            .await?;
            assert!(!events().await?.contains("old event 0"));
            c.find(Locator::Id("btn-events-older")).await?.click().await?;
            wait_for("the older page", Duration::from_secs(10), || async {
                let text = events().await?;
                Ok(if text.contains("old event 0") { Ok(()) } else { Err(text) })
            })
            .await?;
            c.find(Locator::Id("btn-events-newer")).await?.click().await?;
            wait_for("the newest page again", Duration::from_secs(10), || async {
                let text = events().await?;
                Ok(if text.contains("switched off") { Ok(()) } else { Err(text) })
            })
            .await?;
            Ok(())
        }
    );
}
