use std::sync::Arc;

use agent_link::Pin;
use ed25519_dalek::SigningKey;
use proptest::prelude::*;

use crate::frame::{Decoder, Frame, MAX_FRAME};
use crate::register::{check_name, name_for, register, verify};
use crate::sni::{self, Hello, SniError};
use crate::RelayError;

/// The first bytes a real TLS client (rustls, as the agent uses) sends for `name`.
fn client_hello(name: &str) -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let server = rustls::pki_types::ServerName::try_from(name.to_string()).unwrap();
    let mut client = rustls::ClientConnection::new(Arc::new(config), server).unwrap();
    let mut out = Vec::new();
    client.write_tls(&mut out).unwrap();
    out
}

#[test]
fn the_server_name_is_read_from_a_real_client_hello_and_not_before_it_is_whole() {
    let hello = client_hello("Ctl-A.relay.example");
    assert_eq!(sni::parse(&hello), Ok(Hello::ServerName(Some("ctl-a.relay.example".into()))));
    for cut in 0..hello.len() {
        assert_eq!(sni::parse(&hello[..cut]), Ok(Hello::Incomplete), "{cut} bytes");
    }
    // An address, not a name: TLS sends no server name for it.
    let by_address = client_hello("127.0.0.1");
    assert_eq!(sni::parse(&by_address), Ok(Hello::ServerName(None)));
}

#[test]
fn what_is_not_a_client_hello_is_refused() {
    assert_eq!(sni::parse(b"GET / HTTP/1.1\r\n"), Err(SniError::NotTls));
    assert_eq!(sni::parse(&[22, 3, 1, 0xff, 0xff]), Err(SniError::TooLarge));
    assert!(matches!(sni::parse(&[22, 3, 1, 0, 4, 2, 0, 0, 0]), Err(SniError::Malformed(_))));
    let mut hello = client_hello("ctl-a.relay.example");
    let name_at = hello.windows(5).position(|w| w == b"ctl-a").unwrap();
    hello[name_at] = b'/';
    assert!(matches!(sni::parse(&hello), Err(SniError::Malformed(_))), "a name with a slash");
}

#[test]
fn every_frame_round_trips_through_a_decoder_fed_byte_by_byte() {
    let frames = vec![
        Frame::Challenge { nonce: [1; 32] },
        Frame::Register { name: "ctl-a".into(), key: [2; 32], signature: [3; 64] },
        Frame::Registered { host: "ctl-a.relay.example".into() },
        Frame::Refused { reason: "no".into() },
        Frame::Open { path: [4; 16], client: "192.0.2.1:5000".into() },
        Frame::Attach { path: [5; 16] },
        Frame::Ping(6),
        Frame::Pong(7),
    ];
    let bytes: Vec<u8> = frames.iter().flat_map(Frame::encode).collect();
    let mut decoder = Decoder::default();
    let mut seen = Vec::new();
    for byte in bytes {
        decoder.feed(&[byte]);
        while let Some(frame) = decoder.next_frame().unwrap() {
            seen.push(frame);
        }
    }
    assert_eq!(seen, frames);
}

#[test]
fn an_oversized_or_unknown_frame_is_an_error() {
    let mut decoder = Decoder::default();
    decoder.feed(&u16::try_from(MAX_FRAME + 1).unwrap().to_be_bytes());
    assert!(matches!(decoder.next_frame(), Err(RelayError::Malformed(_))));
    let mut decoder = Decoder::default();
    decoder.feed(&[0, 1, 99]);
    assert!(matches!(decoder.next_frame(), Err(RelayError::Malformed(_))));
}

#[test]
fn a_registration_holds_only_for_its_challenge_its_name_and_a_listed_key() {
    let key = SigningKey::from_bytes(&[9; 32]);
    let pin = Pin::of(&key.verifying_key().to_bytes());
    let Frame::Register { name, key: public, signature } = register(&key, &[1; 32], "ctl-a") else { panic!() };
    assert_eq!(verify(&[1; 32], &name, &public, &signature, &[pin]), Ok(pin));
    assert!(verify(&[2; 32], &name, &public, &signature, &[pin]).is_err(), "another challenge");
    assert!(verify(&[1; 32], "ctl-b", &public, &signature, &[pin]).is_err(), "another name");
    assert!(verify(&[1; 32], &name, &public, &signature, &[]).is_err(), "a key not on the list");
    let other = SigningKey::from_bytes(&[8; 32]);
    let other_pin = Pin::of(&other.verifying_key().to_bytes());
    assert!(verify(&[1; 32], &name, &other.verifying_key().to_bytes(), &signature, &[other_pin]).is_err());
}

#[test]
fn names_are_dns_labels_found_under_the_relays_domain() {
    for bad in ["", "-a", "a-", "A", "a.b", "a_b", &"a".repeat(64)] {
        assert!(check_name(bad).is_err(), "{bad:?}");
    }
    assert_eq!(name_for("ctl-a.relay.example", "relay.example"), Some("ctl-a"));
    assert_eq!(name_for("ctl-a", "relay.example"), Some("ctl-a"));
    assert_eq!(name_for("x.ctl-a.relay.example", "relay.example"), None);
    assert_eq!(name_for("relay.example", "relay.example"), None);
}

proptest! {
    #[test]
    fn any_bytes_parse_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = sni::parse(&bytes);
        let mut with_tls_start = vec![22u8, 3, 1];
        with_tls_start.extend_from_slice(&bytes);
        let _ = sni::parse(&with_tls_start);
        let mut decoder = Decoder::default();
        decoder.feed(&bytes);
        while let Ok(Some(_)) = decoder.next_frame() {}
    }
}
