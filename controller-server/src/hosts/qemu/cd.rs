//! The machine's virtual CD drive: an IDE CD-ROM, empty at start, whose medium is an NBD export
//! of the inserted image on a unix socket in the machine's run directory, put in and taken out
//! over QMP (`blockdev-change-medium`, `eject`).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use serde_json::json;

use super::qmp::Qmp;
use crate::hosts::media::{MediaAction, MediaDevice, MediaStatus};
use crate::media::export::{self, Served};

/// The drive's QEMU device id.
pub const DEVICE: &str = "lantern-cd-dev";
/// The export's name on the socket.
const EXPORT: &str = "media";

/// What QEMU needs on its command line for the drive.
pub fn qemu_args() -> Vec<String> {
    [
        "-drive",
        "if=none,id=lantern-cd,media=cdrom,readonly=on",
        "-device",
        &format!("ide-cd,drive=lantern-cd,id={DEVICE}"),
    ]
    .map(String::from)
    .to_vec()
}

struct Inserted {
    image: String,
    size: u64,
    owner: Option<u64>,
    export: Served,
}

pub struct CdDrive {
    socket: PathBuf,
    inserted: Option<Inserted>,
}

impl CdDrive {
    pub fn new(run_dir: &Path) -> Self {
        Self { socket: run_dir.join("cd.sock"), inserted: None }
    }

    /// Carries out a drive's action (`SetBoot` and `Status` are the machine's, not the drive's).
    pub async fn act(&mut self, qmp: &mut Qmp, action: MediaAction) -> Result<(), String> {
        match action {
            MediaAction::Status | MediaAction::SetBoot(_) => Ok(()),
            MediaAction::Insert { device: MediaDevice::Usb, .. }
            | MediaAction::Eject { device: MediaDevice::Usb, .. } => Err("this machine has no USB disk drive".into()),
            MediaAction::Eject { owner: Some(owner), .. }
                if self.inserted.as_ref().and_then(|i| i.owner) != Some(owner) =>
            {
                Ok(()) // someone else's medium now: the owner's went already
            }
            MediaAction::Eject { .. } => self.eject(qmp).await,
            MediaAction::Insert { source, image, owner, .. } => self.insert(qmp, source, image, owner).await,
        }
    }

    async fn insert(
        &mut self,
        qmp: &mut Qmp,
        source: crate::media::Source,
        image: String,
        owner: Option<u64>,
    ) -> Result<(), String> {
        if self.inserted.is_some() {
            self.eject(qmp).await?;
        }
        let size = source.size;
        let export = export::serve(&self.socket, EXPORT, source, export::Limits::default())
            .map_err(|e| format!("cannot serve the image: {e}"))?;
        let filename = format!("nbd+unix:///{EXPORT}?socket={}", self.socket.display());
        let arguments = json!({ "id": DEVICE, "filename": filename, "format": "raw", "read-only-mode": "read-only" });
        qmp.execute("blockdev-change-medium", arguments).await.map_err(|e| e.to_string())?;
        self.inserted = Some(Inserted { image, size, owner, export });
        Ok(())
    }

    async fn eject(&mut self, qmp: &mut Qmp) -> Result<(), String> {
        if self.inserted.is_none() {
            return Ok(());
        }
        qmp.execute("eject", json!({ "id": DEVICE, "force": true })).await.map_err(|e| e.to_string())?;
        // Dropping the export ends its connection: whatever the guest still asks fails.
        self.inserted = None;
        Ok(())
    }

    pub fn status(&self) -> MediaStatus {
        match &self.inserted {
            None => MediaStatus::default(),
            Some(i) => MediaStatus {
                inserted: Some(i.image.clone()),
                size: i.size,
                connected: i.export.stats.clients.load(Ordering::Relaxed) > 0,
                bytes_read: i.export.stats.bytes_read.load(Ordering::Relaxed),
                from_browser: i.owner.is_some(),
                ..MediaStatus::default()
            },
        }
    }
}
