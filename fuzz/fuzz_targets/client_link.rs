//! The applet's link, past a real handshake with the controller's, fed an arbitrary script:
//! video updates of any bytes (the screen decodes them, or asks for a full frame), serial
//! output, status, presence, records of arbitrary bytes, the page's input, ticks at any time,
//! dropped sockets and reconnects, the page left and shown (steps split on 0xff, the first byte
//! picks the step). Never a panic.
#![no_main]

#[path = "common/known_keys.rs"]
mod known_keys;

use known_keys::KnownKeys;
use libfuzzer_sys::fuzz_target;
use shared::crypto::{CipherSuite, Pms};
use shared::link::{ClientLink, LinkKey, ServerLink, ServerLinkConfig};
use shared::session::{ControllerIdentity, ServerConfig};
use shared::wire::handshake::KeySchedule;
use shared::wire::message::{HostState, HostStatus};
use shared::wire::{InputEvent, KeyId, Presence};

fn key() -> LinkKey {
    LinkKey {
        key_id: KeyId([1; 16]),
        pms: Pms::from_bytes(known_keys::PMS),
        suites: CipherSuite::ALL.to_vec(),
        controller_key: ControllerIdentity::from_seed(&[0x1d; 32]).public_key(),
    }
}

fn server() -> ServerLink {
    let config = ServerConfig {
        suites: CipherSuite::ALL.to_vec(),
        schedule: KeySchedule::default(),
        identity: ControllerIdentity::from_seed(&[0x1d; 32]),
    };
    ServerLink::new(ServerLinkConfig::new(config, 10_000), 0)
}

fn deliver(applet: &mut ClientLink, link: &mut ServerLink, now: u64) {
    for _ in 0..8 {
        let (up, down) = (applet.take_outgoing(), link.take_outgoing());
        if up.is_empty() && down.is_empty() {
            break;
        }
        for record in up {
            link.handle_record(record, now, &mut KnownKeys);
        }
        for record in down {
            applet.handle_record(record, now);
        }
    }
    while link.next_action().is_some() {}
    while applet.next_action().is_some() {}
}

fuzz_target!(|data: &[u8]| {
    let mut applet = ClientLink::new();
    applet.set_keys_available(true);
    applet.connect(key(), [3; 32]);
    let mut link = server();
    let mut now = 0u64;
    deliver(&mut applet, &mut link, now);
    let status = |text: &[u8]| HostStatus { state: HostState::Running, text: String::from_utf8_lossy(text).into() };
    link.attach(true, [], status(b"up"), Presence::default(), now);
    deliver(&mut applet, &mut link, now);
    for step in data.split(|&b| b == 0xff) {
        let Some((&op, rest)) = step.split_first() else { continue };
        match op % 14 {
            0 => link.video(rest, now),
            1 => link.serial(rest, now),
            2 => link.host_status(status(rest), now),
            3 => link
                .presence(Presence { you: 1, holder: rest.first().map(|&b| u32::from(b)), ..Presence::default() }, now),
            4 => applet.handle_record(rest.to_vec(), now),
            5 => applet.paste(&String::from_utf8_lossy(rest), now),
            6 => applet.send_input(InputEvent::Paste(String::from_utf8_lossy(rest).into()), now),
            7 => {
                now += u64::from(rest.first().copied().unwrap_or(1)) * 1000;
                applet.tick(now);
                link.poll(now);
            }
            8 => applet.typing_tick(now),
            9 => {
                applet.socket_closed();
                applet.connect(key(), [4; 32]);
                link = server();
            }
            10 => {
                applet.page_hidden();
                applet.page_shown();
            }
            11 => applet.open_serial(now),
            12 => applet.serial_input(rest, now),
            13 => applet.disconnect(now),
            _ => {}
        }
        deliver(&mut applet, &mut link, now);
        let _ = applet.status();
    }
});
