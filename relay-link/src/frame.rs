//! What controllers and the relay say to each other, on connections the controller dialled.
//!
//! Every such connection starts with `PREAMBLE` and a kind byte (control or data), so the relay
//! tells it apart from a browser's or agent's TLS on the same port; then come frames, each a
//! big-endian u16 length and that many bytes.

use shared::wire::codec::{Reader, Writer};

use crate::RelayError;

/// The first bytes of a controller's connection (never the first byte of TLS, 22).
pub const PREAMBLE: &[u8; 8] = b"LNTRLY/1";
/// A frame's body, at most.
pub const MAX_FRAME: usize = 4096;
const MAX_TEXT: usize = 255;

/// Which of a controller's connections this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The one long-lived connection a controller registers on and is asked for paths on.
    Control,
    /// A connection the controller opened for one path it was asked for.
    Data,
}

impl Kind {
    pub fn byte(self) -> u8 {
        match self {
            Kind::Control => 1,
            Kind::Data => 2,
        }
    }

    pub fn from_byte(byte: u8) -> Result<Self, RelayError> {
        match byte {
            1 => Ok(Kind::Control),
            2 => Ok(Kind::Data),
            other => Err(RelayError::Malformed(format!("unknown connection kind {other}"))),
        }
    }
}

/// An id the relay draws for each path; knowing it is what lets a data connection take the
/// path, so it is random and never shown to anyone but the registered controller.
pub type PathId = [u8; 16];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// The relay's first frame on a control connection: what the registration must sign.
    Challenge {
        nonce: [u8; 32],
    },
    /// The controller's answer: its name here, its node key, and the key's signature over the
    /// challenge and the name.
    Register {
        name: String,
        key: [u8; 32],
        signature: [u8; 64],
    },
    /// Registered; browsers and agents reach the controller as `host`.
    Registered {
        host: String,
    },
    /// The relay ends the connection, and says why.
    Refused {
        reason: String,
    },
    /// A browser or an agent connected for this controller: dial a data connection for it.
    /// `client` is its address as the relay saw it (for logs and per-address limits).
    Open {
        path: PathId,
        client: String,
    },
    /// A data connection's first and only frame: the path it takes.
    Attach {
        path: PathId,
    },
    Ping(u64),
    Pong(u64),
}

mod tag {
    pub const CHALLENGE: u8 = 1;
    pub const REGISTER: u8 = 2;
    pub const REGISTERED: u8 = 3;
    pub const REFUSED: u8 = 4;
    pub const OPEN: u8 = 5;
    pub const ATTACH: u8 = 6;
    pub const PING: u8 = 7;
    pub const PONG: u8 = 8;
}

impl Frame {
    /// The frame with its length prefix, ready to send.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(64);
        match self {
            Frame::Challenge { nonce } => {
                body.put_u8(tag::CHALLENGE);
                body.put_bytes(nonce);
            }
            Frame::Register { name, key, signature } => {
                body.put_u8(tag::REGISTER);
                put_text(&mut body, name);
                body.put_bytes(key);
                body.put_bytes(signature);
            }
            Frame::Registered { host } => {
                body.put_u8(tag::REGISTERED);
                put_text(&mut body, host);
            }
            Frame::Refused { reason } => {
                body.put_u8(tag::REFUSED);
                put_text(&mut body, reason);
            }
            Frame::Open { path, client } => {
                body.put_u8(tag::OPEN);
                body.put_bytes(path);
                put_text(&mut body, client);
            }
            Frame::Attach { path } => {
                body.put_u8(tag::ATTACH);
                body.put_bytes(path);
            }
            Frame::Ping(n) => {
                body.put_u8(tag::PING);
                body.put_u64(*n);
            }
            Frame::Pong(n) => {
                body.put_u8(tag::PONG);
                body.put_u64(*n);
            }
        }
        let mut out = Vec::with_capacity(body.len() + 2);
        out.put_u16(u16::try_from(body.len()).unwrap_or(u16::MAX));
        out.extend_from_slice(&body);
        out
    }

    /// One frame's body (without its length).
    pub fn decode(body: &[u8]) -> Result<Frame, RelayError> {
        let mut r = Reader::new(body);
        let frame = match r.u8("frame tag")? {
            tag::CHALLENGE => Frame::Challenge { nonce: r.array("nonce")? },
            tag::REGISTER => {
                Frame::Register { name: text(&mut r, "name")?, key: r.array("key")?, signature: r.array("signature")? }
            }
            tag::REGISTERED => Frame::Registered { host: text(&mut r, "host")? },
            tag::REFUSED => Frame::Refused { reason: text(&mut r, "reason")? },
            tag::OPEN => Frame::Open { path: r.array("path")?, client: text(&mut r, "client")? },
            tag::ATTACH => Frame::Attach { path: r.array("path")? },
            tag::PING => Frame::Ping(r.u64("ping")?),
            tag::PONG => Frame::Pong(r.u64("pong")?),
            other => return Err(RelayError::Malformed(format!("unknown frame {other}"))),
        };
        r.finish("frame")?;
        Ok(frame)
    }
}

fn put_text(out: &mut Vec<u8>, text: &str) {
    let mut end = text.len().min(MAX_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let text = text.get(..end).unwrap_or_default();
    out.put_u8(u8::try_from(text.len()).unwrap_or(u8::MAX));
    out.put_bytes(text.as_bytes());
}

fn text(r: &mut Reader<'_>, field: &'static str) -> Result<String, RelayError> {
    let len = usize::from(r.u8(field)?);
    let bytes = r.bytes(len, field)?;
    std::str::from_utf8(bytes).map(str::to_string).map_err(|_| RelayError::Malformed(format!("{field} is not UTF-8")))
}

/// Gathers a connection's bytes and hands out whole frames.
#[derive(Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame, if one is here. A length over `MAX_FRAME` is an error, so a peer
    /// cannot make the buffer grow.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, RelayError> {
        let Some(header) = self.buf.get(..2) else { return Ok(None) };
        let len = usize::from(u16::from_be_bytes([header[0], header[1]]));
        if len > MAX_FRAME {
            return Err(RelayError::Malformed(format!("a frame of {len} bytes (at most {MAX_FRAME})")));
        }
        let Some(body) = self.buf.get(2..2 + len) else { return Ok(None) };
        let frame = Frame::decode(body)?;
        self.buf.drain(..2 + len);
        Ok(Some(frame))
    }

    /// Bytes received past the frames taken (what followed an `Attach`, say).
    pub fn take_rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }
}
