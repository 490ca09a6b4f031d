//! The client against scripted server traffic: every encoding, fed whole and a byte at a
//! time; authentication; refusals; and malformed or truncated messages (errors, no panic).

use proptest::prelude::*;
use rfb::{Client, Config, Error, Event, Framebuffer, Rect};

/// Server bytes up to and including ServerInit for a `w` x `h` desktop, RFB 3.8, no security.
fn greeting(w: u16, h: u16) -> Vec<u8> {
    let mut s = b"RFB 003.008\n".to_vec();
    s.extend_from_slice(&[1, 1]); // one security type: None
    s.extend_from_slice(&0u32.to_be_bytes()); // SecurityResult OK
    s.extend_from_slice(&w.to_be_bytes());
    s.extend_from_slice(&h.to_be_bytes());
    s.extend_from_slice(&[32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]);
    s.extend_from_slice(&4u32.to_be_bytes());
    s.extend_from_slice(b"test");
    s
}

fn update(rects: &[(Rect, i32, Vec<u8>)]) -> Vec<u8> {
    let mut s = vec![0, 0];
    s.extend_from_slice(&(rects.len() as u16).to_be_bytes());
    for (r, enc, body) in rects {
        for v in [r.x, r.y, r.w, r.h] {
            s.extend_from_slice(&v.to_be_bytes());
        }
        s.extend_from_slice(&enc.to_be_bytes());
        s.extend_from_slice(body);
    }
    s
}

fn px(r: u8, g: u8, b: u8) -> [u8; 4] {
    [r, g, b, 0] // the x byte is junk on the wire; the framebuffer stores 255
}

fn run(traffic: &[u8], chunk: usize) -> (Client, Vec<Event>) {
    let mut c = Client::new(Config::default());
    let mut events = Vec::new();
    for piece in traffic.chunks(chunk.max(1)) {
        events.extend(c.feed(piece).unwrap());
    }
    (c, events)
}

/// The expected picture for `sample_traffic`, drawn independently.
fn expected() -> Framebuffer {
    let mut f = Framebuffer::new(40, 20).unwrap();
    // Raw 4x2 at (1,1): a ramp.
    for y in 0..2u16 {
        for x in 0..4u16 {
            f.span_mut(1 + x, 1 + y, 1)[..3].copy_from_slice(&[x as u8 * 10, y as u8 * 10, 7]);
        }
    }
    // Hextile 20x18 at (10,0): background blue, one red foreground subrect 3x2 at (2,1) in the
    // first tile, and a coloured green 1x1 at (0,0) in the second tile.
    f.fill(Rect::new(10, 0, 20, 18), [0, 0, 255]);
    f.fill(Rect::new(12, 1, 3, 2), [255, 0, 0]);
    f.fill(Rect::new(26, 0, 1, 1), [0, 255, 0]);
    // ZRLE 10x6 at (30,10): a palette tile of two colours in stripes.
    for y in 0..6u16 {
        for x in 0..10u16 {
            let c = if x.is_multiple_of(2) { [9, 9, 9] } else { [200, 100, 50] };
            f.span_mut(30 + x, 10 + y, 1)[..3].copy_from_slice(&c);
        }
    }
    // CopyRect: the raw ramp copied to (1,10).
    let copy: Vec<Vec<u8>> = (0..2).map(|y| f.span(1, 1 + y, 4).to_vec()).collect();
    for (y, row) in copy.iter().enumerate() {
        f.span_mut(1, 10 + y as u16, 4).copy_from_slice(row);
    }
    f
}

fn sample_traffic() -> Vec<u8> {
    let mut raw = Vec::new();
    for y in 0..2u8 {
        for x in 0..4u8 {
            raw.extend_from_slice(&px(x * 10, y * 10, 7));
        }
    }
    let mut hextile = Vec::new();
    // Tile 1 (16x16): background + foreground + one subrect.
    hextile.push(2 | 4 | 8);
    hextile.extend_from_slice(&px(0, 0, 255));
    hextile.extend_from_slice(&px(255, 0, 0));
    hextile.extend_from_slice(&[1, (2 << 4) | 1, (2 << 4) | 1]);
    // Tile 2 (4x16): coloured subrect, background carried over.
    hextile.push(8 | 16);
    hextile.extend_from_slice(&[1]);
    hextile.extend_from_slice(&px(0, 255, 0));
    hextile.extend_from_slice(&[0, 0]);
    // Tiles 3 and 4 (16x2, 4x2): nothing new, same background.
    hextile.extend_from_slice(&[0, 0]);
    let mut zrle_plain = vec![2]; // palette of 2
    zrle_plain.extend_from_slice(&[9, 9, 9, 200, 100, 50]);
    for _ in 0..6 {
        zrle_plain.extend_from_slice(&[0b0101_0101, 0b0100_0000]);
    }
    let zlib = miniz_oxide_zlib(&zrle_plain);
    let mut zrle = (zlib.len() as u32).to_be_bytes().to_vec();
    zrle.extend_from_slice(&zlib);

    let mut t = greeting(40, 20);
    t.extend(update(&[
        (Rect::new(1, 1, 4, 2), 0, raw),
        (Rect::new(10, 0, 20, 18), 5, hextile),
        (Rect::new(30, 10, 10, 6), 16, zrle),
        (Rect::new(1, 10, 4, 2), 1, [1u16, 1].iter().flat_map(|v| v.to_be_bytes()).collect()),
        (Rect::new(0, 0, 0, 0), -258, vec![]),
    ]));
    t.push(2); // Bell
    t
}

fn miniz_oxide_zlib(data: &[u8]) -> Vec<u8> {
    // A zlib stream as a server's (a whole stream is a valid start of the connection's one).
    let mut out = vec![0x78, 0x01];
    // Stored (uncompressed) deflate block: independent of any deflate implementation here.
    out.push(1);
    out.extend_from_slice(&(data.len() as u16).to_le_bytes());
    out.extend_from_slice(&(!(data.len() as u16)).to_le_bytes());
    out.extend_from_slice(data);
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

#[test]
fn every_encoding_paints_the_expected_picture_whole_or_byte_by_byte() {
    let traffic = sample_traffic();
    for chunk in [traffic.len(), 1, 7, 64] {
        let (c, events) = run(&traffic, chunk);
        let frame = c.framebuffer().unwrap();
        assert_eq!(frame, &expected(), "chunk size {chunk}");
        assert_eq!(events.first(), Some(&Event::Connected { width: 40, height: 20, name: "test".into() }));
        assert!(events.contains(&Event::ExtendedKeys));
        assert!(events.contains(&Event::UpdateDone));
        assert_eq!(events.last(), Some(&Event::Bell));
        assert!(c.supports_extended_keys());
    }
}

#[test]
fn the_client_answers_the_handshake_and_asks_for_its_pixel_format_and_encodings() {
    let mut c = Client::new(Config { shared: true, ..Config::default() });
    c.feed(b"RFB 003.008\n").unwrap();
    assert_eq!(c.take_outgoing(), b"RFB 003.008\n");
    c.feed(&[2, 2, 1]).unwrap();
    assert_eq!(c.take_outgoing(), [1], "chooses None");
    c.feed(&0u32.to_be_bytes()).unwrap();
    assert_eq!(c.take_outgoing(), [1], "shared flag");
    c.feed(&greeting(8, 8)[18..]).unwrap();
    let out = c.take_outgoing();
    assert_eq!(&out[..4], &[0, 0, 0, 0], "SetPixelFormat");
    assert_eq!(&out[4..8], &[32, 24, 0, 1]);
    assert_eq!(out[20], 2, "SetEncodings");
    assert_eq!(&out[out.len() - 10..], &[3, 0, 0, 0, 0, 0, 0, 8, 0, 8], "full update request");
    c.pointer(3, 4, 1);
    c.key(0xff0d, true);
    c.scancode_key(0x61, 0x1e, false);
    assert_eq!(
        c.take_outgoing(),
        [&[5, 1, 0, 3, 0, 4][..], &[4, 1, 0, 0, 0, 0, 0xff, 0x0d], &[255, 0, 0, 0, 0, 0, 0, 0x61, 0, 0, 0, 0x1e]]
            .concat()
    );
}

#[test]
fn vnc_authentication_uses_the_password_and_failure_says_why() {
    let config = || Config { password: Some("password".to_string().into()), shared: true, ..Default::default() };
    let mut c = Client::new(config());
    c.feed(b"RFB 003.008\n\x01\x02").unwrap();
    assert_eq!(c.take_outgoing(), b"RFB 003.008\n\x02");
    let challenge: Vec<u8> = (0..16).collect();
    c.feed(&challenge).unwrap();
    assert_eq!(c.take_outgoing(), hex("b866924125c8eebb9debc1db61c538e2"));
    let mut failure = 1u32.to_be_bytes().to_vec();
    failure.extend_from_slice(&9u32.to_be_bytes());
    failure.extend_from_slice(b"bad creds");
    assert_eq!(c.feed(&failure), Err(Error::AuthenticationFailed("bad creds".into())));
    assert_eq!(c.feed(b""), Err(Error::Failed), "a failed client stays failed");

    let mut no_password = Client::new(Config::default());
    assert_eq!(no_password.feed(b"RFB 003.008\n\x01\x02"), Err(Error::PasswordNeeded));
}

#[test]
fn old_servers_and_refusals() {
    // RFB 3.3: the server picks the security type.
    let mut c = Client::new(Config::default());
    c.feed(b"RFB 003.003\n").unwrap();
    assert_eq!(c.take_outgoing(), b"RFB 003.003\n");
    c.feed(&1u32.to_be_bytes()).unwrap();
    assert_eq!(c.take_outgoing(), [0], "ClientInit straight after None in 3.3");

    let mut refused = Client::new(Config::default());
    let mut t = b"RFB 003.008\n\x00".to_vec();
    t.extend_from_slice(&11u32.to_be_bytes());
    t.extend_from_slice(b"too many!!!");
    assert_eq!(refused.feed(&t), Err(Error::Refused("too many!!!".into())));

    assert!(matches!(Client::new(Config::default()).feed(b"HTTP/1.1 200"), Err(Error::NotRfb(_))));
    assert_eq!(Client::new(Config::default()).feed(b"RFB 002.000\n"), Err(Error::Version(2, 0)));
}

#[test]
fn greetings_that_are_not_text_are_refused_not_panicked_on() {
    // A byte that is not UTF-8 used to shift the lossily decoded text so that slicing it at a
    // byte offset panicked, and the host's driver task died with it.
    for greeting in [&b"RFB 003.0\xff0\n"[..], b"RFB \xff\xff\xff.008\n", b"RFB 003.00\xe9\n", b"RFB 0x3.008\n"] {
        let result = Client::new(Config::default()).feed(greeting);
        assert!(matches!(result, Err(Error::NotRfb(_))), "{greeting:?}: {result:?}");
    }
}

#[test]
fn desktop_size_changes_resize_the_framebuffer() {
    let mut t = greeting(10, 10);
    t.extend(update(&[(Rect::new(0, 0, 30, 20), -223, vec![])]));
    let mut ext = vec![1, 0, 0, 0];
    ext.extend_from_slice(&[0; 16]);
    t.extend(update(&[(Rect::new(0, 0, 64, 48), -308, ext.clone())]));
    // The same size again (servers repeat it after each full update request): not a resize.
    t.extend(update(&[(Rect::new(0, 0, 4, 4), 0, vec![0xff; 64])]));
    t.extend(update(&[(Rect::new(0, 0, 64, 48), -308, ext)]));
    let (c, events) = run(&t, t.len());
    assert_eq!(events.iter().filter(|e| matches!(e, Event::Resized { .. })).count(), 2);
    assert_eq!(c.framebuffer().unwrap().pixel(0, 0), [255, 255, 255, 255], "pixels kept");
    assert!(events.contains(&Event::Resized { width: 30, height: 20 }));
    assert!(events.contains(&Event::Resized { width: 64, height: 48 }));
    assert_eq!(c.framebuffer().map(|f| (f.width(), f.height())), Some((64, 48)));
}

/// A Tight rectangle's compressed data: its compact length, then a zlib stream.
fn tight_zlib(data: &[u8]) -> Vec<u8> {
    let z = miniz_oxide_zlib(data);
    assert!(z.len() < 128, "one-byte compact length");
    [&[z.len() as u8][..], &z].concat()
}

#[test]
fn tight_fill_copy_palette_and_gradient_rectangles_paint_whole_or_byte_by_byte() {
    let mut expected = Framebuffer::new(16, 12).unwrap();
    let mut rects = Vec::new();
    // Fill, 4x4 at (0,0).
    rects.push((Rect::new(0, 0, 4, 4), 7, vec![0x80, 1, 2, 3]));
    expected.fill(Rect::new(0, 0, 4, 4), [1, 2, 3]);
    // Copy filter (no filter byte), 1x2 at (4,0): under 12 bytes, so not compressed.
    rects.push((Rect::new(4, 0, 1, 2), 7, vec![0x00, 9, 8, 7, 6, 5, 4]));
    expected.fill(Rect::new(4, 0, 1, 1), [9, 8, 7]);
    expected.fill(Rect::new(4, 1, 1, 1), [6, 5, 4]);
    // Two-colour palette on stream 1, 10x8 at (5,0): one bit a pixel, rows padded.
    let mut bits = Vec::new();
    for y in 0..8u16 {
        let row: u16 = (0b10_1001_1001 << 6) ^ (y << 6);
        bits.extend_from_slice(&row.to_be_bytes());
        for x in 0..10u16 {
            let on = row & (0x8000 >> x) != 0;
            expected.fill(Rect::new(5 + x, y, 1, 1), if on { [200, 0, 0] } else { [0, 0, 200] });
        }
    }
    let palette = [&[0x50, 1, 1][..], &[0, 0, 200, 200, 0, 0]].concat();
    rects.push((Rect::new(5, 0, 10, 8), 7, [palette, tight_zlib(&bits)].concat()));
    // Gradient on stream 2, 3x2 at (0,8): each channel less its prediction.
    let target = |x: usize, y: usize| [(x * 40 + y * 7) as u8, (200 - x * 30) as u8, (y * 90 + x) as u8];
    let mut residuals = Vec::new();
    for y in 0..2usize {
        for x in 0..3usize {
            for c in 0..3 {
                let at = |x: Option<usize>, y: Option<usize>| match (x, y) {
                    (Some(x), Some(y)) => i16::from(target(x, y)[c]),
                    _ => 0,
                };
                let predicted = (at(x.checked_sub(1), Some(y)) + at(Some(x), y.checked_sub(1))
                    - at(x.checked_sub(1), y.checked_sub(1)))
                .clamp(0, 255) as u8;
                residuals.push(target(x, y)[c].wrapping_sub(predicted));
            }
            expected.fill(Rect::new(x as u16, 8 + y as u16, 1, 1), target(x, y));
        }
    }
    rects.push((Rect::new(0, 8, 3, 2), 7, [&[0x60, 2][..], &tight_zlib(&residuals)].concat()));
    // Three-colour palette on stream 3, 4x4 at (12,8): a byte a pixel.
    let indices: Vec<u8> = (0..16).map(|i| (i % 3) as u8).collect();
    let colours = [[10, 20, 30], [40, 50, 60], [70, 80, 90]];
    for (i, &index) in indices.iter().enumerate() {
        expected.fill(Rect::new(12 + (i % 4) as u16, 8 + (i / 4) as u16, 1, 1), colours[usize::from(index)]);
    }
    let palette = [&[0x70, 1, 2][..], &colours.concat()].concat();
    rects.push((Rect::new(12, 8, 4, 4), 7, [palette.clone(), tight_zlib(&indices)].concat()));
    // The same rectangle again on stream 3, which restarts for it (control bit 3).
    let mut again = [palette, tight_zlib(&indices)].concat();
    again[0] |= 0x08;
    let traffic = [greeting(16, 12), update(&rects), update(&[(Rect::new(12, 8, 4, 4), 7, again.clone())])].concat();
    for chunk in [traffic.len(), 1, 5] {
        let (c, events) = run(&traffic, chunk);
        assert_eq!(c.framebuffer().unwrap(), &expected, "chunk size {chunk}");
        assert_eq!(c.tight_rects(), 6);
        assert_eq!(events.iter().filter(|e| **e == Event::UpdateDone).count(), 2);
    }
    // Without the restart, stream 3 has ended and cannot go on.
    again[0] &= !0x08;
    let mut c = Client::new(Config::default());
    c.feed(&[greeting(16, 12), update(&rects)].concat()).unwrap();
    assert_eq!(
        c.feed(&update(&[(Rect::new(12, 8, 4, 4), 7, again)])),
        Err(Error::Invalid("Tight data shorter than its rectangle"))
    );
}

#[test]
fn malformed_tight_rectangles_are_clear_errors() {
    let r = Rect::new(0, 0, 4, 4);
    let cases: Vec<(Vec<u8>, Error)> = vec![
        (vec![0x90, 1, 0], Error::Invalid("Tight JPEG rectangle (no JPEG quality was asked for)")),
        (vec![0xa0], Error::Invalid("Tight compression type")),
        (vec![0x40, 5], Error::Invalid("Tight filter")),
        // Three colours, and index 3 among the 16.
        (
            [
                &[0x40, 1, 2, 0, 0, 0, 1, 1, 1, 2, 2, 2][..],
                &tight_zlib(&[0, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            ]
            .concat(),
            Error::Invalid("Tight palette index outside the palette"),
        ),
        // Copy filter, 48 bytes expected, 10 sent.
        ([&[0x00][..], &tight_zlib(&[0; 10])].concat(), Error::Invalid("Tight data shorter than its rectangle")),
        ([&[0x00][..], &tight_zlib(&[0; 60])].concat(), Error::Invalid("Tight data inflates past its rectangle")),
    ];
    for (body, error) in cases {
        let mut c = Client::new(Config::default());
        c.feed(&greeting(8, 8)).unwrap();
        assert_eq!(c.feed(&update(&[(r, 7, body.clone())])), Err(error), "{body:?}");
    }
}

#[test]
fn malformed_updates_are_clear_errors() {
    let cases: Vec<(Vec<u8>, Error)> = vec![
        (
            update(&[(Rect::new(5, 5, 10, 10), 0, vec![0; 400])]),
            Error::OutOfBounds { x: 5, y: 5, w: 10, h: 10, width: 8, height: 8 },
        ),
        (update(&[(Rect::new(0, 0, 2, 2), 8, vec![])]), Error::UnknownEncoding(8)),
        (update(&[(Rect::new(0, 0, 8, 8), 5, vec![0xff])]), Error::Invalid("hextile subencoding")),
        (
            update(&[(Rect::new(0, 0, 8, 8), 5, vec![8, 1, 0x70, 0x70])]),
            Error::Invalid("hextile subrectangle outside its tile"),
        ),
        (
            update(&[(Rect::new(0, 0, 8, 8), 16, [&4u32.to_be_bytes()[..], &[1, 2, 3, 4]].concat())]),
            Error::Invalid("ZRLE zlib stream"),
        ),
        (
            update(&[(Rect::new(0, 0, 2, 2), 1, vec![0, 7, 0, 7])]),
            Error::OutOfBounds { x: 7, y: 7, w: 2, h: 2, width: 8, height: 8 },
        ),
        (vec![99], Error::UnknownMessage(99)),
        ([&[3, 0, 0, 0][..], &i32::MAX.to_be_bytes()].concat(), Error::TooLong("server cut text", 1 << 20)),
        // Negative lengths are the Extended Clipboard's, which has flags.
        ([&[3, 0, 0, 0][..], &i32::MIN.to_be_bytes()].concat(), Error::TooLong("server cut text", 1 << 20)),
        (
            [&[3, 0, 0, 0][..], &(-1i32).to_be_bytes()].concat(),
            Error::Invalid("extended clipboard message without flags"),
        ),
        (
            [&[3, 0, 0, 0][..], &(-6i32).to_be_bytes(), &(1u32 << 28 | 1).to_be_bytes(), b"zz"].concat(),
            Error::Invalid("clipboard data that does not inflate (or is over 1 MiB)"),
        ),
    ];
    for (message, error) in cases {
        let mut c = Client::new(Config::default());
        c.feed(&greeting(8, 8)).unwrap();
        assert_eq!(c.feed(&message), Err(error));
    }
}

#[test]
fn zrle_runs_may_not_overflow_their_tile() {
    let mut plain = vec![128, 1, 2, 3, 255, 255, 10]; // a run of 1+255+255+10 = 521 > 64 pixels
    plain.extend_from_slice(&[0; 8]);
    let zlib = miniz_oxide_zlib(&plain);
    let mut body = (zlib.len() as u32).to_be_bytes().to_vec();
    body.extend_from_slice(&zlib);
    let mut c = Client::new(Config::default());
    c.feed(&greeting(8, 8)).unwrap();
    assert_eq!(
        c.feed(&update(&[(Rect::new(0, 0, 8, 8), 16, body)])),
        Err(Error::Invalid("ZRLE run longer than its tile"))
    );
}

#[test]
fn a_cursor_shape_arrives_with_its_mask_as_alpha_and_bad_ones_are_refused() {
    // A 10x2 cursor, hotspot (3,1): pixel (x,y) has colour (x, y, 9); the mask shows the
    // first row's even pixels and all of the second row (mask rows are 2 bytes, MSB first).
    let mut body = Vec::new();
    for y in 0..2u8 {
        for x in 0..10u8 {
            body.extend_from_slice(&px(x, y, 9));
        }
    }
    body.extend_from_slice(&[0b1010_1010, 0b1000_0000, 0xff, 0xc0]);
    let mut t = greeting(8, 8);
    t.extend(update(&[(Rect::new(3, 1, 10, 2), -239, body.clone())]));
    // An empty one hides the pointer; a 200-pixel one is cut to 128.
    t.extend(update(&[(Rect::new(0, 0, 0, 0), -239, vec![])]));
    let mut large = vec![0; 200 * 130 * 4];
    large.extend(vec![0xff; 25 * 130]);
    t.extend(update(&[(Rect::new(150, 2, 200, 130), -239, large)]));
    for chunk in [1, 7, t.len()] {
        let (_, events) = run(&t, chunk);
        let cursors: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::Cursor(c) => Some(c.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(cursors.len(), 3, "{events:?}");
        let arrow = &cursors[0];
        assert_eq!((arrow.hotspot_x, arrow.hotspot_y, arrow.width, arrow.height), (3, 1, 10, 2));
        let alpha: Vec<u8> = arrow.rgba.chunks(4).map(|p| p[3]).collect();
        assert_eq!(alpha, [255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]);
        assert_eq!(&arrow.rgba[4 * 13..4 * 14], &[3, 1, 9, 255], "pixel (3,1)");
        assert!(cursors[1].is_hidden());
        assert_eq!((cursors[2].width, cursors[2].height, cursors[2].hotspot_x), (128, 128, 127));
    }
    let mut c = Client::new(Config::default());
    c.feed(&greeting(8, 8)).unwrap();
    assert_eq!(
        c.feed(&update(&[(Rect::new(0, 0, 2000, 2), -239, vec![])])),
        Err(Error::Invalid("cursor larger than 1024 pixels"))
    );
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

proptest! {
    #[test]
    fn junk_after_the_handshake_is_an_error_or_a_wait_never_a_panic(junk in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut c = Client::new(Config::default());
        c.feed(&greeting(50, 40)).unwrap();
        let _ = c.feed(&junk);
    }

    #[test]
    fn any_split_of_the_traffic_gives_the_same_picture(cuts in proptest::collection::vec(0usize..2000, 0..12)) {
        let traffic = sample_traffic();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % traffic.len()).collect();
        cuts.sort_unstable();
        let mut c = Client::new(Config::default());
        let mut start = 0;
        for cut in cuts.into_iter().chain([traffic.len()]) {
            c.feed(&traffic[start..cut]).unwrap();
            start = cut;
        }
        prop_assert_eq!(c.framebuffer().unwrap(), &expected());
    }

    #[test]
    fn every_prefix_of_good_traffic_waits_rather_than_fails(cut in 0usize..2000) {
        let traffic = sample_traffic();
        let mut c = Client::new(Config::default());
        prop_assert!(c.feed(&traffic[..cut % traffic.len()]).is_ok());
    }
}

#[test]
fn empty_tight_rectangles_paint_nothing() {
    // Found by the `rfb_client` fuzz target: a zero-width rectangle has rows of no bytes.
    for (rect, body) in [
        (Rect::new(0, 0, 0, 4), vec![0x00]),
        (Rect::new(0, 0, 0, 4), vec![0x40, 2]),
        (Rect::new(0, 0, 0, 4), vec![0x40, 1, 1, 1, 2, 3, 4, 5, 6]),
        (Rect::new(0, 0, 4, 0), vec![0x40, 1, 2, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
    ] {
        let mut c = Client::new(Config::default());
        c.feed(&greeting(8, 8)).unwrap();
        let events = c.feed(&update(&[(rect, 7, body)])).unwrap();
        assert_eq!(events, [Event::Updated(rect), Event::UpdateDone]);
        assert_eq!(c.framebuffer().unwrap(), &Framebuffer::new(8, 8).unwrap());
    }
}

#[test]
fn a_server_with_extended_desktop_size_is_asked_to_resize_its_first_screen() {
    let mut c = Client::new(Config::default());
    c.feed(&greeting(10, 10)).unwrap();
    c.take_outgoing();
    assert!(!c.set_desktop_size(800, 600), "not before the server says it can");
    assert!(c.take_outgoing().is_empty());
    // One screen: id 7, at 0,0, 64x48, flags 0x01020304.
    let mut ext = vec![1, 0, 0, 0];
    ext.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 0, 0, 64, 0, 48, 1, 2, 3, 4]);
    c.feed(&update(&[(Rect::new(0, 0, 64, 48), -308, ext)])).unwrap();
    c.take_outgoing();
    assert!(c.can_resize());
    assert!(c.set_desktop_size(800, 600));
    let mut want = vec![251, 0, 0x03, 0x20, 0x02, 0x58, 1, 0];
    want.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 0, 0x03, 0x20, 0x02, 0x58, 1, 2, 3, 4]);
    assert_eq!(c.take_outgoing(), want);
    assert!(!c.set_desktop_size(0, 600), "no empty desktop");
}

#[test]
fn qemus_pointer_motion_change_makes_relative_moves_biased_deltas() {
    let mut c = Client::new(Config::default());
    c.feed(&greeting(10, 10)).unwrap();
    c.take_outgoing();
    assert!(!c.pointer_motion(5, -3, 0), "not before the server says its pointer is relative");
    // x = 0: relative (a PS/2 mouse).
    let events = c.feed(&update(&[(Rect::new(0, 0, 10, 10), -257, vec![])])).unwrap();
    assert!(events.contains(&Event::PointerMode { absolute: false }));
    c.take_outgoing();
    assert!(c.pointer_motion(5, -3, 1));
    assert_eq!(c.take_outgoing(), [5, 1, 0x80, 0x04, 0x7f, 0xfc]);
    // x = 1: a tablet again.
    let events = c.feed(&update(&[(Rect::new(1, 0, 10, 10), -257, vec![])])).unwrap();
    assert!(events.contains(&Event::PointerMode { absolute: true }));
    assert!(!c.pointer_motion(1, 1, 0));
}
