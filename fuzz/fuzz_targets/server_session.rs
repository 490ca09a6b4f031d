//! The controller's state machine fed arbitrary records (split on 0xff 0xff): never a panic.
#![no_main]

#[path = "common/known_keys.rs"]
mod known_keys;

use known_keys::KnownKeys;
use libfuzzer_sys::fuzz_target;
use shared::crypto::CipherSuite;
use shared::session::{ControllerIdentity, ServerConfig, ServerSession};
use shared::wire::handshake::KeySchedule;

fuzz_target!(|data: &[u8]| {
    let mut session = ServerSession::new(ServerConfig {
        suites: CipherSuite::ALL.to_vec(),
        schedule: KeySchedule::default(),
        identity: ControllerIdentity::from_seed(&[0x1d; 32]),
    });
    for (i, record) in data.split(|&b| b == 0xff).enumerate() {
        let _ = session.handle_record(record.to_vec(), i as u64, &mut KnownKeys);
        let _ = session.take_outgoing();
    }
});
