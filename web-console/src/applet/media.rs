//! Files the user offered as the host's media: which file went to which drive, how much the
//! host has read of it and how fast, and reading the ranges the controller asks for with
//! `File.slice()` (the file is never read whole, never uploaded).
//!
//! The controller asks for 1 MiB chunks, several at once; each `slice().arrayBuffer()` costs
//! about as much again in the browser's own work as it reads (in headless Chromium here: 1 MiB
//! slices, 16 at a time, 457 MB/s; 4 MiB slices, 922 MB/s). So the file is read in `SLICE`s,
//! each read once (its promise shared by the chunks in it) and kept while the next few are
//! read: at most `SLICES_KEPT` per file.

use shared::wire::MediaDevice;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::File;

/// Where a file stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaState {
    /// Offered; the controller is plugging it in.
    Attaching,
    Attached,
    /// Refused, ejected or lost: the message says which.
    Detached,
}

/// One drive's file, as the media panel shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaView {
    pub device: MediaDevice,
    pub name: String,
    pub size: u64,
    pub bytes_read: u64,
    /// Bytes per second the host read over the last few seconds.
    pub rate: f64,
    pub state: MediaState,
    pub message: String,
}

/// The size the file is read in.
const SLICE: u64 = 4 << 20;
/// Slices kept per file, at most: the controller keeps 16 chunks of 1 MiB in flight.
const SLICES_KEPT: usize = 6;

struct Offered {
    file: File,
    /// Slices read or being read, by index, oldest first.
    slices: std::collections::VecDeque<(u64, js_sys::Promise)>,
    view: MediaView,
    /// Bytes read at the last rate tick, and when.
    last_bytes: u64,
    last_ms: f64,
}

#[derive(Default)]
pub struct BrowserMedia {
    offered: Vec<Offered>,
}

impl BrowserMedia {
    /// `file` goes to `device`, replacing what this page offered for it.
    pub fn offer(&mut self, device: MediaDevice, file: File, now_ms: f64) {
        self.offered.retain(|o| o.view.device != device);
        let view = MediaView {
            device,
            name: file.name(),
            size: file.size() as u64,
            bytes_read: 0,
            rate: 0.0,
            state: MediaState::Attaching,
            message: "attaching".into(),
        };
        self.offered.push(Offered { file, slices: Default::default(), view, last_bytes: 0, last_ms: now_ms });
    }

    pub fn changed(&mut self, device: MediaDevice, attached: bool, reason: String) {
        if let Some(o) = self.offered.iter_mut().find(|o| o.view.device == device) {
            o.view.state = if attached { MediaState::Attached } else { MediaState::Detached };
            o.view.message = reason;
            if !attached {
                o.view.rate = 0.0;
            }
        }
    }

    /// Where to read `length` bytes at `offset` of the file for `device`, if it is still
    /// offered: a slice of it being read (shared with the other reads within it), and where in
    /// that slice they are.
    pub fn range(&mut self, device: MediaDevice, offset: u64, length: u32) -> Result<Range, String> {
        let o = self
            .offered
            .iter_mut()
            .find(|o| o.view.device == device && o.view.state != MediaState::Detached)
            .ok_or("this page no longer offers that file")?;
        let size = o.file.size() as u64;
        let end = offset.saturating_add(u64::from(length));
        if end > size {
            return Err(format!("the file is smaller than {end} bytes now"));
        }
        let index = offset / SLICE;
        let (start, slice_end) = (index * SLICE, ((index + 1) * SLICE).min(size));
        if end > slice_end {
            // Across two slices (the controller asks aligned chunks; a writable layer's
            // copies need not be): read just that.
            return Ok(Range { bytes: read(&o.file, offset, end)?, at: 0, length });
        }
        let bytes = match o.slices.iter().find(|(i, _)| *i == index) {
            Some((_, promise)) => promise.clone(),
            None => {
                let promise = read(&o.file, start, slice_end)?;
                if o.slices.len() == SLICES_KEPT {
                    o.slices.pop_front();
                }
                o.slices.push_back((index, promise.clone()));
                promise
            }
        };
        Ok(Range { bytes, at: (offset - start) as u32, length })
    }

    /// A read failed (the file changed or went away): nothing read of it before is kept.
    pub fn forget_slices(&mut self, device: MediaDevice) {
        if let Some(o) = self.offered.iter_mut().find(|o| o.view.device == device) {
            o.slices.clear();
        }
    }

    pub fn count_read(&mut self, device: MediaDevice, bytes: usize) {
        if let Some(o) = self.offered.iter_mut().find(|o| o.view.device == device) {
            o.view.bytes_read += bytes as u64;
        }
    }

    /// Every second: the read rates.
    pub fn tick(&mut self, now_ms: f64) {
        for o in &mut self.offered {
            let seconds = ((now_ms - o.last_ms) / 1000.0).max(0.001);
            o.view.rate = (o.view.bytes_read - o.last_bytes) as f64 / seconds;
            (o.last_bytes, o.last_ms) = (o.view.bytes_read, now_ms);
        }
    }

    pub fn views(&self) -> Vec<MediaView> {
        self.offered.iter().map(|o| o.view.clone()).collect()
    }
}

/// `length` bytes at `at` of a slice being read.
pub struct Range {
    bytes: js_sys::Promise,
    at: u32,
    length: u32,
}

/// Starts reading bytes `start..end` of `file`.
fn read(file: &File, start: u64, end: u64) -> Result<js_sys::Promise, String> {
    Ok(file.slice_with_f64_and_f64(start as f64, end as f64).map_err(describe)?.array_buffer())
}

impl Range {
    /// The range's bytes: exactly that many, or an error in words.
    pub async fn read(self) -> Result<Vec<u8>, String> {
        let buffer = JsFuture::from(self.bytes).await.map_err(describe)?;
        let buffer: js_sys::ArrayBuffer = buffer.dyn_into().map_err(describe)?;
        if u64::from(self.at) + u64::from(self.length) > u64::from(buffer.byte_length()) {
            return Err("the file is shorter than it was".into());
        }
        Ok(js_sys::Uint8Array::new_with_byte_offset_and_length(&buffer, self.at, self.length).to_vec())
    }
}

/// A DOM error (`NotReadableError`: the file changed or went away) in words.
fn describe(error: wasm_bindgen::JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| format!("{}: {}", e.name(), e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "the file could not be read".into())
}
