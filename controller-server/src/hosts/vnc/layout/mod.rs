//! Which keys type a character on a host's keyboard layout: how the controller types pasted
//! text, and keys the browser names by their character, on hosts that take scancodes (QEMU),
//! where the guest's own layout turns keys into characters.
//!
//! The tables (`tables.rs`) are generated from QEMU's keymaps (`qemu-system-data`, made by
//! `qemu-keymap` from the X keyboard database) and X's keysym names; a unit test makes them
//! again from those files and fails on any difference.

mod tables;
#[cfg(test)]
mod tests;

use shared::wire::Layout;

/// Modifier bits in the tables.
const SHIFT: u8 = 1;
const ALT_GR: u8 = 2;

/// A key (its XT scancode, E0 keys with bit 7 set) and the modifiers it is typed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stroke {
    pub scancode: u32,
    pub shift: bool,
    pub alt_gr: bool,
}

impl Stroke {
    pub fn plain(self) -> bool {
        !self.shift && !self.alt_gr
    }
}

fn table(layout: Layout) -> &'static [(char, u8, u8)] {
    match layout {
        Layout::Us => tables::US,
        Layout::Gb => tables::GB,
        Layout::De => tables::DE,
        Layout::Fr => tables::FR,
        Layout::Es => tables::ES,
        Layout::It => tables::IT,
    }
}

/// The key that types `c` on `layout`, if one does (without dead keys); Enter and Tab for a
/// line break and a tab.
pub fn stroke(layout: Layout, c: char) -> Option<Stroke> {
    let c = match c {
        '\n' | '\r' => return Some(Stroke { scancode: 0x1c, shift: false, alt_gr: false }),
        '\t' => return Some(Stroke { scancode: 0x0f, shift: false, alt_gr: false }),
        c => c,
    };
    let table = table(layout);
    let i = table.binary_search_by_key(&c, |&(c, ..)| c).ok()?;
    let (_, scancode, mods) = table[i];
    Some(Stroke { scancode: u32::from(scancode), shift: mods & SHIFT != 0, alt_gr: mods & ALT_GR != 0 })
}
