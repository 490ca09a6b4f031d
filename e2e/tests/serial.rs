//! The virtual serial console against a real guest, in headless Chromium: QEMU's COM1 goes
//! through the controller to the browser on the console link (under the link's cipher), the
//! guest's output from before the page opened is there (the controller's backlog), and keys
//! typed on the serial view reach the shell on the guest's ttyS0.

use std::time::Duration;

use e2e::qemu::{open_booted_console, qemu_host};
use e2e::{scenario, wait_for};
use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_serial_console_shows_earlier_boot_output_and_types_into_the_guest() {
    let dir = tempfile::tempdir().unwrap();
    let serial = dir.path().join("serial.log");
    let vm = qemu_host(&serial);
    let log = serial.clone();
    scenario!(move |c| c.hosts.push(vm), |controller, browser| {
        // The guest boots before anyone looks.
        open_booted_console(&controller, &browser, &log).await?;
        let c = &browser.client;
        c.find(Locator::Id("btn-serial")).await?.click().await?;
        let serial_text = || async { c.find(Locator::Id("serial-text")).await?.text().await };
        wait_for("the boot output in the serial view", Duration::from_secs(20), || async {
            let text = serial_text().await?;
            Ok(if text.contains("LANTERN-GUEST-READY") { Ok(()) } else { Err(text) })
        })
        .await?;

        let canvas = c.find(Locator::Id("serial-canvas")).await?;
        canvas.click().await?;
        canvas.send_keys("echo serial-$((6*7))\n").await?;
        wait_for("the guest's answer in the serial view", Duration::from_secs(20), || async {
            let text = serial_text().await?;
            Ok(if text.contains("serial-42") { Ok(()) } else { Err(text) })
        })
        .await?;
        let logged = std::fs::read_to_string(&log)?;
        assert!(logged.contains("serial-42"), "the same bytes reach QEMU's serial log: {logged}");

        // A console that does not open the serial view gets no serial traffic; opening it
        // (JS API) brings the backlog, with everything above in it.
        let url = format!("wss://{}/console/ws", controller.running.site);
        browser.new_applet_for("watcher", &url, "vm").await?;
        browser
            .js_async(
                r#"
                const [url, done] = arguments;
                (async () => {
                  const s = await (await fetch('/api/session')).json();
                  const k = await (await fetch('/api/hosts/vm/console-key', { method: 'POST', headers: { 'X-CSRF-Token': s.csrf_token } })).json();
                  window.watcher.connect({ url, keyId: k.key_id, pms: k.pms, controllerKey: k.controller_key });
                  done(null);
                })().catch((e) => done(String(e)));
                "#,
                vec![serde_json::json!(url)],
            )
            .await?;
        browser.applet_wait_state("watcher", "connected", Duration::from_secs(20)).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(browser.applet_status("watcher").await?["serialBytes"], 0);
        browser
            .js(
                "const c = document.createElement('canvas'); c.id = 'watcher-serial'; document.body.appendChild(c); window.watcher.attachSerial(c);",
                vec![],
            )
            .await?;
        wait_for("the backlog on opening", Duration::from_secs(10), || async {
            let text = browser.js("return window.watcher.serialText();", vec![]).await?;
            let text = text.as_str().unwrap_or_default().to_string();
            Ok(if text.contains("serial-42") { Ok(()) } else { Err(text) })
        })
        .await?;
        Ok(())
    });
}
