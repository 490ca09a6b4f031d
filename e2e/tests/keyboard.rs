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
            browser.type_characters(text).await?;
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

/// Waits until the guest's key reader (`/k/keys`) has reported `events` (Linux key code,
/// 1 down or 0 up) one after the other.
async fn guest_saw_keys(log: &std::path::Path, what: &str, events: &[(u16, u8)]) -> anyhow::Result<()> {
    let block: String = events.iter().map(|(code, value)| format!("key {code} {value}\n")).collect();
    wait_for(what, Duration::from_secs(20), || async {
        let logged = String::from_utf8_lossy(&std::fs::read(log).unwrap_or_default()).replace('\r', "");
        Ok(if logged.contains(&block) {
            Ok(())
        } else {
            Err(logged.lines().rev().take(12).collect::<Vec<_>>().join(" | "))
        })
    })
    .await
}

async fn is_full_screen(browser: &e2e::browser::Browser) -> anyhow::Result<bool> {
    Ok(browser.js("return document.fullscreenElement !== null", vec![]).await? == serde_json::Value::Bool(true))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_full_screen_escape_and_super_reach_the_guest_as_do_the_keys_menus_combinations() {
    const ESC: u16 = 1;
    const CTRL: u16 = 29;
    const ALT: u16 = 56;
    const SUPER: u16 = 125;
    const SYSRQ: u16 = 99;
    const F1: u16 = 59;
    const X: u16 = 45;
    let dir = tempfile::tempdir().unwrap();
    let serial = dir.path().join("serial.log");
    let log = serial.clone();
    scenario!(|c| c.hosts.push(qemu_host(&serial)), |controller, browser| {
        open_booted_console(&controller, &browser, &log).await?;
        browser.paste("sh /k/keys &\n").await?;
        serial_shows(&log, "the guest's key reader", "keys-ready").await?;

        // Full screen takes the keyboard (Keyboard Lock: Chromium grants it), and Escape and
        // Super go to the host. (WebDriver's keys come from inside the browser, past where it
        // would take Escape for itself without the lock, so the grant is what shows the lock.)
        browser
            .js(
                "const k = navigator.keyboard, lock = k.lock.bind(k); window.lockAnswer = 'not asked';
                 k.lock = (...a) => lock(...a).then(() => { window.lockAnswer = 'granted'; }, (e) => { window.lockAnswer = String(e); throw e; });",
                vec![],
            )
            .await?;
        browser.client.find(Locator::Id("btn-fullscreen")).await?.click().await?;
        wait_for("full screen", Duration::from_secs(5), || async {
            Ok(if is_full_screen(&browser).await? { Ok(()) } else { Err("not full screen".to_string()) })
        })
        .await?;
        wait_for("the keyboard lock", Duration::from_secs(5), || async {
            let answer = browser.js("return window.lockAnswer", vec![]).await?;
            Ok(if answer == "granted" { Ok(()) } else { Err(answer.to_string()) })
        })
        .await?;
        // The page says how to leave.
        browser.wait_text("fullscreen-hint", "hold Esc", Duration::from_secs(5)).await?;
        browser.type_characters(&format!("{}{}", key(Key::Escape), key(Key::Meta))).await?;
        guest_saw_keys(&log, "Escape on the guest", &[(ESC, 1), (ESC, 0)]).await?;
        guest_saw_keys(&log, "Super on the guest", &[(SUPER, 1), (SUPER, 0)]).await?;
        assert!(is_full_screen(&browser).await?, "Escape went to the host, not to the browser");
        browser.js("return document.exitFullscreen().then(() => true)", vec![]).await?;

        // The Keys menu's combinations, and a modifier that stays down until the next key.
        browser.client.find(Locator::Id("btn-keys")).await?.click().await?;
        browser.client.find(Locator::Id("key-ctrl-alt-f1")).await?.click().await?;
        guest_saw_keys(&log, "Ctrl-Alt-F1", &[(CTRL, 1), (ALT, 1), (F1, 1), (F1, 0), (ALT, 0), (CTRL, 0)]).await?;
        browser.client.find(Locator::Id("key-print-screen")).await?.click().await?;
        guest_saw_keys(&log, "Print Screen", &[(SYSRQ, 1), (SYSRQ, 0)]).await?;
        browser.client.find(Locator::Id("latch-ctrl")).await?.click().await?;
        let pressed = browser.js("return document.getElementById('latch-ctrl').getAttribute('aria-pressed')", vec![]);
        assert_eq!(pressed.await?, "true");
        browser.type_characters("x").await?;
        guest_saw_keys(&log, "a latched Ctrl around x", &[(CTRL, 1), (X, 1), (X, 0), (CTRL, 0)]).await?;
        wait_for("the latch to let go", Duration::from_secs(5), || async {
            let pressed =
                browser.js("return document.getElementById('latch-ctrl').getAttribute('aria-pressed')", vec![]).await?;
            Ok(if pressed == "false" { Ok(()) } else { Err(pressed.to_string()) })
        })
        .await?;
        Ok(())
    });
}
