//! The console end to end, as a user meets it: a real controller on loopback, the real web
//! console in headless Chromium, a real shell behind it.

use std::time::Duration;

use e2e::{key, marker, scenario};
use fantoccini::key::Key;
use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_in_open_the_console_type_and_see_the_output() {
    scenario!(|_| {}, |controller, browser| {
        browser.first_login(&controller).await?;
        browser.open_console("local").await?;
        assert_eq!(browser.text_of("status-suite").await?, "chacha20-poly1305", "the default suite");

        // Typing: the output line carries a value only the shell can compute.
        let m = marker();
        browser.type_keys(&format!("echo hello-$((40+2))-{m}{}", key(Key::Enter))).await?;
        browser
            .wait_screen("the echo output", Duration::from_secs(10), |t| {
                t.lines().any(|l| l == format!("hello-42-{m}"))
            })
            .await?;

        // Ctrl-C interrupts a running command (otherwise the next echo waits 60 s).
        browser.type_keys(&format!("sleep 60{}", key(Key::Enter))).await?;
        browser.type_keys(&format!("{}c{}", key(Key::Control), key(Key::Control))).await?;
        browser.type_keys(&format!("echo after-ctrl-c-{m}{}", key(Key::Enter))).await?;
        browser
            .wait_screen("output after Ctrl-C", Duration::from_secs(10), |t| {
                t.lines().any(|l| l == format!("after-ctrl-c-{m}"))
            })
            .await?;

        // Arrow up recalls the previous command.
        browser.type_keys(&format!("{}{}", key(Key::Up), key(Key::Enter))).await?;
        browser
            .wait_screen("the recalled command's output", Duration::from_secs(10), |t| {
                t.lines().filter(|l| *l == format!("after-ctrl-c-{m}")).count() == 2
            })
            .await?;

        // Tab completes a command name.
        browser.type_keys(&format!("ech{} tab-{m}{}", key(Key::Tab), key(Key::Enter))).await?;
        browser
            .wait_screen("the completed command's output", Duration::from_secs(10), |t| {
                t.lines().any(|l| l == format!("tab-{m}"))
            })
            .await?;

        // Function and editing keys send xterm's sequences (`cat -v` shows them as typed).
        browser.type_keys(&format!("cat -v{}", key(Key::Enter))).await?;
        browser.type_keys(&format!("{}{}{}{}", key(Key::F5), key(Key::Home), key(Key::F1), key(Key::Enter))).await?;
        browser
            .wait_screen("function key sequences", Duration::from_secs(10), |t| {
                t.lines().any(|l| l == "^[[15~^[[H^[OP")
            })
            .await?;
        browser.type_keys(&format!("{}c{}", key(Key::Control), key(Key::Control))).await?;

        // Paste types text as keystrokes. The shell uses bracketed paste, so (as in any
        // terminal) pasted text waits on the command line for Enter.
        browser.paste(&format!("echo pasted-$((6*7))-{m}")).await?;
        browser
            .wait_screen("the pasted text on the command line", Duration::from_secs(10), |t| {
                t.contains(&format!("echo pasted-$((6*7))-{m}"))
            })
            .await?;
        browser.type_keys(&key(Key::Enter)).await?;
        browser
            .wait_screen("the pasted command's output", Duration::from_secs(10), |t| {
                t.lines().any(|l| l == format!("pasted-42-{m}"))
            })
            .await?;

        // Full screen shows the console frame alone.
        browser.client.find(Locator::Id("btn-fullscreen")).await?.click().await?;
        let full =
            browser.js("return document.fullscreenElement && document.fullscreenElement.className;", vec![]).await?;
        assert_eq!(full, serde_json::json!("frame"));
        browser.js("return document.exitFullscreen();", vec![]).await?;

        // The status bar shows the link's figures.
        let epoch = browser.text_of("status-epoch").await?;
        assert!(epoch.starts_with("key 0."), "{epoch}");
        let life = browser.text_of("status-key-life").await?;
        assert!(life.starts_with("key renews in ") && life.ends_with(" s"), "{life}");

        // Ctrl-Alt-Del restarts the local host's console program, and it comes back.
        browser.client.find(Locator::Id("btn-cad")).await?.click().await?;
        e2e::wait_for("the host to report the restart", Duration::from_secs(10), || async {
            let host = browser.text_of("status-host").await?;
            Ok(if host.contains("restarting") || host.contains("running") && host != "running /bin/bash" {
                Ok(())
            } else {
                Err(host)
            })
        })
        .await?;
        browser.type_keys(&format!("echo back-$((1+1))-{m}{}", key(Key::Enter))).await?;
        browser
            .wait_screen("output after the restart", Duration::from_secs(15), |t| {
                t.lines().any(|l| l == format!("back-2-{m}"))
            })
            .await?;

        // Power off stops the console program and the screen says so; power on brings it back.
        browser.press_power("btn-power-off", "Test shell", true).await?;
        browser
            .wait_screen("the powered-off screen", Duration::from_secs(10), |t| t.contains("The host is powered off."))
            .await?;
        assert_eq!(browser.text_of("status-host").await?, "powered off");
        browser.client.find(Locator::Id("btn-power-on")).await?.click().await?;
        e2e::wait_for("power on", Duration::from_secs(10), || async {
            let host = browser.text_of("status-host").await?;
            Ok(if host.starts_with("running") { Ok(()) } else { Err(host) })
        })
        .await?;
        browser.type_keys(&format!("echo powered-$((2+3))-{m}{}", key(Key::Enter))).await?;
        browser
            .wait_screen("output after power on", Duration::from_secs(15), |t| {
                t.lines().any(|l| l == format!("powered-5-{m}"))
            })
            .await?;

        // The host's event log shows what happened to it.
        browser.client.find(Locator::Id("btn-events")).await?.click().await?;
        e2e::wait_for("the event log", Duration::from_secs(10), || async {
            let events = browser.text_of("host-events").await.unwrap_or_default();
            Ok(if events.contains("powered off") && events.contains("Ctrl-Alt-Del: restarting") {
                Ok(())
            } else {
                Err(events)
            })
        })
        .await?;

        // The audit trail shows the session, its Ctrl-Alt-Del and its end, and verifies.
        browser.client.find(Locator::Id("btn-disconnect")).await?.click().await?;
        browser.wait_state("closed", Duration::from_secs(10)).await?;
        browser.client.find(Locator::Id("nav-audit")).await?.click().await?;
        let rows = e2e::wait_for("the console session in the audit trail", Duration::from_secs(10), || async {
            let rows = browser.text_of("audit-rows").await.unwrap_or_default();
            Ok(if rows.contains("console.close") { Ok(rows) } else { Err(rows) })
        })
        .await?;
        for action in [
            "login.ok",
            "user.password",
            "console.key",
            "console.open",
            "console.ctrl-alt-del",
            "host.power",
            "console.close",
        ] {
            assert!(rows.contains(action), "{action} missing from:\n{rows}");
        }
        // Details read as fields, not JSON.
        assert!(rows.contains("suite chacha20-poly1305") && rows.contains("bytes in "), "{rows}");
        browser.client.find(Locator::Id("btn-verify")).await?.click().await?;
        e2e::wait_for("the chain check", Duration::from_secs(10), || async {
            let verdict = browser.text_of("audit-verdict").await.unwrap_or_default();
            Ok(if verdict.starts_with("Intact: ") { Ok(()) } else { Err(verdict) })
        })
        .await?;
        Ok(())
    });
}
