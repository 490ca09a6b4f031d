//! The relative mouse against a real QEMU guest with only a PS/2 mouse (no tablet, as many
//! BIOS setups): with the pointer locked to the canvas in Chromium, a move by a known amount
//! reaches the guest's mouse as exactly that motion (QEMU's pointer motion change), read from
//! the guest's own input events.

use std::time::Duration;

use e2e::qemu::{open_booted_console, qemu_host_of, Guest};
use e2e::{scenario, wait_for};
use fantoccini::actions::{InputSource, MouseActions, PointerAction};
use fantoccini::Locator;

/// The guest mouse's total motion (x, y) since its reader started, from `rel` lines.
fn guest_motion(log: &std::path::Path) -> (i64, i64) {
    let logged = String::from_utf8_lossy(&std::fs::read(log).unwrap_or_default()).into_owned();
    let after = logged.rsplit_once("keys-ready").map_or("", |(_, rest)| rest);
    after.lines().fold((0, 0), |(x, y), line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["rel", "0", v] => (x + v.parse::<i64>().unwrap_or(0), y),
            ["rel", "1", v] => (x, y + v.parse::<i64>().unwrap_or(0)),
            _ => (x, y),
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relative_move_reaches_a_ps2_guest_as_exactly_that_motion() {
    let dir = tempfile::tempdir().unwrap();
    let serial = dir.path().join("serial.log");
    let log = serial.clone();
    // Debian's generic kernel: the cloud kernel has no PS/2 mouse driver.
    scenario!(|c| c.hosts.push(qemu_host_of(Guest::Usb, &serial, "")), |controller, browser| {
        open_booted_console(&controller, &browser, &log).await?;
        // One canvas pixel per CSS pixel: the motion in host pixels is the motion of the mouse.
        browser.client.find(Locator::Id("zoom")).await?.select_by_value("1").await?;
        browser.paste("sh /k/keys mouse &\n").await?;
        wait_for("the guest's mouse reader", Duration::from_secs(30), || async {
            let logged = String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).into_owned();
            Ok(if logged.contains("keys-ready") { Ok(()) } else { Err("not yet".to_string()) })
        })
        .await?;

        // The button pressed with the same WebDriver mouse that then moves: its position is
        // known (the button's centre), so the moves stay inside the window.
        let button = browser.client.find(Locator::Id("btn-relative-mouse")).await?;
        let press = MouseActions::new("mouse".into())
            .then(PointerAction::MoveToElement { element: button, duration: None, x: 0.0, y: 0.0 })
            .then(PointerAction::Down { button: fantoccini::actions::MOUSE_BUTTON_LEFT })
            .then(PointerAction::Up { button: fantoccini::actions::MOUSE_BUTTON_LEFT });
        browser.client.perform_actions(press).await?;
        wait_for("the pointer lock", Duration::from_secs(5), || async {
            let locked = browser.js("return document.pointerLockElement?.id ?? null", vec![]).await?;
            Ok(if locked == "console-canvas" { Ok(()) } else { Err(locked.to_string()) })
        })
        .await?;
        // The page learns of the lock from its pointerlockchange event, a task after Chromium
        // sets pointerLockElement.
        browser.wait_text("relative-mouse-hint", "Esc", Duration::from_secs(5)).await?;
        // Left, then right and down (WebDriver keeps its pointer in the window: from the
        // toolbar, down is the way with room).
        let steps = MouseActions::new("mouse".into())
            .then(PointerAction::MoveBy { x: -20.0, y: 10.0, duration: Some(Duration::from_millis(50)) })
            .then(PointerAction::MoveBy { x: 60.0, y: 15.0, duration: Some(Duration::from_millis(50)) });
        browser.client.perform_actions(steps).await?;
        wait_for("the guest's mouse to move by (40, 25)", Duration::from_secs(20), || async {
            let moved = guest_motion(&log);
            Ok(if moved == (40, 25) { Ok(()) } else { Err(format!("{moved:?}")) })
        })
        .await?;
        Ok(())
    });
}
