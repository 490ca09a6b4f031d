//! Clear handshake messages: hello, key confirmation and alerts.

use super::codec::{Reader, Writer};
use super::{DecodeError, KeyId, Nonce, RecordType, CONTROLLER_KEY_LEN, KEY_ID_LEN, NONCE_LEN, SIGNATURE_LEN};
use crate::crypto::derive::PROOF_LEN;
use crate::crypto::CipherSuite;

const MAGIC: &[u8; 4] = b"LNTN";
const MAX_ALERT_TEXT: usize = 256;

/// The applet names its key and offers suites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    pub version: u16,
    pub key_id: KeyId,
    pub client_nonce: Nonce,
    /// In the client's order of preference; unknown suite ids are skipped.
    pub suites: Vec<CipherSuite>,
}

/// The controller's choice of suite and the key schedule both sides now follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    pub version: u16,
    pub suite: CipherSuite,
    pub server_nonce: Nonce,
    pub schedule: KeySchedule,
}

/// When keys change: epochs by volume or time, the whole PMS by its key life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySchedule {
    /// A sender moves to the next epoch once it has sealed this many plaintext bytes in one.
    pub epoch_bytes: u32,
    /// A sender moves to the next epoch once the current one is this old.
    pub epoch_millis: u32,
    /// The controller closes the link when a PMS is older than this; the applet switches to
    /// a fresh one before then.
    pub key_life_millis: u32,
}

impl Default for KeySchedule {
    fn default() -> Self {
        Self { epoch_bytes: 4 << 20, epoch_millis: 60_000, key_life_millis: 300_000 }
    }
}

/// Why a link (or a key switch) was refused or closed. Codes are stable on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertCode {
    Closed,
    UnknownKey,
    ExpiredKey,
    ReusedKey,
    KeyNotForThisSession,
    NoCommonSuite,
    UnsupportedVersion,
    KeyConfirmationFailed,
    IntegrityFailure,
    ProtocolViolation,
    KeyLifeExpired,
    HostUnavailable,
    InternalError,
    /// The user lost the right to this link (account deleted, role or rights narrowed,
    /// password reset, session or token ended) while it was open.
    AccessRevoked,
    /// The controller did not sign the handshake with the key the page was given: something
    /// other than the controller answered.
    UnverifiedController,
    Other(u8),
}

impl AlertCode {
    pub fn byte(self) -> u8 {
        match self {
            AlertCode::Closed => 0,
            AlertCode::UnknownKey => 1,
            AlertCode::ExpiredKey => 2,
            AlertCode::ReusedKey => 3,
            AlertCode::KeyNotForThisSession => 4,
            AlertCode::NoCommonSuite => 5,
            AlertCode::UnsupportedVersion => 6,
            AlertCode::KeyConfirmationFailed => 7,
            AlertCode::IntegrityFailure => 8,
            AlertCode::ProtocolViolation => 9,
            AlertCode::KeyLifeExpired => 10,
            AlertCode::HostUnavailable => 11,
            AlertCode::InternalError => 12,
            AlertCode::AccessRevoked => 13,
            AlertCode::UnverifiedController => 14,
            AlertCode::Other(b) => b,
        }
    }

    pub fn from_byte(b: u8) -> Self {
        const KNOWN: [AlertCode; 15] = [
            AlertCode::Closed,
            AlertCode::UnknownKey,
            AlertCode::ExpiredKey,
            AlertCode::ReusedKey,
            AlertCode::KeyNotForThisSession,
            AlertCode::NoCommonSuite,
            AlertCode::UnsupportedVersion,
            AlertCode::KeyConfirmationFailed,
            AlertCode::IntegrityFailure,
            AlertCode::ProtocolViolation,
            AlertCode::KeyLifeExpired,
            AlertCode::HostUnavailable,
            AlertCode::InternalError,
            AlertCode::AccessRevoked,
            AlertCode::UnverifiedController,
        ];
        KNOWN.into_iter().find(|c| c.byte() == b).unwrap_or(AlertCode::Other(b))
    }

    /// The WebSocket close code (RFC 6455) a link ended by this alert closes with: 1000 for a
    /// normal close, 1008 (policy) for refused or withdrawn keys and rights, 1002 (protocol)
    /// for a peer that broke the protocol, 1011 for our own failure, 1013 (try again later)
    /// for a host that is not there.
    pub fn close_code(self) -> u16 {
        match self {
            AlertCode::Closed => 1000,
            AlertCode::UnknownKey
            | AlertCode::ExpiredKey
            | AlertCode::ReusedKey
            | AlertCode::KeyNotForThisSession
            | AlertCode::KeyConfirmationFailed
            | AlertCode::KeyLifeExpired
            | AlertCode::AccessRevoked
            | AlertCode::UnverifiedController => 1008,
            AlertCode::NoCommonSuite
            | AlertCode::UnsupportedVersion
            | AlertCode::IntegrityFailure
            | AlertCode::ProtocolViolation
            | AlertCode::Other(_) => 1002,
            AlertCode::HostUnavailable => 1013,
            AlertCode::InternalError => 1011,
        }
    }

    /// A sentence a user can act on; the UI shows it as is.
    pub fn describe(self) -> &'static str {
        match self {
            AlertCode::Closed => "the console session was closed",
            AlertCode::UnknownKey => "console key is unknown",
            AlertCode::ExpiredKey => "console key has expired",
            AlertCode::ReusedKey => "console key was already used",
            AlertCode::KeyNotForThisSession => "console key was issued for another session or host",
            AlertCode::NoCommonSuite => "no cipher suite in common with the controller",
            AlertCode::UnsupportedVersion => "unsupported console protocol version",
            AlertCode::KeyConfirmationFailed => "key confirmation failed",
            AlertCode::IntegrityFailure => "a record failed its integrity check",
            AlertCode::ProtocolViolation => "console protocol violation",
            AlertCode::KeyLifeExpired => "console key life ended before it was renewed",
            AlertCode::HostUnavailable => "host is unavailable",
            AlertCode::InternalError => "internal error in the controller",
            AlertCode::AccessRevoked => "your access to this console was withdrawn",
            AlertCode::UnverifiedController => {
                "the console server did not prove it is this controller (wrong node key): the link may \
                 pass through someone else, so it was stopped"
            }
            AlertCode::Other(_) => "console closed for an unknown reason",
        }
    }
}

/// An alert as sent: a code and a short human sentence (never key material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub code: AlertCode,
    pub message: String,
}

impl Alert {
    pub fn new(code: AlertCode) -> Self {
        Self { code, message: code.describe().into() }
    }

    pub fn with_message(code: AlertCode, message: impl Into<String>) -> Self {
        let mut message: String = message.into();
        let kept = crate::text::truncated(&message, MAX_ALERT_TEXT).len();
        message.truncate(kept);
        Self { code, message }
    }

    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) {
        out.put_u8(self.code.byte());
        out.put_length_prefixed(self.message.as_bytes());
    }

    pub(crate) fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let code = AlertCode::from_byte(r.u8("alert code")?);
        let message = r.string(MAX_ALERT_TEXT, "alert message")?.into();
        Ok(Self { code, message })
    }
}

impl core::fmt::Display for Alert {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeMessage {
    ClientHello(ClientHello),
    ServerHello(ServerHello),
    /// The controller's node key and its signature over the transcript so far (both hellos).
    Identity {
        public_key: [u8; CONTROLLER_KEY_LEN],
        signature: [u8; SIGNATURE_LEN],
    },
    /// Proof over the transcript that the sender holds the PMS.
    Finished([u8; PROOF_LEN]),
    Alert(Alert),
}

impl HandshakeMessage {
    /// The whole record, type byte included.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![RecordType::Handshake.byte()];
        match self {
            HandshakeMessage::ClientHello(h) => {
                out.put_u8(1);
                out.put_bytes(MAGIC);
                out.put_u16(h.version);
                out.put_bytes(&h.key_id.0);
                out.put_bytes(&h.client_nonce);
                out.put_u8(h.suites.len().min(16) as u8);
                for s in h.suites.iter().take(16) {
                    out.put_u8(s.id());
                }
            }
            HandshakeMessage::ServerHello(h) => {
                out.put_u8(2);
                out.put_u16(h.version);
                out.put_u8(h.suite.id());
                out.put_bytes(&h.server_nonce);
                out.put_u32(h.schedule.epoch_bytes);
                out.put_u32(h.schedule.epoch_millis);
                out.put_u32(h.schedule.key_life_millis);
            }
            HandshakeMessage::Finished(proof) => {
                out.put_u8(3);
                out.put_bytes(proof);
            }
            HandshakeMessage::Alert(alert) => {
                out.put_u8(4);
                alert.encode_body(&mut out);
            }
            HandshakeMessage::Identity { public_key, signature } => {
                out.put_u8(5);
                out.put_bytes(public_key);
                out.put_bytes(signature);
            }
        }
        out
    }

    /// Decodes a handshake record's body (after the record type byte).
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let msg = match r.u8("handshake type")? {
            1 => {
                if r.bytes(4, "hello magic")? != MAGIC {
                    return Err(DecodeError::Invalid { field: "hello magic", reason: "not a Lantern console client" });
                }
                let version = r.u16("client version")?;
                let key_id = KeyId(r.array::<KEY_ID_LEN>("key id")?);
                let client_nonce = r.array::<NONCE_LEN>("client nonce")?;
                let count = r.u8("suite count")?;
                if count > 16 {
                    return Err(DecodeError::TooLong { field: "suite list", max: 16 });
                }
                let mut suites = Vec::new();
                for _ in 0..count {
                    if let Some(s) = CipherSuite::from_id(r.u8("suite")?) {
                        suites.push(s);
                    }
                }
                HandshakeMessage::ClientHello(ClientHello { version, key_id, client_nonce, suites })
            }
            2 => {
                let version = r.u16("server version")?;
                let suite_id = r.u8("suite")?;
                let suite =
                    CipherSuite::from_id(suite_id).ok_or(DecodeError::Unknown { field: "suite", value: suite_id })?;
                let server_nonce = r.array::<NONCE_LEN>("server nonce")?;
                let schedule = KeySchedule {
                    epoch_bytes: r.u32("epoch bytes")?,
                    epoch_millis: r.u32("epoch millis")?,
                    key_life_millis: r.u32("key life")?,
                };
                if schedule.epoch_bytes == 0 || schedule.epoch_millis == 0 || schedule.key_life_millis == 0 {
                    return Err(DecodeError::Invalid { field: "key schedule", reason: "zero interval" });
                }
                HandshakeMessage::ServerHello(ServerHello { version, suite, server_nonce, schedule })
            }
            3 => HandshakeMessage::Finished(r.array::<PROOF_LEN>("finished")?),
            4 => HandshakeMessage::Alert(Alert::decode_body(&mut r)?),
            5 => HandshakeMessage::Identity {
                public_key: r.array::<CONTROLLER_KEY_LEN>("controller key")?,
                signature: r.array::<SIGNATURE_LEN>("transcript signature")?,
            },
            other => return Err(DecodeError::Unknown { field: "handshake type", value: other }),
        };
        r.finish("handshake message")?;
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_controllers_identity_round_trips_and_a_cut_one_is_refused() {
        let identity =
            HandshakeMessage::Identity { public_key: [7; CONTROLLER_KEY_LEN], signature: [9; SIGNATURE_LEN] };
        let record = identity.encode();
        assert_eq!(HandshakeMessage::decode(&record[1..]), Ok(identity));
        assert!(matches!(
            HandshakeMessage::decode(&record[1..record.len() - 1]),
            Err(DecodeError::Truncated { field: "transcript signature" })
        ));
    }
}
