//! Graphics updates (tile codec) from a hostile controller: errors, never panics, and a failed
//! update leaves the frame untouched.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::video::frame::Framebuffer;
use shared::video::tiles::apply;

fuzz_target!(|data: &[u8]| {
    let Ok(mut frame) = Framebuffer::new(200, 130) else { return };
    let before = frame.clone();
    if apply(&mut frame, data).is_err() {
        assert!(frame == before, "a failed update changed the frame");
    }
});
