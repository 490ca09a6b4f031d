//! The link benchmarks in headless Chromium (the applet's real engine):
//! `CHROMEDRIVER=/usr/bin/chromedriver cargo bench -p shared --target wasm32-unknown-unknown --bench wasm_link`
//! Figures are printed per operation; divide the size by the time for throughput.
#![cfg(target_arch = "wasm32")]

mod common;
mod frames;

use std::hint::black_box;
use std::time::Duration;

use common::{busy_screen, cipher_pair, echoed, scrolled, seal_open, SIZES};
use frames::{desktop, motion};
use shared::crypto::CipherSuite;
use shared::video::frame::Framebuffer;
use shared::video::text::{apply, encode_delta, encode_full, TextScreen};
use shared::video::tiles;
use wasm_bindgen_test::{wasm_bindgen_bench, Criterion};

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

fn quick(c: &mut Criterion) -> Criterion {
    let _ = c;
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

#[wasm_bindgen_bench]
fn seal_open_rc4_hmac_sha1(c: &mut Criterion) {
    records(&mut quick(c), CipherSuite::Rc4HmacSha1);
}

#[wasm_bindgen_bench]
fn seal_open_chacha20_poly1305(c: &mut Criterion) {
    records(&mut quick(c), CipherSuite::ChaCha20Poly1305);
}

fn records(c: &mut Criterion, suite: CipherSuite) {
    for (label, size) in SIZES {
        let plaintext = vec![0x5a; size];
        let (mut sealer, mut opener) = cipher_pair(suite);
        let mut seq = 0u64;
        c.bench_function(&format!("seal+open {} {label}", suite.name()), |b| {
            b.iter(|| {
                seq += 1;
                black_box(seal_open(&mut sealer, &mut opener, seq, black_box(&plaintext)))
            })
        });
    }
}

#[wasm_bindgen_bench]
fn text_codec(c: &mut Criterion) {
    let mut c = quick(c);
    let screen = busy_screen(1);
    let scroll = scrolled(&screen, 2);
    let full = encode_full(&screen);
    let scroll_delta = encode_delta(&screen, &scroll).expect("changed");
    let echo_delta = encode_delta(&screen, &echoed(&screen)).expect("changed");
    c.bench_function("text encode scroll delta", |b| {
        b.iter(|| black_box(encode_delta(black_box(&screen), black_box(&scroll))))
    });
    c.bench_function("text decode full 100x30", |b| {
        b.iter(|| {
            let mut s = TextScreen::new(1, 1).expect("valid");
            black_box(apply(&mut s, black_box(&full)).expect("valid"))
        })
    });
    c.bench_function("text decode scroll delta", |b| {
        let mut s = screen.clone();
        b.iter(|| black_box(apply(&mut s, black_box(&scroll_delta)).expect("valid")))
    });
    c.bench_function("text decode echo delta", |b| {
        let mut s = screen.clone();
        b.iter(|| black_box(apply(&mut s, black_box(&echo_delta)).expect("valid")))
    });
}

#[wasm_bindgen_bench]
fn tile_codec(c: &mut Criterion) {
    let mut c = quick(c);
    let before = desktop(&[(100, 80), (700, 300), (1100, 500)], 1);
    let moved = desktop(&[(100, 80), (720, 310), (1100, 500)], 1);
    let full = tiles::encode_full(&before);
    let window_moved = tiles::encode_delta(&mut before.clone(), &moved, &[]).expect("changed");
    let (still, next) = (motion(0), motion(1));
    let motion_update = tiles::encode_delta(&mut still.clone(), &next, &[]).expect("changed");
    c.bench_function("tiles decode desktop full 1080p", |b| {
        b.iter(|| {
            let mut view = Framebuffer::new(1, 1).expect("valid");
            black_box(tiles::apply(&mut view, black_box(&full)).expect("valid"))
        })
    });
    c.bench_function("tiles decode window moved 1080p", |b| {
        b.iter(|| {
            let mut view = before.clone();
            black_box(tiles::apply(&mut view, black_box(&window_moved)).expect("valid"))
        })
    });
    c.bench_function("tiles decode motion frame 1080p", |b| {
        b.iter(|| {
            let mut view = still.clone();
            black_box(tiles::apply(&mut view, black_box(&motion_update)).expect("valid"))
        })
    });
}
