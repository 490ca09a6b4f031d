//! Every decoder of the wire format: must return an error, never panic, on any bytes; and what
//! it accepts must encode back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::wire::record::Record;
use shared::wire::{HandshakeMessage, Message};

fuzz_target!(|data: &[u8]| {
    if let Ok(Record::Handshake(body)) = Record::parse(data) {
        if let Ok(msg) = HandshakeMessage::decode(body) {
            let _ = msg.encode();
        }
    }
    if let Ok(msg) = Message::decode(data) {
        let mut again = Vec::new();
        msg.encode(&mut again);
        assert_eq!(Message::decode(&again).ok(), Some(msg));
    }
});
