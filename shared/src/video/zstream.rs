//! Deflate streams that last across messages: the compressor keeps its 32 KiB window from one
//! update to the next, so what was sent recently (the same glyphs, the same window frame a few
//! pixels on) costs a back-reference instead of its bytes again. Each message ends with a sync
//! flush, so the receiver can inflate it whole as soon as it arrives.
//!
//! Used by the graphics stream ([`super::tiles::StreamEncoder`]) and by RFB decoders that keep
//! a zlib stream per connection (ZRLE).

#[cfg(feature = "encode")]
use miniz_oxide::deflate::core::{compress_to_output, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush};
use miniz_oxide::inflate::stream::{inflate, InflateState};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

/// What a sync flush ends with; left off on the wire and put back by the receiver, as
/// WebSocket's permessage-deflate does.
const SYNC_TAIL: [u8; 4] = [0, 0, 0xff, 0xff];

/// Why a piece of a stream could not be inflated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflateError {
    /// Not valid deflate data where the stream stands.
    Corrupt,
    /// The piece inflates to more than the caller allows.
    TooLarge,
}

/// The sending end of a raw deflate stream (the controller's; behind the `encode` feature).
#[cfg(feature = "encode")]
pub struct Deflater {
    compressor: Box<CompressorOxide>,
}

#[cfg(feature = "encode")]
impl Deflater {
    /// A new stream at `level` (0 to 10).
    pub fn new(level: u8) -> Self {
        // Negative window bits: raw deflate, no zlib header or checksum.
        let flags = create_comp_flags_from_zip_params(i32::from(level), -15, 0);
        Self { compressor: Box::new(CompressorOxide::new(flags)) }
    }

    /// Compresses `data` as the stream's next piece, ending at a byte boundary the receiver
    /// can stop at. The sync flush's fixed tail is left off.
    pub fn piece(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() / 4 + 16);
        let _ = compress_to_output(&mut self.compressor, data, TDEFLFlush::Sync, |bytes| {
            out.extend_from_slice(bytes);
            true
        });
        if out.ends_with(&SYNC_TAIL) {
            out.truncate(out.len() - SYNC_TAIL.len());
        }
        out
    }
}

/// The receiving end of a deflate stream, raw or zlib-wrapped.
pub struct Inflater {
    state: Box<InflateState>,
    format: DataFormat,
}

impl Inflater {
    /// For the pieces of a [`Deflater`].
    pub fn raw() -> Self {
        Self { state: InflateState::new_boxed(DataFormat::Raw), format: DataFormat::Raw }
    }

    /// For a zlib stream (RFB's ZRLE and Tight), whose pieces carry their sync tails.
    pub fn zlib() -> Self {
        Self { state: InflateState::new_boxed(DataFormat::Zlib), format: DataFormat::Zlib }
    }

    /// Starts over: the next piece begins a new stream.
    pub fn reset(&mut self) {
        self.state.reset(self.format);
    }

    /// Inflates a [`Deflater`]'s piece into `out` (cleared first), at most `limit` bytes.
    pub fn piece(&mut self, piece: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), InflateError> {
        out.clear();
        self.feed(piece, out, limit)?;
        self.feed(&SYNC_TAIL, out, limit)
    }

    /// Inflates `input`, the stream's next bytes, onto the end of `out`, which may grow to
    /// `limit` bytes at most.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), InflateError> {
        let mut chunk = [0u8; 32 * 1024];
        loop {
            let result = inflate(&mut self.state, input, &mut chunk, MZFlush::None);
            input = &input[result.bytes_consumed..];
            if out.len() + result.bytes_written > limit {
                return Err(InflateError::TooLarge);
            }
            out.extend_from_slice(&chunk[..result.bytes_written]);
            match result.status {
                // All input taken and the output had room: nothing is held back.
                Ok(MZStatus::Ok) if input.is_empty() && result.bytes_written < chunk.len() => return Ok(()),
                Ok(MZStatus::Ok) => {}
                Ok(MZStatus::StreamEnd) => return Ok(()),
                Err(MZError::Buf) if input.is_empty() => return Ok(()),
                _ => return Err(InflateError::Corrupt),
            }
        }
    }
}

#[cfg(all(test, feature = "encode"))]
mod tests {
    use super::*;

    #[test]
    fn pieces_refer_back_to_earlier_ones_and_inflate_one_by_one() {
        let line = b"line 1: the quick brown fox jumps over the lazy dog, 0123456789\n".repeat(4);
        let (mut tx, mut rx) = (Deflater::new(1), Inflater::raw());
        let first = tx.piece(&line);
        let again = tx.piece(&line);
        assert!(
            again.len() * 4 < first.len(),
            "the second piece is a back-reference: {} vs {}",
            again.len(),
            first.len()
        );
        let mut out = Vec::new();
        for piece in [&first, &again] {
            rx.piece(piece, &mut out, 1 << 20).unwrap();
            assert_eq!(out, line);
        }
        // A receiver that starts over cannot follow a stream that did not.
        rx.reset();
        assert!(rx.piece(&tx.piece(&line), &mut out, 1 << 20).is_err() || out != line);
        // A new stream can be joined at its start.
        let (mut tx, mut rx) = (Deflater::new(1), Inflater::raw());
        rx.piece(&tx.piece(b"hello"), &mut out, 5).unwrap();
        assert_eq!(out, b"hello");
        assert_eq!(rx.piece(&tx.piece(&[7; 100]), &mut out, 99), Err(InflateError::TooLarge));
        assert_eq!(Inflater::raw().piece(&[0xff; 8], &mut out, 100), Err(InflateError::Corrupt));
    }
}
