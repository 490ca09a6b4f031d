//! Known-answer tests against `vectors/known_answers.txt`, written by an independent
//! implementation (`vectors/generate.py`). The same file runs natively and, through
//! wasm-bindgen-test, in headless Chromium, so both builds are held to the same answers.

use hmac::{Hmac, KeyInit, Mac};
use rc4::StreamCipher;
use sha1::Sha1;
use shared::crypto::derive::{traffic_keys, Binding};
use shared::crypto::rc4_hmac::{keyed_rc4_drop, Rc4HmacSha1, DROP_BYTES};
use shared::crypto::{CipherSuite, Direction, KeyChain, Pms};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

const VECTORS: &str = include_str!("vectors/known_answers.txt");

struct Vector<'a> {
    fields: Vec<(&'a str, &'a str)>,
}

impl Vector<'_> {
    fn hex(&self, name: &str) -> Vec<u8> {
        let text = self.text(name);
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex in vector file"))
            .collect()
    }
    fn num(&self, name: &str) -> u64 {
        self.text(name).parse().expect("number in vector file")
    }
    fn text(&self, name: &str) -> &str {
        self.fields.iter().find(|(k, _)| *k == name).map(|(_, v)| *v).unwrap_or_else(|| panic!("vector lacks {name}"))
    }
}

fn vectors(kind: &str) -> Vec<Vector<'static>> {
    let found: Vec<_> = VECTORS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
        .filter(|(k, _)| *k == kind)
        .map(|(_, rest)| Vector { fields: rest.split(' ').filter_map(|f| f.split_once('=')).collect() })
        .collect();
    assert!(!found.is_empty(), "no {kind} vectors");
    found
}

fn nonce(v: &Vector<'_>, name: &str) -> [u8; 32] {
    v.hex(name).try_into().expect("32-byte nonce")
}

#[test]
fn rc4_matches_rfc_6229_before_and_after_the_dropped_prefix() {
    let mut checked_past_drop = 0;
    for v in vectors("rc4") {
        let key = v.hex("key");
        let offset = v.num("offset") as usize;
        let want = v.hex("stream");
        let mut stream = vec![0u8; offset + want.len()];
        if offset >= DROP_BYTES {
            // What rc4-hmac-sha1 actually uses: the keystream after the dropped prefix.
            let mut rc4 = keyed_rc4_drop(&key);
            let mut tail = vec![0u8; offset - DROP_BYTES + want.len()];
            rc4.apply_keystream(&mut tail);
            assert_eq!(&tail[offset - DROP_BYTES..], &want[..], "key {} offset {offset}", v.text("key"));
            checked_past_drop += 1;
        } else {
            let mut rc4 = <rc4::Rc4 as rc4::KeyInit>::new_from_slice(&key).unwrap();
            rc4.apply_keystream(&mut stream);
            assert_eq!(&stream[offset..], &want[..], "key {} offset {offset}", v.text("key"));
        }
    }
    assert!(checked_past_drop >= 9);
}

#[test]
fn hmac_sha1_matches_rfc_2202() {
    for v in vectors("hmac-sha1") {
        let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(&v.hex("key")).unwrap();
        mac.update(&v.hex("data"));
        assert_eq!(mac.finalize().into_bytes().to_vec(), v.hex("mac"));
    }
}

#[test]
fn key_chain_matches_its_definition() {
    for v in vectors("chain") {
        let mut chain = KeyChain::new(Pms::from_slice(&v.hex("pms")).unwrap());
        for _ in 0..v.num("epoch") {
            chain.advance().unwrap();
        }
        assert_eq!(chain.key().expose().to_vec(), v.hex("key"), "epoch {}", v.num("epoch"));
    }
}

#[test]
fn traffic_keys_match_the_expansion() {
    for v in vectors("traffic") {
        let mut chain = KeyChain::new(Pms::from_slice(&v.hex("pms")).unwrap());
        let epoch = v.num("epoch") as u32;
        for _ in 0..epoch {
            chain.advance().unwrap();
        }
        let suite = CipherSuite::from_id(v.num("suite") as u8).unwrap();
        let direction = if v.num("direction") == 1 { Direction::ClientToServer } else { Direction::ServerToClient };
        let (cn, sn) = (nonce(&v, "client_nonce"), nonce(&v, "server_nonce"));
        let binding = Binding { suite, generation: v.num("generation") as u16, client_nonce: &cn, server_nonce: &sn };
        let keys = traffic_keys(chain.key(), &binding, direction, epoch);
        assert_eq!(keys.enc.to_vec(), v.hex("enc"));
        assert_eq!(keys.mac.to_vec(), v.hex("mac"));
    }
}

#[test]
fn rc4_hmac_record_matches_the_reference() {
    for v in vectors("seal-rc4") {
        let chain = KeyChain::new(Pms::from_slice(&v.hex("pms")).unwrap());
        let (cn, sn) = (nonce(&v, "client_nonce"), nonce(&v, "server_nonce"));
        let binding = Binding { suite: CipherSuite::Rc4HmacSha1, generation: 0, client_nonce: &cn, server_nonce: &sn };
        let keys = traffic_keys(chain.key(), &binding, Direction::ClientToServer, 0);
        let mut sealer = Rc4HmacSha1::new(&keys.enc[..16], &keys.mac);
        let mut body = v.hex("plaintext");
        sealer.seal(v.num("seq"), &v.hex("header"), &mut body, 0);
        assert_eq!(body, v.hex("body"));

        let mut opener = Rc4HmacSha1::new(&keys.enc[..16], &keys.mac);
        opener.open(v.num("seq"), &v.hex("header"), &mut body, 0).unwrap();
        assert_eq!(body, v.hex("plaintext"));
    }
}
