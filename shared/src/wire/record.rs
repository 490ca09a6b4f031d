//! Record framing: the clear header in front of every record.

use super::codec::Reader;
use super::DecodeError;

/// Largest plaintext a sealed record may carry.
pub const MAX_PLAINTEXT: usize = 4 << 20;
/// type (1) + generation (2) + epoch (4)
pub const SEALED_HEADER_LEN: usize = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    Handshake,
    Sealed,
}

impl RecordType {
    pub fn byte(self) -> u8 {
        match self {
            RecordType::Handshake => 0x16,
            RecordType::Sealed => 0x17,
        }
    }
}

/// The clear header of a sealed record. It is authenticated with the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// Which PMS the record is sealed under: 0 for the first, +1 for each in-band switch.
    pub generation: u16,
    /// Position in that PMS's key chain.
    pub epoch: u32,
}

impl RecordHeader {
    pub fn encode(&self) -> [u8; SEALED_HEADER_LEN] {
        let mut out = [0u8; SEALED_HEADER_LEN];
        out[0] = RecordType::Sealed.byte();
        out[1..3].copy_from_slice(&self.generation.to_be_bytes());
        out[3..7].copy_from_slice(&self.epoch.to_be_bytes());
        out
    }
}

/// A received record, split into its type and what follows.
pub enum Record<'a> {
    Handshake(&'a [u8]),
    Sealed { header: RecordHeader, header_bytes: &'a [u8], body: &'a [u8] },
}

impl<'a> Record<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        match r.u8("record type")? {
            0x16 => Ok(Record::Handshake(r.rest())),
            0x17 => {
                let generation = r.u16("record generation")?;
                let epoch = r.u32("record epoch")?;
                let body = r.rest();
                if body.len() > MAX_PLAINTEXT + 64 {
                    return Err(DecodeError::TooLong { field: "record", max: MAX_PLAINTEXT });
                }
                Ok(Record::Sealed {
                    header: RecordHeader { generation, epoch },
                    header_bytes: &bytes[..SEALED_HEADER_LEN],
                    body,
                })
            }
            other => Err(DecodeError::Unknown { field: "record type", value: other }),
        }
    }
}
