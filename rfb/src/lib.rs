//! A sans-IO RFB (VNC) client: the controller's way to a graphical host's screen, keyboard and
//! mouse. It speaks RFB 3.3, 3.7 and 3.8 (RFC 6143) with the security types None and VNC
//! Authentication, decodes Raw, CopyRect, Hextile and ZRLE into a [`Framebuffer`], follows
//! DesktopSize and ExtendedDesktopSize, takes the pointer's shape (Cursor pseudo-encoding, so
//! the server stops painting it into the picture), sends QEMU's extended key events
//! (scancodes) when the server offers them, and asks for desktop sizes (SetDesktopSize). The
//! clipboard goes both ways: UTF-8 with the Extended Clipboard, Latin-1 cut text otherwise.
//!
//! Like `shared`, it does no I/O, reads no clock and draws no randomness: the caller feeds it
//! the bytes the server sent ([`Client::feed`]) and writes out what it produced
//! ([`Client::take_outgoing`]). Every malformed message is an [`Error`], never a panic.
#![forbid(unsafe_code)]

mod auth;
mod client;
mod clipboard;
mod encodings;
mod input;
mod tight;

pub use client::{Client, Config, Event};
pub use shared::video::frame::{Framebuffer, Rect};

pub type Result<T> = core::result::Result<T, Error>;

/// What went wrong with the server or its messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("not an RFB server (greeting {0:?})")]
    NotRfb(String),
    #[error("unsupported RFB version {0}.{1}")]
    Version(u16, u16),
    #[error("server refused the connection: {0}")]
    Refused(String),
    #[error("no supported security type (server offers {0:?})")]
    NoSecurityType(Vec<u8>),
    #[error("the server asks for a password and none is configured")]
    PasswordNeeded,
    #[error("authentication failed: {0}")]
    AuthenticationFailed(String),
    #[error("unknown server message type {0}")]
    UnknownMessage(u8),
    #[error("unrequested encoding {0}")]
    UnknownEncoding(i32),
    #[error("rectangle {x},{y} {w}x{h} outside the {width}x{height} framebuffer")]
    OutOfBounds { x: u16, y: u16, w: u16, h: u16, width: u16, height: u16 },
    #[error("invalid {0}")]
    Invalid(&'static str),
    #[error("{0}")]
    FrameSize(#[from] shared::video::frame::BadFrameSize),
    #[error("{0} longer than {1} bytes")]
    TooLong(&'static str, usize),
    #[error("the connection already failed")]
    Failed,
}
