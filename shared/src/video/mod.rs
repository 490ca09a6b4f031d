//! Video codecs. Text mode: a grid of character cells and their changes ([`text`]). Graphics
//! mode: a framebuffer ([`frame`]) sent as copies and changed tiles ([`tiles`]).
//!
//! An update's first byte says which: text kinds are 1 to 3, graphics kinds 0x10 and 0x11.

pub mod frame;
pub mod text;
pub mod tiles;

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
            &tiles::KIND_FULL | &tiles::KIND_DELTA => Some(Mode::Graphics),
            _ => None,
        }
    }
}
