//! The relay's parsers from arbitrary bytes: the ClientHello it routes by (as the start of a
//! connection, and behind a TLS record header), and controllers' frames fed through the
//! decoder in pieces. Never a panic; a frame that decodes encodes back to the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relay_link::sni;
use relay_link::{Decoder, Frame};

fuzz_target!(|data: &[u8]| {
    let _ = sni::parse(data);
    let mut record = vec![22u8, 3, 1];
    record.extend_from_slice(&(data.len().min(u16::MAX as usize) as u16).to_be_bytes());
    record.extend_from_slice(data);
    let _ = sni::parse(&record);
    if let Ok(frame) = Frame::decode(data) {
        let encoded = frame.encode();
        assert_eq!(Frame::decode(&encoded[2..]).ok(), Some(frame));
    }
    let mut decoder = Decoder::default();
    for piece in data.chunks(7) {
        decoder.feed(piece);
        while let Ok(Some(_)) = decoder.next_frame() {}
    }
});
