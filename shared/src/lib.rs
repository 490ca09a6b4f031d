//! Lantern's console protocol, shared by the controller and the browser applet.
//!
//! Wire format ([`wire`]), cipher suites and key schedule ([`crypto`]), the sans-IO session
//! state machines of both ends ([`session`]), the links around them with their policy
//! ([`link`]) and the video codecs ([`video`]).
//!
//! This crate must never do I/O, read clocks or draw randomness itself, and must never depend
//! on tokio or web-sys: the same code runs natively and in `wasm32-unknown-unknown`.
#![forbid(unsafe_code)]

pub mod crypto;
pub mod link;
pub mod session;
pub mod terminal;
pub mod text;
pub mod video;
pub mod wire;
