//! Byte cursors for the wire format: a bounds-checked reader and a growable writer.
//!
//! Every multi-byte integer on the wire is big-endian. Lengths that can grow large are
//! LEB128 varints, capped at 32 bits so that a hostile peer cannot ask for absurd sizes.

use super::DecodeError;

/// Reads fields from a received message, never past its end.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn bytes(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < len {
            return Err(DecodeError::Truncated { field });
        }
        let out = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok(out)
    }

    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N, field)?);
        Ok(out)
    }

    #[inline]
    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        let byte = *self.buf.get(self.pos).ok_or(DecodeError::Truncated { field })?;
        self.pos += 1;
        Ok(byte)
    }

    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    pub fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    /// LEB128 unsigned varint of at most 32 bits.
    #[inline]
    pub fn varint(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        // Most varints are one byte (tile run lengths, counts): no loop for those.
        if let Some(&byte) = self.buf.get(self.pos).filter(|b| **b < 0x80) {
            self.pos += 1;
            return Ok(u32::from(byte));
        }
        self.varint_long(field)
    }

    fn varint_long(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        let mut value: u32 = 0;
        for shift in (0..35).step_by(7) {
            let byte = self.u8(field)?;
            let low = u32::from(byte & 0x7f);
            if shift == 28 && low > 0x0f {
                return Err(DecodeError::Invalid { field, reason: "varint overflows 32 bits" });
            }
            value |= low << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::Invalid { field, reason: "varint overflows 32 bits" })
    }

    /// A varint length followed by that many bytes, refused above `max`.
    pub fn length_prefixed(&mut self, max: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.varint(field)? as usize;
        if len > max {
            return Err(DecodeError::TooLong { field, max });
        }
        self.bytes(len, field)
    }

    pub fn string(&mut self, max: usize, field: &'static str) -> Result<&'a str, DecodeError> {
        let raw = self.length_prefixed(max, field)?;
        core::str::from_utf8(raw).map_err(|_| DecodeError::Invalid { field, reason: "not UTF-8" })
    }

    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }

    /// Fails when bytes are left over: a message must be consumed exactly.
    pub fn finish(&self, message: &'static str) -> Result<(), DecodeError> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes { message })
        }
    }
}

/// Appends wire fields to a byte vector.
pub trait Writer {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    fn put_bytes(&mut self, v: &[u8]);
    fn put_varint(&mut self, v: u32);
    fn put_length_prefixed(&mut self, v: &[u8]);
}

impl Writer for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_bytes(&mut self, v: &[u8]) {
        self.extend_from_slice(v);
    }
    fn put_varint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.push((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        self.push(v as u8);
    }
    fn put_length_prefixed(&mut self, v: &[u8]) {
        // Callers bound their fields far below 4 GiB; saturate rather than wrap.
        self.put_varint(u32::try_from(v.len()).unwrap_or(u32::MAX));
        self.extend_from_slice(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trips_at_the_edges() {
        for v in [0u32, 1, 0x7f, 0x80, 0x3fff, 0x4000, u32::MAX] {
            let mut buf = Vec::new();
            buf.put_varint(v);
            let mut r = Reader::new(&buf);
            assert_eq!(r.varint("v").unwrap(), v);
            r.finish("v").unwrap();
        }
    }

    #[test]
    fn varint_refuses_more_than_32_bits() {
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x1f]);
        assert!(r.varint("v").is_err());
        let mut r = Reader::new(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
        assert!(r.varint("v").is_err());
    }

    #[test]
    fn truncated_reads_name_the_field() {
        let mut r = Reader::new(&[1]);
        assert_eq!(r.u16("cols"), Err(DecodeError::Truncated { field: "cols" }));
    }
}
