//! The media channel between a real applet session and the controller's link: reads cut into
//! chunks and put together, the window, and every way a browser can fail the host.

use super::media::{MediaAction, MEDIA_PENDING_BYTES, MEDIA_WINDOW};
use super::tests::{messages, Pair};
use super::ServerAction;
use crate::wire::media::MEDIA_CHUNK;
use crate::wire::{AppMessage, MediaDevice, MediaMessage};

const CD: MediaDevice = MediaDevice::Cd;
const SIZE: u64 = 64 << 20;

fn media_actions(pair: &mut Pair) -> Vec<MediaAction> {
    pair.actions()
        .into_iter()
        .filter_map(|a| match a {
            ServerAction::Media(m) => Some(m),
            _ => None,
        })
        .collect()
}

/// What the applet was sent on the media channel.
fn to_applet(pair: &mut Pair, now: u64) -> Vec<MediaMessage> {
    messages(pair.run(now))
        .into_iter()
        .filter_map(|m| match m {
            AppMessage::Media(m) => Some(m),
            _ => None,
        })
        .collect()
}

/// Sends `message` from the applet; what the applet was sent back on the media channel.
fn from_applet(pair: &mut Pair, message: MediaMessage, now: u64) -> Vec<MediaMessage> {
    pair.applet.send(AppMessage::Media(message), now).unwrap();
    to_applet(pair, now)
}

/// The byte at `offset` of the test medium.
fn byte_at(offset: u64) -> u8 {
    (offset % 251) as u8
}

fn answer(pair: &mut Pair, read: &MediaMessage, now: u64) -> Vec<MediaMessage> {
    let MediaMessage::Read { id, offset, length, .. } = *read else { panic!("not a read: {read:?}") };
    let bytes = (offset..offset + u64::from(length)).map(byte_at).collect();
    from_applet(pair, MediaMessage::Data { id, bytes }, now)
}

/// A link whose applet offered a medium of `SIZE` bytes for the CD drive, attached.
fn with_medium() -> Pair {
    let mut pair = Pair::attached(true);
    let offer = MediaMessage::Offer { device: CD, writable: false, size: SIZE, name: "rescue.iso".into() };
    pair.send(AppMessage::Media(offer), 1);
    let offered = media_actions(&mut pair);
    assert!(
        matches!(&offered[..], [MediaAction::Offer { device: CD, size: SIZE, writable: false, name }] if name == "rescue.iso"),
        "{offered:?}"
    );
    pair.link.media_attached(CD, 1);
    assert_eq!(to_applet(&mut pair, 1), [MediaMessage::Attached { device: CD }]);
    pair
}

#[test]
fn a_host_read_is_asked_in_chunks_and_put_together_whatever_order_they_come_in() {
    let mut pair = with_medium();
    let (offset, length) = (1000, 2 * MEDIA_CHUNK + 77);
    pair.link.media_read(5, CD, offset, length, 2);
    let mut reads = to_applet(&mut pair, 2);
    assert_eq!(reads.len(), 3, "{reads:?}");
    reads.reverse();
    for read in &reads {
        assert!(media_actions(&mut pair).is_empty(), "nothing is done until every chunk is in");
        answer(&mut pair, read, 3);
    }
    let expected: Vec<u8> = (offset..offset + u64::from(length)).map(byte_at).collect();
    assert_eq!(media_actions(&mut pair), [MediaAction::ReadDone { request: 5, result: Ok(expected) }]);
    assert_eq!(pair.link.media_bytes_read(), u64::from(length));
}

#[test]
fn at_most_a_window_of_chunks_is_asked_at_once() {
    let mut pair = with_medium();
    for request in 0..(MEDIA_WINDOW as u64 + 4) {
        pair.link.media_read(request, CD, request * u64::from(MEDIA_CHUNK), MEDIA_CHUNK, 2);
    }
    let asked = to_applet(&mut pair, 2);
    assert_eq!(asked.len(), MEDIA_WINDOW);
    let more = answer(&mut pair, &asked[0], 3);
    assert_eq!(more.len(), 1, "one answered, one more asked: {more:?}");
    assert!(matches!(&media_actions(&mut pair)[..], [MediaAction::ReadDone { request: 0, result: Ok(_) }]));
}

#[test]
fn an_answer_of_the_wrong_length_fails_the_read_and_takes_the_medium_out() {
    let mut pair = with_medium();
    pair.link.media_read(1, CD, 0, 4096, 2);
    pair.link.media_read(2, CD, 8192, 4096, 2);
    let asked = to_applet(&mut pair, 2);
    let MediaMessage::Read { id, .. } = asked[0] else { panic!("{asked:?}") };
    let told = from_applet(&mut pair, MediaMessage::Data { id, bytes: vec![0; 100] }, 3);
    let done = media_actions(&mut pair);
    assert_eq!(done.len(), 3, "{done:?}");
    for request in [1, 2] {
        assert!(done.iter().any(|a| matches!(a, MediaAction::ReadDone { request: r, result: Err(e) }
            if *r == request && e.contains("100 bytes to a read of 4096"))));
    }
    assert!(done.iter().any(|a| matches!(a, MediaAction::Eject { device: CD, .. })));
    assert!(matches!(&told[..], [MediaMessage::Detached { device: CD, reason }] if reason.contains("100 bytes")));
    // The other answer comes late: it changes nothing.
    answer(&mut pair, &asked[1], 4);
    assert!(media_actions(&mut pair).is_empty());
    pair.link.media_read(3, CD, 0, 512, 5);
    assert!(matches!(&media_actions(&mut pair)[..], [MediaAction::ReadDone { request: 3, result: Err(_) }]));
}

#[test]
fn a_browser_that_never_answers_loses_the_medium_at_the_deadline() {
    let mut pair = with_medium();
    pair.link.media_read(9, CD, 0, 4096, 100);
    to_applet(&mut pair, 100);
    let deadline = 100 + 15_000;
    assert!(pair.link.next_poll() <= deadline, "the link wakes for the deadline");
    pair.link.poll(deadline - 1);
    assert!(media_actions(&mut pair).is_empty());
    pair.link.poll(deadline);
    let done = media_actions(&mut pair);
    assert!(
        matches!(&done[0], MediaAction::ReadDone { request: 9, result: Err(e) } if e.contains("stopped answering")),
        "{done:?}"
    );
    assert!(matches!(&done[1], MediaAction::Eject { device: CD, .. }), "{done:?}");
    assert!(pair.link.media_devices().is_empty());
}

#[test]
fn reads_outside_the_medium_empty_files_and_ejected_media_are_clear_errors() {
    let mut pair = with_medium();
    pair.link.media_read(1, CD, SIZE - 10, 11, 2);
    pair.link.media_read(2, CD, u64::MAX, 1, 2);
    for (done, request) in media_actions(&mut pair).iter().zip([1, 2]) {
        assert!(
            matches!(done, MediaAction::ReadDone { request: r, result: Err(e) } if *r == request && e.contains("outside"))
        );
    }
    assert!(to_applet(&mut pair, 2).is_empty(), "the browser is not asked");

    let told = from_applet(&mut pair, MediaMessage::Eject { device: CD }, 3);
    assert!(matches!(&media_actions(&mut pair)[..], [MediaAction::Eject { device: CD, .. }]));
    assert!(matches!(&told[..], [MediaMessage::Detached { device: CD, .. }]));
    pair.link.media_read(3, CD, 0, 1, 4);
    assert!(matches!(&media_actions(&mut pair)[..], [MediaAction::ReadDone { request: 3, result: Err(_) }]));

    let empty = MediaMessage::Offer { device: MediaDevice::Usb, writable: true, size: 0, name: "empty.img".into() };
    let told = from_applet(&mut pair, empty, 5);
    assert!(media_actions(&mut pair).is_empty(), "nothing to plug in");
    assert!(matches!(&told[..], [MediaMessage::Detached { reason, .. }] if reason.contains("empty")));
}

#[test]
fn the_link_stops_taking_reads_while_too_many_bytes_wait() {
    let mut pair = with_medium();
    let mut request = 0;
    while pair.link.media_accepts_reads() {
        pair.link.media_read(request, CD, 0, 8 << 20, 2);
        request += 1;
    }
    assert_eq!(request * (8 << 20), MEDIA_PENDING_BYTES);
    let asked = to_applet(&mut pair, 2);
    for read in &asked[..2] {
        answer(&mut pair, read, 3);
    }
    assert!(!pair.link.media_accepts_reads(), "a read is done only when all its chunks are");
}

#[test]
fn the_controller_refusing_or_losing_the_medium_fails_its_reads() {
    let mut pair = with_medium();
    pair.link.media_read(1, CD, 0, 4096, 2);
    to_applet(&mut pair, 2);
    pair.link.media_detached(CD, "ejected by admin", 3);
    assert!(
        matches!(&media_actions(&mut pair)[..], [MediaAction::ReadDone { request: 1, result: Err(e) }] if e.contains("admin"))
    );
    assert!(
        matches!(&to_applet(&mut pair, 3)[..], [MediaMessage::Detached { reason, .. }] if reason == "ejected by admin")
    );
}

#[test]
fn the_applet_may_not_send_the_controllers_media_messages() {
    let mut pair = Pair::attached(true);
    pair.send(AppMessage::Media(MediaMessage::Read { id: 1, device: CD, offset: 0, length: 1 }), 1);
    assert!(pair.link.is_over(), "a controller-bound message from the applet ends the link");
}
