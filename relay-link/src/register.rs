//! A controller's registration: its name at the relay, proved by its node key (the key agents
//! pin), against a challenge the relay drew for this connection so that a registration cannot
//! be replayed later or at another relay. The relay admits only keys on its allow list.

use agent_link::Pin;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};

use crate::frame::Frame;
use crate::RelayError;

const CONTEXT: &[u8] = b"lantern relay registration v1";
/// A name is one DNS label, so that `<name>.<relay domain>` is a host name.
const MAX_NAME: usize = 63;

fn message(nonce: &[u8; 32], name: &str) -> Vec<u8> {
    [CONTEXT, nonce.as_slice(), &[name.len() as u8], name.as_bytes()].concat()
}

/// A name a controller may register under: a DNS label, lowercase.
pub fn check_name(name: &str) -> Result<(), RelayError> {
    let label = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if label {
        Ok(())
    } else {
        Err(RelayError::Refused(format!("{name:?} is not a name: 1 to 63 of a-z, 0-9 and '-', not first or last")))
    }
}

/// The controller's registration frame for this challenge.
pub fn register(key: &SigningKey, nonce: &[u8; 32], name: &str) -> Frame {
    Frame::Register {
        name: name.to_string(),
        key: key.verifying_key().to_bytes(),
        signature: key.sign(&message(nonce, name)).to_bytes(),
    }
}

/// Checks a registration against the challenge and the allow list; the controller's pin when
/// it holds.
pub fn verify(
    nonce: &[u8; 32],
    name: &str,
    key: &[u8; 32],
    signature: &[u8; 64],
    allowed: &[Pin],
) -> Result<Pin, RelayError> {
    check_name(name)?;
    let pin = Pin::of(key);
    if !allowed.contains(&pin) {
        return Err(RelayError::Refused(format!("the key {pin} may not register here")));
    }
    let key = VerifyingKey::from_bytes(key).map_err(|_| RelayError::Refused("not an Ed25519 key".into()))?;
    let signature = ed25519_dalek::Signature::from_bytes(signature);
    key.verify(&message(nonce, name), &signature)
        .map_err(|_| RelayError::Refused("the registration's signature does not verify".into()))?;
    Ok(pin)
}

/// The controller a connection asked for: `<name>.<domain>`, or the name alone.
pub fn name_for<'a>(server_name: &'a str, domain: &str) -> Option<&'a str> {
    let name = match server_name.strip_suffix(domain).and_then(|rest| rest.strip_suffix('.')) {
        Some(name) if !domain.is_empty() => name,
        _ => server_name,
    };
    check_name(name).ok().map(|()| name)
}
