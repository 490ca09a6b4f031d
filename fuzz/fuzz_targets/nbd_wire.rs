//! The NBD server from arbitrary bytes: the handshake and requests, whole and in pieces, with
//! every read answered by the adapter (some with the wrong length). Never a panic; both ways
//! agree on everything when the bytes are good and on the error when they are not; a closed
//! server stays closed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nbd_wire::{Event, Export, Reply, Server};

fn run(data: &[u8], piece: usize) -> (Vec<Event>, Vec<u8>, bool, Option<nbd_wire::NbdError>) {
    let export = Export { name: "media".into(), size: 1 << 20, read_only: data.first().is_some_and(|b| b & 1 == 1) };
    let mut server = Server::new(export);
    let mut events = Vec::new();
    let mut output = server.take_output();
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
        for event in &new {
            if let Event::Read { handle, length, .. } = event {
                let len = if handle % 7 == 0 { *length as usize / 2 } else { *length as usize };
                server.reply(*handle, Reply::Data(vec![0; len]));
            }
        }
        assert_eq!(server.pending_reads(), 0);
        events.extend(new);
        output.extend(server.take_output());
    }
    (events, output, server.is_closed(), None)
}

fuzz_target!(|data: &[u8]| {
    let whole = run(data, data.len());
    let pieces = run(data, 3);
    if whole.3.is_none() && pieces.3.is_none() {
        assert_eq!(whole, pieces);
    } else {
        // Events and replies of the call that failed are dropped with the connection.
        assert_eq!((whole.2, whole.3), (pieces.2, pieces.3));
    }
});
