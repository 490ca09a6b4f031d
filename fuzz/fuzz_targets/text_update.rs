//! The text-mode decoder: any bytes give an error and leave the screen untouched, or apply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::video::text::{apply, TextScreen};

fuzz_target!(|data: &[u8]| {
    let Ok(mut screen) = TextScreen::new(80, 25) else { return };
    let before = screen.clone();
    if apply(&mut screen, data).is_err() {
        assert_eq!(screen, before);
    }
});
