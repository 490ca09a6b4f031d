use proptest::prelude::*;

use crate::ber::{element, FrameError, Framer};
use crate::starttls;

/// A SEQUENCE of `body` bytes in the shortest definite form.
fn message(body: usize) -> Vec<u8> {
    let mut out = vec![0x30];
    if body < 0x80 {
        out.push(body as u8);
    } else {
        let digits: Vec<u8> = (body as u32).to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
        out.push(0x80 | digits.len() as u8);
        out.extend(digits);
    }
    out.extend(std::iter::repeat_n(0x04, body));
    out
}

#[test]
fn messages_are_counted_across_any_cut() {
    let stream: Vec<u8> = [0, 5, 127, 128, 300, 70_000].iter().flat_map(|&n| message(n)).collect();
    for cut in [1, 2, 3, 7, 1000, stream.len()] {
        let mut framer = Framer::new(1 << 20);
        for piece in stream.chunks(cut) {
            framer.feed(piece).unwrap();
        }
        assert_eq!(framer.messages(), 6, "cut {cut}");
        assert!(framer.at_boundary());
    }
}

#[test]
fn an_oversize_message_is_refused_from_its_header_alone() {
    let mut framer = Framer::new(1024);
    framer.feed(&message(10)).unwrap();
    // Only the header of a 64 KiB message: refused before any of its body arrives.
    let err = framer.feed(&[0x30, 0x83, 0x01, 0x00, 0x00]).unwrap_err();
    assert_eq!(err, FrameError::TooLarge { length: 5 + 65_536, limit: 1024 });
    let big = [0x30, 0x84, 0x01, 0x00, 0x00, 0x00];
    assert!(matches!(Framer::new(1024).feed(&big), Err(FrameError::TooLarge { .. })));
    // And it stays failed.
    assert!(framer.feed(&message(1)).is_err());
}

#[test]
fn indefinite_lengths_and_other_tags_are_refused() {
    assert_eq!(Framer::new(100).feed(&[0x30, 0x80]), Err(FrameError::BadLength));
    assert_eq!(Framer::new(100).feed(&[0x30, 0x85, 1, 1, 1, 1, 1]), Err(FrameError::BadLength));
    assert_eq!(Framer::new(100).feed(&[0x04, 0x01, 0x00]), Err(FrameError::NotAMessage(0x04)));
}

#[test]
fn the_starttls_request_is_well_formed_and_its_answers_are_read() {
    let request = starttls::request();
    let mut framer = Framer::new(100);
    framer.feed(&request).unwrap();
    assert_eq!(framer.messages(), 1);
    let (outer, rest) = element(&request).unwrap();
    assert!(rest.is_empty());
    assert!(outer.contents.ends_with(starttls::OID));
    // What slapd answers: success, empty matchedDN and diagnostic, the OID as responseName.
    let mut ok = vec![0x30, 0x24, 0x02, 0x01, 0x01, 0x78, 0x1f, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00, 0x8a, 0x16];
    ok.extend_from_slice(starttls::OID);
    assert_eq!(starttls::answer(&ok), Ok(starttls::Answer::Accepted));
    let refused = [0x30, 0x0c, 0x02, 0x01, 0x01, 0x78, 0x07, 0x0a, 0x01, 0x02, 0x04, 0x00, 0x04, 0x00];
    assert_eq!(starttls::answer(&refused), Ok(starttls::Answer::Refused(2)));
    let other_id = [0x30, 0x0c, 0x02, 0x01, 0x07, 0x78, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00];
    assert!(starttls::answer(&other_id).is_err());
    for cut in 0..refused.len() {
        assert!(starttls::answer(&refused[..cut]).is_err(), "cut at {cut}");
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_a_failure_is_final(bytes in proptest::collection::vec(any::<u8>(), 0..512), limit in 0usize..300) {
        let mut framer = Framer::new(limit);
        let first = framer.feed(&bytes);
        if first.is_err() {
            prop_assert!(framer.feed(&[0x30, 0x00]).is_err());
        }
        let _ = starttls::answer(&bytes);
        let _ = element(&bytes);
    }

    #[test]
    fn feeding_in_pieces_agrees_with_feeding_whole(bytes in proptest::collection::vec(any::<u8>(), 0..512), cut in 1usize..64) {
        let mut whole = Framer::new(200);
        let whole_result = whole.feed(&bytes);
        let mut pieces = Framer::new(200);
        let pieces_result = bytes.chunks(cut).try_for_each(|p| pieces.feed(p));
        prop_assert_eq!(whole_result, pieces_result);
        prop_assert_eq!(whole.messages(), pieces.messages());
    }
}
