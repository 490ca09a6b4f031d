//! Replays what a VNC server sent (recorded by the side-by-side benchmark with
//! `LANTERN_BENCH_RECORD=dir scripts/bench.sh`) through this client and the controller's
//! graphics stream encoder, frame by frame, and prints per workload what the viewers would be
//! sent and what encoding and decoding it cost. The same input every run, so two versions of
//! the encoder can be compared exactly.
//!
//! Usage: `cargo run --release -p rfb --example replay -- DIR [WORKLOAD-PREFIX]`; with a
//! workload named, every update of it is listed too.
//!
//! Unlike the controller, which skips to the newest frame when the encoder falls behind, every
//! update is encoded here, and each is checked: the viewer's frame must equal the source's.

use std::time::{Duration, Instant};

use rfb::{Client, Config, Event};
use shared::video::frame::{Framebuffer, Rect};
use shared::video::tiles::{Copy, Encoder, StreamDecoder, StreamEncoder};

/// About what each update costs on the link besides its own bytes (record header, tag,
/// WebSocket frame header).
const LINK_OVERHEAD: usize = 40;

/// Bytes fed to the client at a time: one, so that at the end of each update the client's
/// frame is that update's, not already part of the next.
const CHUNK: usize = 1;

#[derive(Default)]
struct Totals {
    /// Framebuffer updates from the source.
    source_updates: usize,
    /// Updates sent to viewers (none when nothing changed).
    updates: usize,
    bytes: usize,
    copies: usize,
    rects: usize,
    encode: Duration,
    decode: Duration,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().ok_or("usage: replay DIR [WORKLOAD-PREFIX]")?);
    let listed = args.next();
    let session = std::fs::read(dir.join("session.rfb"))?;
    let marks: Vec<(usize, String)> = std::fs::read_to_string(dir.join("marks.txt"))?
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter_map(|(at, name)| Some((at.parse().ok()?, name.to_string())))
        .collect();

    let mut client = Client::new(Config { password: None, shared: true, ..Default::default() });
    let mut encoder = StreamEncoder::new(Encoder::default());
    let mut decoder = StreamDecoder::default();
    let mut held: Option<Framebuffer> = None;
    let mut shown: Option<Framebuffer> = None;
    let mut hints: Vec<Copy> = Vec::new();
    let mut reported: Vec<Rect> = Vec::new();
    let mut totals: Vec<(String, Totals)> = vec![("before the first workload".into(), Totals::default())];
    let mut next_mark = 0;
    for (at, chunk) in session.chunks(CHUNK).enumerate().map(|(i, c)| (i * CHUNK, c)) {
        while marks.get(next_mark).is_some_and(|(m, _)| *m <= at) {
            totals.push((marks[next_mark].1.clone(), Totals::default()));
            next_mark += 1;
        }
        for event in client.feed(chunk)? {
            match event {
                Event::Copied(c) => hints.push(c),
                Event::Updated(r) => reported.push(r),
                Event::UpdateDone => {
                    let Some(frame) = client.framebuffer() else { continue };
                    let (name, t) = totals.last_mut().ok_or("no totals")?;
                    t.source_updates += 1;
                    let started = Instant::now();
                    let update = match &mut held {
                        Some(prev) => encoder.delta(prev, frame, &hints, Some(&reported)),
                        None => {
                            held = Some(frame.clone());
                            Some(encoder.full(frame))
                        }
                    };
                    t.encode += started.elapsed();
                    hints.clear();
                    reported.clear();
                    let Some(update) = update else { continue };
                    let started = Instant::now();
                    let view = match &mut shown {
                        Some(view) => view,
                        None => shown.insert(Framebuffer::new(1, 1)?),
                    };
                    let damage = decoder.apply(view, &update)?;
                    t.decode += started.elapsed();
                    if view.pixels() != frame.pixels() {
                        return Err(format!("update {} of {name}: the viewer's frame differs", t.updates).into());
                    }
                    t.updates += 1;
                    t.bytes += update.len() + LINK_OVERHEAD;
                    t.copies += damage.copies.len();
                    t.rects += damage.rects.len();
                    if listed.as_deref().is_some_and(|w| name.starts_with(w)) {
                        let area: usize = damage.rects.iter().map(Rect::area).sum();
                        println!(
                            "{:5} {:7} B  copies {:3}  rects {:4} ({area} px)",
                            t.updates,
                            update.len(),
                            damage.copies.len(),
                            damage.rects.len()
                        );
                    }
                }
                _ => {}
            }
        }
    }
    println!(
        "{:45} {:>7} {:>7} {:>11} {:>9} {:>8} {:>8} {:>10} {:>10}",
        "", "source", "updates", "bytes", "B/update", "copies", "rects", "encode ms", "decode ms"
    );
    for (name, t) in &totals {
        println!(
            "{:45} {:7} {:7} {:11} {:9} {:8} {:8} {:10.1} {:10.1}",
            name,
            t.source_updates,
            t.updates,
            t.bytes,
            t.bytes / t.updates.max(1),
            t.copies,
            t.rects,
            t.encode.as_secs_f64() * 1e3,
            t.decode.as_secs_f64() * 1e3
        );
    }
    Ok(())
}
