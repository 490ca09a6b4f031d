//! The machine's virtual media drives, each fed by an NBD export of the inserted image on a unix
//! socket in the machine's run directory:
//!
//! - a CD drive: an IDE CD-ROM, empty at start, whose medium goes in and out over QMP
//!   (`blockdev-change-medium`, `eject`), as a disc in a tray;
//! - a USB disk drive: a port of the machine's own xHCI controller, where a `usb-storage` device
//!   is plugged in with the medium (`blockdev-add` of an NBD node, `device_add`) and pulled out
//!   (`device_del`, then `blockdev-del` once QEMU has let go of the node), as a stick in a port.
//!
//! A writable USB medium has the guest's writes kept beside it (`crate::media::overlay`).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;

use super::qmp::Qmp;
use crate::hosts::media::{writable_allowed, DriveStatus, MediaDevice};
use crate::media::export::{self, Served};
use crate::media::Source;

/// The CD drive's QEMU device id.
pub const CD_DEVICE: &str = "lantern-cd-dev";
/// The USB disk's QEMU device id (while one is plugged in).
pub const USB_DEVICE: &str = "lantern-usb-dev";
/// The USB disk's block node.
const USB_NODE: &str = "lantern-usb";
/// The xHCI controller the USB disk is plugged into.
const USB_CONTROLLER: &str = "lantern-xhci";
/// The export's name on each socket.
const EXPORT: &str = "media";
/// How long QEMU may take to let go of an unplugged USB disk's node.
const UNPLUG_WAIT: Duration = Duration::from_secs(5);

/// What QEMU needs on its command line for the drives.
pub fn qemu_args() -> Vec<String> {
    [
        "-drive",
        "if=none,id=lantern-cd,media=cdrom,readonly=on",
        "-device",
        &format!("ide-cd,drive=lantern-cd,id={CD_DEVICE}"),
        "-device",
        &format!("qemu-xhci,id={USB_CONTROLLER}"),
    ]
    .map(String::from)
    .to_vec()
}

struct Inserted {
    image: String,
    size: u64,
    owner: Option<u64>,
    writable: bool,
    export: Served,
}

pub struct Drive {
    device: MediaDevice,
    run_dir: PathBuf,
    inserted: Option<Inserted>,
}

impl Drive {
    pub fn new(device: MediaDevice, run_dir: &Path) -> Self {
        Self { device, run_dir: run_dir.to_path_buf(), inserted: None }
    }

    fn socket(&self) -> PathBuf {
        self.run_dir.join(format!("{}.sock", self.device.name()))
    }

    /// The QOM path of the drive's device, for its boot index (the USB disk's only while one
    /// is plugged in).
    pub fn device_path(&self) -> Option<String> {
        match self.device {
            MediaDevice::Cd => Some(format!("/machine/peripheral/{CD_DEVICE}")),
            MediaDevice::Usb => self.inserted.as_ref().map(|_| format!("/machine/peripheral/{USB_DEVICE}")),
        }
    }

    /// Puts `source` (named `image`) in, replacing what is there.
    pub async fn insert(
        &mut self,
        qmp: &mut Qmp,
        source: Source,
        image: String,
        owner: Option<u64>,
        writable: bool,
    ) -> Result<(), String> {
        writable_allowed(self.device, writable)?;
        self.eject(qmp).await?;
        let size = source.size;
        let source = if writable {
            crate::media::overlay::wrap(source, &self.run_dir)
                .map_err(|e| format!("cannot make the scratch file for the medium's writes: {e}"))?
        } else {
            source
        };
        let socket = self.socket();
        let export = export::serve(&socket, EXPORT, source, export::Limits::default())
            .map_err(|e| format!("cannot serve the image: {e}"))?;
        match self.device {
            MediaDevice::Cd => {
                let filename = format!("nbd+unix:///{EXPORT}?socket={}", socket.display());
                let arguments =
                    json!({ "id": CD_DEVICE, "filename": filename, "format": "raw", "read-only-mode": "read-only" });
                qmp.execute("blockdev-change-medium", arguments).await.map_err(|e| e.to_string())?;
            }
            MediaDevice::Usb => plug_usb(qmp, &socket, writable).await?,
        }
        self.inserted = Some(Inserted { image, size, owner, writable, export });
        Ok(())
    }

    /// Takes the medium out; with `owner`, only if it is that owner's.
    pub async fn eject_owned(&mut self, qmp: &mut Qmp, owner: Option<u64>) -> Result<(), String> {
        match owner {
            // Someone else's medium now: the owner's went already.
            Some(owner) if self.inserted.as_ref().and_then(|i| i.owner) != Some(owner) => Ok(()),
            _ => self.eject(qmp).await,
        }
    }

    async fn eject(&mut self, qmp: &mut Qmp) -> Result<(), String> {
        if self.inserted.is_none() {
            return Ok(());
        }
        match self.device {
            MediaDevice::Cd => {
                qmp.execute("eject", json!({ "id": CD_DEVICE, "force": true })).await.map_err(|e| e.to_string())?;
            }
            MediaDevice::Usb => unplug_usb(qmp).await?,
        }
        // Dropping the export ends its connection: whatever the guest still asks fails.
        self.inserted = None;
        Ok(())
    }

    pub fn status(&self) -> DriveStatus {
        match &self.inserted {
            None => DriveStatus::default(),
            Some(i) => DriveStatus {
                inserted: Some(i.image.clone()),
                size: i.size,
                connected: i.export.stats.clients.load(Ordering::Relaxed) > 0,
                bytes_read: i.export.stats.bytes_read.load(Ordering::Relaxed),
                writable: i.writable,
                from_browser: i.owner.is_some(),
            },
        }
    }
}

/// Plugs a USB disk holding the export at `socket` into the machine's xHCI controller.
async fn plug_usb(qmp: &mut Qmp, socket: &Path, writable: bool) -> Result<(), String> {
    let node = json!({
        "driver": "nbd",
        "node-name": USB_NODE,
        "server": { "type": "unix", "path": socket.display().to_string() },
        "export": EXPORT,
        "read-only": !writable,
    });
    qmp.execute("blockdev-add", node).await.map_err(|e| e.to_string())?;
    let device = json!({
        "driver": "usb-storage",
        "id": USB_DEVICE,
        "bus": format!("{USB_CONTROLLER}.0"),
        "drive": USB_NODE,
        "removable": true,
    });
    if let Err(e) = qmp.execute("device_add", device).await {
        let _ = qmp.execute("blockdev-del", json!({ "node-name": USB_NODE })).await;
        return Err(e.to_string());
    }
    Ok(())
}

/// Pulls the USB disk out and, once QEMU has let go of it, its node.
async fn unplug_usb(qmp: &mut Qmp) -> Result<(), String> {
    // A device already gone (a guest cannot unplug it, but a failed plug can leave only the
    // node) is no reason to keep the node.
    let _ = qmp.execute("device_del", json!({ "id": USB_DEVICE })).await;
    let deadline = tokio::time::Instant::now() + UNPLUG_WAIT;
    loop {
        match qmp.execute("blockdev-del", json!({ "node-name": USB_NODE })).await {
            Ok(_) => return Ok(()),
            Err(e) if tokio::time::Instant::now() > deadline => {
                return Err(format!("QEMU did not let go of the USB disk: {e}"));
            }
            // Still in use: the device's removal finishes a moment after `device_del`.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// The machine's two drives, which live as long as its QEMU process.
pub struct Drives {
    pub cd: Drive,
    pub usb: Drive,
}

impl Drives {
    pub fn new(run_dir: &Path) -> Self {
        Self { cd: Drive::new(MediaDevice::Cd, run_dir), usb: Drive::new(MediaDevice::Usb, run_dir) }
    }

    pub fn get_mut(&mut self, device: MediaDevice) -> &mut Drive {
        match device {
            MediaDevice::Cd => &mut self.cd,
            MediaDevice::Usb => &mut self.usb,
        }
    }
}
