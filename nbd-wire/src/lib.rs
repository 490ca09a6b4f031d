//! An NBD server, sans-IO: bytes from the client go in (`Server::feed`), requests for the
//! adapter come out, and the adapter's answers go back as replies (`Server::reply`); what to send
//! is in `Server::take_output`. It speaks the fixed-newstyle handshake (options `EXPORT_NAME`,
//! `ABORT`, `LIST`, `INFO` and `GO`; any other is answered "unsupported") and simple replies in
//! the transmission phase (`READ`, `WRITE`, `FLUSH`, `DISC`).
//!
//! Every request is checked against the export before the adapter sees it: ranges outside the
//! image, zero or oversized lengths and writes to a read-only export are answered with an error
//! here. A read answered with the wrong number of bytes becomes an I/O error for the client, so
//! a misbehaving source (a browser tab, say) can never desynchronise the stream.
//! The protocol: <https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md>.
#![forbid(unsafe_code)]

mod consts;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};

use consts::*;
pub use consts::{EINVAL, EIO, ENOSPC, EPERM, MAX_REQUEST};

/// What is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// Its name; a client asking for the default (empty) name gets it too.
    pub name: String,
    pub size: u64,
    pub read_only: bool,
}

/// What the adapter must do for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Read `length` bytes at `offset`; answer with [`Reply::Data`] of exactly that length.
    Read { handle: u64, offset: u64, length: u32 },
    /// Write `data` at `offset`; answer with [`Reply::Done`].
    Write { handle: u64, offset: u64, data: Vec<u8> },
    /// Make earlier writes durable; answer with [`Reply::Done`].
    Flush { handle: u64 },
    /// The client is done (or gave up in the handshake): close once the output is sent.
    Disconnect,
}

/// The adapter's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Data(Vec<u8>),
    Done,
    /// An errno for the client (`EIO`, `EPERM`, ...).
    Error(u32),
}

/// Why the connection must close. Said in logs; the client just sees the socket close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NbdError {
    #[error("the client does not speak the fixed-newstyle handshake")]
    NotFixedNewstyle,
    #[error("the client set handshake flags this server does not know")]
    UnknownClientFlags,
    #[error("an option or request without the NBD magic number")]
    BadMagic,
    #[error("an option longer than this server accepts")]
    OptionTooLong,
    #[error("the client asked for an export that does not exist")]
    UnknownExport,
    #[error("a write longer than this server accepts")]
    WriteTooLong,
    #[error("the connection is closed")]
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    ClientFlags,
    Options,
    Transmission,
    Closed,
}

pub struct Server {
    export: Export,
    phase: Phase,
    input: Vec<u8>,
    output: Vec<u8>,
    no_zeroes: bool,
    /// Reads waiting for the adapter's data, by handle: their lengths, oldest first. A
    /// client should not reuse a handle while its request is in flight, but one that does
    /// still gets an answer for each request rather than an error that depends on timing.
    reads: HashMap<u64, VecDeque<u32>>,
}

impl Server {
    /// A server for `export`; its greeting is already in the output.
    pub fn new(export: Export) -> Self {
        let mut output = Vec::with_capacity(18);
        output.extend_from_slice(&NBDMAGIC.to_be_bytes());
        output.extend_from_slice(&IHAVEOPT.to_be_bytes());
        output.extend_from_slice(&(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES).to_be_bytes());
        Self { export, phase: Phase::ClientFlags, input: Vec::new(), output, no_zeroes: false, reads: HashMap::new() }
    }

    pub fn export(&self) -> &Export {
        &self.export
    }

    /// Whether the handshake is over and requests flow.
    pub fn transmitting(&self) -> bool {
        self.phase == Phase::Transmission
    }

    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Reads the adapter still owes data for.
    pub fn pending_reads(&self) -> usize {
        self.reads.values().map(VecDeque::len).sum()
    }

    /// What to send the client now.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// Takes bytes from the client; returns what the adapter must do, in order. After an
    /// error the connection is closed and takes nothing more.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Event>, NbdError> {
        if self.phase == Phase::Closed {
            return Err(NbdError::Closed);
        }
        self.input.extend_from_slice(bytes);
        let mut events = Vec::new();
        let result = loop {
            let step = match self.phase {
                Phase::ClientFlags => self.client_flags(),
                Phase::Options => self.option(&mut events),
                Phase::Transmission => self.request(&mut events),
                Phase::Closed => break Ok(()),
            };
            match step {
                Ok(true) => continue,
                Ok(false) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        if let Err(e) = result {
            self.close();
            return Err(e);
        }
        Ok(events)
    }

    /// The adapter's answer to request `handle`. A read answered with other than its length
    /// in bytes is sent as an I/O error; an answer to no request is ignored.
    pub fn reply(&mut self, handle: u64, reply: Reply) {
        if self.phase == Phase::Closed {
            return;
        }
        let expected = self.reads.get_mut(&handle).and_then(VecDeque::pop_front);
        if self.reads.get(&handle).is_some_and(VecDeque::is_empty) {
            self.reads.remove(&handle);
        }
        match (reply, expected) {
            (Reply::Data(data), Some(length)) if data.len() == length as usize => {
                self.simple_reply(handle, 0);
                self.output.extend_from_slice(&data);
            }
            (Reply::Data(_), Some(_)) => self.simple_reply(handle, EIO),
            (Reply::Error(errno), _) => self.simple_reply(handle, if errno == 0 { EIO } else { errno }),
            (Reply::Done, None) => self.simple_reply(handle, 0),
            // A read answered without data, or data for no read.
            (Reply::Done, Some(_)) => self.simple_reply(handle, EIO),
            (Reply::Data(_), None) => self.simple_reply(handle, EIO),
        }
    }

    fn close(&mut self) {
        self.phase = Phase::Closed;
        self.input.clear();
        self.reads.clear();
    }

    fn client_flags(&mut self) -> Result<bool, NbdError> {
        let Some(flags) = be_u32(&self.input, 0) else { return Ok(false) };
        self.input.drain(..4);
        if flags & CLIENT_FIXED_NEWSTYLE == 0 {
            return Err(NbdError::NotFixedNewstyle);
        }
        if flags & !(CLIENT_FIXED_NEWSTYLE | CLIENT_NO_ZEROES) != 0 {
            return Err(NbdError::UnknownClientFlags);
        }
        self.no_zeroes = flags & CLIENT_NO_ZEROES != 0;
        self.phase = Phase::Options;
        Ok(true)
    }

    /// One option, when all of it is in.
    fn option(&mut self, events: &mut Vec<Event>) -> Result<bool, NbdError> {
        let (Some(magic), Some(option), Some(length)) =
            (be_u64(&self.input, 0), be_u32(&self.input, 8), be_u32(&self.input, 12))
        else {
            return Ok(false);
        };
        if magic != IHAVEOPT {
            return Err(NbdError::BadMagic);
        }
        if length > MAX_OPTION {
            return Err(NbdError::OptionTooLong);
        }
        let end = 16 + length as usize;
        if self.input.len() < end {
            return Ok(false);
        }
        let data: Vec<u8> = self.input.drain(..end).skip(16).collect();
        match option {
            OPT_EXPORT_NAME => {
                if !self.names_export(&data) {
                    return Err(NbdError::UnknownExport);
                }
                self.output.extend_from_slice(&self.export.size.to_be_bytes());
                self.output.extend_from_slice(&self.transmission_flags().to_be_bytes());
                if !self.no_zeroes {
                    self.output.extend_from_slice(&[0; 124]);
                }
                self.phase = Phase::Transmission;
            }
            OPT_ABORT => {
                self.option_reply(option, REP_ACK, &[]);
                events.push(Event::Disconnect);
                self.close();
            }
            OPT_LIST if data.is_empty() => {
                let mut server = (self.export.name.len() as u32).to_be_bytes().to_vec();
                server.extend_from_slice(self.export.name.as_bytes());
                self.option_reply(option, REP_SERVER, &server);
                self.option_reply(option, REP_ACK, &[]);
            }
            OPT_INFO | OPT_GO => self.info(option, &data),
            OPT_LIST => self.option_reply(option, REP_ERR_INVALID, b"LIST takes no data"),
            _ => self.option_reply(option, REP_ERR_UNSUP, b"not supported by this server"),
        }
        Ok(true)
    }

    /// `INFO` and `GO`: the export's size and flags (and block sizes, if asked), then for `GO`
    /// the transmission phase.
    fn info(&mut self, option: u32, data: &[u8]) {
        let parsed = be_u32(data, 0).and_then(|name_len| {
            let name_end = 4usize.checked_add(name_len as usize)?;
            let name = data.get(4..name_end)?;
            let count = be_u16(data, name_end)? as usize;
            let requests = data.get(name_end + 2..)?;
            let requests: Vec<u16> = requests.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
            (requests.len() == count && data.len() == name_end + 2 + count * 2).then(|| (name.to_vec(), requests))
        });
        let Some((name, requests)) = parsed else {
            self.option_reply(option, REP_ERR_INVALID, b"malformed INFO or GO request");
            return;
        };
        if !self.names_export(&name) {
            self.option_reply(option, REP_ERR_UNKNOWN, b"no such export");
            return;
        }
        let mut export = INFO_EXPORT.to_be_bytes().to_vec();
        export.extend_from_slice(&self.export.size.to_be_bytes());
        export.extend_from_slice(&self.transmission_flags().to_be_bytes());
        self.option_reply(option, REP_INFO, &export);
        if requests.contains(&INFO_BLOCK_SIZE) {
            let mut sizes = INFO_BLOCK_SIZE.to_be_bytes().to_vec();
            for size in [1, PREFERRED_BLOCK, MAX_REQUEST] {
                sizes.extend_from_slice(&size.to_be_bytes());
            }
            self.option_reply(option, REP_INFO, &sizes);
        }
        self.option_reply(option, REP_ACK, &[]);
        if option == OPT_GO {
            self.phase = Phase::Transmission;
        }
    }

    /// One request, when all of it is in.
    fn request(&mut self, events: &mut Vec<Event>) -> Result<bool, NbdError> {
        let header = match self.input.get(..28) {
            Some(h) => h,
            None => return Ok(false),
        };
        let (magic, kind, handle, offset, length) = (
            be_u32(header, 0).unwrap_or_default(),
            be_u16(header, 6).unwrap_or_default(),
            be_u64(header, 8).unwrap_or_default(),
            be_u64(header, 16).unwrap_or_default(),
            be_u32(header, 24).unwrap_or_default(),
        );
        if magic != REQUEST_MAGIC {
            return Err(NbdError::BadMagic);
        }
        let in_range = length > 0
            && length <= MAX_REQUEST
            && offset.checked_add(u64::from(length)).is_some_and(|end| end <= self.export.size);
        match kind {
            CMD_WRITE => {
                if length > MAX_REQUEST {
                    return Err(NbdError::WriteTooLong);
                }
                let end = 28 + length as usize;
                if self.input.len() < end {
                    return Ok(false);
                }
                let data: Vec<u8> = self.input.drain(..end).skip(28).collect();
                if self.export.read_only {
                    self.simple_reply(handle, EPERM);
                } else if !in_range {
                    self.simple_reply(handle, ENOSPC);
                } else {
                    events.push(Event::Write { handle, offset, data });
                }
                return Ok(true);
            }
            CMD_READ if in_range => {
                self.reads.entry(handle).or_default().push_back(length);
                events.push(Event::Read { handle, offset, length });
            }
            CMD_DISC => {
                self.input.clear();
                events.push(Event::Disconnect);
                self.close();
                return Ok(true);
            }
            CMD_FLUSH if !self.export.read_only => events.push(Event::Flush { handle }),
            // Out of range, or a command this server does not advertise.
            _ => self.simple_reply(handle, EINVAL),
        }
        self.input.drain(..28);
        Ok(true)
    }

    fn names_export(&self, name: &[u8]) -> bool {
        name.is_empty() || name == self.export.name.as_bytes()
    }

    fn transmission_flags(&self) -> u16 {
        if self.export.read_only {
            TX_HAS_FLAGS | TX_READ_ONLY
        } else {
            TX_HAS_FLAGS | TX_SEND_FLUSH
        }
    }

    fn option_reply(&mut self, option: u32, kind: u32, data: &[u8]) {
        self.output.extend_from_slice(&OPTION_REPLY_MAGIC.to_be_bytes());
        self.output.extend_from_slice(&option.to_be_bytes());
        self.output.extend_from_slice(&kind.to_be_bytes());
        self.output.extend_from_slice(&(data.len() as u32).to_be_bytes());
        self.output.extend_from_slice(data);
    }

    fn simple_reply(&mut self, handle: u64, error: u32) {
        self.output.extend_from_slice(&SIMPLE_REPLY_MAGIC.to_be_bytes());
        self.output.extend_from_slice(&error.to_be_bytes());
        self.output.extend_from_slice(&handle.to_be_bytes());
    }
}

fn be_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at.checked_add(2)?)?.try_into().ok()?))
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at.checked_add(8)?)?.try_into().ok()?))
}
