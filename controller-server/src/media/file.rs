//! A medium read from a file (the controller's media folder): positional reads and writes on
//! the blocking pool, one request at a time per medium (a file on a local disk answers in
//! microseconds; the export keeps several requests in flight towards it).

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::{Source, SourceRequest};

/// Requests queued towards one file, at most.
const QUEUE: usize = 32;

/// Opens `path` (read-only unless `writable`) as a source; the worker ends when the export
/// drops its side.
pub fn open(path: &Path, writable: bool) -> std::io::Result<Source> {
    let file = std::fs::OpenOptions::new().read(true).write(writable).open(path)?;
    let size = file.metadata()?.len();
    let file = Arc::new(file);
    let (requests, mut queue) = mpsc::channel(QUEUE);
    tokio::spawn(async move {
        while let Some(request) = queue.recv().await {
            let file = file.clone();
            // A panicking or cancelled blocking task answers nothing: the export's deadline
            // turns that into an I/O error for the guest.
            let _ = tokio::task::spawn_blocking(move || answer(&file, request)).await;
        }
    });
    Ok(Source { requests, size, read_only: !writable })
}

fn answer(file: &std::fs::File, request: SourceRequest) {
    match request {
        SourceRequest::Read { offset, length, reply } => {
            let mut data = vec![0u8; length as usize];
            let _ = reply.send(file.read_exact_at(&mut data, offset).map(|()| data).map_err(|e| e.to_string()));
        }
        SourceRequest::Write { offset, data, reply } => {
            let _ = reply.send(file.write_all_at(&data, offset).map_err(|e| e.to_string()));
        }
        SourceRequest::Flush { reply } => {
            let _ = reply.send(file.sync_data().map_err(|e| e.to_string()));
        }
    }
}
