//! Video codecs. Text mode: a grid of character cells and their changes ([`text`]). Graphics
//! mode: a framebuffer ([`frame`]) sent as copies and changed tiles ([`tiles`]).
//!
//! An update's first byte says which: text kinds are 1 to 3, graphics kinds 0x10 to 0x13 ([`tiles`]), and 0x14 for the
//! pointer's shape ([`cursor`]).

pub mod cursor;
pub mod font;
pub mod frame;
pub mod render;
pub mod text;
pub mod tiles;
pub mod underlay;
pub mod zstream;

/// Which codec an update is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Text,
    Graphics,
}

impl Mode {
    /// The mode of an encoded update; `None` for an unknown kind.
    pub fn of(update: &[u8]) -> Option<Mode> {
        match update.first()? {
            1..=3 => Some(Mode::Text),
            0x10..=0x14 => Some(Mode::Graphics),
            _ => None,
        }
    }
}
