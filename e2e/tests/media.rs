//! Virtual media against the real QEMU test guest, in headless Chromium: an ISO made at test
//! time (xorriso) with a file of random content, inserted from the console page's media panel,
//! is mounted by the guest, whose SHA-256 of the file (printed on its serial port) matches; after
//! *Eject* the guest's CD drive has no medium.

use std::time::Duration;

use e2e::qemu::{booted, qemu_host};
use e2e::{marker, run_checked, scenario, wait_for};
use fantoccini::Locator;

/// Waits until the guest's serial log holds `needle`.
async fn serial_shows(log: &std::path::Path, what: &str, needle: &str) -> anyhow::Result<()> {
    wait_for(what, Duration::from_secs(30), || async {
        let logged = std::fs::read_to_string(log).unwrap_or_default();
        Ok(if logged.contains(needle) {
            Ok(())
        } else {
            Err(logged.lines().rev().take(5).collect::<Vec<_>>().join(" | "))
        })
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iso_inserted_from_the_console_page_is_read_by_the_guest_and_ejected() {
    let dir = tempfile::tempdir().unwrap();
    let (content_dir, media) = (dir.path().join("content"), dir.path().join("media"));
    std::fs::create_dir_all(&content_dir).unwrap();
    std::fs::create_dir_all(&media).unwrap();
    let content: Vec<u8> = (0..300_000).map(|_| rand::random::<u8>()).collect();
    std::fs::write(content_dir.join("hello.txt"), &content).unwrap();
    let iso = media.join("rescue.iso");
    run_checked(
        std::process::Command::new("xorriso")
            .args(["-as", "mkisofs", "-quiet", "-V", "LANTERN", "-o"])
            .arg(&iso)
            .arg(&content_dir),
    )
    .expect("xorriso (Debian's xorriso) makes the ISO");
    let expected = run_checked(std::process::Command::new("sha256sum").arg(content_dir.join("hello.txt"))).unwrap();
    let expected = expected.split_whitespace().next().unwrap().to_string();

    let serial = dir.path().join("serial.log");
    let vm = qemu_host(&serial);
    let (log, folder) = (serial.clone(), media.clone());
    scenario!(
        move |c| {
            c.hosts.push(vm);
            c.media.folder = Some(folder);
        },
        |controller, browser| {
            wait_for("the guest's boot", Duration::from_secs(60), booted(&log, 1)).await?;
            browser.first_login(&controller).await?;
            browser.open_console("vm").await?;
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

            // The guest mounts it (the drive may take a moment to report the new medium).
            c.find(Locator::Id("btn-serial")).await?.click().await?;
            let canvas = c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Id("serial-canvas")).await?;
            canvas.click().await?;
            let m = marker();
            canvas
                .send_keys(&format!(
                    "mkdir -p /mnt; for i in 1 2 3 4 5 6 7 8 9 10; do mount -t iso9660 -o ro /dev/sr0 /mnt 2>/dev/null && break; sleep 1; done; echo sum-{m}=$(sha256sum /mnt/hello.txt)\n"
                ))
                .await?;
            serial_shows(&log, "the guest's SHA-256 of the file", &format!("sum-{m}={expected}")).await?;
            let read = browser.text_of("media-status").await?;
            assert!(read.contains("the host has read"), "{read}");

            // Out: the drive is empty for the guest.
            canvas.send_keys(&format!("umount /mnt; echo unmounted-{m}\n")).await?;
            serial_shows(&log, "the guest unmounting", &format!("unmounted-{m}")).await?;
            c.find(Locator::Id("btn-media-eject")).await?.click().await?;
            wait_for("the drive empty", Duration::from_secs(20), || async {
                let status = browser.text_of("media-status").await.unwrap_or_default();
                Ok(if status == "The CD drive is empty." { Ok(()) } else { Err(status) })
            })
            .await?;
            canvas
                .send_keys(&format!("dd if=/dev/sr0 of=/dev/null bs=2048 count=1 2>/dev/null; echo gone-{m}-$?\n"))
                .await?;
            serial_shows(&log, "the guest finding no medium", &format!("gone-{m}-1")).await?;

            let trail: Vec<String> = controller
                .running
                .state
                .audit
                .all()?
                .into_iter()
                .filter(|r| r.action.starts_with("media."))
                .map(|r| format!("{} {} {}", r.actor, r.action, r.target))
                .collect();
            assert_eq!(trail, ["admin media.insert vm", "admin media.eject vm"]);
            Ok(())
        }
    );
}
