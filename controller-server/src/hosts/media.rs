//! Virtual media requests to a host's backend: insert an image into its CD drive or its USB
//! disk drive, eject it, set a one-time boot override, or say what the drives hold. The backend
//! owns the medium's export (see `crate::media`), so the medium goes when the machine stops.

use serde::Serialize;
pub use shared::wire::MediaDevice;
use tokio::sync::oneshot;

/// How long a media request may take (QEMU answers QMP within seconds).
pub const MEDIA_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub enum MediaAction {
    /// Insert `source` (named `image` for people) into `device`, replacing any medium there.
    /// `owner` marks a medium that lives only as long as something else (a console link that
    /// serves the browser's file), so that it can take out its own medium and no other.
    /// `writable` (a USB disk only) lets the guest write; its writes are kept beside the
    /// image, which is never written (`crate::media::overlay`).
    Insert {
        device: MediaDevice,
        source: crate::media::Source,
        image: String,
        owner: Option<u64>,
        writable: bool,
    },
    /// Take the medium out of `device`; with `owner`, only if it is that owner's.
    Eject {
        device: MediaDevice,
        owner: Option<u64>,
    },
    /// Boot from `target` once, at the next start or reset (`None`: no override).
    SetBoot(Option<BootTarget>),
    Status,
}

/// What a machine can boot from once, instead of its usual boot order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BootTarget {
    Cd,
    /// The USB disk drive (while it holds a medium).
    Usb,
    /// The network (its first network card's boot ROM).
    Pxe,
}

/// What one drive holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DriveStatus {
    /// The inserted image's name, if any.
    pub inserted: Option<String>,
    pub size: u64,
    /// Whether the machine holds the medium's connection open now.
    pub connected: bool,
    pub bytes_read: u64,
    /// The guest may write to the medium (its writes last while it is inserted).
    pub writable: bool,
    /// The medium is a file a console page serves from the user's browser.
    pub from_browser: bool,
}

/// What the drives hold, and the one-time boot override.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MediaStatus {
    pub cd: DriveStatus,
    pub usb: DriveStatus,
    /// The one-time boot override waiting for the next start or reset.
    pub boot_once: Option<BootTarget>,
    /// What the machine can boot from once (known while it runs).
    pub boot_targets: Vec<BootTarget>,
}

pub struct MediaRequest {
    pub action: MediaAction,
    pub done: oneshot::Sender<Result<MediaStatus, String>>,
}

impl MediaRequest {
    pub fn answer(self, result: Result<MediaStatus, String>) {
        let _ = self.done.send(result);
    }
}

/// How people (the event log, the web pages) name a drive.
pub fn drive_name(device: MediaDevice) -> &'static str {
    match device {
        MediaDevice::Cd => "Virtual CD",
        MediaDevice::Usb => "Virtual USB disk",
    }
}

/// Whether a medium may go into `device` as asked: only a USB disk is ever writable. The drive
/// holds to this; the doors (web API, Redfish, console link) ask first, so that a refusal
/// comes before the audit trail records an insert.
pub fn writable_allowed(device: MediaDevice, writable: bool) -> Result<(), &'static str> {
    match (device, writable) {
        (MediaDevice::Cd, true) => Err("a CD is read-only: a writable medium goes in the USB disk drive"),
        _ => Ok(()),
    }
}

impl MediaStatus {
    pub fn drive(&self, device: MediaDevice) -> &DriveStatus {
        match device {
            MediaDevice::Cd => &self.cd,
            MediaDevice::Usb => &self.usb,
        }
    }
}

impl super::Host {
    /// Asks the backend to act on the host's media and waits for its answer.
    pub async fn media(&self, action: MediaAction) -> Result<MediaStatus, String> {
        let media = self.media.as_ref().ok_or("this host takes no virtual media")?;
        let (done, answer) = oneshot::channel();
        let asked = async {
            media.send(MediaRequest { action, done }).await.map_err(|_| "the host's backend is gone".to_string())?;
            answer.await.map_err(|_| "the host's backend is gone".to_string())?
        };
        tokio::time::timeout(MEDIA_TIMEOUT, asked)
            .await
            .map_err(|_| format!("the host's backend did not answer within {} s", MEDIA_TIMEOUT.as_secs()))?
    }
}
