//! Sealing and opening records under the current keys, following the key schedule.
//!
//! Each direction keeps its own position: a key generation (one PMS), an epoch in that PMS's
//! chain, and an implicit sequence number that counts every record sent that way since the
//! link opened. The sender moves to the next epoch when the schedule says so and marks it in the
//! clear (authenticated) header; the receiver follows one step at a time and refuses a sender
//! that skips epochs or stays in one past its byte budget.

use crate::crypto::derive::{traffic_keys, Binding};
use crate::crypto::{CipherSuite, Direction, KeyChain, Pms, RecordCipher};
use crate::wire::handshake::KeySchedule;
use crate::wire::message::Channel;
use crate::wire::record::{Record, RecordHeader, MAX_PLAINTEXT, SEALED_HEADER_LEN};
use crate::wire::{Message, Nonce};

use super::SessionError;

/// The secrets of one key generation: a PMS and the nonces of the exchange that introduced it.
#[derive(Clone)]
pub struct GenerationSecrets {
    pub pms: Pms,
    pub suite: CipherSuite,
    pub generation: u16,
    pub client_nonce: Nonce,
    pub server_nonce: Nonce,
}

impl GenerationSecrets {
    pub fn binding(&self) -> Binding<'_> {
        Binding {
            suite: self.suite,
            generation: self.generation,
            client_nonce: &self.client_nonce,
            server_nonce: &self.server_nonce,
        }
    }
}

struct DirectionState {
    direction: Direction,
    secrets: GenerationSecrets,
    chain: KeyChain,
    cipher: RecordCipher,
    bytes_in_epoch: u64,
    epoch_started_ms: u64,
}

impl DirectionState {
    fn new(secrets: GenerationSecrets, direction: Direction, now_ms: u64) -> Self {
        let chain = KeyChain::new(secrets.pms.clone());
        let keys = traffic_keys(chain.key(), &secrets.binding(), direction, 0);
        let cipher = RecordCipher::new(secrets.suite, &keys);
        Self { direction, secrets, chain, cipher, bytes_in_epoch: 0, epoch_started_ms: now_ms }
    }

    fn header(&self) -> RecordHeader {
        RecordHeader { generation: self.secrets.generation, epoch: self.chain.epoch() }
    }

    fn advance(&mut self, now_ms: u64) -> Result<(), SessionError> {
        *self = self.next_epoch(now_ms)?;
        Ok(())
    }

    /// This direction moved on by one epoch, built aside; `self` is untouched.
    fn next_epoch(&self, now_ms: u64) -> Result<Self, SessionError> {
        let mut chain = self.chain.clone();
        chain.advance().ok_or(SessionError::Epoch("key epochs exhausted"))?;
        let keys = traffic_keys(chain.key(), &self.secrets.binding(), self.direction, chain.epoch());
        let cipher = RecordCipher::new(self.secrets.suite, &keys);
        Ok(Self {
            direction: self.direction,
            secrets: self.secrets.clone(),
            chain,
            cipher,
            bytes_in_epoch: 0,
            epoch_started_ms: now_ms,
        })
    }

    fn epoch_due(&self, schedule: &KeySchedule, now_ms: u64) -> bool {
        self.bytes_in_epoch >= u64::from(schedule.epoch_bytes)
            || now_ms.saturating_sub(self.epoch_started_ms) >= u64::from(schedule.epoch_millis)
    }
}

/// Where one direction stands, for the status bar and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPosition {
    pub generation: u16,
    pub epoch: u32,
}

pub struct RecordLayer {
    schedule: KeySchedule,
    tx: DirectionState,
    rx: DirectionState,
    /// Receive keys of the next generation, armed during a key switch until its first record.
    pending_rx: Option<DirectionState>,
    tx_seq: u64,
    rx_seq: u64,
}

impl RecordLayer {
    pub fn new(secrets: GenerationSecrets, sends: Direction, schedule: KeySchedule, now_ms: u64) -> Self {
        let receives = opposite(sends);
        Self {
            schedule,
            tx: DirectionState::new(secrets.clone(), sends, now_ms),
            rx: DirectionState::new(secrets, receives, now_ms),
            pending_rx: None,
            tx_seq: 0,
            rx_seq: 0,
        }
    }

    pub fn tx_position(&self) -> KeyPosition {
        let h = self.tx.header();
        KeyPosition { generation: h.generation, epoch: h.epoch }
    }

    pub fn seal(&mut self, message: &Message, now_ms: u64) -> Result<Vec<u8>, SessionError> {
        self.seal_with(64, now_ms, |body| message.encode(body))
    }

    /// Seals `message` padded to `size` bytes of plaintext, so the record's length says nothing
    /// about what it carries (see [`crate::wire::message::padded_size`]).
    pub fn seal_padded(&mut self, message: &Message, size: usize, now_ms: u64) -> Result<Vec<u8>, SessionError> {
        self.seal_with(size, now_ms, |body| message.encode_padded(size, body))
    }

    /// Seals a video payload that was encoded once for every viewer: copied once, into the
    /// record that goes to the socket.
    pub fn seal_video(&mut self, payload: &[u8], now_ms: u64) -> Result<Vec<u8>, SessionError> {
        self.seal_with(payload.len() + 1, now_ms, |body| {
            body.push(Channel::Video as u8);
            body.extend_from_slice(payload);
        })
    }

    /// Builds a record in one buffer: the clear header, then the plaintext `write` puts after
    /// it, encrypted in place, then the tag.
    fn seal_with(
        &mut self,
        size_hint: usize,
        now_ms: u64,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> Result<Vec<u8>, SessionError> {
        if self.tx.epoch_due(&self.schedule, now_ms) {
            self.tx.advance(now_ms)?;
        }
        let header = self.tx.header().encode();
        let mut record = Vec::with_capacity(header.len() + size_hint + self.tx.secrets.suite.tag_len());
        record.extend_from_slice(&header);
        write(&mut record);
        let plaintext = record.len() - header.len();
        if plaintext > MAX_PLAINTEXT {
            return Err(SessionError::TooLarge);
        }
        self.tx.bytes_in_epoch += plaintext as u64;
        self.tx.cipher.seal(self.tx_seq, &header, &mut record, header.len());
        self.tx_seq += 1;
        Ok(record)
    }

    /// Authenticates and decrypts one sealed record. Returns the message and whether it was the
    /// first record under an armed next generation (which completes a key switch).
    ///
    /// Nothing changes until the record has proven itself: a record that fails its tag (or names
    /// a generation or epoch it may not) leaves the layer exactly as it was, so a forged record
    /// cannot move the keys, the epoch or the sequence number.
    ///
    /// The record is opened in its own buffer: a video update in it is handed on without a copy.
    pub fn open(&mut self, mut record: Vec<u8>, now_ms: u64) -> Result<(Message, bool), SessionError> {
        let Record::Sealed { header, header_bytes, .. } = Record::parse(&record)? else {
            return Err(SessionError::Unexpected("handshake record after the keys were confirmed"));
        };
        let header_bytes: [u8; SEALED_HEADER_LEN] =
            header_bytes.try_into().map_err(|_| SessionError::Unexpected("short record header"))?;
        // Which keys the header asks for: the current ones, the armed next generation, or the
        // current generation's next epoch. The latter two are built aside and kept only if the
        // record opens under them.
        let switched = header.generation != self.rx.secrets.generation;
        let mut candidate: Option<DirectionState> = None;
        let base = if switched {
            match &self.pending_rx {
                Some(next) if next.secrets.generation == header.generation => next,
                _ => return Err(SessionError::Epoch("record sealed under an unknown key generation")),
            }
        } else {
            &self.rx
        };
        let current = base.chain.epoch();
        if header.epoch == current {
            if base.bytes_in_epoch >= u64::from(self.schedule.epoch_bytes) {
                return Err(SessionError::Epoch("peer did not move to the next key epoch on schedule"));
            }
        } else if Some(header.epoch) == current.checked_add(1) {
            candidate = Some(base.next_epoch(now_ms)?);
        } else {
            return Err(SessionError::Epoch("record sealed under an out-of-order key epoch"));
        }
        let (seq, start) = (self.rx_seq, SEALED_HEADER_LEN);
        match (&mut candidate, switched) {
            (Some(next), _) => next.cipher.open(seq, &header_bytes, &mut record, start)?,
            (None, true) => match &mut self.pending_rx {
                Some(next) => next.cipher.open(seq, &header_bytes, &mut record, start)?,
                None => return Err(SessionError::Epoch("record sealed under an unknown key generation")),
            },
            // Both ciphers check the tag before they touch their state.
            (None, false) => self.rx.cipher.open(seq, &header_bytes, &mut record, start)?,
        }
        // The record is authentic: commit what it asked for.
        if switched {
            let next = self.pending_rx.take();
            if let Some(next) = candidate.take().or(next) {
                self.rx = next;
            }
        } else if let Some(next) = candidate {
            self.rx = next;
        }
        self.rx_seq += 1;
        self.rx.bytes_in_epoch += (record.len() - start) as u64;
        Ok((Message::decode_in(record, start)?, switched))
    }

    /// From now on seal under `secrets` (a new generation).
    pub fn switch_tx(&mut self, secrets: GenerationSecrets, now_ms: u64) {
        self.tx = DirectionState::new(secrets, self.tx.direction, now_ms);
    }

    /// From now on accept only records under `secrets`.
    pub fn switch_rx(&mut self, secrets: GenerationSecrets, now_ms: u64) {
        self.pending_rx = None;
        self.rx = DirectionState::new(secrets, self.rx.direction, now_ms);
    }

    /// Accept records under `secrets` once the peer starts using them; until then, the current.
    pub fn arm_rx(&mut self, secrets: GenerationSecrets, now_ms: u64) {
        self.pending_rx = Some(DirectionState::new(secrets, self.rx.direction, now_ms));
    }
}

fn opposite(d: Direction) -> Direction {
    match d {
        Direction::ClientToServer => Direction::ServerToClient,
        Direction::ServerToClient => Direction::ClientToServer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{AppMessage, InputEvent};

    fn secrets() -> GenerationSecrets {
        GenerationSecrets {
            pms: Pms::from_bytes([1; 32]),
            suite: CipherSuite::Rc4HmacSha1,
            generation: 0,
            client_nonce: [2; 32],
            server_nonce: [3; 32],
        }
    }

    #[test]
    fn a_video_record_is_built_in_one_buffer_and_opened_in_it() {
        for suite in CipherSuite::ALL {
            let mut secrets = secrets();
            secrets.suite = suite;
            let schedule = KeySchedule { epoch_bytes: 1 << 24, epoch_millis: 60_000, key_life_millis: 60_000 };
            let mut sender = RecordLayer::new(secrets.clone(), Direction::ServerToClient, schedule, 0);
            let mut receiver = RecordLayer::new(secrets, Direction::ClientToServer, schedule, 0);
            let payload: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
            let record = sender.seal_video(&payload, 0).unwrap();
            // Sized once for header, channel, payload and tag: never grown, so never copied.
            assert_eq!(record.capacity(), SEALED_HEADER_LEN + 1 + payload.len() + suite.tag_len());
            assert_eq!(record.len(), record.capacity());
            let at = record.as_ptr() as usize;
            let (opened, _) = receiver.open(record, 0).unwrap();
            let Message::Video(update) = opened else { panic!("a video message") };
            assert_eq!(&*update, &payload[..]);
            // The update is read where it was decrypted, inside the record's own buffer.
            assert_eq!(update.as_ptr() as usize, at + SEALED_HEADER_LEN + 1);
        }
    }

    #[test]
    fn a_sender_that_overstays_its_byte_budget_is_refused() {
        let lax = KeySchedule { epoch_bytes: 1 << 20, epoch_millis: 60_000, key_life_millis: 60_000 };
        let strict = KeySchedule { epoch_bytes: 256, ..lax };
        let mut sender = RecordLayer::new(secrets(), Direction::ClientToServer, lax, 0);
        let mut receiver = RecordLayer::new(secrets(), Direction::ServerToClient, strict, 0);
        let message: Message = AppMessage::Input(InputEvent::Paste("x".repeat(100))).into();
        let mut result = Ok((message.clone(), false));
        for _ in 0..4 {
            let record = sender.seal(&message, 0).unwrap();
            result = receiver.open(record, 0);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result.unwrap_err(), SessionError::Epoch("peer did not move to the next key epoch on schedule"));
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tamper {
    use super::*;
    use crate::wire::{AppMessage, InputEvent};
    use proptest::prelude::*;

    fn secrets(suite: CipherSuite, generation: u16) -> GenerationSecrets {
        GenerationSecrets {
            pms: Pms::from_bytes([generation as u8 + 1; 32]),
            suite,
            generation,
            client_nonce: [2; 32],
            server_nonce: [3; 32],
        }
    }

    /// What an observer can see of a receiver: its position, its counters and whether the armed
    /// next generation is still armed.
    fn observable(layer: &RecordLayer) -> (u16, u32, u64, u64, Option<u16>) {
        (
            layer.rx.secrets.generation,
            layer.rx.chain.epoch(),
            layer.rx.bytes_in_epoch,
            layer.rx_seq,
            layer.pending_rx.as_ref().map(|p| p.secrets.generation),
        )
    }

    proptest! {
        /// Any change to a record (its clear header included) is refused and leaves the receiver
        /// exactly as it was, so the untouched record still opens after it: across epoch steps
        /// and a key switch.
        #[test]
        fn a_tampered_record_changes_nothing(
            chacha in any::<bool>(),
            sizes in proptest::collection::vec(1usize..120, 1..40),
            switch_at in 0usize..40,
            tampers in proptest::collection::vec((any::<bool>(), any::<usize>(), 1u8..=255), 40),
        ) {
            let suite = if chacha { CipherSuite::ChaCha20Poly1305 } else { CipherSuite::Rc4HmacSha1 };
            let schedule = KeySchedule { epoch_bytes: 200, epoch_millis: 60_000, key_life_millis: 60_000 };
            let mut sender = RecordLayer::new(secrets(suite, 0), Direction::ClientToServer, schedule, 0);
            let mut receiver = RecordLayer::new(secrets(suite, 0), Direction::ServerToClient, schedule, 0);
            for (i, size) in sizes.iter().enumerate() {
                if i == switch_at {
                    receiver.arm_rx(secrets(suite, 1), 0);
                    sender.switch_tx(secrets(suite, 1), 0);
                }
                let message: Message = AppMessage::Input(InputEvent::Paste("k".repeat(*size))).into();
                let record = sender.seal(&message, 0).unwrap();
                let (tamper, at, flip) = tampers[i];
                if tamper {
                    let mut forged = record.clone();
                    let at = at % forged.len();
                    forged[at] ^= flip;
                    let before = observable(&receiver);
                    prop_assert!(receiver.open(forged, 0).is_err());
                    prop_assert_eq!(observable(&receiver), before);
                }
                let (opened, _) = receiver.open(record, 0).unwrap();
                prop_assert_eq!(opened, message);
            }
        }
    }
}
