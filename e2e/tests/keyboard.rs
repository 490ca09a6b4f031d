//! Keyboard layouts against a real QEMU guest: the guest's console switches to a German, then
//! a French keymap (busybox's `loadkmap`, with keymaps kbd's `loadkeys` made from console-data),
//! the user picks the same layout on the console page, and text with the layout's own
//! characters, pasted and then typed as key events in Chromium, is what the guest reads.

use std::time::Duration;

use e2e::qemu::{open_booted_console, qemu_host};
use e2e::{key, marker, scenario, wait_for};
use fantoccini::key::Key;
use fantoccini::Locator;

/// Waits until the guest's serial log holds `needle` (the log is read as UTF-8, lossily, so
/// a wrong byte shows as one).
async fn serial_shows(log: &std::path::Path, what: &str, needle: &str) -> anyhow::Result<()> {
    wait_for(what, Duration::from_secs(30), || async {
        let logged = String::from_utf8_lossy(&std::fs::read(log).unwrap_or_default()).into_owned();
        Ok(if logged.contains(needle) {
            Ok(())
        } else {
            Err(logged.lines().rev().take(6).collect::<Vec<_>>().join(" | "))
        })
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_pasted_and_typed_reaches_german_and_french_guests_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let serial = dir.path().join("serial.log");
    let log = serial.clone();
    scenario!(|c| c.hosts.push(qemu_host(&serial)), |controller, browser| {
        open_booted_console(&controller, &browser, &log).await?;
        // The guest's console shell answers (what is typed before it starts waits for it).
        let m = marker();
        browser.paste(&format!("echo up-{m} >/dev/ttyS0\n")).await?;
        serial_shows(&log, "the guest's console shell", &format!("up-{m}")).await?;
        for (layout, text) in [("de", "äöüßÄÖÜ€@{}[]|\\~µ"), ("fr", "éèçàù€@#{}[]|\\~")] {
            // Typed with the layout the guest had until now (US, then German).
            browser
                .paste(&format!("loadkmap </k/{layout};read -r l;printf 'P{layout}<%s>\\n' \"$l\" >/dev/ttyS0\n"))
                .await?;
            browser.client.find(Locator::Id("layout")).await?.select_by_value(layout).await?;
            browser.paste(&format!("{text}\n")).await?;
            serial_shows(&log, &format!("the text pasted for {layout}"), &format!("P{layout}<{text}>")).await?;

            browser.paste(&format!("read -r l;printf 'T{layout}<%s>\\n' \"$l\" >/dev/ttyS0\n")).await?;
            browser.type_characters(&text).await?;
            // With Shift held, as for `@` and `|` on a US keyboard: the layout's keys need AltGr
            // instead, and Shift is let go around them.
            browser.type_characters_holding(&[Key::Shift], "@|A").await?;
            browser.type_characters(&key(Key::Enter)).await?;
            serial_shows(&log, &format!("the text typed for {layout}"), &format!("T{layout}<{text}@|A>")).await?;
        }
        // The choice is kept for this user and host.
        let kept = browser.api("GET", "/api/preferences", serde_json::Value::Null).await?;
        assert_eq!(kept["body"]["layout.vm"], "fr", "{kept}");
        Ok(())
    });
}
