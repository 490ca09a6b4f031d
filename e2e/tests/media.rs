//! Virtual media against the real QEMU test guest, in headless Chromium: an ISO made at test
//! time (xorriso) with a file of random content, inserted from the console page's media panel
//! (from the controller's media folder, or picked on the user's machine and streamed from the
//! page), is mounted by the guest, whose SHA-256 of the file (printed on its serial port)
//! matches; after *Eject* the guest's CD drive has no medium. A page closed while the guest
//! reads its file takes the medium out: the guest's reads fail, the controller goes on.

use std::time::Duration;

use controller_server::hosts::media::{BootTarget, MediaAction};
use e2e::media::{
    attach_from_this_computer, browser_file, browser_file_becomes, make_boot_iso, make_iso, serial_canvas, serial_shows,
};
use e2e::qemu::{open_booted_console, qemu_host, qemu_host_booting};
use e2e::{marker, scenario, wait_for};
use fantoccini::Locator;

/// The guest mounts its CD (the drive may take a moment to report the new medium) and prints
/// the SHA-256 of `hello.txt`, which must be `expected`; then unmounts it.
async fn guest_reads_the_file(
    canvas: &fantoccini::elements::Element,
    log: &std::path::Path,
    expected: &str,
) -> anyhow::Result<()> {
    let m = marker();
    canvas
        .send_keys(&format!(
            "mkdir -p /mnt; for i in 1 2 3 4 5 6 7 8 9 10; do mount -t iso9660 -o ro /dev/sr0 /mnt 2>/dev/null && break; sleep 1; done; echo sum-{m}=$(sha256sum /mnt/hello.txt); umount /mnt; echo unmounted-{m}\n"
        ))
        .await?;
    serial_shows(log, "the guest's SHA-256 of the file", &format!("sum-{m}={expected}")).await?;
    serial_shows(log, "the guest unmounting", &format!("unmounted-{m}")).await
}

/// The guest finds no medium in its CD drive.
async fn guest_finds_no_medium(canvas: &fantoccini::elements::Element, log: &std::path::Path) -> anyhow::Result<()> {
    let m = marker();
    canvas.send_keys(&format!("dd if=/dev/sr0 of=/dev/null bs=2048 count=1 2>/dev/null; echo gone-{m}-$?\n")).await?;
    serial_shows(log, "the guest finding no medium", &format!("gone-{m}-1")).await
}

/// The media actions of the audit trail, as `actor action target [reason]`.
fn media_trail(controller: &e2e::Controller) -> anyhow::Result<Vec<String>> {
    Ok(controller
        .running
        .state
        .audit
        .all()?
        .into_iter()
        .filter(|r| r.action.starts_with("media."))
        .map(|r| {
            let detail: serde_json::Value = serde_json::from_str(&r.detail).unwrap_or_default();
            let reason = detail["reason"].as_str().map(|r| format!(" ({r})")).unwrap_or_default();
            format!("{} {} {}{reason}", r.actor, r.action, r.target)
        })
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iso_inserted_from_the_console_page_is_read_by_the_guest_and_ejected() {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let expected = make_iso(dir.path(), &media.join("rescue.iso"), 300_000);
    // A guest that boots from its disk, through the firmware's boot order (which a boot
    // override changes).
    let disk = dir.path().join("disk.iso");
    make_boot_iso(dir.path(), &disk, "disk").unwrap();

    let serial = dir.path().join("serial.log");
    let vm = qemu_host_booting(&serial, &disk);
    let (log, folder) = (serial.clone(), media.clone());
    scenario!(
        move |c| {
            c.hosts.push(vm);
            c.media.folder = Some(folder);
        },
        |controller, browser| {
            open_booted_console(&controller, &browser, &log).await?;
            let c = &browser.client;
            c.find(Locator::Id("btn-media")).await?.click().await?;
            let picker = c
                .wait()
                .at_most(Duration::from_secs(10))
                .for_element(Locator::Css("#media-image option[value='rescue.iso']"))
                .await?;
            picker.click().await?;
            c.find(Locator::Id("btn-media-insert")).await?.click().await?;
            wait_for("the medium inserted", Duration::from_secs(20), || async {
                let status = browser.text_of("media-status").await.unwrap_or_default();
                Ok(if status.starts_with("rescue.iso inserted") { Ok(()) } else { Err(status) })
            })
            .await?;

            let canvas = serial_canvas(c).await?;
            guest_reads_the_file(&canvas, &log, &expected).await?;
            let read = browser.text_of("media-status").await?;
            assert!(read.contains("the host has read"), "{read}");

            // Out: the drive is empty for the guest.
            c.find(Locator::Id("btn-media-eject")).await?.click().await?;
            wait_for("the drive empty", Duration::from_secs(20), || async {
                let status = browser.text_of("media-status").await.unwrap_or_default();
                Ok(if status == "The CD drive is empty." { Ok(()) } else { Err(status) })
            })
            .await?;
            guest_finds_no_medium(&canvas, &log).await?;
            assert_eq!(media_trail(&controller)?, ["admin media.insert vm", "admin media.eject vm"]);

            // A one-time boot from the CD, set and cleared from the panel.
            let boot_status = || async { browser.text_of("boot-once-status").await.unwrap_or_default() };
            c.find(Locator::Id("btn-boot-once")).await?.click().await?;
            wait_for("the boot override set", Duration::from_secs(10), || async {
                let now = boot_status().await;
                let error = browser.text_of("media-error").await.unwrap_or_default();
                Ok(if now.contains("boots from the CD, once") { Ok(()) } else { Err(format!("{now} {error}")) })
            })
            .await?;
            let host = controller.running.state.hosts.get("vm").unwrap();
            let drive = host.media(MediaAction::Status).await.unwrap();
            assert_eq!(drive.boot_once, Some(BootTarget::Cd));
            c.find(Locator::Id("btn-boot-once-clear")).await?.click().await?;
            wait_for("the boot override cleared", Duration::from_secs(10), || async {
                let now = boot_status().await;
                Ok(if now.contains("boots as usual") { Ok(()) } else { Err(now) })
            })
            .await?;
            assert_eq!(host.media(MediaAction::Status).await.unwrap().boot_once, None);
            Ok(())
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_picked_in_the_browser_is_streamed_to_the_guest_until_the_page_closes() {
    let dir = tempfile::tempdir().unwrap();
    // Only on the user's machine: nothing in the controller's media folder.
    let iso = dir.path().join("picked.iso");
    let expected = make_iso(dir.path(), &iso, 6 << 20);
    let iso_size = std::fs::metadata(&iso).unwrap().len();
    let serial = dir.path().join("serial.log");
    let vm = qemu_host(&serial);
    let log = serial.clone();
    scenario!(move |c| c.hosts.push(vm), |controller, browser| {
        open_booted_console(&controller, &browser, &log).await?;
        let c = &browser.client;
        c.find(Locator::Id("btn-media")).await?.click().await?;
        c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Id("media-file")).await?;
        attach_from_this_computer(c, &iso).await?;
        browser_file_becomes(&browser, "attached").await?;
        let host = controller.running.state.hosts.get("vm").unwrap();
        let drive = host.media(MediaAction::Status).await.unwrap();
        assert_eq!((drive.inserted.as_deref(), drive.size), (Some("picked.iso"), iso_size), "{drive:?}");
        // This guest's kernel comes from QEMU's command line, ahead of any boot order.
        assert_eq!(drive.boot_targets, []);
        let refused = host.media(MediaAction::SetBoot(Some(BootTarget::Cd))).await.unwrap_err();
        assert!(refused.contains("-kernel"), "{refused}");

        let canvas = serial_canvas(c).await?;
        guest_reads_the_file(&canvas, &log, &expected).await?;
        let (_, shown) = browser_file(&browser).await;
        assert!(shown.contains("picked.iso") && shown.contains("the host has read"), "{shown}");

        // Eject from the page: the guest's drive is empty.
        c.find(Locator::Css("#media-browser-files .btn-media-detach")).await?.click().await?;
        let detached = browser_file_becomes(&browser, "detached").await?;
        assert!(detached.contains("ejected"), "{detached}");
        guest_finds_no_medium(&canvas, &log).await?;

        // Attached again, and read over and over (the guest's cache dropped each time) ...
        attach_from_this_computer(c, &iso).await?;
        browser_file_becomes(&browser, "attached").await?;
        let m = marker();
        canvas
                .send_keys(&format!(
                    "for i in 1 2 3 4 5 6 7 8 9 10; do dd if=/dev/sr0 of=/dev/null bs=2048 count=1 2>/dev/null && break; sleep 1; done; while dd if=/dev/sr0 of=/dev/null bs=64k 2>/dev/null; do echo 3 > /proc/sys/vm/drop_caches; done; echo reads-failed-{m}\n"
                ))
                .await?;
        wait_for("the guest reading the medium twice", Duration::from_secs(60), || async {
            let now = host.media(MediaAction::Status).await.unwrap_or_default();
            Ok(if now.bytes_read > 2 * iso_size { Ok(()) } else { Err(format!("{now:?}")) })
        })
        .await?;
        // ... when the page goes away mid-read.
        c.goto("about:blank").await?;
        serial_shows(&log, "the guest's reads failing", &format!("reads-failed-{m}")).await?;
        wait_for("the drive empty", Duration::from_secs(20), || async {
            let now = host.media(MediaAction::Status).await.unwrap_or_default();
            Ok(if now.inserted.is_none() { Ok(()) } else { Err(format!("{now:?}")) })
        })
        .await?;
        let trail = media_trail(&controller)?;
        assert_eq!(
            trail,
            [
                "admin media.insert vm",
                "admin media.eject vm (ejected)",
                "admin media.insert vm",
                "admin media.eject vm (the console link closed)",
            ],
        );
        // The controller goes on: the guest's console opens again.
        browser.client.goto(&controller.url).await?;
        browser.open_console("vm").await?;
        Ok(())
    });
}
