//! Tight decoding against a real TigerVNC: a client that asks for Tight first and one that
//! asks for ZRLE first watch the same desktop (text, colour cells, an image of smooth ramps) and both
//! end up with exactly the picture the X server has.

use std::time::Duration;

use e2e::wait_for;
use e2e::xvnc::Xvnc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Many colours side by side (palettes will not do) and smooth ramps, then text.
const PAINT: &str = r#"
import sys
out = []
for r in range(20):
    out.append('\x1b[%d;1H' % (r + 1))
    for c in range(80):
        out.append('\x1b[48;5;%dm ' % (16 + (r * 80 + c) % 216))
out.append('\x1b[0m\x1b[22;1Hthe quick brown fox jumps over the lazy dog 0123456789')
sys.stdout.write(''.join(out))
sys.stdout.flush()
import time
time.sleep(600)
"#;

/// Writes a 24-bit XWD image of smooth ramps, a different colour at every pixel (no palette
/// holds it), for `xwud` to show.
const IMAGE: &str = r#"
import struct, sys
w, h = 200, 120
name = b"ramps\0"
header = [100 + len(name), 7, 2, 24, w, h, 0, 0, 32, 0, 32, 32, w * 4, 4,
          0xff0000, 0xff00, 0xff, 8, 0, 0, w, h, 0, 0, 0]
pixels = bytearray()
for y in range(h):
    for x in range(w):
        pixels += bytes([(x * 3 + y) % 256, (y * 2 + x // 2) % 256, (x * y) % 256, 0])
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack(">25I", *header) + name + bytes(pixels))
"#;

/// Connects an RFB client and returns its frame once a full update has arrived and a few
/// incremental ones have settled, with how many Tight rectangles it decoded.
async fn watch(address: &str, prefer_tight: bool) -> anyhow::Result<(rfb::Framebuffer, u64)> {
    tokio::time::timeout(Duration::from_secs(5), watch_updates(address, prefer_tight)).await?
}

async fn watch_updates(address: &str, prefer_tight: bool) -> anyhow::Result<(rfb::Framebuffer, u64)> {
    let mut stream = TcpStream::connect(address).await?;
    let mut client = rfb::Client::new(rfb::Config { shared: true, prefer_tight, ..Default::default() });
    let mut buf = vec![0u8; 256 * 1024];
    let mut updates = 0;
    // TigerVNC paints the pointer into the picture of a client that never moved it (the X
    // server's own picture has none): move it, out of the way, first.
    let mut moved = false;
    while updates < 2 {
        let n = stream.read(&mut buf).await?;
        anyhow::ensure!(n > 0, "the server closed the connection");
        for event in client.feed(&buf[..n])? {
            if let rfb::Event::Connected { width, height, .. } = event {
                if !moved {
                    client.pointer(width - 1, height - 1, 0);
                    moved = true;
                }
            }
            if event == rfb::Event::UpdateDone {
                updates += 1;
                client.request_update(true);
            }
        }
        stream.write_all(&client.take_outgoing()).await?;
    }
    let frame = client.framebuffer().cloned().ok_or_else(|| anyhow::anyhow!("no frame"))?;
    Ok((frame, client.tight_rects()))
}

fn rgb(frame: &rfb::Framebuffer) -> Vec<u8> {
    frame.pixels().chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tight_client_sees_exactly_what_the_x_server_has() {
    let mut x = Xvnc::start(640, 480).await.expect("Xvnc starts");
    x.run("xterm", &["-geometry", "80x24+0+0", "-e", "python3", "-c", PAINT]).expect("xterm starts");
    x.run("xterm", &["-geometry", "40x8+330+330", "-bg", "white", "-fg", "black"]).expect("xterm starts");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let image = dir.path().join("ramps.xwd");
    let image = image.to_str().expect("a UTF-8 path");
    let made = std::process::Command::new("python3").args(["-c", IMAGE, image]).status().expect("python3 runs");
    assert!(made.success(), "the test image is written");
    x.run("xwud", &["-in", image, "-geometry", "+400+20"]).expect("xwud starts");
    let address = x.address();
    wait_for("the picture the clients agree on", Duration::from_secs(30), || async {
        let (tight, tight_rects) = watch(&address, true).await?;
        let (zrle, _) = watch(&address, false).await?;
        let (w, h, shot) = x.screenshot().await?;
        Ok(if tight_rects == 0 {
            Err("the server sent no Tight rectangles".to_string())
        } else if (w, h) != (tight.width(), tight.height()) || rgb(&tight) != shot {
            let ours = rgb(&tight);
            let at = ours.iter().zip(&shot).position(|(a, b)| a != b).unwrap_or(0) / 3;
            Err(format!(
                "the Tight client's frame differs from the X server's ({tight_rects} Tight rectangles), first at \
                 ({}, {}): {:?} against {:?}",
                at % usize::from(w),
                at / usize::from(w),
                &ours[at * 3..at * 3 + 3],
                &shot[at * 3..at * 3 + 3]
            ))
        } else if rgb(&zrle) != shot {
            Err("the ZRLE client's frame differs (the desktop was still changing)".to_string())
        } else {
            Ok(())
        })
    })
    .await
    .unwrap();
}
