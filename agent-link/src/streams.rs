//! Streams multiplexed in one connection, with credit-based flow control.
//!
//! Why our own streams and not yamux: the channel is already a sequence of authenticated
//! messages (one Noise message per WebSocket message), so a stream needs only an id on each
//! frame and a window; yamux would add its own framing inside ours, and its implementations
//! are futures-driven, which a sans-IO state machine cannot fuzz or step through time.
//!
//! Only the controller opens streams, with increasing ids. Each end may send a stream at most
//! `WINDOW` bytes beyond what the other end said it took (`Frame::Credit`); the receiver grants
//! more as its consumer drains, so a program that prints faster than the controller stores it
//! blocks on its own pipe rather than filling anyone's memory.

use std::collections::BTreeMap;

use crate::LinkError;

/// Bytes a sender may have in flight on one stream.
pub const WINDOW: u32 = 256 * 1024;
/// Streams open at once on one connection.
pub const MAX_STREAMS: usize = 64;

#[derive(Debug, Default)]
struct Stream {
    /// What this end may still send.
    send: u64,
    /// What the peer may still send.
    receive: u64,
    /// Taken by this end's consumer since the last grant.
    consumed: u64,
}

#[derive(Debug, Default)]
pub struct Streams {
    open: BTreeMap<u32, Stream>,
    /// The highest id ever opened: data for a lower, closed stream may still be on its way.
    highest: Option<u32>,
}

impl Streams {
    pub fn open(&mut self, id: u32) -> Result<(), LinkError> {
        if self.highest.is_some_and(|highest| id <= highest) {
            return Err(LinkError::Protocol(format!("stream {id} opened out of order")));
        }
        if self.open.len() >= MAX_STREAMS {
            return Err(LinkError::Protocol(format!("more than {MAX_STREAMS} streams open")));
        }
        self.highest = Some(id);
        self.open.insert(id, Stream { send: u64::from(WINDOW), receive: u64::from(WINDOW), consumed: 0 });
        Ok(())
    }

    /// The id after the highest one opened.
    pub fn next_id(&self) -> u32 {
        self.highest.map_or(1, |h| h.wrapping_add(1).max(1))
    }

    pub fn is_open(&self, id: u32) -> bool {
        self.open.contains_key(&id)
    }

    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Whether a frame about `id` may be dropped without fault: the stream was opened once and
    /// has closed since (its peer had not heard yet). A stream never opened is a violation.
    pub fn closed_before(&self, id: u32) -> Result<bool, LinkError> {
        if self.open.contains_key(&id) {
            return Ok(false);
        }
        match self.highest {
            Some(highest) if id <= highest => Ok(true),
            _ => Err(LinkError::Protocol(format!("stream {id} was never opened"))),
        }
    }

    /// How many bytes this end may send on `id` now.
    pub fn room(&self, id: u32) -> usize {
        self.open.get(&id).map_or(0, |s| s.send.min(crate::frame::MAX_DATA as u64) as usize)
    }

    pub fn sent(&mut self, id: u32, len: usize) {
        if let Some(stream) = self.open.get_mut(&id) {
            stream.send = stream.send.saturating_sub(len as u64);
        }
    }

    /// The peer took `bytes` more.
    pub fn credit(&mut self, id: u32, bytes: u32) -> Result<(), LinkError> {
        if let Some(stream) = self.open.get_mut(&id) {
            stream.send += u64::from(bytes);
            if stream.send > u64::from(WINDOW) {
                return Err(LinkError::Protocol(format!("stream {id} credited beyond its window")));
            }
        }
        Ok(())
    }

    /// The peer sent `len` bytes on `id`.
    pub fn received(&mut self, id: u32, len: usize) -> Result<(), LinkError> {
        if let Some(stream) = self.open.get_mut(&id) {
            stream.receive = stream
                .receive
                .checked_sub(len as u64)
                .ok_or_else(|| LinkError::Protocol(format!("stream {id} sent beyond its window")))?;
        }
        Ok(())
    }

    /// This end's consumer took `len` bytes of `id`: returns the credit to grant, once it is
    /// worth a frame (half the window).
    pub fn consumed(&mut self, id: u32, len: usize) -> Option<u32> {
        let stream = self.open.get_mut(&id)?;
        stream.consumed += len as u64;
        if stream.consumed < u64::from(WINDOW / 2) {
            return None;
        }
        let grant = stream.consumed.min(u64::from(WINDOW)) as u32;
        stream.consumed -= u64::from(grant);
        stream.receive += u64::from(grant);
        Some(grant)
    }

    pub fn close(&mut self, id: u32) -> bool {
        self.open.remove(&id).is_some()
    }
}
