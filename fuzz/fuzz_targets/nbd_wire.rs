//! The NBD server from arbitrary bytes: the handshake and requests, whole and in pieces, with
//! every read answered by the adapter (some with the wrong length). Never a panic; fed whole or
//! in pieces it says the same when the reads are answered once all is in (answered as they
//! come, replies may leave in another order: the server answers bad requests itself at once,
//! and NBD matches replies by handle), and the same error when the bytes are bad; a closed
//! server stays closed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nbd_wire::{Event, Export, Reply, Server};

/// Feeds `data` in pieces of `piece` bytes; answers reads after each piece, or with
/// `answer_last` only once everything is in.
fn run(data: &[u8], piece: usize, answer_last: bool) -> (Vec<Event>, Vec<u8>, bool, Option<nbd_wire::NbdError>) {
    let export = Export { name: "media".into(), size: 1 << 20, read_only: data.first().is_some_and(|b| b & 1 == 1) };
    let mut server = Server::new(export);
    let mut events = Vec::new();
    let mut unanswered = Vec::new();
    let mut output = server.take_output();
    let answer = |server: &mut Server, reads: &mut Vec<Event>| {
        for event in reads.drain(..) {
            if let Event::Read { handle, length, .. } = event {
                let len = if handle % 7 == 0 { length as usize / 2 } else { length as usize };
                server.reply(handle, Reply::Data(vec![0; len]));
            }
        }
        assert_eq!(server.pending_reads(), 0);
    };
    for chunk in data.chunks(piece.max(1)) {
        // An adapter stops reading once the client disconnected.
        if server.is_closed() {
            break;
        }
        let new = match server.feed(chunk) {
            Ok(new) => new,
            Err(e) => {
                assert!(server.is_closed());
                assert!(server.feed(b"x").is_err());
                return (events, output, true, Some(e));
            }
        };
        unanswered.extend(new.iter().filter(|e| matches!(e, Event::Read { .. })).cloned());
        events.extend(new);
        if !answer_last {
            answer(&mut server, &mut unanswered);
        }
        output.extend(server.take_output());
    }
    answer(&mut server, &mut unanswered);
    output.extend(server.take_output());
    (events, output, server.is_closed(), None)
}

fuzz_target!(|data: &[u8]| {
    let whole = run(data, data.len(), true);
    let pieces = run(data, 3, true);
    if whole.3.is_none() && pieces.3.is_none() {
        assert_eq!(whole, pieces);
    } else {
        // Events and replies of the call that failed are dropped with the connection.
        assert_eq!((whole.2, &whole.3), (pieces.2, &pieces.3));
    }
    // Answered as they come: the same events and end, whatever order the replies took.
    let eager = run(data, 3, false);
    assert_eq!((eager.0.len(), eager.2, &eager.3), (pieces.0.len(), pieces.2, &pieces.3));
});
