//! The clipboard: RFB's cut text (Latin-1), and the Extended Clipboard pseudo-encoding
//! (UTF-8 text, as TigerVNC and QEMU have it): the server states its capabilities, either side
//! notifies that it has text, the other requests it, and it is provided as a zlib stream of
//! its own (a length, then the text with CRLF line breaks and a NUL).

use crate::{Error, Result};

pub const ENC_EXTENDED_CLIPBOARD: i32 = 0xc0a1_e5ce_u32 as i32;

const TEXT: u32 = 1;
const CAPS: u32 = 1 << 24;
const REQUEST: u32 = 1 << 25;
const PEEK: u32 = 1 << 26;
const NOTIFY: u32 = 1 << 27;
const PROVIDE: u32 = 1 << 28;

/// The most clipboard text taken or sent, in bytes.
pub const MAX_TEXT: usize = 1 << 20;

#[derive(Default)]
pub struct Clipboard {
    /// The server's capabilities, once it said it has the extension.
    server: Option<u32>,
    /// Text of ours the server may ask for.
    ours: Option<String>,
}

impl Clipboard {
    /// Whether the server speaks the Extended Clipboard (UTF-8).
    pub fn extended(&self) -> bool {
        self.server.is_some()
    }

    /// A server message with a negative length: its flags and the rest. Returns text the
    /// server provided, and writes what to answer to `out`.
    pub fn server_message(&mut self, flags: u32, payload: &[u8], out: &mut Vec<u8>) -> Result<Option<String>> {
        if flags & CAPS != 0 {
            self.server = Some(flags);
            // Ours: text only, at most MAX_TEXT.
            message(out, &[CAPS | TEXT | REQUEST | PEEK | NOTIFY | PROVIDE, MAX_TEXT as u32], &[]);
            return Ok(None);
        }
        if flags & PROVIDE != 0 && flags & TEXT != 0 {
            return provided_text(payload).map(Some);
        }
        if flags & REQUEST != 0 && flags & TEXT != 0 {
            if let Some(text) = &self.ours {
                provide(out, text);
            }
        }
        if flags & PEEK != 0 {
            message(out, &[NOTIFY | if self.ours.is_some() { TEXT } else { 0 }], &[]);
        }
        if flags & NOTIFY != 0 && flags & TEXT != 0 {
            message(out, &[REQUEST | TEXT], &[]);
        }
        Ok(None)
    }

    /// Puts `text` on the server's clipboard: announced (the server asks for it) or given
    /// at once, as the server's capabilities allow; as Latin-1 cut text without the extension.
    pub fn set(&mut self, text: &str, out: &mut Vec<u8>) {
        match self.server {
            Some(caps) if caps & NOTIFY != 0 => {
                self.ours = Some(text.to_string());
                message(out, &[NOTIFY | TEXT], &[]);
            }
            Some(_) => provide(out, text),
            None => {
                // Latin-1 with LF line breaks; what Latin-1 cannot hold becomes '?'.
                let latin1: Vec<u8> =
                    text.replace("\r\n", "\n").chars().map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).collect();
                let latin1 = &latin1[..latin1.len().min(MAX_TEXT)];
                out.extend_from_slice(&[6, 0, 0, 0]);
                out.extend_from_slice(&(latin1.len() as u32).to_be_bytes());
                out.extend_from_slice(latin1);
            }
        }
    }
}

/// A ClientCutText with the extension's negative length: `words` (flags first), then `data`.
fn message(out: &mut Vec<u8>, words: &[u32], data: &[u8]) {
    let len = words.len() * 4 + data.len();
    out.extend_from_slice(&[6, 0, 0, 0]);
    out.extend_from_slice(&(-(len as i64) as i32).to_be_bytes());
    for word in words {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out.extend_from_slice(data);
}

fn provide(out: &mut Vec<u8>, text: &str) {
    let mut body = text.replace("\r\n", "\n").replace('\n', "\r\n").into_bytes();
    body.truncate(MAX_TEXT - 1);
    // Cut on a character boundary: the text stays UTF-8.
    while std::str::from_utf8(&body).is_err() {
        body.pop();
    }
    body.push(0);
    let mut plain = (body.len() as u32).to_be_bytes().to_vec();
    plain.extend_from_slice(&body);
    message(out, &[PROVIDE | TEXT], &miniz_oxide::deflate::compress_to_vec_zlib(&plain, 6));
}

/// The text of a provide message: a zlib stream of a length and that many bytes of UTF-8.
/// TigerVNC flushes its stream rather than finishing it: what inflated before the input ran
/// out is the message.
fn provided_text(payload: &[u8]) -> Result<String> {
    use miniz_oxide::inflate::{decompress_to_vec_zlib_with_limit, TINFLStatus};
    let plain = match decompress_to_vec_zlib_with_limit(payload, MAX_TEXT + 4) {
        Ok(plain) => plain,
        Err(e) if e.status == TINFLStatus::FailedCannotMakeProgress && !e.output.is_empty() => e.output,
        Err(_) => return Err(Error::Invalid("clipboard data that does not inflate (or is over 1 MiB)")),
    };
    let len = plain.get(..4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let text = len.and_then(|len| plain.get(4..4 + len)).ok_or(Error::Invalid("clipboard text past its data"))?;
    let text = String::from_utf8_lossy(text);
    Ok(text.trim_end_matches('\0').replace("\r\n", "\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flags and rest of each ClientCutText in `out`.
    fn sent(out: &[u8]) -> Vec<(u32, Vec<u8>)> {
        let mut messages = Vec::new();
        let mut at = 0;
        while at < out.len() {
            assert_eq!(out[at], 6);
            let len = i32::from_be_bytes(out[at + 4..at + 8].try_into().unwrap());
            let n = len.unsigned_abs() as usize;
            let body = &out[at + 8..at + 8 + n];
            messages.push((u32::from_be_bytes(body[..4].try_into().unwrap()), body[4..].to_vec()));
            at += 8 + n;
        }
        messages
    }

    #[test]
    fn the_extension_notifies_requests_and_provides_utf8_text() {
        let mut c = Clipboard::default();
        let mut out = Vec::new();
        // Without the extension: Latin-1.
        c.set("größe ✓\n", &mut out);
        assert_eq!(out, [&[6, 0, 0, 0, 0, 0, 0, 8][..], b"gr\xf6\xdfe ?\n"].concat());
        out.clear();

        c.server_message(CAPS | TEXT | REQUEST | NOTIFY | PROVIDE, &[0, 0, 0, 0], &mut out).unwrap();
        assert!(c.extended());
        assert_eq!(sent(&out)[0].0, CAPS | TEXT | REQUEST | PEEK | NOTIFY | PROVIDE);
        out.clear();

        // The server has text: asked for, then taken from its provide.
        c.server_message(NOTIFY | TEXT, &[], &mut out).unwrap();
        assert_eq!(sent(&out), [(REQUEST | TEXT, vec![])]);
        out.clear();
        let mut provided = Vec::new();
        provide(&mut provided, "grüße\nвсем ✓");
        let (flags, data) = sent(&provided).remove(0);
        assert_eq!(c.server_message(flags, &data, &mut out).unwrap().as_deref(), Some("grüße\nвсем ✓"));

        // Ours: announced, and provided when asked.
        c.set("€ and\nmore", &mut out);
        assert_eq!(sent(&out), [(NOTIFY | TEXT, vec![])]);
        out.clear();
        c.server_message(REQUEST | TEXT, &[], &mut out).unwrap();
        let (flags, data) = sent(&out).remove(0);
        assert_eq!(flags, PROVIDE | TEXT);
        let plain = miniz_oxide::inflate::decompress_to_vec_zlib(&data).unwrap();
        assert_eq!(&plain[4..], "€ and\r\nmore\0".as_bytes(), "CRLF and a NUL, as TigerVNC has it");
        assert_eq!(provided_text(&data).unwrap(), "€ and\nmore");
    }

    #[test]
    fn a_flushed_but_unfinished_stream_as_tigervnc_sends_it_gives_its_text() {
        // What TigerVNC 1.12's Xvnc sent for `printf 'hello ✓' | xclip`: a sync flush, no end.
        let payload = b"x\x9cb``\xe0\xcaH\xcd\xc9\xc9Wx4g2\x03\x00\x00\x00\xff\xff";
        assert_eq!(provided_text(payload).unwrap(), "hello ✓");
    }

    #[test]
    fn bad_provides_are_errors() {
        assert!(provided_text(b"not zlib").is_err());
        let short = miniz_oxide::deflate::compress_to_vec_zlib(&[0, 0, 1, 0, b'x'], 6);
        assert!(provided_text(&short).is_err(), "a length past the data");
        let bomb = miniz_oxide::deflate::compress_to_vec_zlib(&vec![0; MAX_TEXT + 64], 6);
        assert!(provided_text(&bomb).is_err(), "over the limit");
    }
}
