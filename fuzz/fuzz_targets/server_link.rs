//! The controller's link, past a real handshake, fed an arbitrary script: messages from the
//! applet (any that decode), records of arbitrary bytes, the host's events, polls at any time,
//! revocation and shutdown, the adapter's reads of offered media and their fate, in any order (steps split on 0xff, the first byte picks the step).
//! Never a panic; once over, it stays over.
#![no_main]

#[path = "common/known_keys.rs"]
mod known_keys;

use known_keys::KnownKeys;
use libfuzzer_sys::fuzz_target;
use shared::crypto::{CipherSuite, Pms};
use shared::link::{ServerAction, ServerLink, ServerLinkConfig};
use shared::session::{ClientConfig, ClientSession, ControllerIdentity, ServerConfig};
use shared::wire::handshake::KeySchedule;
use shared::wire::message::{HostState, HostStatus};
use shared::wire::{Alert, AlertCode, KeyId, MediaDevice, Message, Presence};

fn deliver(applet: &mut ClientSession, link: &mut ServerLink, now: u64) {
    for _ in 0..8 {
        let (up, down) = (applet.take_outgoing(), link.take_outgoing());
        if up.is_empty() && down.is_empty() {
            return;
        }
        for record in up {
            link.handle_record(record, now, &mut KnownKeys);
        }
        for record in down {
            let _ = applet.handle_record(record, now);
        }
    }
}

/// A drive, an offset and a length from a step's bytes (lengths up to 16 MiB).
fn media_read(rest: &[u8]) -> (MediaDevice, u64, u32) {
    let byte = |i: usize| rest.get(i).copied().unwrap_or(0);
    let device = if byte(0) & 1 == 0 { MediaDevice::Cd } else { MediaDevice::Usb };
    let offset = u64::from_be_bytes([0, 0, 0, byte(1), byte(2), byte(3), byte(4), byte(5)]);
    let length = u32::from_be_bytes([0, byte(6), byte(7), byte(8)]);
    (device, offset, length)
}

fuzz_target!(|data: &[u8]| {
    let schedule = KeySchedule::default();
    let config = ServerLinkConfig::new(
        ServerConfig {
            suites: CipherSuite::ALL.to_vec(),
            schedule,
            identity: ControllerIdentity::from_seed(&[0x1d; 32]),
        },
        10_000,
    );
    let mut link = ServerLink::new(config, 0);
    let mut applet = ClientSession::new(
        ClientConfig {
            key_id: KeyId([1; 16]),
            pms: Pms::from_bytes(known_keys::PMS),
            suites: CipherSuite::ALL.to_vec(),
            controller_key: ControllerIdentity::from_seed(&[0x1d; 32]).public_key(),
        },
        [3; 32],
    );
    let mut now = 0u64;
    deliver(&mut applet, &mut link, now);
    let mut joining = false;
    let mut requests = 0u64;
    for step in data.split(|&b| b == 0xff) {
        let Some((&op, rest)) = step.split_first() else { continue };
        let was_over = link.is_over();
        match op % 18 {
            0 => {
                if let Ok(app) = Message::decode(rest).map(Message::into_app) {
                    if let Ok(app) = app {
                        let _ = applet.send(app, now);
                    }
                }
            }
            1 => link.video(rest, now),
            2 => link.video_lagged(),
            3 => link.serial(rest, now),
            4 => link.serial_lagged(u64::from(rest.first().copied().unwrap_or(0)), now),
            5 => link
                .host_status(HostStatus { state: HostState::Running, text: String::from_utf8_lossy(rest).into() }, now),
            6 => link
                .presence(Presence { you: 1, holder: rest.first().map(|&b| u32::from(b)), ..Presence::default() }, now),
            7 => now += u64::from(rest.first().copied().unwrap_or(1)) * 100,
            8 => link.revoke(now),
            9 => link.shutdown(now),
            10 => link.handle_record(rest.to_vec(), now, &mut KnownKeys),
            11 if joining => {
                joining = false;
                let status = HostStatus { state: HostState::Running, text: "up".into() };
                link.attach(rest.first().is_some_and(|b| b & 1 == 1), [rest], status, Presence::default(), now);
            }
            12 => {
                link.restart_video([rest], now);
            }
            13 => link.serial_opened(rest, now),
            14 => link.refuse(Alert::new(AlertCode::HostUnavailable), now),
            15 => {
                let (device, offset, length) = media_read(rest);
                requests += 1;
                link.media_read(requests, device, offset, length, now);
            }
            16 => link.media_attached(media_read(rest).0, now),
            17 => link.media_detached(media_read(rest).0, "taken out", now),
            _ => {}
        }
        link.poll(now);
        deliver(&mut applet, &mut link, now);
        while let Some(action) = link.next_action() {
            joining |= matches!(action, ServerAction::Join { .. });
        }
        let _ = link.farewell();
        assert!(!was_over || link.is_over(), "a link that was over came back");
    }
});
