//! Automatic server recovery against a real guest: QEMU's guest agent (Debian's `qemu-ga`,
//! in the test guest) answers the controller's pings, then stops, as a hung guest would. The
//! controller resets the guest once per missed timer, logging each reset with a PNG of the
//! screen, and stops after the configured limit.

use std::time::Duration;

use controller_server::config::RecoveryConfig;
use e2e::qemu::{booted, boots, qemu_host_with};
use e2e::{wait_for, Controller};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_whose_agent_stops_is_reset_with_a_screen_capture_until_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let serial = dir.path().join("serial.log");
    // The agent answers for 8 s after each boot, then stops.
    let mut vm = qemu_host_with(&serial, "lantern.agent=8");
    vm.recovery = Some(RecoveryConfig { enabled: true, timeout_seconds: 4, max_resets: 2, window_seconds: 600 });
    let controller = Controller::start(|c| c.hosts.push(vm)).await.unwrap();
    let state = controller.running.state.clone();
    let recovery = state.recoveries.get("vm").unwrap().clone();

    let log = |needle: &'static str| {
        let state = state.clone();
        move || {
            let state = state.clone();
            async move {
                let events = state.events.page("vm", None, 100)?;
                Ok(match events.iter().find(|e| e.message.contains(needle)) {
                    Some(event) => Ok(event.clone()),
                    None => Err(format!("{:?}", events.iter().map(|e| &e.message).collect::<Vec<_>>())),
                })
            }
        }
    };
    wait_for("the guest's first boot", Duration::from_secs(60), booted(&serial, 1)).await.unwrap();
    wait_for("the guest agent's first answer", Duration::from_secs(20), || async {
        let status = recovery.status();
        Ok(if status.armed { Ok(status) } else { Err(format!("{status:?}")) })
    })
    .await
    .unwrap();
    assert_eq!(recovery.status().last_source, Some("guest agent"));

    let first = wait_for("the first automatic reset", Duration::from_secs(40), log("resetting the host (1 of 2"))
        .await
        .unwrap();
    wait_for("the guest to boot again", Duration::from_secs(60), booted(&serial, 2)).await.unwrap();
    wait_for("the second automatic reset", Duration::from_secs(60), log("resetting the host (2 of 2")).await.unwrap();
    wait_for("the guest's third boot", Duration::from_secs(60), booted(&serial, 3)).await.unwrap();
    wait_for("recovery to give up", Duration::from_secs(60), log("not resetting again")).await.unwrap();
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(boots(&serial), 3, "no reset after the limit");
    let resets =
        state.events.page("vm", None, 100).unwrap().iter().filter(|e| e.message.contains("resetting the host")).count();
    assert_eq!(resets, 2);

    // The capture is the guest's screen at the moment of the first reset.
    let name = first.attachment.expect("a reset keeps the screen");
    let file =
        std::fs::File::open(controller_server::recovery::captures_dir(&state.data_dir, "vm").join(&name)).unwrap();
    let mut reader = png::Decoder::new(std::io::BufReader::new(file)).read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((info.width, info.height), (720, 400), "VGA text mode");
    let background = &pixels[..4];
    assert!(pixels.chunks(4).any(|p| p != background), "the capture shows the guest's text");
}
