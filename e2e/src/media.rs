//! Steps of the virtual media tests and benchmark: images made at test time, the guest's
//! serial log, and the console page's media panel as a user works it.

use std::time::Duration;

use fantoccini::Locator;

use crate::{run_checked, wait_for};

/// Waits until the guest's serial log holds `needle`.
pub async fn serial_shows(log: &std::path::Path, what: &str, needle: &str) -> anyhow::Result<()> {
    wait_for(what, Duration::from_secs(30), || async {
        let logged = std::fs::read_to_string(log).unwrap_or_default();
        Ok(if logged.contains(needle) {
            Ok(())
        } else {
            Err(logged.lines().rev().take(12).collect::<Vec<_>>().join(" | "))
        })
    })
    .await
}

/// Makes `iso` holding `hello.txt` of `size` random bytes; returns the file's SHA-256.
pub fn make_iso(work: &std::path::Path, iso: &std::path::Path, size: usize) -> String {
    let content_dir = work.join("content");
    std::fs::create_dir_all(&content_dir).unwrap();
    let content: Vec<u8> = (0..size).map(|_| rand::random::<u8>()).collect();
    std::fs::write(content_dir.join("hello.txt"), &content).unwrap();
    run_checked(
        std::process::Command::new("xorriso")
            .args(["-as", "mkisofs", "-quiet", "-V", "LANTERN", "-o"])
            .arg(iso)
            .arg(&content_dir),
    )
    .expect("xorriso (Debian's xorriso) makes the ISO");
    let sum = run_checked(std::process::Command::new("sha256sum").arg(content_dir.join("hello.txt"))).unwrap();
    sum.split_whitespace().next().unwrap().to_string()
}

/// The console page's serial console, clicked to type in.
pub async fn serial_canvas(c: &fantoccini::Client) -> anyhow::Result<fantoccini::elements::Element> {
    c.find(Locator::Id("btn-serial")).await?.click().await?;
    let canvas = c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Id("serial-canvas")).await?;
    canvas.click().await?;
    Ok(canvas)
}

/// The state of the page's file for `device`'s drive (`cd`, `usb`): `attaching`, `attached`,
/// `detached`; and what the page says of it.
pub async fn browser_file(browser: &crate::browser::Browser, device: &str) -> (String, String) {
    let css = format!("#media-browser-files li[data-device='{device}']");
    let Ok(item) = browser.client.find(Locator::Css(&css)).await else {
        return (String::new(), "no file listed".into());
    };
    (item.attr("data-state").await.ok().flatten().unwrap_or_default(), item.text().await.unwrap_or_default())
}

pub async fn browser_file_becomes(
    browser: &crate::browser::Browser,
    device: &str,
    state: &str,
) -> anyhow::Result<String> {
    wait_for(&format!("the page's file for the {device} drive {state}"), Duration::from_secs(30), || async {
        let (now, text) = browser_file(browser, device).await;
        Ok(if now == state { Ok(text) } else { Err(format!("{now}: {text}")) })
    })
    .await
}

/// Picks `iso` in the media panel's file input, as a user's file picker would, and attaches it.
pub async fn attach_from_this_computer(c: &fantoccini::Client, iso: &std::path::Path) -> anyhow::Result<()> {
    attach_disk_from_this_computer(c, iso, false).await
}

/// The same for a file of either kind; an `.img` (a USB disk) goes in writable if `writable`
/// (the box the page shows once such a file is picked, ticked).
pub async fn attach_disk_from_this_computer(
    c: &fantoccini::Client,
    image: &std::path::Path,
    writable: bool,
) -> anyhow::Result<()> {
    let input = c.find(Locator::Id("media-file")).await?;
    input.send_keys(&image.display().to_string()).await?;
    let tick = c.find(Locator::Id("media-writable")).await?;
    if tick.is_selected().await? != writable {
        tick.click().await?;
    }
    c.find(Locator::Id("btn-media-attach")).await?.click().await?;
    Ok(())
}

/// Makes `iso`, a hybrid ISO (bootable as a CD and as a disk) whose isolinux boots the test
/// guest's kernel and initrd with `lantern.from=<marker>` on its command line (which the
/// kernel prints on the serial port: "Command line: ..."). Needs Debian's `isolinux` and
/// `syslinux-common`.
pub fn make_boot_iso(work: &std::path::Path, iso: &std::path::Path, marker: &str) -> anyhow::Result<()> {
    make_boot_iso_of(crate::qemu::Guest::Cloud, work, iso, marker)
}

/// The same, of the test guest `guest`.
pub fn make_boot_iso_of(
    guest: crate::qemu::Guest,
    work: &std::path::Path,
    iso: &std::path::Path,
    marker: &str,
) -> anyhow::Result<()> {
    let guest = guest.dir();
    let tree = work.join(format!("boot-{marker}"));
    std::fs::create_dir_all(tree.join("isolinux"))?;
    std::fs::copy("/usr/lib/ISOLINUX/isolinux.bin", tree.join("isolinux/isolinux.bin"))?;
    std::fs::copy("/usr/lib/syslinux/modules/bios/ldlinux.c32", tree.join("isolinux/ldlinux.c32"))?;
    std::fs::copy(guest.join("vmlinuz"), tree.join("vmlinuz"))?;
    std::fs::copy(guest.join("initrd.gz"), tree.join("initrd.gz"))?;
    let config = format!(
        "DEFAULT lantern\nPROMPT 0\nTIMEOUT 0\nLABEL lantern\n  KERNEL /vmlinuz\n  INITRD /initrd.gz\n  APPEND console=ttyS0 console=tty0 lantern.from={marker}\n"
    );
    std::fs::write(tree.join("isolinux/isolinux.cfg"), config)?;
    run_checked(
        std::process::Command::new("xorriso")
            .args(["-as", "mkisofs", "-quiet", "-V", "LANTERNBOOT", "-b", "isolinux/isolinux.bin"])
            .args(["-c", "isolinux/boot.cat", "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table"])
            .args(["-isohybrid-mbr", "/usr/lib/ISOLINUX/isohdpfx.bin", "-o"])
            .arg(iso)
            .arg(&tree),
    )?;
    Ok(())
}

/// How many times the guest logging to `serial` booted a kernel with `lantern.from=<marker>`.
pub fn boots_from(serial: &std::path::Path, marker: &str) -> usize {
    let logged = String::from_utf8_lossy(&std::fs::read(serial).unwrap_or_default()).into_owned();
    logged.lines().filter(|l| l.contains("Command line:") && l.contains(&format!("lantern.from={marker}"))).count()
}
