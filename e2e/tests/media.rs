//! Virtual media against the real QEMU test guest, in headless Chromium: an ISO made at test
//! time (xorriso) with a file of random content, inserted from the console page's media panel
//! (from the controller's media folder, or picked on the user's machine and streamed from the
//! page), is mounted by the guest, whose SHA-256 of the file (printed on its serial port)
//! matches; after *Eject* the guest's CD drive has no medium. A page closed while the guest
//! reads its file takes the medium out: the guest's reads fail, the controller goes on. A disk
//! image picked in the browser is a USB disk the guest (the test guest with USB) reads, writes
//! when it went in writable, boots from once, and loses when it is ejected.

use controller_server::secret::hex;
use std::time::Duration;

use controller_server::hosts::media::{BootTarget, MediaAction};
use e2e::media::{
    attach_disk_from_this_computer, attach_from_this_computer, boots_from, browser_file, browser_file_becomes,
    make_boot_iso, make_boot_iso_of, make_iso, serial_canvas, serial_shows,
};
use e2e::qemu::{open_booted_console, qemu_host, qemu_host_booting, Guest};
use e2e::{marker, scenario, wait_for};
use fantoccini::Locator;
use sha2::Digest;

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
        browser_file_becomes(&browser, "cd", "attached").await?;
        let host = controller.running.state.hosts.get("vm").unwrap();
        let drive = host.media(MediaAction::Status).await.unwrap();
        assert_eq!((drive.cd.inserted.as_deref(), drive.cd.size), (Some("picked.iso"), iso_size), "{drive:?}");
        // This guest's kernel comes from QEMU's command line, ahead of any boot order.
        assert_eq!(drive.boot_targets, []);
        let refused = host.media(MediaAction::SetBoot(Some(BootTarget::Cd))).await.unwrap_err();
        assert!(refused.contains("-kernel"), "{refused}");

        let canvas = serial_canvas(c).await?;
        guest_reads_the_file(&canvas, &log, &expected).await?;
        let (_, shown) = browser_file(&browser, "cd").await;
        assert!(shown.contains("picked.iso") && shown.contains("the host has read"), "{shown}");

        // Eject from the page: the guest's drive is empty.
        c.find(Locator::Css("#media-browser-files .btn-media-detach")).await?.click().await?;
        let detached = browser_file_becomes(&browser, "cd", "detached").await?;
        assert!(detached.contains("ejected"), "{detached}");
        guest_finds_no_medium(&canvas, &log).await?;

        // Attached again, and read over and over (the guest's cache dropped each time) ...
        attach_from_this_computer(c, &iso).await?;
        browser_file_becomes(&browser, "cd", "attached").await?;
        let m = marker();
        canvas
                .send_keys(&format!(
                    "for i in 1 2 3 4 5 6 7 8 9 10; do dd if=/dev/sr0 of=/dev/null bs=2048 count=1 2>/dev/null && break; sleep 1; done; while dd if=/dev/sr0 of=/dev/null bs=64k 2>/dev/null; do echo 3 > /proc/sys/vm/drop_caches; done; echo reads-failed-{m}\n"
                ))
                .await?;
        wait_for("the guest reading the medium twice", Duration::from_secs(60), || async {
            let now = host.media(MediaAction::Status).await.unwrap_or_default();
            Ok(if now.cd.bytes_read > 2 * iso_size { Ok(()) } else { Err(format!("{now:?}")) })
        })
        .await?;
        // ... when the page goes away mid-read.
        c.goto("about:blank").await?;
        serial_shows(&log, "the guest's reads failing", &format!("reads-failed-{m}")).await?;
        wait_for("the drive empty", Duration::from_secs(20), || async {
            let now = host.media(MediaAction::Status).await.unwrap_or_default();
            Ok(if now.cd.inserted.is_none() { Ok(()) } else { Err(format!("{now:?}")) })
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

/// Shell functions for the guest, short to type: `u` names its USB disk's device, if it has
/// one (the hard disk is a SCSI disk too, `sda`), and `w` waits up to 30 s for one.
const USB_DISK: &str =
    "u(){ for d in /sys/block/sd*;do readlink -f $d|grep -q /usb&&echo /dev/${d##*/};done;};w(){ for i in $(seq 30);do [ -n \"$(u)\" ]&&return;sleep 1;done;}";

/// Defines `USB_DISK`'s functions in the guest's shell (again after each boot).
async fn define_usb_functions(canvas: &fantoccini::elements::Element, log: &std::path::Path) -> anyhow::Result<()> {
    let m = marker();
    on_guest(
        canvas,
        log,
        "the shell's functions",
        &format!("{USB_DISK}; echo def\"\"ined-{m}"),
        &format!("defined-{m}"),
    )
    .await
}

/// Runs `command` on the guest's serial shell and waits for `needle` in what it prints (which
/// the shell's echo of the command must not hold: `echo a""b` prints `ab`).
async fn on_guest(
    canvas: &fantoccini::elements::Element,
    log: &std::path::Path,
    what: &str,
    command: &str,
    needle: &str,
) -> anyhow::Result<()> {
    canvas.send_keys(&format!("{command}\n")).await?;
    serial_shows(log, what, needle).await
}

/// The boot-once choice of the media panel, set to `target` and pressed.
async fn boot_once_from(c: &fantoccini::Client, target: &str) -> anyhow::Result<()> {
    let css = format!("#boot-once-target option[value='{target}']");
    c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(&css)).await?.click().await?;
    c.find(Locator::Id("btn-boot-once")).await?.click().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_image_from_the_browser_is_a_usb_disk_the_guest_reads_writes_and_boots_from_once() {
    let dir = tempfile::tempdir().unwrap();
    // The guest with USB boots from its hard disk; the user's `rescue.img` boots it too (a
    // hybrid ISO is a disk image as well), with another marker.
    let disk = dir.path().join("disk.iso");
    make_boot_iso_of(Guest::Usb, dir.path(), &disk, "disk").unwrap();
    let image = dir.path().join("rescue.img");
    make_boot_iso_of(Guest::Usb, dir.path(), &image, "usb").unwrap();
    let content = std::fs::read(&image).unwrap();
    let sum = hex(&sha2::Sha256::digest(&content));
    let serial = dir.path().join("serial.log");
    let vm = qemu_host_booting(&serial, &disk);
    let log = serial.clone();
    scenario!(move |c| c.hosts.push(vm), |controller, browser| {
        open_booted_console(&controller, &browser, &log).await?;
        wait_for("the guest booted from its disk", Duration::from_secs(30), || async {
            Ok(match (boots_from(&log, "disk"), boots_from(&log, "usb")) {
                (1, 0) => Ok(()),
                seen => Err(format!("{seen:?} boots (disk, USB); the log begins:\n{}", serial_head(&log))),
            })
        })
        .await?;
        let c = &browser.client;
        c.find(Locator::Id("btn-media")).await?.click().await?;
        c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Id("media-file")).await?;
        attach_disk_from_this_computer(c, &image, true).await?;
        let shown = browser_file_becomes(&browser, "usb", "attached").await?;
        assert!(shown.contains("rescue.img") && shown.contains("as USB disk"), "{shown}");
        let host = controller.running.state.hosts.get("vm").unwrap();
        let drives = host.media(MediaAction::Status).await.unwrap();
        assert_eq!((drives.usb.inserted.as_deref(), drives.usb.writable), (Some("rescue.img"), true), "{drives:?}");

        // The guest sees a new disk holding the file, byte for byte.
        let canvas = serial_canvas(c).await?;
        let m = marker();
        define_usb_functions(&canvas, &log).await?;
        on_guest(
            &canvas,
            &log,
            "the guest's SHA-256 of its USB disk",
            &format!("w;echo usbsum-{m}=$(dd if=$(u) bs=64k 2>/dev/null|sha256sum)"),
            &format!("usbsum-{m}={sum}"),
        )
        .await?;
        // Written (its last sector, past the image's file system), and read back from the
        // device, not the guest's cache.
        let last = "$(($(blockdev --getsz $(u))-1))";
        let written = format!("written-{m}");
        let read_back = |tag: &str| {
            format!(
                "echo 3 >/proc/sys/vm/drop_caches;echo {tag}-$(dd if=$(u) bs=512 skip={last} count=1 2>/dev/null|head -c {})",
                written.len()
            )
        };
        on_guest(
            &canvas,
            &log,
            "the guest writing to its USB disk",
            &format!(
                "printf {written}|dd of=$(u) bs=512 seek={last} conv=notrunc,fsync 2>/dev/null;{}",
                read_back("first")
            ),
            &format!("first-{written}"),
        )
        .await?;

        // Boot from it once: the next reset boots from the USB disk, which keeps what the
        // guest wrote; the reset after that boots from the hard disk again.
        boot_once_from(c, "usb").await?;
        wait_for("the boot override set", Duration::from_secs(10), || async {
            let now = browser.text_of("boot-once-status").await.unwrap_or_default();
            Ok(if now.contains("boots from the USB disk, once") { Ok(()) } else { Err(now) })
        })
        .await?;
        host.press_power(controller_server::hosts::PowerAction::Reset).await.unwrap();
        wait_for("the guest to boot from the USB disk", Duration::from_secs(120), || async {
            Ok(if boots_from(&log, "usb") == 1 { Ok(()) } else { Err(format!("{} boots", boots_from(&log, "disk"))) })
        })
        .await?;
        wait_for("the guest's shell after the USB boot", Duration::from_secs(60), e2e::qemu::booted(&log, 2)).await?;
        assert_eq!(host.media(MediaAction::Status).await.unwrap().boot_once, None, "spent");
        define_usb_functions(&canvas, &log).await?;
        on_guest(
            &canvas,
            &log,
            "the write kept across the reset",
            &format!("w;{}", read_back("again")),
            &format!("again-{written}"),
        )
        .await?;
        host.press_power(controller_server::hosts::PowerAction::Reset).await.unwrap();
        wait_for("the guest to boot from its disk again", Duration::from_secs(120), || async {
            Ok(if boots_from(&log, "disk") == 2 {
                Ok(())
            } else {
                Err(format!("{} from USB", boots_from(&log, "usb")))
            })
        })
        .await?;
        wait_for("the guest's shell after the disk boot", Duration::from_secs(60), e2e::qemu::booted(&log, 3)).await?;
        assert_eq!(boots_from(&log, "usb"), 1, "once");
        define_usb_functions(&canvas, &log).await?;

        // Ejected from the page: the disk is gone from the guest.
        c.find(Locator::Css("#media-browser-files li[data-device='usb'] .btn-media-detach")).await?.click().await?;
        browser_file_becomes(&browser, "usb", "detached").await?;
        on_guest(
            &canvas,
            &log,
            "the USB disk gone",
            &format!("for i in $(seq 30);do [ -z \"$(u)\" ]&&break;sleep 1;done;[ -z \"$(u)\" ]&&echo usb\"\"gone-{m}"),
            &format!("usbgone-{m}"),
        )
        .await?;

        // In again, read-only: the guest cannot write, and what it wrote before is gone.
        attach_disk_from_this_computer(c, &image, false).await?;
        browser_file_becomes(&browser, "usb", "attached").await?;
        assert!(!host.media(MediaAction::Status).await.unwrap().usb.writable);
        on_guest(
            &canvas,
            &log,
            "the read-only disk refusing a write",
            &format!(
                "w;printf x|dd of=$(u) bs=512 seek={last} conv=notrunc,fsync 2>/dev/null;echo wr\"\"ote-{m}-$?-$(u)"
            ),
            &format!("wrote-{m}-1-/dev/sd"),
        )
        .await?;
        on_guest(
            &canvas,
            &log,
            "the read-only disk's SHA-256",
            &format!("echo usbsum-again-{m}=$(dd if=$(u) bs=64k 2>/dev/null|sha256sum)"),
            &format!("usbsum-again-{m}={sum}"),
        )
        .await?;
        assert_eq!(std::fs::read(&image)?, content, "the user's file is never written");
        let trail = media_trail(&controller)?;
        assert_eq!(trail, ["admin media.insert vm", "admin media.eject vm (ejected)", "admin media.insert vm"],);
        Ok(())
    });
}

/// The first lines of the guest's serial log.
fn serial_head(log: &std::path::Path) -> String {
    let logged = String::from_utf8_lossy(&std::fs::read(log).unwrap_or_default()).into_owned();
    logged.lines().take(30).collect::<Vec<_>>().join("\n")
}
