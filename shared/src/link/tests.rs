//! The controller's link driven by a real applet session, with no sockets, clocks or browser.

use std::collections::HashMap;

use super::server::SERIAL_PIECE;
use super::*;
use crate::crypto::{CipherSuite, Pms};
use crate::session::identity::test_identity;
use crate::session::{ClientConfig, ClientEvent, ClientSession, KeyPurpose, ServerConfig, ServerEnv};
use crate::wire::handshake::KeySchedule;
use crate::wire::message::MAX_PASTE;
use crate::wire::message::{HostState, HostStatus};
use crate::wire::{
    Alert, AlertCode, AppMessage, InputEvent, KeyEvent, KeyId, Layout, Modifiers, Nonce, Presence, SpecialKey,
};

struct Keys(HashMap<[u8; 16], Pms>);

impl ServerEnv for Keys {
    fn claim_key(&mut self, key_id: &KeyId, _: KeyPurpose) -> Result<Pms, Alert> {
        self.0.remove(&key_id.0).ok_or(Alert::new(AlertCode::UnknownKey))
    }
    fn nonce(&mut self) -> Nonce {
        [7; 32]
    }
}

pub(super) struct Pair {
    pub(super) applet: ClientSession,
    pub(super) link: ServerLink,
    keys: Keys,
}

fn config() -> ServerLinkConfig {
    let schedule = KeySchedule { epoch_bytes: 1 << 20, epoch_millis: 60_000, key_life_millis: 600_000 };
    ServerLinkConfig::new(
        ServerConfig { suites: CipherSuite::ALL.to_vec(), schedule, identity: test_identity() },
        10_000,
    )
}

fn status(text: &str) -> HostStatus {
    HostStatus { state: HostState::Running, text: text.into() }
}

fn presence(you: u32) -> Presence {
    Presence { you, holder: Some(you), requested_by: None, viewers: Vec::new() }
}

impl Pair {
    fn new() -> Self {
        let applet = ClientSession::new(
            ClientConfig {
                key_id: KeyId([1; 16]),
                pms: Pms::from_bytes([9; 32]),
                suites: CipherSuite::ALL.to_vec(),
                controller_key: test_identity().public_key(),
            },
            [3; 32],
        );
        let keys = Keys(HashMap::from([([1; 16], Pms::from_bytes([9; 32]))]));
        Self { applet, link: ServerLink::new(config(), 0), keys }
    }

    /// Delivers everything queued both ways until quiet; returns what the applet saw.
    pub(super) fn run(&mut self, now: u64) -> Vec<ClientEvent> {
        let mut seen = Vec::new();
        loop {
            let (up, down) = (self.applet.take_outgoing(), self.link.take_outgoing());
            if up.is_empty() && down.is_empty() {
                return seen;
            }
            for record in up {
                self.link.handle_record(record, now, &mut self.keys);
            }
            for record in down {
                match self.applet.handle_record(record, now) {
                    Ok(events) => seen.extend(events),
                    // The applet's end: the alert it was told, as an event to compare.
                    Err(err) => seen.push(ClientEvent::RekeyFailed(Alert::new(err.code()))),
                }
            }
        }
    }

    pub(super) fn actions(&mut self) -> Vec<ServerAction> {
        std::iter::from_fn(|| self.link.next_action()).collect()
    }

    /// Handshake, then the adapter joins the host as it would.
    pub(super) fn attached(control: bool) -> Self {
        let mut pair = Self::new();
        pair.run(0);
        assert!(matches!(pair.actions()[..], [ServerAction::Join { .. }]));
        pair.link.attach(control, [&b"picture"[..]], status("running"), presence(1), 0);
        pair.run(0);
        pair
    }

    pub(super) fn send(&mut self, message: AppMessage, now: u64) {
        self.applet.send(message, now).unwrap();
        self.run(now);
    }
}

pub(super) fn messages(events: Vec<ClientEvent>) -> Vec<AppMessage> {
    events
        .into_iter()
        .filter_map(|e| match e {
            ClientEvent::Message(m) => Some(m),
            _ => None,
        })
        .collect()
}

#[test]
fn a_viewer_gets_its_picture_then_the_host_status_then_who_watches() {
    let mut pair = Pair::new();
    pair.run(0);
    assert!(matches!(pair.actions()[..], [ServerAction::Join { .. }]), "nothing is sent before the host is joined");
    pair.link.attach(true, [&b"full"[..], &b"cursor"[..]], status("running"), presence(4), 0);
    let seen = messages(pair.run(0));
    assert_eq!(
        seen,
        [
            AppMessage::Video(b"full".to_vec().into()),
            AppMessage::Video(b"cursor".to_vec().into()),
            AppMessage::HostStatus(status("running")),
            AppMessage::Presence(presence(4)),
        ]
    );
}

#[test]
fn the_viewers_layout_goes_to_the_host_before_each_key_press_and_paste() {
    let mut pair = Pair::attached(true);
    let key = |down| KeyEvent { down, modifiers: Modifiers::default(), key: "ä".into(), code: "Quote".into() };
    pair.send(AppMessage::Input(InputEvent::Key(key(true))), 1);
    pair.send(AppMessage::Input(InputEvent::Layout(Layout::De)), 1);
    pair.send(AppMessage::Input(InputEvent::Key(key(true))), 1);
    pair.send(AppMessage::Input(InputEvent::Key(key(false))), 1);
    pair.send(AppMessage::Input(InputEvent::Paste("ß".into())), 1);
    assert_eq!(
        pair.actions(),
        [
            ServerAction::Input(InputEvent::Layout(Layout::Us)),
            ServerAction::Input(InputEvent::Key(key(true))),
            ServerAction::Input(InputEvent::Layout(Layout::De)),
            ServerAction::Input(InputEvent::Key(key(true))),
            ServerAction::Input(InputEvent::Key(key(false))),
            ServerAction::Input(InputEvent::Layout(Layout::De)),
            ServerAction::Input(InputEvent::Paste("ß".into())),
        ]
    );
}

#[test]
fn a_view_only_key_may_not_type_and_its_first_refusal_is_audited() {
    let mut pair = Pair::attached(false);
    for key in ["a", "b", "c"] {
        pair.send(AppMessage::Input(InputEvent::Paste(key.into())), 1);
    }
    pair.send(AppMessage::Serial(b"ls\n".to_vec()), 1);
    assert_eq!(pair.actions(), [ServerAction::Audit(LinkAudit::InputRefused)]);
    assert_eq!(pair.link.stats().refused_inputs, 4);

    let mut pair = Pair::attached(true);
    pair.send(AppMessage::Input(InputEvent::Special(SpecialKey::CtrlAltDel)), 1);
    assert_eq!(
        pair.actions(),
        [ServerAction::Audit(LinkAudit::CtrlAltDel), ServerAction::Input(InputEvent::Special(SpecialKey::CtrlAltDel))]
    );
}

#[test]
fn full_frames_on_request_are_limited_to_one_a_second_but_a_lagging_viewer_always_gets_one() {
    let mut pair = Pair::attached(true);
    for at in [10, 20, 900, 1010, 1500] {
        pair.send(AppMessage::RefreshRequest, at);
    }
    assert_eq!(pair.actions(), [ServerAction::Refresh, ServerAction::Refresh]);
    assert_eq!(pair.link.stats().refreshes_ignored, 3);
    pair.link.video_lagged();
    assert_eq!(pair.actions(), [ServerAction::Refresh]);
    pair.link.restart_video([&b"full again"[..]], 1600);
    assert_eq!(messages(pair.run(1600)), [AppMessage::Video(b"full again".to_vec().into())]);
}

#[test]
fn serial_output_a_viewer_missed_is_noted_in_the_stream_and_the_backlog_goes_first() {
    let mut pair = Pair::attached(true);
    pair.send(AppMessage::SerialOpen, 1);
    pair.send(AppMessage::SerialOpen, 2);
    assert_eq!(pair.actions(), [ServerAction::OpenSerial], "opened once");
    pair.link.serial_opened(&vec![b'x'; SERIAL_PIECE + 1], 3);
    pair.link.serial_lagged(5, 3);
    let seen = messages(pair.run(3));
    assert_eq!(pair.actions(), [ServerAction::Audit(LinkAudit::SerialOpen)]);
    let lengths: Vec<usize> = seen
        .iter()
        .map(|m| match m {
            AppMessage::Serial(b) => b.len(),
            _ => 0,
        })
        .collect();
    assert_eq!(&lengths[..2], [SERIAL_PIECE, 1]);
    let AppMessage::Serial(notice) = &seen[2] else { panic!("a notice") };
    assert!(String::from_utf8_lossy(notice).contains("5 pieces of serial output skipped"));
}

#[test]
fn a_socket_that_never_proves_its_key_is_closed_at_the_deadline() {
    let mut link = ServerLink::new(config(), 0);
    assert_eq!(link.next_poll(), 1000);
    link.poll(9_500);
    link.poll(9_999);
    assert!(!link.is_over());
    assert_eq!(link.next_poll(), 10_000);
    link.poll(10_000);
    assert!(link.is_over());
    assert_eq!(link.farewell().code, close_code::POLICY);
    assert_eq!(link.farewell().reason, "no console handshake in time");
}

#[test]
fn rights_are_checked_again_every_two_seconds_and_a_revoked_link_ends_with_its_reason() {
    let mut pair = Pair::attached(true);
    pair.link.poll(1_000);
    assert_eq!(pair.actions(), []);
    // Video every 100 ms does not push the poll back: the re-check comes at 2 s all the same.
    for at in (1_100..2_000).step_by(100) {
        pair.link.video(b"update", at);
        pair.run(at);
        assert_eq!(pair.link.next_poll(), 2_000);
    }
    pair.link.poll(2_000);
    assert_eq!(pair.actions(), [ServerAction::CheckAccess]);
    pair.link.revoke(2_001);
    assert_eq!(pair.actions(), [ServerAction::Audit(LinkAudit::Revoked)]);
    let seen = pair.run(2_001);
    assert!(pair.applet.is_closed());
    assert!(matches!(&seen[..], [ClientEvent::RekeyFailed(a)] if a.code == AlertCode::AccessRevoked), "{seen:?}");
    assert_eq!(pair.link.farewell().code, 1008);
}

#[test]
fn stopping_the_controller_closes_the_link_as_going_away() {
    let mut pair = Pair::attached(true);
    pair.link.shutdown(5);
    pair.run(5);
    assert!(pair.link.is_over() && pair.applet.is_closed());
    assert_eq!(
        pair.link.farewell(),
        Farewell { code: close_code::AWAY, reason: "the controller is shutting down".into() }
    );
    assert!(pair.link.error().is_none(), "a clean end");
}

#[test]
fn an_administrator_ending_the_link_tells_the_applet_who_did() {
    let mut pair = Pair::attached(true);
    pair.link.end_by_administrator("alice", 4);
    let seen = pair.run(4);
    assert!(pair.link.is_over() && pair.applet.is_closed(), "{seen:?}");
    assert_eq!(pair.link.farewell().reason, "ended by an administrator (alice)");
}

#[test]
fn the_applet_closing_ends_the_link_at_once() {
    let mut pair = Pair::attached(true);
    pair.applet.close(3);
    pair.run(3);
    assert!(pair.link.is_over(), "over on the applet's goodbye, without waiting for its socket");
    assert_eq!(pair.link.farewell(), Farewell { code: close_code::NORMAL, reason: "closed".into() });
    assert!(pair.link.error().is_none(), "a clean end");
}

#[test]
fn a_message_only_the_controller_may_send_ends_the_link_as_a_protocol_violation() {
    let mut pair = Pair::attached(true);
    pair.send(AppMessage::HostStatus(status("forged")), 1);
    assert!(pair.link.is_closed() && pair.applet.is_closed());
    assert_eq!(pair.link.farewell().code, AlertCode::ProtocolViolation.close_code());
}

#[test]
fn a_close_reason_is_cut_to_what_a_close_frame_holds_on_a_character_boundary() {
    let farewell = Farewell { code: 1000, reason: "é".repeat(100) };
    assert_eq!(farewell.frame_reason().len(), 122);
}

/// The applet's link against the controller's, both sans-IO.
struct Both {
    applet: ClientLink,
    link: ServerLink,
    keys: Keys,
}

fn link_key(id: u8) -> LinkKey {
    LinkKey {
        key_id: KeyId([id; 16]),
        pms: Pms::from_bytes([id; 32]),
        suites: CipherSuite::ALL.to_vec(),
        controller_key: test_identity().public_key(),
    }
}

impl Both {
    fn new() -> Self {
        let mut applet = ClientLink::new();
        applet.set_keys_available(true);
        applet.connect(link_key(1), [3; 32]);
        let keys = Keys(HashMap::from([([1; 16], Pms::from_bytes([1; 32])), ([2; 16], Pms::from_bytes([2; 32]))]));
        let mut both = Self { applet, link: ServerLink::new(config(), 0), keys };
        both.run(0);
        both.link.next_action();
        both.link.attach(
            true,
            [&crate::video::text::encode_full(&TextScreen::clamped(80, 25))[..]],
            status("up"),
            presence(1),
            0,
        );
        both.run(0);
        both
    }

    fn run(&mut self, now: u64) {
        loop {
            let (up, down) = (self.applet.take_outgoing(), self.link.take_outgoing());
            if up.is_empty() && down.is_empty() {
                return;
            }
            for record in up {
                self.link.handle_record(record, now, &mut self.keys);
            }
            for record in down {
                self.applet.handle_record(record, now);
            }
        }
    }

    fn applet_actions(&mut self) -> Vec<ClientAction> {
        std::iter::from_fn(|| self.applet.next_action()).collect()
    }
}

use crate::link::client::reconnect_delay_ms;
use crate::video::text::TextScreen;

#[test]
fn the_applet_shows_the_first_picture_once_and_says_it_is_connected() {
    let mut both = Both::new();
    let actions = both.applet_actions();
    assert!(matches!(actions[..], [ClientAction::PaintText(_), ClientAction::FirstPicture]), "{actions:?}");
    let status = both.applet.status();
    assert_eq!((status.state, status.host_status.as_str(), status.frames), ("connected", "up", 1));
    assert!(status.has_control());
}

#[test]
fn a_bad_video_update_changes_nothing_and_asks_for_a_full_frame() {
    let mut both = Both::new();
    both.applet_actions();
    both.link.video(&[1, 0xff, 0xff], 1);
    both.run(1);
    assert_eq!(both.applet_actions(), []);
    assert!(both.applet.status().message.starts_with("bad video update"));
    assert_eq!(both.link.next_action(), Some(ServerAction::Refresh));
    assert_eq!(both.applet.status().frames, 1);
}

#[test]
fn a_dropped_link_reconnects_after_a_growing_backoff_and_a_refused_one_does_not() {
    let mut both = Both::new();
    both.applet_actions();
    both.applet.socket_closed();
    assert_eq!(both.applet.status().state, "connecting");
    assert_eq!(
        both.applet_actions(),
        [ClientAction::NeedKey { request: KeyRequest::Reconnect, after_ms: reconnect_delay_ms(1) }]
    );
    assert_eq!([reconnect_delay_ms(1), reconnect_delay_ms(2), reconnect_delay_ms(9)], [1000, 2000, 30_000]);
    // The controller is out of reach for a while (a relay restarting): no key, so try again later.
    both.applet.key_failed(KeyRequest::Reconnect, "network error");
    assert_eq!(both.applet.status().state, "connecting");
    assert!(both.applet.status().message.contains("network error"), "{}", both.applet.status().message);
    assert_eq!(
        both.applet_actions(),
        [ClientAction::NeedKey { request: KeyRequest::Reconnect, after_ms: reconnect_delay_ms(2) }]
    );

    // A socket whose key is refused says why and stays closed.
    let mut applet = ClientLink::new();
    applet.set_keys_available(true);
    applet.connect(link_key(9), [3; 32]);
    let mut link = ServerLink::new(config(), 0);
    let mut keys = Keys(HashMap::new());
    for record in applet.take_outgoing() {
        link.handle_record(record, 0, &mut keys);
    }
    for record in link.take_outgoing() {
        applet.handle_record(record, 0);
    }
    assert_eq!(std::iter::from_fn(|| applet.next_action()).collect::<Vec<_>>(), [ClientAction::CloseSocket]);
    applet.socket_closed();
    assert_eq!(applet.status().state, "closed");
    assert!(applet.status().message.contains("unknown"), "{}", applet.status().message);
    assert_eq!(applet.next_action(), None, "no reconnect");
}

#[test]
fn the_key_is_renewed_in_band_when_two_thirds_of_its_life_are_over() {
    let mut both = Both::new();
    both.applet.tick(1_000);
    assert_eq!(both.applet_actions().iter().filter(|a| matches!(a, ClientAction::NeedKey { .. })).count(), 0);
    both.applet.tick(400_001);
    assert!(both.applet_actions().contains(&ClientAction::NeedKey { request: KeyRequest::Renew, after_ms: 0 }));
    both.applet.tick(401_000);
    assert_eq!(both.applet_actions(), [], "asked once");
    both.applet.renew(link_key(2), [4; 32], 401_000).unwrap();
    both.run(401_000);
    // The switch completes at the first record under the new key.
    both.link.host_status(status("still up"), 401_001);
    both.run(401_001);
    assert_eq!(both.applet.status().renewals, 1);
    assert_eq!(both.applet.status().generation, 1);
}

#[test]
fn a_new_socket_asks_for_the_serial_stream_again_and_the_terminal_starts_over() {
    let mut both = Both::new();
    both.applet_actions();
    both.applet.open_serial(1);
    both.run(1);
    assert_eq!(both.link.next_action(), Some(ServerAction::OpenSerial));
    both.applet.socket_closed();
    both.applet.connect(link_key(2), [5; 32]);
    both.link = ServerLink::new(config(), 0);
    both.run(2);
    both.link.next_action();
    both.link.attach(true, [], status("up"), presence(1), 2);
    both.run(2);
    assert!(both.applet_actions().contains(&ClientAction::SerialReset));
    assert_eq!(both.link.next_action(), Some(ServerAction::OpenSerial));
}

#[test]
fn a_long_paste_goes_in_pieces_cut_between_characters() {
    let mut both = Both::new();
    let text = "é".repeat(MAX_PASTE);
    both.applet.paste(&text, 1);
    // Keys go out on the typing tick.
    let mut now = 1;
    while let Some(wait) = both.applet.typing_tick_in_ms(now) {
        now += wait.max(1);
        both.applet.typing_tick(now);
        both.run(now);
    }
    let pieces: Vec<String> = std::iter::from_fn(|| both.link.next_action())
        .filter_map(|a| match a {
            ServerAction::Input(InputEvent::Paste(p)) => Some(p),
            _ => None,
        })
        .collect();
    assert!(pieces.concat() == text, "the pieces make up the text");
    assert!(pieces.len() >= 2 && pieces.iter().all(|p| p.len() <= MAX_PASTE));
}

#[test]
fn a_page_left_for_the_back_forward_cache_closes_its_link_and_reopens_on_return() {
    let mut both = Both::new();
    assert!(both.applet.page_hidden());
    assert_eq!(both.applet.status().state, "closed");
    both.applet.page_shown();
    assert_eq!(
        both.applet_actions().last(),
        Some(&ClientAction::NeedKey { request: KeyRequest::Reconnect, after_ms: 0 })
    );
}

#[test]
fn the_mouse_means_nothing_on_a_text_screen() {
    let mut both = Both::new();
    both.applet.send_input(InputEvent::Pointer(crate::wire::PointerEvent { x: 1, y: 1, buttons: 1 }), 1);
    both.run(1);
    assert_eq!(std::iter::from_fn(|| both.link.next_action()).count(), 0);
}

#[cfg(not(target_arch = "wasm32"))]
mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::video::text::{encode_delta, encode_full, Cell};

    #[derive(Debug, Clone)]
    enum Step {
        /// The host's screen changes one cell.
        Edit { row: u16, col: u16, ch: char },
        /// The viewer misses an update and is told it lagged.
        Lose,
        /// Time passes (key epochs move on).
        Wait(u16),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            8 => (0u16..25, 0u16..80, proptest::char::range('!', '~')).prop_map(|(row, col, ch)| Step::Edit { row, col, ch }),
            1 => Just(Step::Lose),
            1 => (1u16..5000).prop_map(Step::Wait),
        ]
    }

    proptest! {
        /// Whatever the host shows, whichever updates a viewer misses and however the keys
        /// move on, the applet's screen ends as the host's, through both links.
        #[test]
        fn the_applets_screen_follows_the_host_through_both_links(steps in proptest::collection::vec(step(), 1..60)) {
            let schedule = KeySchedule { epoch_bytes: 512, epoch_millis: 2_000, key_life_millis: 600_000 };
            let config = ServerLinkConfig::new(ServerConfig { suites: CipherSuite::ALL.to_vec(), schedule, identity: test_identity() }, 10_000);
            let mut both = Both { applet: ClientLink::new(), link: ServerLink::new(config, 0), keys: Keys(HashMap::from([([1; 16], Pms::from_bytes([1; 32]))])) };
            both.applet.connect(link_key(1), [3; 32]);
            both.run(0);
            both.link.next_action();
            let mut host = TextScreen::clamped(80, 25);
            both.link.attach(true, [&encode_full(&host)[..]], status("up"), presence(1), 0);
            both.run(0);
            let (mut now, mut shown) = (0u64, host.clone());
            for step in steps {
                match step {
                    Step::Edit { row, col, ch } => {
                        host.set(row, col, Cell { ch, ..Cell::default() });
                        if let Some(update) = encode_delta(&shown, &host) {
                            both.link.video(&update, now);
                        }
                        shown = host.clone();
                    }
                    Step::Lose => {
                        host.set(0, 0, Cell { ch: '#', ..Cell::default() });
                        shown = host.clone();
                        both.link.video_lagged();
                    }
                    Step::Wait(ms) => {
                        now += u64::from(ms);
                        both.link.poll(now);
                        both.applet.tick(now);
                    }
                }
                // The pump: a refresh is a fresh join, a full frame of what the host shows now.
                while let Some(action) = both.link.next_action() {
                    if action == ServerAction::Refresh {
                        both.link.restart_video([&encode_full(&host)[..]], now);
                    }
                }
                both.run(now);
                while both.applet.next_action().is_some() {}
            }
            prop_assert!(!both.link.is_over() && both.applet.is_established());
            prop_assert_eq!(both.applet.screen().text(), host.text());
        }
    }
}

/// The key events that reach the host once the applet's typing ticks have run.
fn keys_at_host(both: &mut Both, mut now: u64) -> Vec<(bool, String, u8)> {
    while let Some(wait) = both.applet.typing_tick_in_ms(now) {
        now += wait.max(1);
        both.applet.typing_tick(now);
        both.run(now);
    }
    std::iter::from_fn(|| both.link.next_action())
        .filter_map(|a| match a {
            ServerAction::Input(InputEvent::Key(k)) => Some((k.down, k.code, k.modifiers.0)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_latched_modifier_holds_until_the_next_key_is_let_go() {
    let mut both = Both::new();
    both.applet_actions();
    both.applet.toggle_latch("Control", "ControlLeft", 1);
    assert_eq!(both.applet.status().latched, ["ControlLeft"]);
    for down in [true, false] {
        let key = KeyEvent { down, modifiers: Modifiers::default(), key: "c".into(), code: "KeyC".into() };
        both.applet.send_input(InputEvent::Key(key), 1);
    }
    assert!(both.applet.status().latched.is_empty());
    let ctrl = Modifiers::CTRL;
    assert_eq!(
        keys_at_host(&mut both, 1),
        [
            (true, "ControlLeft".into(), ctrl),
            (true, "KeyC".into(), ctrl),
            (false, "KeyC".into(), ctrl),
            (false, "ControlLeft".into(), ctrl)
        ]
    );
    // Pressed again before any key, it lets go; a key that is no modifier latches nothing.
    both.applet.toggle_latch("Alt", "AltLeft", 2);
    both.applet.toggle_latch("Alt", "AltLeft", 2);
    both.applet.toggle_latch("a", "KeyA", 2);
    assert!(both.applet.status().latched.is_empty());
    let alt = Modifiers::ALT;
    assert_eq!(keys_at_host(&mut both, 2), [(true, "AltLeft".into(), alt), (false, "AltLeft".into(), alt)]);
}

#[test]
fn a_chord_presses_in_order_and_lets_go_in_reverse_with_latched_modifiers_around() {
    let mut both = Both::new();
    both.applet_actions();
    both.applet.toggle_latch("Shift", "ShiftLeft", 1);
    both.applet.chord(&[("Control", "ControlLeft"), ("Alt", "AltLeft"), ("F1", "F1")], 1);
    let (s, c, a) = (Modifiers::SHIFT, Modifiers::CTRL, Modifiers::ALT);
    assert_eq!(
        keys_at_host(&mut both, 1),
        [
            (true, "ShiftLeft".into(), s),
            (true, "ControlLeft".into(), s | c),
            (true, "AltLeft".into(), s | c | a),
            (true, "F1".into(), s | c | a),
            (false, "F1".into(), s | c | a),
            (false, "AltLeft".into(), s | c | a),
            (false, "ControlLeft".into(), s | c),
            (false, "ShiftLeft".into(), s),
        ]
    );
}
