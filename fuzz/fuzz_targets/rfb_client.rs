//! The RFB client fed arbitrary server bytes after a valid handshake, split at an arbitrary
//! point: errors or waits, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rfb::{Client, Config};

fuzz_target!(|data: &[u8]| {
    let mut greeting = b"RFB 003.008\n\x01\x01\0\0\0\0".to_vec();
    greeting.extend_from_slice(&[0, 64, 0, 48, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0, 0, 0, 0, 0]);
    let mut client = Client::new(Config::default());
    if client.feed(&greeting).is_err() {
        return;
    }
    let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    if client.feed(&data[..split]).is_ok() {
        let _ = client.feed(&data[split..]);
    }
});
