//! Browser key events to the byte sequences an xterm-compatible terminal expects.

use crate::wire::{KeyEvent, Modifiers};

/// Terminal modes that change what keys send.
#[derive(Debug, Clone, Copy, Default)]
pub struct TermModes {
    /// DECCKM: arrows send `ESC O x` instead of `ESC [ x`.
    pub application_cursor: bool,
    /// Pastes are wrapped in `ESC [200~ ... ESC [201~`.
    pub bracketed_paste: bool,
}

/// The bytes for a key press; `None` for releases and lone modifier keys.
pub fn key_bytes(event: &KeyEvent, modes: TermModes) -> Option<Vec<u8>> {
    if !event.down {
        return None;
    }
    let m = event.modifiers;
    // xterm's modifier parameter: 1 + shift + 2*alt + 4*ctrl.
    let param = 1 + u8::from(m.shift()) + 2 * u8::from(m.alt()) + 4 * u8::from(m.ctrl());
    let cursor = |final_byte: u8| -> Vec<u8> {
        if param > 1 {
            format!("\x1b[1;{param}{}", final_byte as char).into_bytes()
        } else if modes.application_cursor {
            vec![0x1b, b'O', final_byte]
        } else {
            vec![0x1b, b'[', final_byte]
        }
    };
    let tilde = |n: u8| -> Vec<u8> {
        if param > 1 {
            format!("\x1b[{n};{param}~").into_bytes()
        } else {
            format!("\x1b[{n}~").into_bytes()
        }
    };
    let ss3 = |final_byte: u8| -> Vec<u8> {
        if param > 1 {
            format!("\x1b[1;{param}{}", final_byte as char).into_bytes()
        } else {
            vec![0x1b, b'O', final_byte]
        }
    };
    let bytes = match event.key.as_str() {
        "Enter" => alt_prefixed(m, vec![b'\r']),
        "Backspace" => alt_prefixed(m, vec![if m.ctrl() { 0x08 } else { 0x7f }]),
        "Tab" if m.shift() => b"\x1b[Z".to_vec(),
        "Tab" => alt_prefixed(m, vec![b'\t']),
        "Escape" => vec![0x1b],
        "ArrowUp" => cursor(b'A'),
        "ArrowDown" => cursor(b'B'),
        "ArrowRight" => cursor(b'C'),
        "ArrowLeft" => cursor(b'D'),
        "Home" => cursor(b'H'),
        "End" => cursor(b'F'),
        "Insert" => tilde(2),
        "Delete" => tilde(3),
        "PageUp" => tilde(5),
        "PageDown" => tilde(6),
        "F1" => ss3(b'P'),
        "F2" => ss3(b'Q'),
        "F3" => ss3(b'R'),
        "F4" => ss3(b'S'),
        "F5" => tilde(15),
        "F6" => tilde(17),
        "F7" => tilde(18),
        "F8" => tilde(19),
        "F9" => tilde(20),
        "F10" => tilde(21),
        "F11" => tilde(23),
        "F12" => tilde(24),
        key => {
            let mut chars = key.chars();
            let (Some(ch), None) = (chars.next(), chars.next()) else {
                return None; // Shift, Control, CapsLock, Dead, Unidentified...
            };
            let base = if m.ctrl() { control_byte(ch).map(|b| vec![b])? } else { ch.to_string().into_bytes() };
            alt_prefixed(m, base)
        }
    };
    Some(bytes)
}

/// What a paste types: newlines become Enter, and bracketed paste mode is honoured.
pub fn paste_bytes(text: &str, modes: TermModes) -> Vec<u8> {
    let body = text.replace("\r\n", "\r").replace('\n', "\r");
    // A paste must not be able to end bracketed paste early and inject keystrokes.
    let body = body.replace("\x1b[201~", "");
    if modes.bracketed_paste {
        [b"\x1b[200~".as_slice(), body.as_bytes(), b"\x1b[201~"].concat()
    } else {
        body.into_bytes()
    }
}

fn alt_prefixed(m: Modifiers, mut bytes: Vec<u8>) -> Vec<u8> {
    if m.alt() {
        bytes.insert(0, 0x1b);
    }
    bytes
}

/// Ctrl+key as the C0 control it produces.
fn control_byte(ch: char) -> Option<u8> {
    match ch {
        'a'..='z' => Some(ch as u8 - b'a' + 1),
        'A'..='Z' => Some(ch as u8 - b'A' + 1),
        ' ' | '@' | '2' => Some(0),
        '[' | '3' => Some(0x1b),
        '\\' | '4' => Some(0x1c),
        ']' | '5' => Some(0x1d),
        '^' | '6' => Some(0x1e),
        '_' | '-' | '7' => Some(0x1f),
        '?' | '8' => Some(0x7f),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str, mods: u8) -> KeyEvent {
        KeyEvent { down: true, modifiers: Modifiers(mods), key: k.into(), code: String::new() }
    }

    fn bytes(k: &str, mods: u8) -> Vec<u8> {
        key_bytes(&key(k, mods), TermModes::default()).unwrap()
    }

    #[test]
    fn common_keys() {
        assert_eq!(bytes("a", 0), b"a");
        assert_eq!(bytes("é", 0), "é".as_bytes());
        assert_eq!(bytes("c", Modifiers::CTRL), [3]);
        assert_eq!(bytes("d", Modifiers::CTRL), [4]);
        assert_eq!(bytes("Enter", 0), b"\r");
        assert_eq!(bytes("Tab", 0), b"\t");
        assert_eq!(bytes("Tab", Modifiers::SHIFT), b"\x1b[Z");
        assert_eq!(bytes("Backspace", 0), [0x7f]);
        assert_eq!(bytes("ArrowUp", 0), b"\x1b[A");
        assert_eq!(bytes("ArrowLeft", Modifiers::CTRL), b"\x1b[1;5D");
        assert_eq!(bytes("F1", 0), b"\x1bOP");
        assert_eq!(bytes("F5", 0), b"\x1b[15~");
        assert_eq!(bytes("F12", Modifiers::SHIFT), b"\x1b[24;2~");
        assert_eq!(bytes("b", Modifiers::ALT), b"\x1bb");
        assert!(key_bytes(&key("Shift", Modifiers::SHIFT), TermModes::default()).is_none());
        assert!(key_bytes(&KeyEvent { down: false, ..key("a", 0) }, TermModes::default()).is_none());
    }

    #[test]
    fn application_cursor_mode_changes_arrows() {
        let modes = TermModes { application_cursor: true, ..TermModes::default() };
        assert_eq!(key_bytes(&key("ArrowDown", 0), modes).unwrap(), b"\x1bOB");
    }

    #[test]
    fn pastes_type_enter_and_cannot_escape_bracketing() {
        assert_eq!(paste_bytes("ls\nwho\r\n", TermModes::default()), b"ls\rwho\r");
        let modes = TermModes { bracketed_paste: true, ..TermModes::default() };
        assert_eq!(paste_bytes("a\x1b[201~rm", modes), b"\x1b[200~arm\x1b[201~");
    }
}
