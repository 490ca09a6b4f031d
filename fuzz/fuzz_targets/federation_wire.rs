//! What a controller reads of its peers, from arbitrary bytes: a session token, a signed
//! envelope (its body is read before its signature is checked, to learn the sender), the data
//! request and answer inside, a moving session's parts as they are merged and updated, and
//! sealed credentials. Never a panic.
#![no_main]

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use federation_wire::data::{check_parts, SessionData};
use federation_wire::envelope::{self, Signed};
use federation_wire::messages::{DataAnswer, DataRequest, ANSWER, ASK};
use federation_wire::{seal, token};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = SigningKey::from_bytes(&[1; 32]);
    let known = key.verifying_key();
    let text = String::from_utf8_lossy(data);
    if let Ok(claims) = token::decode::<String>(&text, |_| Some(known)) {
        let _ = token::check_times(&claims, "node-a", 0);
    }
    use base64::Engine;
    let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data);
    for signed in
        [Signed { body, signature: String::new() }].into_iter().chain(serde_json::from_slice::<Signed>(data).ok())
    {
        let _ = envelope::open::<DataRequest>(&signed, ASK, "node-a", |_| Some(known), 0);
        let _ = envelope::open::<DataAnswer>(&signed, ANSWER, "node-a", |_| Some(known), 0);
        let _ = envelope::digest(&signed);
    }
    if let Ok(answer) = serde_json::from_slice::<DataAnswer>(data) {
        if check_parts(&answer.parts, answer.version).is_ok() {
            let mut session = SessionData::default();
            session.merge(answer.version, answer.parts.clone());
            let _ = session.since(answer.version / 2);
            let _ = session.consoles_elsewhere("node-a");
            let bodies: BTreeMap<String, serde_json::Value> =
                answer.parts.into_iter().map(|(name, part)| (name, part.body)).collect();
            session.update(bodies);
        }
    }
    let _ = seal::open(&key, b"context", data);
});
