//! Property tests: the text and graphics codecs round-trip any screen change, and a sealed record opens only
//! under the right key, sequence number and direction, and only unaltered.
#![cfg(not(target_arch = "wasm32"))]

use proptest::prelude::*;
use shared::crypto::derive::{traffic_keys, Binding};
use shared::crypto::{CipherSuite, Direction, KeyChain, Pms, RecordCipher};
use shared::video::text::{apply, encode_delta, encode_full, Attrs, Cell, Color, Cursor, Style, TextScreen};

fn color() -> impl Strategy<Value = Color> {
    prop_oneof![
        Just(Color::Default),
        any::<u8>().prop_map(Color::Indexed),
        any::<(u8, u8, u8)>().prop_map(|(r, g, b)| Color::Rgb(r, g, b))
    ]
}

fn cell() -> impl Strategy<Value = Cell> {
    (any::<char>(), color(), color(), any::<u8>())
        .prop_map(|(ch, fg, bg, a)| Cell { ch, style: Style { fg, bg, attrs: Attrs(a) } })
}

/// A screen size and a list of (row, col, cell) writes inside it.
fn edits() -> impl Strategy<Value = (u16, u16, Vec<(u16, u16, Cell)>)> {
    (1u16..=120, 1u16..=40).prop_flat_map(|(cols, rows)| {
        (Just(cols), Just(rows), proptest::collection::vec((0..rows, 0..cols, cell()), 0..300))
    })
}

fn screen_with(cols: u16, rows: u16, edits: &[(u16, u16, Cell)], cursor: (u16, u16, bool)) -> TextScreen {
    let mut s = TextScreen::new(cols, rows).unwrap();
    for &(r, c, cell) in edits {
        s.set(r, c, cell);
    }
    s.cursor = Cursor { row: cursor.0, col: cursor.1, visible: cursor.2 };
    s
}

fn sealers(suite: CipherSuite, pms: [u8; 32], direction: Direction) -> RecordCipher {
    let chain = KeyChain::new(Pms::from_bytes(pms));
    let binding = Binding { suite, generation: 0, client_nonce: &[1; 32], server_nonce: &[2; 32] };
    RecordCipher::new(suite, &traffic_keys(chain.key(), &binding, direction, 0))
}

fn suite() -> impl Strategy<Value = CipherSuite> {
    prop_oneof![Just(CipherSuite::Rc4HmacSha1), Just(CipherSuite::ChaCha20Poly1305)]
}

proptest! {
    #[test]
    fn text_updates_reproduce_the_screen((cols, rows, first) in edits(), second in proptest::collection::vec((0u16..40, 0u16..120, cell()), 0..200), cur in any::<(u16, u16, bool)>()) {
        let a = screen_with(cols, rows, &first, (0, 0, true));
        let second: Vec<_> = second.into_iter().map(|(r, c, cell)| (r % rows, c % cols, cell)).collect();
        let mut b = a.clone();
        for &(r, c, cell) in &second { b.set(r, c, cell); }
        b.cursor = Cursor { row: cur.0 % rows, col: cur.1 % cols, visible: cur.2 };

        let mut browser = TextScreen::new(1, 1).unwrap();
        apply(&mut browser, &encode_full(&a)).unwrap();
        prop_assert_eq!(&browser, &a);
        if let Some(delta) = encode_delta(&a, &b) {
            apply(&mut browser, &delta).unwrap();
        }
        prop_assert_eq!(&browser, &b);
    }

    #[test]
    fn scrolled_screens_round_trip((cols, rows, first) in edits(), k in 1u16..40, fresh in proptest::collection::vec((0u16..120, cell()), 0..200)) {
        let a = screen_with(cols, rows, &first, (rows - 1, 0, true));
        let k = k % rows.max(2);
        let mut b = TextScreen::new(cols, rows).unwrap();
        for row in 0..rows.saturating_sub(k) {
            for col in 0..cols {
                b.set(row, col, *a.cell(row + k, col).unwrap());
            }
        }
        for (i, (col, cell)) in fresh.into_iter().enumerate() {
            b.set(rows - 1 - (i as u16 % k.max(1)).min(rows - 1), col % cols, cell);
        }
        b.cursor = Cursor { row: rows - 1, col: 1 % cols, visible: true };
        let mut browser = a.clone();
        if let Some(delta) = encode_delta(&a, &b) {
            apply(&mut browser, &delta).unwrap();
        }
        prop_assert_eq!(browser, b);
    }

    #[test]
    fn text_decoder_survives_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut screen = TextScreen::new(80, 25).unwrap();
        let before = screen.clone();
        if apply(&mut screen, &bytes).is_err() {
            prop_assert_eq!(screen, before);
        }
    }

    #[test]
    fn sealed_records_open_only_with_the_right_key_sequence_and_direction(
        suite in suite(),
        pms in any::<[u8; 32]>(),
        other_pms in any::<[u8; 32]>(),
        seq in any::<u64>(),
        plaintext in proptest::collection::vec(any::<u8>(), 0..2048),
        flip in any::<(usize, u8)>(),
    ) {
        let header = [0x17, 0, 0, 0, 0, 0, 0];
        let mut body = plaintext.clone();
        sealers(suite, pms, Direction::ClientToServer).seal(seq, &header, &mut body, 0);
        let sealed = body.clone();

        let mut ok = sealed.clone();
        prop_assert!(sealers(suite, pms, Direction::ClientToServer).open(seq, &header, &mut ok, 0).is_ok());
        prop_assert_eq!(&ok, &plaintext);

        let mut wrong_seq = sealed.clone();
        prop_assert!(sealers(suite, pms, Direction::ClientToServer).open(seq.wrapping_add(1), &header, &mut wrong_seq, 0).is_err());
        let mut wrong_dir = sealed.clone();
        prop_assert!(sealers(suite, pms, Direction::ServerToClient).open(seq, &header, &mut wrong_dir, 0).is_err());
        if other_pms != pms {
            let mut wrong_key = sealed.clone();
            prop_assert!(sealers(suite, other_pms, Direction::ClientToServer).open(seq, &header, &mut wrong_key, 0).is_err());
        }
        let mut flipped = sealed.clone();
        let at = flip.0 % flipped.len();
        flipped[at] ^= flip.1.max(1);
        prop_assert!(sealers(suite, pms, Direction::ClientToServer).open(seq, &header, &mut flipped, 0).is_err());
        let mut wrong_header = sealed;
        prop_assert!(sealers(suite, pms, Direction::ClientToServer).open(seq, &[0x17, 0, 1, 0, 0, 0, 0], &mut wrong_header, 0).is_err());
    }
}

mod graphics {
    use proptest::prelude::*;
    use shared::video::frame::{Framebuffer, Rect};
    use shared::video::tiles::{apply, encode_delta, encode_full, Copy, Encoder, StreamDecoder, StreamEncoder};

    /// An edit of a 150x100 screen: fill a rectangle, or move one (as a window drag would).
    #[derive(Debug, Clone)]
    enum Edit {
        Fill(Rect, [u8; 3]),
        Move(u16, u16, Rect),
    }

    fn rect() -> impl Strategy<Value = Rect> {
        (0u16..150, 0u16..100, 1u16..80, 1u16..60)
            .prop_map(|(x, y, w, h)| Rect::new(x, y, w.min(150 - x), h.min(100 - y)))
    }

    fn edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            (rect(), any::<[u8; 3]>()).prop_map(|(r, c)| Edit::Fill(r, c)),
            (rect(), 0u16..150, 0u16..100).prop_map(|(r, x, y)| Edit::Move(x.min(150 - r.w), y.min(100 - r.h), r)),
        ]
    }

    proptest! {
        #[test]
        fn any_edits_arrive_exactly_and_the_encoder_keeps_up(
            edits in proptest::collection::vec(edit(), 1..12),
            use_hints in any::<bool>(),
        ) {
            let mut next = Framebuffer::new(150, 100).unwrap();
            for y in 0..100u16 {
                for x in 0..150u16 {
                    next.span_mut(x, y, 1)[..3].copy_from_slice(&[(x * 3) as u8, (y * 5) as u8, (x ^ y) as u8]);
                }
            }
            let mut view = Framebuffer::new(1, 1).unwrap();
            apply(&mut view, &encode_full(&next)).unwrap();
            let mut prev = next.clone();
            let mut hints = Vec::new();
            for e in &edits {
                match *e {
                    Edit::Fill(r, c) => next.fill(r, c),
                    Edit::Move(x, y, r) => {
                        next.copy_within(r.x, r.y, Rect::new(x, y, r.w, r.h));
                        hints.push(Copy { src_x: r.x, src_y: r.y, dst: Rect::new(x, y, r.w, r.h) });
                    }
                }
            }
            let hints = if use_hints { hints } else { Vec::new() };
            if let Some(update) = encode_delta(&mut prev, &next, &hints) {
                apply(&mut view, &update).unwrap();
            }
            prop_assert_eq!(&prev, &next);
            prop_assert_eq!(&view, &next);
        }

        /// The host's stream over many updates: each edit reported as the source would (the
        /// filled rectangle, or the move as a hint), restarts at random, and a second viewer
        /// that joins half-way with a standalone full frame.
        #[test]
        fn a_stream_of_edits_arrives_exactly_at_every_viewer(
            steps in proptest::collection::vec((edit(), any::<bool>()), 1..16),
        ) {
            let mut next = Framebuffer::new(150, 100).unwrap();
            for y in 0..100u16 {
                for x in 0..150u16 {
                    next.span_mut(x, y, 1)[..3].copy_from_slice(&[(x * 7) as u8, (y * 3) as u8, (x | y) as u8]);
                }
            }
            let mut encoder = StreamEncoder::new(Encoder::default());
            let mut prev = next.clone();
            let (mut first, mut first_stream) = (next.clone(), StreamDecoder::default());
            let mut second: Option<(Framebuffer, StreamDecoder)> = None;
            encoder.restart();
            for (i, (e, restart)) in steps.iter().enumerate() {
                if i == steps.len() / 2 {
                    let mut view = Framebuffer::new(1, 1).unwrap();
                    apply(&mut view, &encode_full(&prev)).unwrap();
                    second = Some((view, StreamDecoder::default()));
                    encoder.restart();
                }
                if *restart {
                    encoder.restart();
                }
                let (hints, reported) = match *e {
                    Edit::Fill(r, c) => {
                        next.fill(r, c);
                        (vec![], vec![r])
                    }
                    Edit::Move(x, y, r) => {
                        next.copy_within(r.x, r.y, Rect::new(x, y, r.w, r.h));
                        (vec![Copy { src_x: r.x, src_y: r.y, dst: Rect::new(x, y, r.w, r.h) }], vec![])
                    }
                };
                if let Some(update) = encoder.delta(&mut prev, &next, &hints, Some(&reported)) {
                    first_stream.apply(&mut first, &update).unwrap();
                    if let Some((view, stream)) = &mut second {
                        stream.apply(view, &update).unwrap();
                    }
                }
                prop_assert_eq!(&prev, &next);
                prop_assert_eq!(&first, &next);
                if let Some((view, _)) = &second {
                    prop_assert_eq!(view, &next);
                }
            }
        }
    }
}
