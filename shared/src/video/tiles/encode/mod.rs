//! The host's end: what changed between two frames ([`diff`]), moved content found by the
//! source's hints, a scroll search ([`scroll`]) and a motion search ([`motion`]), each part of
//! a tile in its cheapest form ([`tile`]), all deflated as one body or as the stream's next
//! piece.

mod body;
mod diff;
mod motion;
mod scroll;
pub(super) mod tile;

use self::body::{body, frame_update};
use self::diff::{diff, Change, Parts};
use super::format::{KIND_DELTA, KIND_FULL, KIND_STREAM_DELTA, KIND_STREAM_FULL};
use super::Copy;
use crate::video::frame::{Framebuffer, Rect};
use crate::video::underlay::Underlay;
use crate::video::zstream::Deflater;

/// Deflate level, chosen by replaying recorded TigerVNC sessions through the stream
/// (`cargo run --release -p rfb --example replay`): against level 1, level 3 sends 26 % less
/// for a scrolling terminal, 9 to 11 % less for dragged windows and 23 % less for full-screen
/// motion, for 28 % more encoding time on motion (8.8 ms an update); levels 4 to 6 save at
/// most 4 % more and cost up to 60 % more time. The stream's back-references to earlier
/// updates are what the higher levels find.
const DEFLATE_LEVEL: u8 = 3;

/// How updates are compressed. The default is what the controller sends; other levels are
/// for measuring (`cargo bench -p shared --bench tiles`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoder {
    /// Deflate level, 0 (stored) to 10.
    pub level: u8,
}

impl Default for Encoder {
    fn default() -> Self {
        Self { level: DEFLATE_LEVEL }
    }
}

/// Encodes the whole frame: for a new viewer, or after a resize.
pub fn encode_full(frame: &Framebuffer) -> Vec<u8> {
    Encoder::default().full(frame)
}

/// Encodes what changed from `prev` (what the viewers hold) to `next`, and brings `prev` up
/// to `next`. `hints` are copies the source reported; the encoder keeps those that pay off and
/// looks for a vertical scroll itself. `None` when nothing changed.
pub fn encode_delta(prev: &mut Framebuffer, next: &Framebuffer, hints: &[Copy]) -> Option<Vec<u8>> {
    Encoder::default().delta(prev, next, hints)
}

impl Encoder {
    /// See [`encode_full`].
    pub fn full(&self, frame: &Framebuffer) -> Vec<u8> {
        let packed = miniz_oxide::deflate::compress_to_vec(&body(frame, &Parts::whole(frame)), self.level);
        frame_update(KIND_FULL, None, frame, &packed)
    }

    /// See [`encode_delta`].
    pub fn delta(&self, prev: &mut Framebuffer, next: &Framebuffer, hints: &[Copy]) -> Option<Vec<u8>> {
        Some(match diff(prev, next, hints, None, None)? {
            Change::Resized => self.full(next),
            Change::Parts(parts) => {
                let packed = miniz_oxide::deflate::compress_to_vec(&body(next, &parts), self.level);
                frame_update(KIND_DELTA, None, next, &packed)
            }
        })
    }
}

/// The host's side of its viewers' graphics stream: updates as pieces of one deflate stream.
pub struct StreamEncoder {
    level: u8,
    /// `None`: the next update starts a new stream.
    stream: Option<Deflater>,
    /// What moved content covers in the viewers' frame, as their decoders keep it; starts
    /// over with the stream.
    under: Option<Underlay>,
}

impl StreamEncoder {
    pub fn new(encoder: Encoder) -> Self {
        Self { level: encoder.level, stream: None, under: None }
    }

    /// The next update starts the stream over, with nothing to refer back to: a viewer that
    /// joins now can follow from there.
    pub fn restart(&mut self) {
        self.stream = None;
    }

    /// The whole frame, as the stream's next update (after a resize).
    pub fn full(&mut self, frame: &Framebuffer) -> Vec<u8> {
        self.under = Some(Underlay::of(frame));
        self.pack(KIND_STREAM_FULL, frame, &body(frame, &Parts::whole(frame)))
    }

    /// As [`encode_delta`], as the stream's next update. `reported`: the rectangles the source
    /// said it changed besides its copies, so only those are compared (`None`: look everywhere).
    pub fn delta(
        &mut self,
        prev: &mut Framebuffer,
        next: &Framebuffer,
        hints: &[Copy],
        reported: Option<&[Rect]>,
    ) -> Option<Vec<u8>> {
        // A restart: the viewers start over with nothing kept beneath moved content.
        if self.stream.is_none() || self.under.as_ref().is_some_and(|u| !u.fits(prev)) {
            self.under = None;
        }
        let under = self.under.get_or_insert_with(|| Underlay::of(prev));
        Some(match diff(prev, next, hints, reported, Some(under))? {
            Change::Resized => self.full(next),
            Change::Parts(parts) => self.pack(KIND_STREAM_DELTA, next, &body(next, &parts)),
        })
    }

    fn pack(&mut self, kind: u8, frame: &Framebuffer, body: &[u8]) -> Vec<u8> {
        let restart = self.stream.is_none();
        let stream = self.stream.get_or_insert_with(|| Deflater::new(self.level));
        let piece = stream.piece(body);
        frame_update(kind, Some(restart), frame, &piece)
    }
}
