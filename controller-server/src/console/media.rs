//! A console link's media: files the browser offered, plugged into the link's host as CD or
//! USB media while the link lasts. The export's requests for them come here and go to the
//! link (`shared::link::media` cuts them into chunks the applet answers); the answers go back.
//!
//! The user's `media` right is checked against the store at every offer. Inserting waits for
//! QEMU while the link goes on answering (QEMU reads the medium before it says it took it), so
//! the insert runs beside the link rather than inside one of its steps. When the link ends,
//! its media come out: their reads fail first (the guest sees I/O errors), then the drive is
//! emptied, and the audit trail says why.

use std::sync::Arc;

use futures_util::stream::{FuturesUnordered, StreamExt};
use shared::link::{MediaAction as LinkMediaAction, ServerLink};
use shared::wire::MediaDevice;
use tokio::sync::{mpsc, oneshot};

use super::keys::KeyBinding;
use crate::app::AppState;
use crate::hosts::media::{drive_name, writable_allowed, MediaAction, MediaStatus};
use crate::hosts::Host;
use crate::media::{Source, SourceRequest};

/// The export's requests queued towards the link, at most (it keeps 16 in flight).
const QUEUE: usize = 32;

/// What happened to the link's media while it waited.
pub enum MediaEvent {
    /// The export asks for `device`'s file; `None`: the export is gone (the medium was ejected
    /// or replaced on the controller, or the host stopped).
    Request(MediaDevice, Option<SourceRequest>),
    Inserted(MediaDevice, Result<MediaStatus, String>),
}

/// One offered file, from the offer until it comes out.
struct Offered {
    requests: mpsc::Receiver<SourceRequest>,
    name: String,
}

pub struct LinkMedia {
    /// Marks this link's media in the host's drives, so that it takes out its own and no other.
    owner: u64,
    offered: [Option<Offered>; 2],
    /// Reads handed to the link, by request number.
    replies: std::collections::HashMap<u64, oneshot::Sender<Result<Vec<u8>, String>>>,
    next_request: u64,
    /// Inserts under way, as tasks (QEMU answers in its own time; the link goes on meanwhile).
    inserting: FuturesUnordered<tokio::task::JoinHandle<(MediaDevice, Result<MediaStatus, String>)>>,
}

fn slot(device: MediaDevice) -> usize {
    match device {
        MediaDevice::Cd => 0,
        MediaDevice::Usb => 1,
    }
}

impl Default for LinkMedia {
    fn default() -> Self {
        Self {
            owner: rand::random(),
            offered: [None, None],
            replies: Default::default(),
            next_request: 0,
            inserting: FuturesUnordered::new(),
        }
    }
}

impl LinkMedia {
    /// The next thing to do for the link's media; pending while there is none. Requests are
    /// taken only while the link `accepts` them: the rest wait in the export.
    pub async fn next(&mut self, accepts: bool) -> MediaEvent {
        let [cd, usb] = &mut self.offered;
        tokio::select! {
            request = receive(cd, accepts) => MediaEvent::Request(MediaDevice::Cd, request),
            request = receive(usb, accepts) => MediaEvent::Request(MediaDevice::Usb, request),
            Some(Ok((device, result))) = self.inserting.next(), if !self.inserting.is_empty() => {
                MediaEvent::Inserted(device, result)
            }
        }
    }

    /// Carries out what happened: a read goes to the link, an answered insert is told to it.
    pub async fn on_event(
        &mut self,
        event: MediaEvent,
        link: &mut ServerLink,
        binding: &KeyBinding,
        state: &AppState,
        now_ms: u64,
    ) {
        match event {
            MediaEvent::Request(device, Some(SourceRequest::Read { offset, length, reply })) => {
                let request = self.next_request;
                self.next_request += 1;
                self.replies.insert(request, reply);
                link.media_read(request, device, offset, length, now_ms);
            }
            MediaEvent::Request(_, Some(SourceRequest::Write { reply, .. })) => {
                // The export refuses writes to a read-only medium before they come here.
                let _ = reply.send(Err("the medium is read-only".into()));
            }
            MediaEvent::Request(_, Some(SourceRequest::Flush { reply })) => {
                let _ = reply.send(Ok(()));
            }
            MediaEvent::Request(device, None) => {
                self.offered[slot(device)] = None;
                link.media_detached(device, "the medium was taken out on the controller", now_ms);
            }
            MediaEvent::Inserted(device, Ok(_)) => {
                let Some(name) = self.offered[slot(device)].as_ref().map(|o| o.name.clone()) else { return };
                link.media_attached(device, now_ms);
                let message = format!("{}: {name} from {}'s browser inserted", drive_name(device), binding.username);
                state.event(&binding.host_id, "info", &message).await;
            }
            MediaEvent::Inserted(device, Err(why)) => {
                tracing::info!(host = %binding.host_id, reason = %why, "the browser's medium did not go in");
                self.offered[slot(device)] = None;
                link.media_detached(device, &why, now_ms);
            }
        }
    }

    /// Carries out the link's media action.
    pub async fn act(
        &mut self,
        action: LinkMediaAction,
        link: &mut ServerLink,
        binding: &KeyBinding,
        state: &AppState,
        audit: serde_json::Value,
        now_ms: u64,
    ) {
        match action {
            LinkMediaAction::Offer { device, writable, size, name } => {
                let offered = self.offer(device, writable, size, &name, binding, state, audit).await;
                if let Err(why) = offered {
                    link.media_detached(device, &why, now_ms);
                }
            }
            LinkMediaAction::Eject { device, reason } => self.take_out(device, &reason, binding, state, audit).await,
            LinkMediaAction::ReadDone { request, result } => {
                if let Some(reply) = self.replies.remove(&request) {
                    let _ = reply.send(result);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)] // the offer, spelled out, and the link's context
    async fn offer(
        &mut self,
        device: MediaDevice,
        writable: bool,
        size: u64,
        name: &str,
        binding: &KeyBinding,
        state: &AppState,
        mut audit: serde_json::Value,
    ) -> Result<(), String> {
        if !binding.rights_now(state).await.is_some_and(|r| r.media) {
            return Err("you may not use virtual media on this host".into());
        }
        let host = state.hosts.get(&binding.host_id).ok_or("the host is gone")?;
        if host.media.is_none() {
            return Err("this host takes no virtual media".into());
        }
        writable_allowed(device, writable)?;
        audit["device"] = device.name().into();
        audit["image"] = name.into();
        audit["size"] = size.into();
        audit["from"] = "browser".into();
        audit["writable"] = writable.into();
        state
            .audit_first(&binding.username, "media.insert", &binding.host_id, audit)
            .await
            .map_err(|_| "the audit trail cannot record this now".to_string())?;
        let (requests, receiver) = mpsc::channel(QUEUE);
        // A medium replaced by a new offer: its export goes when the insert replaces it.
        self.offered[slot(device)] = Some(Offered { requests: receiver, name: name.to_string() });
        // The guest's drive asks one read at a time; each crosses to the browser and back.
        let source = crate::media::readahead::wrap(Source { requests, size, read_only: true });
        let (image, owner) = (name.to_string(), Some(self.owner));
        self.inserting.push(tokio::spawn(async move {
            (device, host.media(MediaAction::Insert { device, source, image, owner, writable }).await)
        }));
        Ok(())
    }

    /// Takes the link's medium out of `device`: its reads fail at once, then the drive empties.
    async fn take_out(
        &mut self,
        device: MediaDevice,
        reason: &str,
        binding: &KeyBinding,
        state: &AppState,
        mut audit: serde_json::Value,
    ) {
        let Some(offered) = self.offered[slot(device)].take() else { return };
        drop(offered.requests);
        audit["device"] = device.name().into();
        audit["image"] = offered.name.clone().into();
        audit["reason"] = reason.into();
        state.audit(&binding.username, "media.eject", &binding.host_id, audit).await;
        let Some(host) = state.hosts.get(&binding.host_id) else { return };
        eject(host, device, self.owner).await;
        let message = format!("{}: {} ejected ({reason})", drive_name(device), offered.name);
        state.event(&binding.host_id, "info", &message).await;
    }

    /// The link ended: every medium it offered comes out.
    pub async fn finish(&mut self, binding: &KeyBinding, state: &AppState, audit: serde_json::Value) {
        // Reads fail from now on; an insert under way ends (within the media timeout) before
        // the eject, which would otherwise find nothing to take out and let it land after.
        self.replies.clear();
        for offered in self.offered.iter_mut().flatten() {
            offered.requests.close();
            while offered.requests.try_recv().is_ok() {}
        }
        while self.inserting.next().await.is_some() {}
        for device in MediaDevice::ALL {
            self.take_out(device, "the console link closed", binding, state, audit.clone()).await;
        }
    }
}

async fn eject(host: Arc<Host>, device: MediaDevice, owner: u64) {
    if let Err(why) = host.media(MediaAction::Eject { device, owner: Some(owner) }).await {
        tracing::warn!(host = %host.id, reason = %why, "could not take the browser's medium out");
    }
}

/// The next request for an offered file, while the link takes them; pending otherwise.
async fn receive(offered: &mut Option<Offered>, accepts: bool) -> Option<SourceRequest> {
    match offered {
        Some(o) if accepts => o.requests.recv().await,
        _ => std::future::pending().await,
    }
}
