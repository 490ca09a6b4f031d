//! Graphics consoles against a real QEMU: the `vnc` backend on its own, then the whole path
//! through the controller into headless Chromium.

use controller_server::secret::hex;
use std::time::Duration;

use controller_server::config::{BackendConfig, HostConfig};
use controller_server::hosts::vnc::{spawn, VncHost};
use controller_server::hosts::Host;
use e2e::browser::Browser;
use e2e::qemu::{booted, qemu_host, rgb_of_rgba, Boot, Qemu};
use e2e::{key, marker, scenario, wait_for};
use fantoccini::key::Key;
use sha2::{Digest, Sha256};
use shared::wire::message::HostState;
use shared::wire::{InputEvent, KeyEvent, Modifiers};

/// Waits until the host's published frame is exactly what QEMU shows.
async fn wait_for_same_picture(host: &Host, vm: &mut Qemu) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (w, h, dump) = vm.screendump().await?;
        let frame = host.video.frame();
        let seen = match &frame {
            Some(f) if (f.width(), f.height()) == (w, h) && rgb_of_rgba(f.pixels()) == dump => return Ok(()),
            Some(f) => format!(
                "frame {}x{}, QEMU {w}x{h}, {}",
                f.width(),
                f.height(),
                difference(&rgb_of_rgba(f.pixels()), &dump, w)
            ),
            None => "no frame".to_string(),
        };
        if std::time::Instant::now() > deadline {
            if let (Some(f), Ok(dir)) = (&frame, std::env::var("LANTERN_DEBUG_DIR")) {
                let header = format!("P6\n{w} {h}\n255\n");
                std::fs::write(format!("{dir}/frame.ppm"), [header.as_bytes(), &rgb_of_rgba(f.pixels())].concat())?;
                std::fs::write(format!("{dir}/qemu.ppm"), [header.as_bytes(), &dump].concat())?;
            }
            anyhow::bail!("the host's frame never matched QEMU's screen ({seen})");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Pastes a command and presses Enter, as the console's paste and a key press would.
/// Where two same-sized RGB pictures differ: pixel count and bounding box.
fn difference(a: &[u8], b: &[u8], width: u16) -> String {
    let w = usize::from(width);
    let diff: Vec<(usize, usize)> = (0..a.len().min(b.len()) / 3)
        .filter(|i| a[i * 3..i * 3 + 3] != b[i * 3..i * 3 + 3])
        .map(|i| (i % w, i / w))
        .collect();
    let (x0, x1) = (diff.iter().map(|d| d.0).min(), diff.iter().map(|d| d.0).max());
    let (y0, y1) = (diff.iter().map(|d| d.1).min(), diff.iter().map(|d| d.1).max());
    format!("{} pixels differ, x {x0:?}..{x1:?}, y {y0:?}..{y1:?}", diff.len())
}

async fn run_command(host: &Host, command: &str) {
    host.input.send(InputEvent::Paste(command.into())).await.expect("host takes input");
    for down in [true, false] {
        let event = KeyEvent { down, modifiers: Modifiers::default(), key: "Enter".into(), code: "Enter".into() };
        host.input.send(InputEvent::Key(event)).await.expect("host takes input");
    }
}

async fn wait_for_state(host: &Host, state: HostState) -> anyhow::Result<String> {
    wait_for(&format!("host state {state:?}"), Duration::from_secs(30), || async {
        let s = host.status.borrow().clone();
        Ok(if s.state == state { Ok(s.text) } else { Err(format!("{:?}: {}", s.state, s.text)) })
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vnc_backend_mirrors_qemu_exactly_takes_keys_and_survives_the_source_going_away() {
    let mut vm = Qemu::start(Boot::Linux, None).await.unwrap();
    let host = spawn(VncHost { id: "vm".into(), name: "VM".into(), address: vm.vnc_address(), password_file: None });
    vm.wait_for_guest().await.unwrap();
    wait_for_state(&host, HostState::Running).await.unwrap();
    wait_for_same_picture(&host, &mut vm).await.unwrap();

    // Keystrokes reach the guest's shell: it computes a value and writes it to the serial port.
    let m = marker();
    run_command(&host, &format!("echo typed-$((6*7))-{m} > /dev/ttyS0")).await;
    wait_for("the typed command's output on the serial port", Duration::from_secs(20), || async {
        let serial = vm.serial();
        Ok(if serial.contains(&format!("typed-42-{m}")) { Ok(()) } else { Err(serial) })
    })
    .await
    .unwrap();
    wait_for_same_picture(&host, &mut vm).await.unwrap();

    // The source goes away: "no signal", in text mode, saying why.
    let port = vm.vnc_port;
    vm.kill().await;
    let text = wait_for_state(&host, HostState::NoSignal).await.unwrap();
    assert!(text.starts_with("no signal"), "{text}");
    wait_for("the no-signal screen", Duration::from_secs(10), || async {
        Ok(match host.video.text() {
            Some(t) if t.contains("No signal") => Ok(()),
            other => Err(format!("{other:?}")),
        })
    })
    .await
    .unwrap();

    // It comes back by itself when the source returns.
    let mut vm = Qemu::start(Boot::Firmware, Some(port)).await.unwrap();
    wait_for_state(&host, HostState::Running).await.unwrap();
    wait_for_same_picture(&host, &mut vm).await.unwrap();
}

/// Waits until the console canvas shows exactly what QEMU's screen has.
async fn wait_for_canvas_to_match(browser: &Browser, vm: &mut Qemu) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (w, h, dump) = vm.screendump().await?;
        let want = (u64::from(w), u64::from(h), hex(&Sha256::digest(&dump)));
        let seen = browser.canvas_digest("console-canvas").await?;
        if seen == want {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            anyhow::bail!("the canvas never matched QEMU's screen: canvas {seen:?}, QEMU {want:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn vnc_host(address: String) -> HostConfig {
    HostConfig {
        recovery: None,
        id: "vm".into(),
        name: "Test VM".into(),
        backend: BackendConfig::Vnc { address, password_file: None },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_shows_qemu_pixel_for_pixel_and_types_into_the_guest() {
    let mut vm = Qemu::start(Boot::Linux, None).await.unwrap();
    let address = vm.vnc_address();
    scenario!(move |c| c.hosts.push(vnc_host(address)), |controller, browser| {
        vm.wait_for_guest().await?;
        browser.first_login(&controller).await?;
        browser.open_console("vm").await?;
        wait_for_canvas_to_match(&browser, &mut vm).await?;

        // Real key events (Shift included) reach the guest's shell, which answers on its
        // serial port with a value only it can compute.
        let m = marker();
        browser.type_keys(&format!("echo typed-$((6*7))-{m} > /dev/ttyS0{}", key(Key::Enter))).await?;
        wait_for("the typed command's output on the serial port", Duration::from_secs(20), || async {
            let serial = vm.serial();
            Ok(if serial.contains(&format!("typed-42-{m}")) { Ok(()) } else { Err(serial) })
        })
        .await?;
        // The echo of what was typed is on the canvas, pixel for pixel.
        wait_for_canvas_to_match(&browser, &mut vm).await?;
        Ok(())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_buttons_reset_interrupt_stop_and_start_a_qemu_guest() {
    let dir = tempfile::tempdir().unwrap();
    let serial = dir.path().join("serial.log");
    let config = qemu_host(&serial);
    scenario!(move |c| c.hosts.push(config), |controller, browser| {
        browser.first_login(&controller).await?;
        browser.open_console("vm").await?;
        wait_for("the guest's first boot", Duration::from_secs(60), booted(&serial, 1)).await?;

        // Reset asks first: cancelled, nothing is pressed; confirmed, the guest reboots (same
        // QEMU process: the log grows), once.
        browser.press_power("btn-reset", "Test VM", false).await?;
        browser.press_power("btn-reset", "Test VM", true).await?;
        wait_for("the guest to boot again after reset", Duration::from_secs(60), booted(&serial, 2)).await?;
        let resets = controller
            .running
            .state
            .audit
            .all()?
            .into_iter()
            .filter(|r| r.action == "host.power" && r.detail.contains("\"reset\""))
            .count();
        assert_eq!(resets, 1, "the cancelled reset was never pressed");

        // An NMI reaches the guest's kernel, which reports it on its console.
        let answer = browser.api("POST", "/api/hosts/vm/power", serde_json::json!({ "action": "nmi" })).await?;
        assert_eq!(answer["status"], 202, "{answer}");
        wait_for("the kernel's NMI report", Duration::from_secs(20), || async {
            let log = std::fs::read_to_string(&serial).unwrap_or_default();
            Ok(if log.contains("NMI") { Ok(()) } else { Err(log) })
        })
        .await?;

        // Shut down: the ACPI power button; the guest's acpid powers it off by itself.
        browser.press_power("btn-shutdown", "Test VM", true).await?;
        browser
            .wait_screen("the guest to shut itself down", Duration::from_secs(30), |t| {
                t.contains("The host is powered off.")
            })
            .await?;
        std::fs::remove_file(&serial)?;
        browser.client.find(fantoccini::Locator::Id("btn-power-on")).await?.click().await?;
        wait_for("the guest to boot after the shutdown", Duration::from_secs(60), booted(&serial, 1)).await?;
        browser
            .wait_screen("the console after power on", Duration::from_secs(30), |t| !t.contains("powered off"))
            .await?;

        // Power off: the plug is pulled; the console says so.
        browser.press_power("btn-power-off", "Test VM", true).await?;
        browser
            .wait_screen("the powered-off notice", Duration::from_secs(20), |t| t.contains("The host is powered off."))
            .await?;
        let answer = browser.api("POST", "/api/hosts/vm/power", serde_json::json!({ "action": "nmi" })).await?;
        assert_eq!(answer["status"], 409, "no NMI while off: {answer}");

        // Power on starts a fresh QEMU (which starts a fresh serial log) and the guest boots.
        std::fs::remove_file(&serial)?;
        browser.client.find(fantoccini::Locator::Id("btn-power-on")).await?.click().await?;
        wait_for("the guest to boot after power on", Duration::from_secs(60), booted(&serial, 1)).await?;
        Ok(())
    });
}
