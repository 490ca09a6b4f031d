//! The controller's end of the media channel: the host's reads of a file the browser offered,
//! cut into chunks of at most [`MEDIA_CHUNK`], at most [`MEDIA_WINDOW`] of them asked of the
//! applet at once, and put together again. An answer of the wrong length, or none within the
//! deadline, ends the medium: its reads fail (the host sees I/O errors) and the adapter takes
//! it out, so a broken or vanished browser can never hold the host's reads.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::wire::media::{MediaDevice, MediaMessage, MEDIA_CHUNK};

/// Chunks asked of the applet and not yet answered, at most: 16 x 1 MiB keeps the browser busy
/// (reads overlap its sealing) without more than 16 MiB of answers in flight.
pub const MEDIA_WINDOW: usize = 16;
/// Bytes of host reads the link holds (asked, queued or being put together), at most; beyond
/// it the adapter stops taking reads from the export, which holds them back from the host.
pub const MEDIA_PENDING_BYTES: u64 = 64 << 20;

/// What the adapter must do about a medium (a [`super::ServerAction`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaAction {
    /// The applet offers a file: check the user's `media` right against the store, plug it in
    /// and answer [`super::ServerLink::media_attached`] or `media_detached` (refused).
    Offer { device: MediaDevice, writable: bool, size: u64, name: String },
    /// Take the link's medium out of `device` (the applet ejected it, or the link gave up on it).
    Eject { device: MediaDevice, reason: String },
    /// The answer to the adapter's read `request`.
    ReadDone { request: u64, result: Result<Vec<u8>, String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Medium {
    /// Offered; the adapter is plugging it in (the host may read it already).
    Offered {
        size: u64,
    },
    Attached {
        size: u64,
    },
}

impl Medium {
    fn size(self) -> u64 {
        match self {
            Medium::Offered { size } | Medium::Attached { size } => size,
        }
    }
}

/// One chunk of a host read.
#[derive(Debug, Clone, Copy)]
struct Chunk {
    request: u64,
    device: MediaDevice,
    /// Where the chunk goes in its request's buffer.
    at: usize,
    offset: u64,
    length: u32,
}

struct Request {
    device: MediaDevice,
    /// Where the chunks are put together (empty for a read of one chunk).
    buffer: Vec<u8>,
    length: u32,
    chunks_left: usize,
}

#[derive(Default)]
pub struct MediaLink {
    media: HashMap<MediaDevice, Medium>,
    requests: HashMap<u64, Request>,
    /// Chunks not yet asked (the window is full).
    queued: VecDeque<Chunk>,
    /// Chunks asked, by read id, with when.
    asked: BTreeMap<u32, (Chunk, u64)>,
    next_id: u32,
    pending_bytes: u64,
    /// Bytes the applet answered, over the link's life.
    pub bytes_read: u64,
}

/// What a call produced: messages for the applet and actions for the adapter.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MediaOutput {
    pub messages: Vec<MediaMessage>,
    pub actions: Vec<MediaAction>,
}

impl MediaLink {
    /// Whether the adapter may hand the link another host read now.
    pub fn accepts_reads(&self) -> bool {
        self.pending_bytes < MEDIA_PENDING_BYTES
    }

    /// The devices holding (or being given) one of this link's files.
    pub fn devices(&self) -> Vec<MediaDevice> {
        self.media.keys().copied().collect()
    }

    /// The earliest time a chunk's deadline passes, if any is asked.
    pub fn next_deadline(&self, deadline_ms: u64) -> Option<u64> {
        self.asked.values().map(|(_, at)| at.saturating_add(deadline_ms)).min()
    }

    /// A media message from the applet.
    pub fn from_applet(&mut self, message: MediaMessage, now_ms: u64, out: &mut MediaOutput) {
        match message {
            MediaMessage::Offer { device, writable, size, name } => {
                if self.media.contains_key(&device) {
                    // A new file for the same drive: the old one's reads fail, the insert replaces it.
                    self.fail_device(device, "the medium was replaced", out);
                }
                if size == 0 {
                    out.messages.push(MediaMessage::Detached { device, reason: "the file is empty".into() });
                    return;
                }
                self.media.insert(device, Medium::Offered { size });
                out.actions.push(MediaAction::Offer { device, writable, size, name });
            }
            MediaMessage::Eject { device } => {
                if self.media.contains_key(&device) {
                    self.detach(device, "ejected", out);
                }
            }
            MediaMessage::Data { id, bytes } => self.answer(id, Ok(bytes), out),
            MediaMessage::Failed { id, reason } => self.answer(id, Err(reason), out),
            // The controller's own messages, sent back: the link refuses them before here.
            MediaMessage::Attached { .. } | MediaMessage::Detached { .. } | MediaMessage::Read { .. } => {}
        }
        self.ask(now_ms, out);
    }

    /// The adapter plugged the offered file in.
    pub fn attached(&mut self, device: MediaDevice, out: &mut MediaOutput) {
        if let Some(Medium::Offered { size }) = self.media.get(&device).copied() {
            self.media.insert(device, Medium::Attached { size });
            out.messages.push(MediaMessage::Attached { device });
        }
    }

    /// The medium in `device` is gone (refused, ejected by someone else, the host stopped): its
    /// reads fail and the applet is told why. The adapter has nothing more to take out.
    pub fn detached(&mut self, device: MediaDevice, reason: &str, now_ms: u64, out: &mut MediaOutput) {
        if self.media.contains_key(&device) {
            self.fail_device(device, reason, out);
            out.messages.push(MediaMessage::Detached { device, reason: reason.into() });
        }
        self.ask(now_ms, out);
    }

    /// A host read of the medium in `device`, answered later with [`MediaAction::ReadDone`].
    pub fn read(
        &mut self,
        request: u64,
        device: MediaDevice,
        offset: u64,
        length: u32,
        now_ms: u64,
        out: &mut MediaOutput,
    ) {
        let Some(medium) = self.media.get(&device).copied() else {
            let result = Err("the medium is no longer offered by the browser".into());
            return out.actions.push(MediaAction::ReadDone { request, result });
        };
        if offset.checked_add(u64::from(length)).is_none_or(|end| end > medium.size()) || length == 0 {
            let result = Err(format!("a read of {length} bytes at {offset} is outside the medium"));
            return out.actions.push(MediaAction::ReadDone { request, result });
        }
        let mut at = 0usize;
        let mut chunks = 0;
        while at < length as usize {
            let piece = (length - at as u32).min(MEDIA_CHUNK);
            self.queued.push_back(Chunk { request, device, at, offset: offset + at as u64, length: piece });
            at += piece as usize;
            chunks += 1;
        }
        self.pending_bytes += u64::from(length);
        // A one-chunk read takes its answer's buffer; a longer one is put together here.
        let buffer = if chunks == 1 { Vec::new() } else { vec![0; length as usize] };
        self.requests.insert(request, Request { device, buffer, length, chunks_left: chunks });
        self.ask(now_ms, out);
    }

    /// Called at the adapter's poll: a chunk unanswered for `deadline_ms` ends its medium.
    pub fn poll(&mut self, now_ms: u64, deadline_ms: u64, out: &mut MediaOutput) {
        let late: Vec<MediaDevice> = self
            .asked
            .values()
            .filter(|(_, at)| now_ms.saturating_sub(*at) >= deadline_ms)
            .map(|(chunk, _)| chunk.device)
            .collect();
        for device in late {
            if self.media.contains_key(&device) {
                self.detach(device, "the browser stopped answering the host's reads", out);
            }
        }
        self.ask(now_ms, out);
    }

    fn answer(&mut self, id: u32, result: Result<Vec<u8>, String>, out: &mut MediaOutput) {
        // An answer to a read that already failed (its medium was replaced or timed out).
        let Some((chunk, _)) = self.asked.remove(&id) else { return };
        let Some(request) = self.requests.get_mut(&chunk.request) else { return };
        let device = request.device;
        let bytes = match result {
            Ok(bytes) if bytes.len() == chunk.length as usize => bytes,
            Ok(bytes) => {
                let reason = format!("the browser answered {} bytes to a read of {}", bytes.len(), chunk.length);
                return self.detach(device, &reason, out);
            }
            Err(reason) => {
                // The file could not be read there (moved, changed on disk): this read fails,
                // later ones may still work.
                self.finish(chunk.request, Err(format!("the browser could not read the file: {reason}")), out);
                return;
            }
        };
        self.bytes_read += bytes.len() as u64;
        request.chunks_left = request.chunks_left.saturating_sub(1);
        let whole = if request.buffer.is_empty() {
            // A read of one chunk: its answer is the result, with no copy.
            bytes
        } else {
            if let Some(target) = request.buffer.get_mut(chunk.at..chunk.at + bytes.len()) {
                target.copy_from_slice(&bytes);
            }
            if request.chunks_left > 0 {
                return;
            }
            std::mem::take(&mut request.buffer)
        };
        if let Some(done) = self.requests.remove(&chunk.request) {
            self.pending_bytes = self.pending_bytes.saturating_sub(u64::from(done.length));
            out.actions.push(MediaAction::ReadDone { request: chunk.request, result: Ok(whole) });
        }
    }

    /// Fills the window from the queue: every public call ends with it.
    fn ask(&mut self, now_ms: u64, out: &mut MediaOutput) {
        while self.asked.len() < MEDIA_WINDOW {
            let Some(chunk) = self.queued.pop_front() else { break };
            if !self.requests.contains_key(&chunk.request) {
                continue; // its request failed meanwhile
            }
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            self.asked.insert(id, (chunk, now_ms));
            out.messages.push(MediaMessage::Read {
                id,
                device: chunk.device,
                offset: chunk.offset,
                length: chunk.length,
            });
        }
    }

    /// The link gives up on the medium in `device`: its reads fail, the adapter takes it out,
    /// and the applet is told why.
    fn detach(&mut self, device: MediaDevice, reason: &str, out: &mut MediaOutput) {
        self.fail_device(device, reason, out);
        out.messages.push(MediaMessage::Detached { device, reason: reason.into() });
        out.actions.push(MediaAction::Eject { device, reason: reason.into() });
    }

    /// Forgets the medium in `device`, failing its reads.
    fn fail_device(&mut self, device: MediaDevice, reason: &str, out: &mut MediaOutput) {
        self.media.remove(&device);
        let failed: Vec<u64> = self.requests.iter().filter(|(_, r)| r.device == device).map(|(id, _)| *id).collect();
        for request in failed {
            self.finish(request, Err(reason.to_string()), out);
        }
    }

    /// Ends `request` with `result`, forgetting its chunks.
    fn finish(&mut self, request: u64, result: Result<Vec<u8>, String>, out: &mut MediaOutput) {
        if let Some(done) = self.requests.remove(&request) {
            self.pending_bytes = self.pending_bytes.saturating_sub(u64::from(done.length));
            self.asked.retain(|_, (chunk, _)| chunk.request != request);
            self.queued.retain(|chunk| chunk.request != request);
            out.actions.push(MediaAction::ReadDone { request, result });
        }
    }
}
