//! Serial output is whatever the host's port writes: the terminal must take any bytes, in any
//! pieces, and always give a valid screen whose delta re-applies exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::terminal::Terminal;
use shared::video::text;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let mut term = Terminal::new(80, 24);
    let mut shown = term.snapshot();
    for piece in rest.chunks(usize::from(split).max(1)) {
        term.feed(piece);
        let next = term.snapshot();
        if let Some(update) = text::encode_delta(&shown, &next) {
            text::apply(&mut shown, &update).expect("our own delta applies");
            assert_eq!(shown, next);
        }
        let _ = term.modes();
    }
});
