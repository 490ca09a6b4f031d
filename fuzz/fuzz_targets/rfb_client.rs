//! The RFB client fed arbitrary server bytes from the very first one (greeting, security
//! handshake and ServerInit included), split at an arbitrary point: errors or waits, never
//! panics. The first byte picks the split and whether the client holds a VNC password, so that
//! both security paths are reached.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rfb::{Client, Config};

fuzz_target!(|data: &[u8]| {
    let Some((&first, data)) = data.split_first() else { return };
    let password = (first & 0x80 != 0).then(|| "password".to_string().into());
    let mut client = Client::new(Config { password, ..Config::default() });
    let split = usize::from(first & 0x7f).min(data.len());
    let (head, tail) = data.split_at(split);
    if client.feed(head).is_ok() {
        let _ = client.feed(tail);
    }
    let _ = client.take_outgoing();
});
