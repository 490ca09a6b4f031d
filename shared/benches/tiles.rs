//! The graphics tile codec on 1080p workloads, natively, at several deflate levels:
//! `cargo bench -p shared --bench tiles`. Sizes are printed first (they do not vary); times
//! come from criterion. Decode speed in the browser: the `wasm_link` bench.
//!
//! These are standalone updates of synthetic frames. The encoder's default level comes from
//! replaying recorded sessions through the stream (`cargo run --release -p rfb --example
//! replay`): see `DEFLATE_LEVEL` in `shared/src/video/tiles.rs` and the notes there.

#[cfg(not(target_arch = "wasm32"))]
mod frames;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::frames;
    use std::hint::black_box;

    use criterion::{criterion_group, Criterion};
    use frames::{desktop, motion};
    use shared::video::frame::Framebuffer;
    use shared::video::tiles::{apply, Encoder};

    const LEVELS: [u8; 5] = [0, 1, 3, 6, 9];

    fn workloads() -> Vec<(&'static str, Framebuffer, Framebuffer)> {
        let windows = [(100, 80), (700, 300), (1100, 500)];
        let before = desktop(&windows, 1);
        let moved = desktop(&[(100, 80), (720, 310), (1100, 500)], 1);
        vec![
            ("desktop full", Framebuffer::new(1, 1).expect("valid"), before.clone()),
            ("window moved", before, moved),
            ("motion frame", motion(0), motion(1)),
        ]
    }

    fn encode(encoder: Encoder, prev: &Framebuffer, next: &Framebuffer) -> Vec<u8> {
        let mut held = prev.clone();
        encoder.delta(&mut held, next, &[]).unwrap_or_default()
    }

    fn sizes() {
        for (name, prev, next) in workloads() {
            let line: Vec<String> = LEVELS
                .iter()
                .map(|&level| format!("level {level}: {} B", encode(Encoder { level }, &prev, &next).len()))
                .collect();
            eprintln!("tiles {name}: {}", line.join(", "));
        }
    }

    fn codec(c: &mut Criterion) {
        sizes();
        for (name, prev, next) in workloads() {
            for level in LEVELS {
                let encoder = Encoder { level };
                c.bench_function(&format!("tiles encode {name} level {level}"), |b| {
                    b.iter(|| black_box(encode(encoder, black_box(&prev), black_box(&next))))
                });
                let update = encode(encoder, &prev, &next);
                c.bench_function(&format!("tiles decode {name} level {level}"), |b| {
                    b.iter(|| {
                        let mut view = prev.clone();
                        black_box(apply(&mut view, black_box(&update)).expect("valid"))
                    })
                });
            }
        }
    }

    criterion_group! {
        name = benches;
        config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(3));
        targets = codec
    }
}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(native::benches);

#[cfg(target_arch = "wasm32")]
fn main() {}
