//! Browser key events to what an RFB server understands: X keysyms, and for QEMU's extended
//! key event the key's XT scancode, so the guest sees the physical key whatever the layouts.

use shared::wire::KeyEvent;

pub const SHIFT_L: u32 = 0xffe1;
pub const CONTROL_L: u32 = 0xffe3;
pub const ALT_L: u32 = 0xffe9;
pub const DELETE: u32 = 0xffff;
pub const RETURN: u32 = 0xff0d;
/// ISO_Level3_Shift, what X calls AltGr.
pub const ALT_GR: u32 = 0xfe03;

/// The X keysym for a key (`KeyboardEvent.key`, with `.code` telling left from right).
pub fn keysym(event: &KeyEvent) -> Option<u32> {
    let mut chars = event.key.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return Some(char_keysym(c));
    }
    let right = event.code.ends_with("Right");
    Some(match event.key.as_str() {
        "Backspace" => 0xff08,
        "Tab" => 0xff09,
        "Enter" => RETURN,
        "Escape" => 0xff1b,
        "Delete" => DELETE,
        "Home" => 0xff50,
        "ArrowLeft" => 0xff51,
        "ArrowUp" => 0xff52,
        "ArrowRight" => 0xff53,
        "ArrowDown" => 0xff54,
        "PageUp" => 0xff55,
        "PageDown" => 0xff56,
        "End" => 0xff57,
        "Insert" => 0xff63,
        "Pause" => 0xff13,
        "ScrollLock" => 0xff14,
        "PrintScreen" => 0xff61,
        "ContextMenu" => 0xff67,
        "NumLock" => 0xff7f,
        "CapsLock" => 0xffe5,
        "Shift" => SHIFT_L + u32::from(right),
        "Control" => CONTROL_L + u32::from(right),
        "Alt" => ALT_L + u32::from(right),
        "AltGraph" => ALT_GR,
        "Meta" | "OS" | "Super" => 0xffeb + u32::from(right),
        f if f.starts_with('F') => match f[1..].parse::<u32>() {
            Ok(n @ 1..=24) => 0xffbe + n - 1,
            _ => return None,
        },
        _ => return None,
    })
}

/// Keysym of a character: Latin-1 maps to itself, the rest to the Unicode keysym range.
pub fn char_keysym(c: char) -> u32 {
    match c {
        '\n' | '\r' => RETURN,
        '\t' => 0xff09,
        c if (' '..='~').contains(&c) || ('\u{a0}'..='\u{ff}').contains(&c) => u32::from(c),
        c => 0x0100_0000 | u32::from(c),
    }
}

/// The XT (set 1) scancode of a physical key, as QEMU's extended key event wants it:
/// E0-prefixed keys as the low byte with bit 7 set.
pub fn scancode(code: &str) -> Option<u32> {
    const ROW_Q: &str = "QWERTYUIOP";
    const ROW_A: &str = "ASDFGHJKL";
    const ROW_Z: &str = "ZXCVBNM";
    if let Some(letter) = code.strip_prefix("Key").filter(|l| l.len() == 1) {
        for (row, base) in [(ROW_Q, 0x10), (ROW_A, 0x1e), (ROW_Z, 0x2c)] {
            if let Some(i) = row.find(letter) {
                return Some(base + i as u32);
            }
        }
        return None;
    }
    if let Some(d) = code.strip_prefix("Digit").and_then(|d| d.parse::<u32>().ok()) {
        return Some(if d == 0 { 0x0b } else { 0x01 + d });
    }
    if let Some(n) = code.strip_prefix('F').and_then(|n| n.parse::<u32>().ok()) {
        return match n {
            1..=10 => Some(0x3b + n - 1),
            11 => Some(0x57),
            12 => Some(0x58),
            _ => None,
        };
    }
    Some(match code {
        "Escape" => 0x01,
        "Minus" => 0x0c,
        "Equal" => 0x0d,
        "Backspace" => 0x0e,
        "Tab" => 0x0f,
        "BracketLeft" => 0x1a,
        "BracketRight" => 0x1b,
        "Enter" => 0x1c,
        "ControlLeft" => 0x1d,
        "Semicolon" => 0x27,
        "Quote" => 0x28,
        "Backquote" => 0x29,
        "ShiftLeft" => 0x2a,
        "Backslash" => 0x2b,
        "Comma" => 0x33,
        "Period" => 0x34,
        "Slash" => 0x35,
        "ShiftRight" => 0x36,
        "NumpadMultiply" => 0x37,
        "AltLeft" => 0x38,
        "Space" => 0x39,
        "CapsLock" => 0x3a,
        "NumLock" => 0x45,
        "ScrollLock" => 0x46,
        "Numpad7" => 0x47,
        "Numpad8" => 0x48,
        "Numpad9" => 0x49,
        "NumpadSubtract" => 0x4a,
        "Numpad4" => 0x4b,
        "Numpad5" => 0x4c,
        "Numpad6" => 0x4d,
        "NumpadAdd" => 0x4e,
        "Numpad1" => 0x4f,
        "Numpad2" => 0x50,
        "Numpad3" => 0x51,
        "Numpad0" => 0x52,
        "NumpadDecimal" => 0x53,
        "IntlBackslash" => 0x56,
        "NumpadEnter" => 0x9c,
        "ControlRight" => 0x9d,
        "NumpadDivide" => 0xb5,
        "PrintScreen" => 0xb7,
        "AltRight" => 0xb8,
        "Home" => 0xc7,
        "ArrowUp" => 0xc8,
        "PageUp" => 0xc9,
        "ArrowLeft" => 0xcb,
        "ArrowRight" => 0xcd,
        "End" => 0xcf,
        "ArrowDown" => 0xd0,
        "PageDown" => 0xd1,
        "Insert" => 0xd2,
        "Delete" => 0xd3,
        "MetaLeft" => 0xdb,
        "MetaRight" => 0xdc,
        "ContextMenu" => 0xdd,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::wire::Modifiers;

    fn key(key: &str, code: &str) -> KeyEvent {
        KeyEvent { down: true, modifiers: Modifiers::default(), key: key.into(), code: code.into() }
    }

    #[test]
    fn keysyms_follow_the_x_conventions() {
        assert_eq!(keysym(&key("a", "KeyA")), Some(0x61));
        assert_eq!(keysym(&key("A", "KeyA")), Some(0x41));
        assert_eq!(keysym(&key("é", "Quote")), Some(0xe9));
        assert_eq!(keysym(&key("€", "KeyE")), Some(0x0100_20ac));
        assert_eq!(keysym(&key("Enter", "Enter")), Some(0xff0d));
        assert_eq!(keysym(&key("Shift", "ShiftRight")), Some(0xffe2));
        assert_eq!(keysym(&key("Control", "ControlLeft")), Some(0xffe3));
        assert_eq!(keysym(&key("F12", "F12")), Some(0xffc9));
        assert_eq!(keysym(&key("Unidentified", "")), None);
    }

    #[test]
    fn scancodes_match_the_xt_set_with_e0_keys_high() {
        assert_eq!(scancode("KeyA"), Some(0x1e));
        assert_eq!(scancode("KeyQ"), Some(0x10));
        assert_eq!(scancode("KeyM"), Some(0x32));
        assert_eq!(scancode("Digit1"), Some(0x02));
        assert_eq!(scancode("Digit0"), Some(0x0b));
        assert_eq!(scancode("F10"), Some(0x44));
        assert_eq!(scancode("F11"), Some(0x57));
        assert_eq!(scancode("ArrowUp"), Some(0xc8));
        assert_eq!(scancode("Delete"), Some(0xd3));
        assert_eq!(scancode("KeyÆ"), None);
        assert_eq!(scancode("Lang1"), None);
    }
}
