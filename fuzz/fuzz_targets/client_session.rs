//! The applet's state machine fed arbitrary records (split on 0xff): never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::crypto::{CipherSuite, Pms};
use shared::session::{ClientConfig, ClientSession, ControllerIdentity};
use shared::wire::KeyId;

fuzz_target!(|data: &[u8]| {
    let config = ClientConfig {
        key_id: KeyId([1; 16]),
        pms: Pms::from_bytes([7; 32]),
        suites: CipherSuite::ALL.to_vec(),
        controller_key: ControllerIdentity::from_seed(&[0x1d; 32]).public_key(),
    };
    let mut session = ClientSession::new(config, [3; 32]);
    for (i, record) in data.split(|&b| b == 0xff).enumerate() {
        let _ = session.handle_record(record.to_vec(), i as u64);
        let _ = session.take_outgoing();
    }
});
