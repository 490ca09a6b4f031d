//! Workloads shared by the native benchmark (criterion) and the Wasm one (headless Chromium).

use shared::crypto::derive::{traffic_keys, Binding};
use shared::crypto::{CipherSuite, Direction, KeyChain, Pms, RecordCipher};
use shared::video::text::{Attrs, Cell, Color, Style, TextScreen};

pub const SIZES: [(&str, usize); 3] = [("64B", 64), ("1KiB", 1024), ("64KiB", 64 * 1024)];
const HEADER: [u8; 7] = [0x17, 0, 0, 0, 0, 0, 0];

/// A sealer and an opener for one direction of one epoch, keyed alike.
pub fn cipher_pair(suite: CipherSuite) -> (RecordCipher, RecordCipher) {
    let chain = KeyChain::new(Pms::from_bytes([0x42; 32]));
    let binding = Binding { suite, generation: 0, client_nonce: &[1; 32], server_nonce: &[2; 32] };
    let keys = traffic_keys(chain.key(), &binding, Direction::ServerToClient, 0);
    (RecordCipher::new(suite, &keys), RecordCipher::new(suite, &keys))
}

/// Seals `plaintext` as record `seq` and opens it again: what one record costs both ends.
pub fn seal_open(sealer: &mut RecordCipher, opener: &mut RecordCipher, seq: u64, plaintext: &[u8]) -> usize {
    let mut body = plaintext.to_vec();
    sealer.seal(seq, &HEADER, &mut body, 0);
    // The pair is keyed alike and kept in step, so this cannot fail.
    opener.open(seq, &HEADER, &mut body, 0).expect("round trip");
    body.len()
}

/// A busy 100x30 terminal screen: coloured text on every row.
pub fn busy_screen(seed: u32) -> TextScreen {
    let mut s = TextScreen::new(100, 30).expect("valid size");
    let mut x = seed.wrapping_mul(2654435761).max(1);
    for row in 0..30 {
        for col in 0..100 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let ch = char::from(b' ' + (x % 94) as u8);
            let style = Style {
                fg: Color::Indexed((x >> 8) as u8 % 16),
                bg: Color::Default,
                attrs: Attrs((x >> 16) as u8 & 1),
            };
            s.set(row, col, Cell { ch, style });
        }
    }
    s
}

/// The same screen scrolled up by one line with a new bottom line: a shell printing output.
pub fn scrolled(prev: &TextScreen, seed: u32) -> TextScreen {
    let fresh = busy_screen(seed);
    let mut next = prev.clone();
    for row in 0..prev.rows() - 1 {
        for col in 0..prev.cols() {
            next.set(row, col, *prev.cell(row + 1, col).expect("in range"));
        }
    }
    for col in 0..prev.cols() {
        next.set(prev.rows() - 1, col, *fresh.cell(0, col).expect("in range"));
    }
    next
}

/// A keystroke's echo: one cell and the cursor.
pub fn echoed(prev: &TextScreen) -> TextScreen {
    let mut next = prev.clone();
    next.set(29, 10, Cell { ch: 'x', style: Style::default() });
    next.cursor.col = 11;
    next
}
