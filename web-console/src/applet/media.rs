//! Files the user offered as the host's media: which file went to which drive, how much the
//! host has read of it and how fast, and reading the ranges the controller asks for with
//! `File.slice()` (the file is never read whole, never uploaded).

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

struct Offered {
    file: File,
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
        self.offered.push(Offered { file, view, last_bytes: 0, last_ms: now_ms });
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

    /// The file to read for `device`, if it is still offered.
    pub fn file(&self, device: MediaDevice) -> Option<File> {
        self.offered
            .iter()
            .find(|o| o.view.device == device && o.view.state != MediaState::Detached)
            .map(|o| o.file.clone())
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

/// Reads `length` bytes at `offset` of `file`: exactly that many, or an error in words.
pub async fn read_range(file: File, offset: u64, length: u32) -> Result<Vec<u8>, String> {
    let end = offset.saturating_add(u64::from(length));
    if end > file.size() as u64 {
        return Err(format!("the file is smaller than {end} bytes now"));
    }
    let blob = file.slice_with_f64_and_f64(offset as f64, end as f64).map_err(describe)?;
    let buffer = JsFuture::from(blob.array_buffer()).await.map_err(describe)?;
    let buffer: js_sys::ArrayBuffer = buffer.dyn_into().map_err(describe)?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// A DOM error (`NotReadableError`: the file changed or went away) in words.
fn describe(error: wasm_bindgen::JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| format!("{}: {}", e.name(), e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "the file could not be read".into())
}
