//! Virtual media: an image from somewhere (a file in the controller's media folder, the
//! browser's file over the console link, a URL on a listed web server) served to a host as an
//! NBD export on a unix socket, which QEMU plugs in as a CD-ROM or USB disk; read-ahead in
//! front of the sources whose reads are round trips, a writable layer in front of a medium
//! the guest may write.
//!
//! The export (`export`) speaks NBD through `nbd_wire` and asks its source for blocks over a
//! bounded channel (`SourceRequest`), so every kind of source answers the same way and none can
//! hold up the export beyond its deadline.

pub mod export;
pub mod file;
pub mod overlay;
pub mod readahead;
pub mod url;

use tokio::sync::{mpsc, oneshot};

/// What an export asks of its source.
#[derive(Debug)]
pub enum SourceRequest {
    Read { offset: u64, length: u32, reply: oneshot::Sender<Result<Vec<u8>, String>> },
    Write { offset: u64, data: Vec<u8>, reply: oneshot::Sender<Result<(), String>> },
    Flush { reply: oneshot::Sender<Result<(), String>> },
}

/// A source of blocks: where to send requests, and the image's size.
#[derive(Debug, Clone)]
pub struct Source {
    pub requests: mpsc::Sender<SourceRequest>,
    pub size: u64,
    pub read_only: bool,
}
