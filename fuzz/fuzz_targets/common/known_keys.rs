//! The controller's key store, as the fuzz targets see it: every key id starting with 1 is
//! known (so the fuzzer can reach key confirmation), any other is refused.

use shared::crypto::Pms;
use shared::session::{KeyPurpose, ServerEnv};
use shared::wire::{Alert, AlertCode, KeyId, Nonce};

pub struct KnownKeys;

/// The PMS of every known key.
pub const PMS: [u8; 32] = [7; 32];

impl ServerEnv for KnownKeys {
    fn claim_key(&mut self, key_id: &KeyId, _: KeyPurpose) -> Result<Pms, Alert> {
        if key_id.0[0] == 1 {
            Ok(Pms::from_bytes(PMS))
        } else {
            Err(Alert::new(AlertCode::UnknownKey))
        }
    }
    fn nonce(&mut self) -> Nonce {
        [9; 32]
    }
}
