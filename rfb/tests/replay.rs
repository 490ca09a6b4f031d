//! A recorded TigerVNC session (an xterm scrolling, a window dragged; `fixtures/replay`, made
//! with `fixtures/replay/record.sh`) replayed through this client and the controller's graphics
//! stream encoder: every update must bring the viewer's frame to the source's, and the encoded
//! stream must be byte for byte the one recorded in `expected.txt`. So a change that moves code
//! around the encoder cannot change what viewers are sent unnoticed. A change meant to alter
//! the encoding updates the file: `LANTERN_UPDATE_FIXTURE=1 cargo test -p rfb --test replay`.

use rfb::{Client, Config, Event};
use sha1::{Digest, Sha1};
use shared::video::frame::{Framebuffer, Rect};
use shared::video::tiles::{Copy, Encoder, StreamDecoder, StreamEncoder};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/replay");

#[test]
fn the_recorded_session_encodes_to_the_same_bytes() {
    let session = std::fs::read(format!("{FIXTURE}/session.rfb")).expect("the recorded session");
    let mut client = Client::new(Config { password: None, shared: true, ..Default::default() });
    let mut encoder = StreamEncoder::new(Encoder::default());
    let mut decoder = StreamDecoder::default();
    let (mut held, mut shown): (Option<Framebuffer>, Option<Framebuffer>) = (None, None);
    let (mut hints, mut reported): (Vec<Copy>, Vec<Rect>) = (Vec::new(), Vec::new());
    let (mut digest, mut updates, mut bytes) = (Sha1::new(), 0usize, 0usize);
    // A byte at a time: at the end of each update the client's frame is that update's.
    for byte in session.chunks(1) {
        for event in client.feed(byte).expect("the recording is a valid session") {
            match event {
                Event::Copied(c) => hints.push(c),
                Event::Updated(r) => reported.push(r),
                Event::UpdateDone => {
                    let Some(frame) = client.framebuffer() else { continue };
                    let update = match &mut held {
                        Some(prev) => encoder.delta(prev, frame, &hints, Some(&reported)),
                        None => {
                            held = Some(frame.clone());
                            Some(encoder.full(frame))
                        }
                    };
                    hints.clear();
                    reported.clear();
                    let Some(update) = update else { continue };
                    let view = shown.get_or_insert_with(|| Framebuffer::new(1, 1).expect("a 1x1 frame"));
                    decoder.apply(view, &update).expect("the viewer decodes every update");
                    assert!(view.pixels() == frame.pixels(), "update {updates}: the viewer's frame differs");
                    digest.update((update.len() as u32).to_be_bytes());
                    digest.update(&update);
                    updates += 1;
                    bytes += update.len();
                }
                _ => {}
            }
        }
    }
    let hex: String = digest.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let got = format!("updates {updates}\nbytes {bytes}\nsha1 {hex}\n");
    let expected_path = format!("{FIXTURE}/expected.txt");
    if std::env::var_os("LANTERN_UPDATE_FIXTURE").is_some() {
        std::fs::write(&expected_path, &got).expect("write expected.txt");
    }
    let expected = std::fs::read_to_string(&expected_path).expect("expected.txt");
    assert!(updates > 100, "the recording holds a real session ({updates} updates)");
    assert_eq!(got, expected, "the encoder's output changed");
}
