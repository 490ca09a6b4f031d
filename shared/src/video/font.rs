//! The console's bitmap font: Terminus 8x16 (SIL OFL 1.1, see static/fonts), a PSF1 file with a
//! Unicode table, embedded in the Wasm module so text is crisp at any zoom and needs no fetch.

use std::collections::HashMap;

pub const GLYPH_WIDTH: usize = 8;
pub const GLYPH_HEIGHT: usize = 16;

static TERMINUS: &[u8] = include_bytes!("../../../static/fonts/terminus-8x16.psf");

pub struct Font {
    glyphs: &'static [u8],
    map: HashMap<char, u16>,
    fallback: u16,
}

#[derive(Debug, PartialEq, Eq)]
pub enum FontError {
    NotPsf1,
    WrongSize,
    Truncated,
}

impl Font {
    pub fn terminus() -> Result<Self, FontError> {
        Self::parse(TERMINUS)
    }

    /// Parses a PSF1 font of 8x16 glyphs with a Unicode table.
    pub fn parse(data: &'static [u8]) -> Result<Self, FontError> {
        if data.len() < 4 || data[0] != 0x36 || data[1] != 0x04 {
            return Err(FontError::NotPsf1);
        }
        let mode = data[2];
        if usize::from(data[3]) != GLYPH_HEIGHT {
            return Err(FontError::WrongSize);
        }
        let count = if mode & 0x01 != 0 { 512 } else { 256 };
        let glyph_end = 4 + count * GLYPH_HEIGHT;
        let glyphs = data.get(4..glyph_end).ok_or(FontError::Truncated)?;
        let mut map = HashMap::new();
        if mode & 0x06 != 0 {
            // Per glyph: UCS-2 code points, then optional 0xFFFE sequences, ended by 0xFFFF.
            let table = &data[glyph_end..];
            let mut glyph: u16 = 0;
            let mut in_sequence = false;
            for pair in table.chunks_exact(2) {
                match u16::from_le_bytes([pair[0], pair[1]]) {
                    0xFFFF => {
                        glyph += 1;
                        in_sequence = false;
                    }
                    0xFFFE => in_sequence = true,
                    cp if !in_sequence => {
                        if let Some(ch) = char::from_u32(u32::from(cp)) {
                            map.entry(ch).or_insert(glyph);
                        }
                    }
                    _ => {}
                }
            }
        } else {
            for i in 0..count as u16 {
                if let Some(ch) = char::from_u32(u32::from(i)) {
                    map.insert(ch, i);
                }
            }
        }
        let fallback = map.get(&'\u{FFFD}').or_else(|| map.get(&'?')).copied().unwrap_or(0);
        Ok(Self { glyphs, map, fallback })
    }

    /// Sixteen rows of eight pixels, most significant bit on the left.
    pub fn glyph(&self, ch: char) -> &[u8] {
        let index = usize::from(self.map.get(&ch).copied().unwrap_or(self.fallback));
        &self.glyphs[index * GLYPH_HEIGHT..(index + 1) * GLYPH_HEIGHT]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminus_covers_latin_box_drawing_and_blocks() {
        let font = Font::terminus().unwrap();
        let fallback = font.glyph('\u{10FFFF}').to_vec();
        for ch in ['A', 'z', '0', '~', 'é', 'ß', '─', '│', '┌', '█', '░', 'λ', 'Ж'] {
            assert!(font.map.contains_key(&ch), "{ch:?} missing");
            assert_ne!(font.glyph(ch), fallback.as_slice(), "{ch:?} drawn as the fallback");
        }
        assert!(font.glyph(' ').iter().all(|&row| row == 0));
    }

    #[test]
    fn junk_is_not_a_font() {
        assert_eq!(Font::parse(b"nope").err(), Some(FontError::NotPsf1));
        assert_eq!(Font::parse(&[0x36, 0x04, 0, 16, 1, 2]).err(), Some(FontError::Truncated));
    }
}
