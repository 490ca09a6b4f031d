//! Native benchmarks of the console link: seal+open for both suites at 64 B, 1 KiB and 64 KiB,
//! and the text codec. Run: `cargo bench -p shared --bench link`.
//! The same workloads run in headless Chromium: `benches/wasm_link.rs`.

#[cfg(not(target_arch = "wasm32"))]
mod common;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::hint::black_box;
    use std::time::Duration;

    use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
    use shared::crypto::CipherSuite;
    use shared::video::text::{apply, encode_delta, encode_full, TextScreen};

    use super::common::{busy_screen, cipher_pair, echoed, scrolled, seal_open, SIZES};

    fn records(c: &mut Criterion) {
        let mut group = c.benchmark_group("seal+open");
        for suite in CipherSuite::ALL {
            for (label, size) in SIZES {
                let plaintext = vec![0x5a; size];
                let (mut sealer, mut opener) = cipher_pair(suite);
                let mut seq = 0u64;
                group.throughput(Throughput::Bytes(size as u64));
                group.bench_function(BenchmarkId::new(suite.name(), label), |b| {
                    b.iter(|| {
                        seq += 1;
                        black_box(seal_open(&mut sealer, &mut opener, seq, black_box(&plaintext)))
                    })
                });
            }
        }
        group.finish();
    }

    fn text_codec(c: &mut Criterion) {
        let screen = busy_screen(1);
        let scroll = scrolled(&screen, 2);
        let echo = echoed(&screen);
        let full = encode_full(&screen);
        let scroll_delta = encode_delta(&screen, &scroll).expect("changed");
        let echo_delta = encode_delta(&screen, &echo).expect("changed");
        let mut group = c.benchmark_group("text");
        group.bench_function("encode full 100x30", |b| b.iter(|| black_box(encode_full(black_box(&screen)))));
        group.bench_function("encode scroll delta", |b| {
            b.iter(|| black_box(encode_delta(black_box(&screen), black_box(&scroll))))
        });
        group.bench_function("encode echo delta", |b| {
            b.iter(|| black_box(encode_delta(black_box(&screen), black_box(&echo))))
        });
        group.bench_function("decode full 100x30", |b| {
            b.iter(|| {
                let mut s = TextScreen::new(1, 1).expect("valid");
                black_box(apply(&mut s, black_box(&full)).expect("valid"))
            })
        });
        group.bench_function("decode scroll delta", |b| {
            let mut s = screen.clone();
            b.iter(|| black_box(apply(&mut s, black_box(&scroll_delta)).expect("valid")))
        });
        group.bench_function("decode echo delta", |b| {
            let mut s = screen.clone();
            b.iter(|| black_box(apply(&mut s, black_box(&echo_delta)).expect("valid")))
        });
        group.finish();
        println!(
            "text update sizes: full 100x30 {} B, scroll delta {} B, echo delta {} B",
            full.len(),
            scroll_delta.len(),
            echo_delta.len()
        );
    }

    fn config() -> Criterion {
        Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2))
    }

    criterion_group! { name = benches; config = config(); targets = records, text_codec }
}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(native::benches);

#[cfg(target_arch = "wasm32")]
fn main() {}
