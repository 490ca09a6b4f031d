//! A cursor over received bytes that reports "wait for more" rather than failing when a
//! message is not all there yet.

use crate::client::{Halt, Step};

pub(crate) struct Input<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub fn consumed(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// What is left, without consuming it.
    pub fn peek(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    pub fn bytes(&mut self, len: usize) -> Step<&'a [u8]> {
        if self.remaining() < len {
            return Err(Halt::Incomplete);
        }
        let out = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok(out)
    }

    pub fn array<const N: usize>(&mut self) -> Step<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Step<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Step<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Step<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }
}
