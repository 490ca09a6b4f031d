use super::*;
use crate::crypto::Pms;
use crate::session::identity::test_identity;
use crate::wire::{AppMessage, InputEvent, KeyId};
use std::collections::HashMap;

/// A key store and nonce source standing in for the controller.
struct Env {
    keys: HashMap<[u8; 16], Pms>,
    used: Vec<[u8; 16]>,
    counter: u8,
}

impl Env {
    fn with_keys(keys: &[([u8; 16], [u8; 32])]) -> Self {
        Self { keys: keys.iter().map(|(id, pms)| (*id, Pms::from_bytes(*pms))).collect(), used: Vec::new(), counter: 0 }
    }
}

impl ServerEnv for Env {
    fn claim_key(&mut self, key_id: &KeyId, _: KeyPurpose) -> Result<Pms, Alert> {
        if self.used.contains(&key_id.0) {
            return Err(Alert::new(AlertCode::ReusedKey));
        }
        let pms = self.keys.remove(&key_id.0).ok_or(Alert::new(AlertCode::UnknownKey))?;
        self.used.push(key_id.0);
        Ok(pms)
    }
    fn nonce(&mut self) -> crate::wire::Nonce {
        self.counter += 1;
        [self.counter; 32]
    }
}

fn schedule() -> KeySchedule {
    KeySchedule { epoch_bytes: 256, epoch_millis: 10_000, key_life_millis: 60_000 }
}

fn pair(suite: CipherSuite) -> (ClientSession, ServerSession, Env) {
    let mut env = Env::with_keys(&[([1; 16], [9; 32]), ([2; 16], [8; 32])]);
    let mut client = ClientSession::new(
        ClientConfig {
            key_id: KeyId([1; 16]),
            pms: Pms::from_bytes([9; 32]),
            suites: vec![suite],
            controller_key: test_identity().public_key(),
        },
        [0xc1; 32],
    );
    let mut server = ServerSession::new(ServerConfig {
        suites: CipherSuite::ALL.to_vec(),
        schedule: schedule(),
        identity: test_identity(),
    });
    pump(&mut client, &mut server, &mut env, 0).unwrap();
    assert!(client.is_established() && server.is_established());
    (client, server, env)
}

/// Delivers everything queued both ways until quiet; returns what each side saw.
fn pump(
    c: &mut ClientSession,
    s: &mut ServerSession,
    env: &mut Env,
    now: u64,
) -> Result<(Vec<ClientEvent>, Vec<ServerEvent>), SessionError> {
    let (mut ce, mut se) = (Vec::new(), Vec::new());
    loop {
        let to_server = c.take_outgoing();
        let to_client = s.take_outgoing();
        if to_server.is_empty() && to_client.is_empty() {
            return Ok((ce, se));
        }
        for r in to_server {
            se.extend(s.handle_record(r, now, env)?);
        }
        for r in to_client {
            ce.extend(c.handle_record(r, now)?);
        }
    }
}

fn key(ch: char) -> AppMessage {
    AppMessage::Input(InputEvent::Paste(ch.to_string()))
}

#[test]
fn both_suites_carry_messages_both_ways() {
    for suite in CipherSuite::ALL {
        let (mut c, mut s, mut env) = pair(suite);
        c.send(key('a'), 1).unwrap();
        s.send_video(b"frame", 1).unwrap();
        let (ce, se) = pump(&mut c, &mut s, &mut env, 1).unwrap();
        assert_eq!(se, vec![ServerEvent::Message(key('a'))]);
        assert_eq!(ce, vec![ClientEvent::Message(AppMessage::Video(b"frame".to_vec().into()))]);
        assert_eq!(c.link_info().unwrap().suite, suite);
    }
}

#[test]
fn server_preference_wins_among_offered_suites() {
    let mut env = Env::with_keys(&[([1; 16], [9; 32])]);
    let mut c = ClientSession::new(
        ClientConfig {
            key_id: KeyId([1; 16]),
            pms: Pms::from_bytes([9; 32]),
            suites: vec![CipherSuite::ChaCha20Poly1305, CipherSuite::Rc4HmacSha1],
            controller_key: test_identity().public_key(),
        },
        [3; 32],
    );
    let mut s = ServerSession::new(ServerConfig {
        suites: vec![CipherSuite::Rc4HmacSha1, CipherSuite::ChaCha20Poly1305],
        schedule: schedule(),
        identity: test_identity(),
    });
    let (ce, _) = pump(&mut c, &mut s, &mut env, 0).unwrap();
    assert!(matches!(ce[0], ClientEvent::Established(LinkInfo { suite: CipherSuite::Rc4HmacSha1, .. })));
}

#[test]
fn unknown_and_reused_keys_are_refused_with_their_reason() {
    let (_c, _s, mut env) = pair(CipherSuite::Rc4HmacSha1);
    for (id, code) in [([1u8; 16], AlertCode::ReusedKey), ([7u8; 16], AlertCode::UnknownKey)] {
        let mut c = ClientSession::new(
            ClientConfig {
                key_id: KeyId(id),
                pms: Pms::from_bytes([9; 32]),
                suites: CipherSuite::ALL.to_vec(),
                controller_key: test_identity().public_key(),
            },
            [5; 32],
        );
        let mut s = ServerSession::new(ServerConfig {
            suites: CipherSuite::ALL.to_vec(),
            schedule: schedule(),
            identity: test_identity(),
        });
        let err = pump(&mut c, &mut s, &mut env, 0).unwrap_err();
        assert_eq!(err.code(), code);
        // The client learns why from the alert the server queued.
        for r in s.take_outgoing() {
            assert_eq!(c.handle_record(r, 0).unwrap_err().code(), code);
        }
        assert!(c.is_closed() && s.is_closed());
    }
}

#[test]
fn a_client_without_the_pms_learns_nothing_and_is_refused() {
    let mut env = Env::with_keys(&[([1; 16], [9; 32])]);
    let mut c = ClientSession::new(
        ClientConfig {
            key_id: KeyId([1; 16]),
            pms: Pms::from_bytes([0; 32]),
            suites: CipherSuite::ALL.to_vec(),
            controller_key: test_identity().public_key(),
        },
        [5; 32],
    );
    let mut s = ServerSession::new(ServerConfig {
        suites: CipherSuite::ALL.to_vec(),
        schedule: schedule(),
        identity: test_identity(),
    });
    let err = pump(&mut c, &mut s, &mut env, 0).unwrap_err();
    assert_eq!(err, SessionError::ConfirmationFailed);
    assert!(!s.is_established());
    assert!(s.send_video(b"secret screen", 0).is_err());
}

#[test]
fn tampered_replayed_reordered_and_dropped_records_close_the_link() {
    for suite in CipherSuite::ALL {
        for attack in ["flip", "replay", "reorder", "drop", "truncate"] {
            let (mut c, mut s, _env) = pair(suite);
            s.send_video(b"one", 1).unwrap();
            s.send_video(b"two", 1).unwrap();
            let mut records = s.take_outgoing();
            match attack {
                "flip" => records[0][9] ^= 0x01,
                "replay" => records[1] = records[0].clone(),
                "reorder" => records.swap(0, 1),
                "drop" => {
                    records.remove(0);
                }
                _ => {
                    let n = records[0].len();
                    records[0].truncate(n - 1);
                }
            }
            let result: Result<Vec<_>, _> = records.iter().map(|r| c.handle_record(r.clone(), 1)).collect();
            assert_eq!(result.unwrap_err(), SessionError::Integrity, "{suite} {attack}");
            assert!(c.is_closed());
        }
    }
}

#[test]
fn a_record_cannot_be_reflected_to_its_sender() {
    let (mut c, _s, _env) = pair(CipherSuite::ChaCha20Poly1305);
    c.send(key('x'), 1).unwrap();
    let records = c.take_outgoing();
    assert_eq!(c.handle_record(records[0].clone(), 1).unwrap_err(), SessionError::Integrity);
}

#[test]
fn epochs_advance_on_schedule_in_both_directions() {
    let (mut c, mut s, mut env) = pair(CipherSuite::Rc4HmacSha1);
    let mut typed = String::new();
    let mut received = String::new();
    for i in 0..200u32 {
        let ch = char::from(b'a' + (i % 26) as u8);
        typed.push(ch);
        c.send(key(ch), 1).unwrap();
        s.send_video(&[0u8; 40], 1).unwrap();
        let (_, se) = pump(&mut c, &mut s, &mut env, 1).unwrap();
        for e in se {
            if let ServerEvent::Message(AppMessage::Input(InputEvent::Paste(t))) = e {
                received.push_str(&t);
            }
        }
    }
    assert_eq!(typed, received);
    assert!(c.tx_position().unwrap().epoch >= 2, "{:?}", c.tx_position());
    assert!(s.tx_position().unwrap().epoch >= 25, "{:?}", s.tx_position());
    // Time also moves epochs: after 10 s of quiet the next record starts a new one.
    let before = c.tx_position().unwrap().epoch;
    c.send(key('z'), 20_000).unwrap();
    pump(&mut c, &mut s, &mut env, 20_000).unwrap();
    assert_eq!(c.tx_position().unwrap().epoch, before + 1);
}

#[test]
fn a_record_that_skips_key_epochs_is_refused() {
    let (mut c, mut s, mut env) = pair(CipherSuite::ChaCha20Poly1305);
    // Forge a record that claims epoch 5 while the receiver is at 0.
    let mut late = ClientSession::new(
        ClientConfig {
            key_id: KeyId([2; 16]),
            pms: Pms::from_bytes([8; 32]),
            suites: vec![CipherSuite::ChaCha20Poly1305],
            controller_key: test_identity().public_key(),
        },
        [1; 32],
    );
    let _ = &mut late;
    c.send(key('a'), 1).unwrap();
    let mut r = c.take_outgoing().remove(0);
    r[6] = 5;
    assert!(matches!(s.handle_record(r, 1, &mut env).unwrap_err(), SessionError::Epoch(_)));
}

#[test]
fn key_switch_commits_in_steps_and_loses_no_input() {
    for suite in CipherSuite::ALL {
        let (mut c, mut s, mut env) = pair(suite);
        c.begin_rekey(KeyId([2; 16]), Pms::from_bytes([8; 32]), [0xc2; 32], 5).unwrap();
        // Input typed while the switch is under way, interleaved with video.
        c.send(key('1'), 5).unwrap();
        s.send_video(b"v1", 5).unwrap();
        let (ce, se) = pump(&mut c, &mut s, &mut env, 5).unwrap();
        c.send(key('2'), 6).unwrap();
        s.send_video(b"v2", 6).unwrap();
        let (ce2, se2) = pump(&mut c, &mut s, &mut env, 6).unwrap();
        let inputs: Vec<_> = se.iter().chain(&se2).filter(|e| matches!(e, ServerEvent::Message(_))).cloned().collect();
        assert_eq!(inputs, vec![ServerEvent::Message(key('1')), ServerEvent::Message(key('2'))]);
        assert!(se.contains(&ServerEvent::RekeyComplete { generation: 1 }));
        assert!(ce.iter().chain(&ce2).any(|e| *e == ClientEvent::RekeyComplete { generation: 1 }));
        assert_eq!(c.tx_position().unwrap().generation, 1);
        assert_eq!(s.tx_position().unwrap().generation, 1);
        // Key life restarts with the new PMS.
        assert_eq!(c.key_expires_in_ms(6), Some(60_000));
    }
}

#[test]
fn a_refused_switch_leaves_the_link_on_its_current_keys() {
    let (mut c, mut s, mut env) = pair(CipherSuite::Rc4HmacSha1);
    c.begin_rekey(KeyId([1; 16]), Pms::from_bytes([9; 32]), [0xc2; 32], 5).unwrap();
    let (ce, se) = pump(&mut c, &mut s, &mut env, 5).unwrap();
    assert_eq!(ce, vec![ClientEvent::RekeyFailed(Alert::new(AlertCode::ReusedKey))]);
    assert!(matches!(se[0], ServerEvent::RekeyRefused(_)));
    c.send(key('k'), 6).unwrap();
    let (_, se) = pump(&mut c, &mut s, &mut env, 6).unwrap();
    assert_eq!(se, vec![ServerEvent::Message(key('k'))]);
    assert_eq!(c.tx_position().unwrap().generation, 0);
}

#[test]
fn a_switch_to_a_pms_the_server_does_not_share_is_aborted_and_the_link_survives() {
    let (mut c, mut s, mut env) = pair(CipherSuite::ChaCha20Poly1305);
    c.begin_rekey(KeyId([2; 16]), Pms::from_bytes([0xee; 32]), [0xc2; 32], 5).unwrap();
    let (ce, se) = pump(&mut c, &mut s, &mut env, 5).unwrap();
    assert_eq!(ce, vec![ClientEvent::RekeyFailed(Alert::new(AlertCode::KeyConfirmationFailed))]);
    assert!(matches!(se[0], ServerEvent::RekeyRefused(_)));
    s.send_video(b"still here", 6).unwrap();
    let (ce, _) = pump(&mut c, &mut s, &mut env, 6).unwrap();
    assert_eq!(ce, vec![ClientEvent::Message(AppMessage::Video(b"still here".to_vec().into()))]);
}

#[test]
fn the_controller_closes_a_link_whose_key_life_ran_out() {
    let (mut c, mut s, _env) = pair(CipherSuite::Rc4HmacSha1);
    assert!(!c.renewal_due(30_000));
    assert_eq!(c.renewal_in_ms(30_000), Some(10_000));
    assert!(c.renewal_due(40_001));
    assert_eq!(s.poll(60_001), Err(SessionError::KeyLifeExpired));
    let alert = s.take_outgoing();
    assert_eq!(c.handle_record(alert[0].clone(), 60_001).unwrap_err().code(), AlertCode::KeyLifeExpired);
}

#[test]
fn serial_input_over_4_kib_ends_the_link_and_4_kib_passes() {
    let (mut c, mut s, mut env) = pair(CipherSuite::ChaCha20Poly1305);
    let limit = crate::wire::message::MAX_SERIAL_INPUT;
    c.send(AppMessage::Serial(vec![b'x'; limit]), 1).unwrap();
    let (_, seen) = pump(&mut c, &mut s, &mut env, 1).unwrap();
    assert_eq!(seen, vec![ServerEvent::Message(AppMessage::Serial(vec![b'x'; limit]))]);
    c.send(AppMessage::Serial(vec![b'x'; limit + 1]), 2).unwrap();
    assert_eq!(
        pump(&mut c, &mut s, &mut env, 2).unwrap_err(),
        SessionError::Unexpected("serial input message larger than 4 KiB")
    );
}

#[test]
fn input_records_are_padded_so_their_length_says_nothing() {
    use crate::wire::{KeyEvent, Modifiers};
    let (mut c, mut s, mut env) = pair(CipherSuite::ChaCha20Poly1305);
    let inputs = [
        AppMessage::Input(InputEvent::Key(KeyEvent {
            key: "a".into(),
            code: "KeyA".into(),
            down: true,
            modifiers: Modifiers::default(),
        })),
        AppMessage::Input(InputEvent::Key(KeyEvent {
            key: "Enter".into(),
            code: "Enter".into(),
            down: false,
            modifiers: Modifiers::default(),
        })),
        AppMessage::Input(InputEvent::Pointer(crate::wire::message::PointerEvent { x: 1000, y: 700, buttons: 1 })),
        AppMessage::Input(InputEvent::Paste("x".repeat(10))),
    ];
    let mut sizes = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        c.send(input.clone(), i as u64).unwrap();
        let records = c.take_outgoing();
        sizes.push(records[0].len());
        for r in records {
            assert_eq!(s.handle_record(r, i as u64, &mut env).unwrap(), vec![ServerEvent::Message(input.clone())]);
        }
    }
    assert!(sizes.windows(2).all(|w| w[0] == w[1]), "a key, Enter, a click and a short paste look alike: {sizes:?}");
    // Pastes go in power-of-two sizes from 1 KiB.
    let mut sized = |n: usize| {
        c.send(AppMessage::Input(InputEvent::Paste("y".repeat(n))), 9).unwrap();
        c.take_outgoing()[0].len()
    };
    let (short, long, longer) = (sized(100), sized(1000), sized(1100));
    assert_eq!(short, long);
    assert!(longer > long);
    let mut plain = Vec::new();
    crate::wire::Message::from(inputs[0].clone()).encode(&mut plain);
    // header (7) + plaintext + ChaCha20-Poly1305 tag (16)
    eprintln!("a keystroke record: {} bytes unpadded, {} padded", 7 + plain.len() + 16, sizes[0]);
    let _ = pump(&mut c, &mut s, &mut env, 10);
}

#[test]
fn obscured_typing_sends_one_same_sized_record_per_tick_and_loses_no_key() {
    use crate::session::KeystrokeTiming;
    let (mut c, mut s, mut env) = pair(CipherSuite::ChaCha20Poly1305);
    c.set_keystroke_timing(Some(KeystrokeTiming { tick_ms: 20, linger_ms: 100 }));
    // Three keys in quick succession at t = 1000, 1003, 1005.
    let keys = ['a', 'b', 'c'];
    let mut records: Vec<(u64, Vec<u8>)> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let now = 1000 + [0, 3, 5][i];
        c.send(key(*k), now).unwrap();
        records.extend(c.take_outgoing().into_iter().map(|r| (now, r)));
    }
    assert_eq!(records.len(), 1, "the first key goes at once, the others wait for their tick");
    // The tick runs until the burst ends.
    let mut now = 1000;
    while let Some(wait) = c.typing_tick_in_ms(now) {
        now += wait.max(1);
        c.poll_typing(now).unwrap();
        records.extend(c.take_outgoing().into_iter().map(|r| (now, r)));
        assert!(now < 2000, "the burst ends");
    }
    let times: Vec<u64> = records.iter().map(|(t, _)| *t).collect();
    assert!(times.windows(2).all(|w| w[1] - w[0] == 20), "a record every tick, nothing between: {times:?}");
    assert!(records.iter().all(|(_, r)| r.len() == records[0].1.len()), "keys and chaff look alike");
    // Two queued keys, then chaff until 100 ms after the last key (1005 + 100).
    assert_eq!(records.len(), 1 + 5);
    let mut seen = Vec::new();
    for (t, r) in &records {
        seen.extend(s.handle_record(r.clone(), *t, &mut env).unwrap());
    }
    assert_eq!(seen, keys.iter().map(|k| ServerEvent::Message(key(*k))).collect::<Vec<_>>(), "chaff is dropped");
    let _ = pump(&mut c, &mut s, &mut env, now);
}

#[test]
fn closing_sends_the_keys_still_waiting_for_their_tick() {
    use crate::session::KeystrokeTiming;
    let (mut c, mut s, mut env) = pair(CipherSuite::ChaCha20Poly1305);
    c.set_keystroke_timing(Some(KeystrokeTiming::default()));
    c.send(key('x'), 1).unwrap();
    c.send(key('y'), 2).unwrap();
    c.close(3);
    let mut seen = Vec::new();
    for r in c.take_outgoing() {
        seen.extend(s.handle_record(r, 3, &mut env).unwrap());
    }
    assert_eq!(seen[..2], [ServerEvent::Message(key('x')), ServerEvent::Message(key('y'))]);
}

#[test]
fn what_obscured_typing_costs_in_bytes() {
    use crate::session::KeystrokeTiming;
    // One isolated keystroke (down and up 50 ms apart), then ten seconds of typing at five
    // keys a second, with the default timing; bytes on the wire against sending each at once.
    let cost = |timing: Option<KeystrokeTiming>, presses: &[u64]| -> usize {
        let (mut c, _, _) = pair(CipherSuite::ChaCha20Poly1305);
        c.set_keystroke_timing(timing);
        let mut events: Vec<u64> = presses.iter().flat_map(|&t| [t, t + 50]).collect();
        events.sort_unstable();
        let mut bytes = 0;
        let mut now = 0;
        let mut next = events.into_iter().peekable();
        loop {
            let tick = c.typing_tick_in_ms(now).map(|w| now + w.max(1));
            match (next.peek().copied(), tick) {
                (Some(t), Some(k)) if k < t => {
                    now = k;
                    c.poll_typing(now).unwrap();
                }
                (Some(t), _) => {
                    now = t;
                    next.next();
                    c.send(key('k'), now).unwrap();
                }
                (None, Some(k)) => {
                    now = k;
                    c.poll_typing(now).unwrap();
                }
                (None, None) => break,
            }
            bytes += c.take_outgoing().iter().map(Vec::len).sum::<usize>();
        }
        bytes
    };
    let one = [0];
    let typing: Vec<u64> = (0..50).map(|i| i * 200).collect();
    let timing = Some(KeystrokeTiming::default());
    let (one_plain, one_obscured) = (cost(None, &one), cost(timing, &one));
    let (typing_plain, typing_obscured) = (cost(None, &typing), cost(timing, &typing));
    eprintln!(
        "one keystroke: {one_plain} B sent at once, {one_obscured} B obscured; \
         10 s of typing at 5 keys/s: {typing_plain} B at once, {typing_obscured} B obscured"
    );
    assert!(one_obscured > one_plain && typing_obscured > typing_plain);
}

#[test]
fn a_console_server_without_the_controllers_node_key_is_stopped_with_a_clear_reason() {
    // It holds the PMS (it could be a relay the page's key was leaked to), but not the node key.
    let mut env = Env::with_keys(&[([1; 16], [9; 32])]);
    let config = |key_id| ClientConfig {
        key_id: KeyId(key_id),
        pms: Pms::from_bytes([9; 32]),
        suites: CipherSuite::ALL.to_vec(),
        controller_key: test_identity().public_key(),
    };
    let mut c = ClientSession::new(config([1; 16]), [5; 32]);
    let impostor = ControllerIdentity::from_seed(&[0x66; 32]);
    let mut s = ServerSession::new(ServerConfig {
        suites: CipherSuite::ALL.to_vec(),
        schedule: schedule(),
        identity: impostor,
    });
    let err = pump(&mut c, &mut s, &mut env, 0).unwrap_err();
    assert_eq!(err, SessionError::UnverifiedController);
    assert!(err.to_string().contains("did not prove it is this controller"), "{err}");
    assert!(c.is_closed() && !s.is_established());
    // The controller hears why, so it can log it.
    let told: Vec<_> = c.take_outgoing().into_iter().map(|r| s.handle_record(r, 0, &mut env)).collect();
    assert!(matches!(&told[..], [Err(SessionError::PeerClosed(a))] if a.code == AlertCode::UnverifiedController));
}

#[test]
fn a_signature_from_another_handshake_does_not_verify() {
    // A man in the middle replays the real controller's Identity from an earlier link.
    let mut env = Env::with_keys(&[([1; 16], [9; 32]), ([2; 16], [9; 32])]);
    let config = |key_id| ClientConfig {
        key_id: KeyId(key_id),
        pms: Pms::from_bytes([9; 32]),
        suites: CipherSuite::ALL.to_vec(),
        controller_key: test_identity().public_key(),
    };
    let server = || {
        ServerSession::new(ServerConfig {
            suites: CipherSuite::ALL.to_vec(),
            schedule: schedule(),
            identity: test_identity(),
        })
    };
    let (mut first, mut first_server) = (ClientSession::new(config([1; 16]), [5; 32]), server());
    for r in first.take_outgoing() {
        first_server.handle_record(r, 0, &mut env).unwrap();
    }
    let earlier_identity = first_server.take_outgoing().remove(1);
    let (mut c, mut s) = (ClientSession::new(config([2; 16]), [6; 32]), server());
    for r in c.take_outgoing() {
        s.handle_record(r, 0, &mut env).unwrap();
    }
    let mut replies = s.take_outgoing();
    c.handle_record(replies.remove(0), 0).unwrap();
    assert_eq!(c.handle_record(earlier_identity, 0).unwrap_err(), SessionError::UnverifiedController);
}
