//! The controller's state machine fed arbitrary records (split on 0xff 0xff): never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::crypto::{CipherSuite, Pms};
use shared::session::{KeyPurpose, ServerConfig, ServerEnv, ServerSession};
use shared::wire::handshake::KeySchedule;
use shared::wire::{Alert, AlertCode, KeyId, Nonce};

struct Env;

impl ServerEnv for Env {
    fn claim_key(&mut self, key_id: &KeyId, _: KeyPurpose) -> Result<Pms, Alert> {
        // Every key id starting with 1 is "known", so the fuzzer can reach key confirmation.
        if key_id.0[0] == 1 {
            Ok(Pms::from_bytes([7; 32]))
        } else {
            Err(Alert::new(AlertCode::UnknownKey))
        }
    }
    fn nonce(&mut self) -> Nonce {
        [9; 32]
    }
}

fuzz_target!(|data: &[u8]| {
    let mut session = ServerSession::new(ServerConfig { suites: CipherSuite::ALL.to_vec(), schedule: KeySchedule::default() });
    for (i, record) in data.split(|&b| b == 0xff).enumerate() {
        let _ = session.handle_record(record, i as u64, &mut Env);
        let _ = session.take_outgoing();
    }
});
