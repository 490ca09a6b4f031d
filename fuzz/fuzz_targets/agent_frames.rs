//! The agent link's parsers from arbitrary bytes, fast (no handshake per run): channel frames,
//! the clear hello and reply, tokens, pins and the controller's proof. Never a panic; what
//! decodes encodes back to something that decodes the same.
#![no_main]

use agent_link::enrol::EnrolToken;
use agent_link::hello::{decode_reply, Hello};
use agent_link::{Frame, NodeProof, Pin};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = Frame::decode(data) {
        assert_eq!(Frame::decode(&frame.encode()).ok(), Some(frame));
    }
    if let Ok((hello, prologue, rest)) = Hello::decode(data) {
        assert_eq!(prologue.len() + rest.len(), data.len());
        // Not always the same bytes (a length may be written long), but the same hello: and the
        // prologue is the bytes as received, so a rewritten one fails the handshake.
        let again = hello.encode();
        assert_eq!(Hello::decode(&again).ok().map(|(h, p, _)| (h, p.to_vec())), Some((hello, again.clone())));
    }
    let _ = decode_reply(data);
    let _ = NodeProof::from_bytes(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = EnrolToken::parse(text);
        let _ = Pin::parse(text);
    }
});
