// SPDX-License-Identifier: MIT OR Apache-2.0
//! Times letterbox_into for common frame sizes and formats (a measurement, not a test):
//!     cargo run --release -p courtvision-bench --bin letterbox_speed
use courtvision_infer::preprocess::{letterbox_into, FrameView, Letterbox, PixelFormat, YuvMatrix};
use std::time::Instant;

fn main() {
    for (w, h) in [(854usize, 480usize), (1920, 1080), (640, 480)] {
        let y = vec![100u8; w * h];
        let uv = vec![128u8; w.div_ceil(2) * h.div_ceil(2) * 2];
        let rgb = vec![90u8; w * h * 4];
        for format in [PixelFormat::I420, PixelFormat::Nv12, PixelFormat::Bgrx] {
            let cw = w.div_ceil(2);
            let frame = match format {
                PixelFormat::I420 => FrameView {
                    format,
                    width: w,
                    height: h,
                    planes: [&y, &uv[..cw * h.div_ceil(2)], &uv[cw * h.div_ceil(2)..]],
                    strides: [w, cw, cw],
                    matrix: YuvMatrix::Bt601,
                    full_range: false,
                },
                PixelFormat::Nv12 => FrameView {
                    format,
                    width: w,
                    height: h,
                    planes: [&y, &uv, &[]],
                    strides: [w, cw * 2, 0],
                    matrix: YuvMatrix::Bt601,
                    full_range: false,
                },
                _ => FrameView {
                    format,
                    width: w,
                    height: h,
                    planes: [&rgb, &[], &[]],
                    strides: [w * 4, 0, 0],
                    matrix: YuvMatrix::Bt601,
                    full_range: false,
                },
            };
            let lb = Letterbox::new(w, h, (640, 640), 32, true);
            let mut dst = vec![0f32; lb.slot_len()];
            letterbox_into(&frame, &lb, &mut dst).unwrap();
            let n = 50;
            let t = Instant::now();
            for _ in 0..n {
                letterbox_into(&frame, &lb, &mut dst).unwrap();
            }
            println!(
                "{w}x{h} {format:?} -> {}x{}: {:.2} ms",
                lb.dst_w,
                lb.dst_h,
                t.elapsed().as_secs_f64() * 1000.0 / n as f64
            );
        }
    }
}
