//! 1080p pictures for the graphics codec benchmarks, native (`tiles`) and Wasm (`wasm_link`).

use shared::video::frame::{Framebuffer, Rect};

/// A deterministic pseudo-random sequence (xorshift), so every run draws the same pictures.
pub struct Noise(u32);

impl Noise {
    pub fn new(seed: u32) -> Self {
        Self(seed.wrapping_mul(2654435761).max(1))
    }

    pub fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
}

/// A 1920x1080 desktop: a flat background, a task bar, and windows full of dark-on-light
/// text (glyph-like 6x10 cells), one window per `windows` entry at that position.
pub fn desktop(windows: &[(u16, u16)], seed: u32) -> Framebuffer {
    let mut f = Framebuffer::new(1920, 1080).expect("valid size");
    f.fill(f.bounds(), [0x2e, 0x5e, 0x6e]);
    f.fill(Rect::new(0, 1040, 1920, 40), [0x20, 0x20, 0x28]);
    for (i, &(x, y)) in windows.iter().enumerate() {
        window(&mut f, Rect::new(x, y, 760, 520), seed + i as u32);
    }
    f
}

fn window(f: &mut Framebuffer, r: Rect, seed: u32) {
    let mut noise = Noise::new(seed);
    f.fill(r, [0xf4, 0xf4, 0xf0]);
    f.fill(Rect::new(r.x, r.y, r.w, 28), [0x3c, 0x3f, 0x48]);
    for line in 0..((r.h - 40) / 14) {
        let y = r.y + 34 + line * 14;
        let len = 20 + noise.next() % 100;
        for col in 0..len.min(u32::from(r.w - 16) / 7) {
            let glyph = noise.next();
            if glyph.is_multiple_of(7) {
                continue; // a space
            }
            let x = r.x + 8 + col as u16 * 7;
            for gy in 0..10u16 {
                for gx in 0..6u16 {
                    if (glyph >> ((gy * 3 + gx) % 29)) & 1 == 1 {
                        f.span_mut(x + gx, y + gy, 1)[..3].copy_from_slice(&[0x18, 0x18, 0x20]);
                    }
                }
            }
        }
    }
}

/// A full-screen moving picture (video, an animation): every pixel different each frame.
pub fn motion(frame: u32) -> Framebuffer {
    let mut f = Framebuffer::new(1920, 1080).expect("valid size");
    let mut noise = Noise::new(frame + 1);
    for y in 0..1080u16 {
        let row = f.span_mut(0, y, 1920);
        for (x, px) in row.chunks_exact_mut(4).enumerate() {
            let n = (noise.next() & 0x0f) as u8;
            let v = (x as u32 + u32::from(y) + frame * 8) as u8;
            px[..3].copy_from_slice(&[v.wrapping_add(n), v / 2 + n, 255 - v]);
        }
    }
    f
}
