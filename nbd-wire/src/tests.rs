use proptest::prelude::*;

use super::*;

fn export(read_only: bool) -> Export {
    Export { name: "cd".into(), size: 1 << 20, read_only }
}

/// The client's side of a handshake by `GO` for `name`, asking for block sizes.
fn go(name: &str) -> Vec<u8> {
    let mut b = (CLIENT_FIXED_NEWSTYLE | CLIENT_NO_ZEROES).to_be_bytes().to_vec();
    let mut data = (name.len() as u32).to_be_bytes().to_vec();
    data.extend_from_slice(name.as_bytes());
    data.extend_from_slice(&1u16.to_be_bytes());
    data.extend_from_slice(&INFO_BLOCK_SIZE.to_be_bytes());
    b.extend(option(OPT_GO, &data));
    b
}

fn option(kind: u32, data: &[u8]) -> Vec<u8> {
    let mut b = IHAVEOPT.to_be_bytes().to_vec();
    b.extend_from_slice(&kind.to_be_bytes());
    b.extend_from_slice(&(data.len() as u32).to_be_bytes());
    b.extend_from_slice(data);
    b
}

fn request(kind: u16, handle: u64, offset: u64, length: u32) -> Vec<u8> {
    let mut b = REQUEST_MAGIC.to_be_bytes().to_vec();
    b.extend_from_slice(&0u16.to_be_bytes());
    b.extend_from_slice(&kind.to_be_bytes());
    b.extend_from_slice(&handle.to_be_bytes());
    b.extend_from_slice(&offset.to_be_bytes());
    b.extend_from_slice(&length.to_be_bytes());
    b
}

/// The simple replies in `out`: (error, handle, data that follows up to the next reply).
fn errors(out: &[u8]) -> Vec<(u32, u64)> {
    out.windows(16)
        .enumerate()
        .filter(|(_, w)| w[..4] == SIMPLE_REPLY_MAGIC.to_be_bytes())
        .map(|(_, w)| (be_u32(w, 4).unwrap(), be_u64(w, 8).unwrap()))
        .collect()
}

fn ready(read_only: bool) -> Server {
    let mut s = Server::new(export(read_only));
    let greeting = s.take_output();
    assert_eq!(&greeting[..8], b"NBDMAGIC");
    assert_eq!(s.feed(&go("cd")).unwrap(), vec![]);
    assert!(s.transmitting());
    let out = s.take_output();
    // INFO export, INFO block size, ACK.
    assert_eq!(out.windows(8).filter(|w| *w == OPTION_REPLY_MAGIC.to_be_bytes()).count(), 3);
    s
}

#[test]
fn reads_in_range_go_to_the_adapter_and_its_data_back_to_the_client() {
    let mut s = ready(true);
    let events = s.feed(&request(CMD_READ, 7, 4096, 512)).unwrap();
    assert_eq!(events, vec![Event::Read { handle: 7, offset: 4096, length: 512 }]);
    assert_eq!(s.pending_reads(), 1);
    s.reply(7, Reply::Data(vec![0xab; 512]));
    let out = s.take_output();
    assert_eq!(errors(&out), vec![(0, 7)]);
    assert_eq!(out.len(), 16 + 512);
    assert_eq!(s.pending_reads(), 0);
}

#[test]
fn bad_requests_are_answered_here_and_never_reach_the_adapter() {
    let mut s = ready(true);
    let size = export(true).size;
    let mut bytes = request(CMD_READ, 1, size - 10, 11);
    bytes.extend(request(CMD_READ, 2, u64::MAX - 1, 4));
    bytes.extend(request(CMD_READ, 3, 0, 0));
    bytes.extend(request(CMD_READ, 4, 0, MAX_REQUEST + 1));
    bytes.extend(request(9, 5, 0, 1));
    let mut write = request(CMD_WRITE, 6, 0, 3);
    write.extend_from_slice(b"abc");
    bytes.extend(write);
    bytes.extend(request(CMD_FLUSH, 8, 0, 0));
    assert_eq!(s.feed(&bytes).unwrap(), vec![]);
    let got = errors(&s.take_output());
    assert_eq!(got, vec![(EINVAL, 1), (EINVAL, 2), (EINVAL, 3), (EINVAL, 4), (EINVAL, 5), (EPERM, 6), (EINVAL, 8)]);
}

#[test]
fn a_read_answered_with_the_wrong_length_is_an_io_error_and_the_stream_stays_whole() {
    let mut s = ready(true);
    s.feed(&request(CMD_READ, 1, 0, 512)).unwrap();
    s.feed(&request(CMD_READ, 2, 0, 512)).unwrap();
    s.reply(1, Reply::Data(vec![0; 100]));
    s.reply(2, Reply::Done);
    s.reply(99, Reply::Data(vec![0; 10]));
    let out = s.take_output();
    assert_eq!(errors(&out), vec![(EIO, 1), (EIO, 2), (EIO, 99)]);
    assert_eq!(out.len(), 3 * 16, "no stray data");
}

#[test]
fn writes_and_flushes_reach_a_writable_export_and_disconnect_closes() {
    let mut s = ready(false);
    let mut bytes = request(CMD_WRITE, 1, 10, 4);
    bytes.extend_from_slice(b"data");
    bytes.extend(request(CMD_FLUSH, 2, 0, 0));
    let mut beyond = request(CMD_WRITE, 3, (1 << 20) - 2, 4);
    beyond.extend_from_slice(b"xxxx");
    bytes.extend(beyond);
    bytes.extend(request(CMD_DISC, 4, 0, 0));
    let events = s.feed(&bytes).unwrap();
    assert_eq!(
        events,
        vec![
            Event::Write { handle: 1, offset: 10, data: b"data".to_vec() },
            Event::Flush { handle: 2 },
            Event::Disconnect
        ]
    );
    assert_eq!(errors(&s.take_output()), vec![(ENOSPC, 3)]);
    assert!(s.is_closed());
    assert_eq!(s.feed(b"more"), Err(NbdError::Closed));
}

#[test]
fn the_handshake_refuses_old_clients_unknown_exports_and_huge_options() {
    let mut s = Server::new(export(true));
    assert_eq!(s.feed(&0u32.to_be_bytes()), Err(NbdError::NotFixedNewstyle));
    let mut s = Server::new(export(true));
    assert_eq!(s.feed(&(CLIENT_FIXED_NEWSTYLE | 0x80).to_be_bytes()), Err(NbdError::UnknownClientFlags));
    // GO for a name that is not served: an error reply, and the client may try again.
    let mut s = Server::new(export(true));
    s.take_output();
    s.feed(&go("other")[..]).unwrap();
    assert!(!s.transmitting());
    let out = s.take_output();
    assert_eq!(be_u32(&out, 12), Some(REP_ERR_UNKNOWN));
    let mut data = 2u32.to_be_bytes().to_vec();
    data.extend_from_slice(b"cd");
    data.extend_from_slice(&0u16.to_be_bytes());
    s.feed(&option(OPT_GO, &data)).unwrap();
    assert!(s.transmitting());
    // EXPORT_NAME for an unknown export closes; an unknown option is "unsupported".
    let mut s = Server::new(export(true));
    s.feed(&CLIENT_FIXED_NEWSTYLE.to_be_bytes()).unwrap();
    s.take_output();
    s.feed(&option(8, &[])).unwrap();
    assert_eq!(be_u32(&s.take_output(), 12), Some(REP_ERR_UNSUP));
    assert_eq!(s.feed(&option(OPT_EXPORT_NAME, b"nope")), Err(NbdError::UnknownExport));
    let mut s = Server::new(export(true));
    s.feed(&CLIENT_FIXED_NEWSTYLE.to_be_bytes()).unwrap();
    let mut huge = IHAVEOPT.to_be_bytes().to_vec();
    huge.extend_from_slice(&OPT_GO.to_be_bytes());
    huge.extend_from_slice(&(MAX_OPTION + 1).to_be_bytes());
    assert_eq!(s.feed(&huge), Err(NbdError::OptionTooLong));
    // EXPORT_NAME without NO_ZEROES: size, flags and 124 zeroes.
    let mut s = Server::new(export(true));
    s.feed(&CLIENT_FIXED_NEWSTYLE.to_be_bytes()).unwrap();
    s.take_output();
    s.feed(&option(OPT_EXPORT_NAME, b"")).unwrap();
    let out = s.take_output();
    assert_eq!((out.len(), be_u64(&out, 0)), (8 + 2 + 124, Some(1 << 20)));
    assert_eq!(be_u16(&out, 8), Some(TX_HAS_FLAGS | TX_READ_ONLY));
}

proptest! {
    /// However the client's bytes are cut up, the server sees the same requests and says the
    /// same things.
    #[test]
    fn bytes_in_pieces_give_what_bytes_at_once_give(cuts in proptest::collection::vec(1usize..40, 1..50)) {
        let mut stream = go("cd");
        for i in 0..10u64 {
            stream.extend(request(CMD_READ, i, i * 512, 512));
        }
        stream.extend(request(CMD_READ, 99, 1 << 40, 1));
        stream.extend(request(CMD_DISC, 100, 0, 0));
        let mut whole = Server::new(export(true));
        let whole_events = whole.feed(&stream).unwrap();
        let mut pieces = Server::new(export(true));
        let mut piece_events = Vec::new();
        let mut rest = &stream[..];
        for cut in cuts.iter().cycle() {
            if rest.is_empty() { break; }
            let (now, later) = rest.split_at((*cut).min(rest.len()));
            piece_events.extend(pieces.feed(now).unwrap());
            rest = later;
        }
        prop_assert_eq!(whole_events, piece_events);
        prop_assert_eq!(whole.take_output(), pieces.take_output());
    }

    /// Arbitrary bytes after a greeting never panic, and a closed server stays closed.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut s = Server::new(export(false));
        let mut stream = (CLIENT_FIXED_NEWSTYLE).to_be_bytes().to_vec();
        stream.extend(bytes);
        if s.feed(&stream).is_err() {
            prop_assert!(s.is_closed());
        }
    }
}

#[test]
fn a_handle_reused_while_in_flight_gets_an_answer_for_each_read() {
    let mut s = ready(true);
    let mut both = request(CMD_READ, 9, 0, 512);
    both.extend(request(CMD_READ, 9, 512, 512));
    let events = s.feed(&both).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(s.pending_reads(), 2);
    s.reply(9, Reply::Data(vec![1; 512]));
    s.reply(9, Reply::Data(vec![2; 512]));
    let out = s.take_output();
    assert_eq!(errors(&out), vec![(0, 9), (0, 9)]);
    assert_eq!(out.len(), 2 * (16 + 512));
    assert_eq!(s.pending_reads(), 0);
}
