//! What the controller reads itself of a directory's answers, from arbitrary bytes: the LDAP
//! message framer (whole, and in pieces, which must agree), the StartTLS answer, the BER
//! element reader and the Kerberos helper's messages
//! and the Negotiate header's token. Never a panic; a failed framer stays failed.
#![no_main]

use directory_wire::ber::element;
use directory_wire::{kinit, negotiate, starttls, Framer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limit = data.first().map_or(0, |&b| usize::from(b) * 4);
    let mut whole = Framer::new(limit);
    let whole_result = whole.feed(data);
    let mut pieces = Framer::new(limit);
    let pieces_result = data.chunks(3).try_for_each(|p| pieces.feed(p));
    assert_eq!(whole_result, pieces_result);
    assert_eq!(whole.messages(), pieces.messages());
    if whole_result.is_err() {
        assert!(whole.feed(&[0x30, 0x00]).is_err());
    }
    let _ = starttls::answer(data);
    let _ = kinit::read_login_request(data);
    let _ = kinit::read_login_answer(data);
    let _ = kinit::read_accept_request(data);
    let _ = kinit::read_accept_answer(data);
    let _ = negotiate::token(data);
    let mut rest = data;
    while let Some((_, after)) = element(rest) {
        if after.len() == rest.len() {
            break;
        }
        rest = after;
    }
});
