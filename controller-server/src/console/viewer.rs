//! A console link's place at its host: the host's video, serial output, status and viewers,
//! as one stream of events for the link's pump.

use std::sync::Arc;

use shared::wire::message::HostStatus;
use tokio::sync::broadcast::error::RecvError;

use super::sharing::Sharing;
use crate::hosts::hub::Subscription;
use crate::hosts::Host;

pub struct Viewer {
    pub host: Arc<Host>,
    pub video: Subscription,
    /// The host's serial console output, once the applet opened it.
    pub serial: Option<tokio::sync::broadcast::Receiver<Arc<Vec<u8>>>>,
    /// This viewer's own view of the host status, so each change is reported once.
    pub status: tokio::sync::watch::Receiver<HostStatus>,
    pub sharing: Arc<Sharing>,
    /// This link's id among the host's viewers.
    pub id: u32,
    presence: tokio::sync::watch::Receiver<u64>,
    clipboard: tokio::sync::watch::Receiver<Arc<str>>,
}

/// What the watched host did.
pub enum HostEvent {
    Video(Arc<Vec<u8>>),
    /// This viewer fell behind and must start over from a full frame.
    VideoLagged,
    Serial(Arc<Vec<u8>>),
    /// This viewer fell behind on the serial console by this many pieces.
    SerialLagged(u64),
    Status(HostStatus),
    /// Someone joined, left, asked for or got control.
    Presence,
    /// The host's clipboard (on joining too, when it has copied something).
    Clipboard(Arc<str>),
}

impl Viewer {
    /// Joins `host`'s video (its first picture is in `video.start()`) and status, and its
    /// viewers as the key's user; returns the viewer and who got control by its joining.
    pub fn join(
        host: Arc<Host>,
        sharing: Arc<Sharing>,
        binding: &super::KeyBinding,
    ) -> (Self, Option<super::sharing::Handover>) {
        // A viewer's first picture goes out with its handshake: joining here, inline, keeps it
        // in the same flush (off the runtime it arrived late enough for a page to see the link
        // connected with an empty screen). Refreshes, which a viewer can repeat, go to the
        // blocking pool (`resubscribe`).
        let video = host.video.subscribe();
        let status = host.status.clone();
        let mut presence = sharing.subscribe();
        let (id, handover) = sharing.join(&binding.username, &binding.web_session, binding.control);
        presence.borrow_and_update();
        let mut clipboard = host.video.clipboard();
        if !clipboard.borrow().is_empty() {
            clipboard.mark_changed();
        }
        (Self { host, video, serial: None, status, sharing, id, presence, clipboard }, handover)
    }

    /// The host's status now (marked seen).
    pub fn current_status(&mut self) -> HostStatus {
        self.status.borrow_and_update().clone()
    }

    /// Joins the host's video afresh. Joining encodes a full frame (a deflate of the whole
    /// screen) under the hub's lock: on the blocking pool, not on a runtime worker.
    pub async fn resubscribe(&mut self) -> Result<(), tokio::task::JoinError> {
        let hub = self.host.video.clone();
        self.video = tokio::task::spawn_blocking(move || hub.subscribe()).await?;
        Ok(())
    }

    /// Joins the host's serial output; returns what it printed before (none without a port).
    pub fn open_serial(&mut self) -> Option<Vec<u8>> {
        let (Some(hub), None) = (&self.host.serial, &self.serial) else { return None };
        let start = hub.subscribe();
        self.serial = Some(start.updates);
        Some(start.backlog)
    }

    /// The next thing the host did.
    pub async fn next_event(&mut self) -> HostEvent {
        tokio::select! {
            update = self.video.updates.recv() => match update {
                Ok(update) => HostEvent::Video(update),
                Err(RecvError::Lagged(_)) => HostEvent::VideoLagged,
                Err(RecvError::Closed) => std::future::pending().await,
            },
            piece = async { self.serial.as_mut()?.recv().await.ok_or_lag() }, if self.serial.is_some() => match piece {
                Some(Ok(bytes)) => HostEvent::Serial(bytes),
                Some(Err(skipped)) => HostEvent::SerialLagged(skipped),
                None => {
                    self.serial = None;
                    std::future::pending().await
                }
            },
            changed = self.status.changed() => match changed {
                Ok(()) => HostEvent::Status(self.status.borrow_and_update().clone()),
                Err(_) => std::future::pending().await,
            },
            changed = self.clipboard.changed() => match changed {
                Ok(()) => HostEvent::Clipboard(self.clipboard.borrow_and_update().clone()),
                Err(_) => std::future::pending().await,
            },
            changed = self.presence.changed() => match changed {
                Ok(()) => {
                    self.presence.borrow_and_update();
                    HostEvent::Presence
                }
                Err(_) => std::future::pending().await,
            },
        }
    }
}

/// The next thing the watched host did; pending forever without a viewer.
pub async fn next_event(viewer: &mut Option<Viewer>) -> HostEvent {
    match viewer {
        Some(v) => v.next_event().await,
        None => std::future::pending().await,
    }
}

/// A broadcast result as "a piece, or how many were skipped"; `None` once the stream closed.
trait OrLag<T> {
    fn ok_or_lag(self) -> Option<Result<T, u64>>;
}

impl<T> OrLag<T> for Result<T, RecvError> {
    fn ok_or_lag(self) -> Option<Result<T, u64>> {
        match self {
            Ok(item) => Some(Ok(item)),
            Err(RecvError::Lagged(n)) => Some(Err(n)),
            Err(RecvError::Closed) => None,
        }
    }
}
