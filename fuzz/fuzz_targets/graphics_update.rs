//! Graphics updates (tile codec) from a hostile controller: errors, never panics, and a failed
//! update leaves the frame untouched. The input is cut into several updates fed to one stream
//! decoder, so restarts, pieces that refer back to earlier ones and broken streams are covered;
//! each piece also goes to the standalone decoder and the pointer-shape decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::video::cursor::Cursor;
use shared::video::frame::Framebuffer;
use shared::video::tiles::{apply, StreamDecoder};

fuzz_target!(|data: &[u8]| {
    let Ok(mut frame) = Framebuffer::new(200, 130) else { return };
    let mut stream = StreamDecoder::default();
    // Updates are separated by the byte sequence ff 00 ff.
    let mut rest = data;
    while !rest.is_empty() {
        let cut = rest.windows(3).position(|w| w == [0xff, 0x00, 0xff]).unwrap_or(rest.len());
        let update = &rest[..cut];
        rest = rest.get(cut + 3..).unwrap_or_default();
        let before = frame.clone();
        if stream.apply(&mut frame, update).is_err() {
            assert!(frame == before, "a failed stream update changed the frame");
        }
        if let Ok(cursor) = Cursor::decode(update) {
            assert_eq!(cursor.rgba.len(), usize::from(cursor.width) * usize::from(cursor.height) * 4);
        }
        let mut alone = frame.clone();
        let before = alone.clone();
        if apply(&mut alone, update).is_err() {
            assert!(alone == before, "a failed update changed the frame");
        }
    }
});
