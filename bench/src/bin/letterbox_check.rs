// SPDX-License-Identifier: MIT OR Apache-2.0
//! The letterbox kernel on the GPU against the CPU letterbox (a check for the GPU host, where
//! the tests cannot run): pseudo-random frames of every format, padded pitches, odd sizes,
//! downscaled, upscaled and rectangular, float32 and float16; prints the worst difference of
//! each case and the kernel's time per 1080p NV12 frame, and exits 1 if a case differs by more
//! than float16's rounding.
//!
//!     cargo run --release -p courtvision-bench --bin letterbox_check
use courtvision_infer::cuda::{upload_frame, DeviceBuffer, LetterboxTarget};
use courtvision_infer::preprocess::{letterbox_into, max_abs_diff, TestFrame};
use courtvision_infer::{Letterbox, PixelFormat, YuvMatrix};
use half::f16;

fn main() {
    let formats = [
        PixelFormat::Nv12,
        PixelFormat::I420,
        PixelFormat::Rgb,
        PixelFormat::Bgr,
        PixelFormat::Rgba,
        PixelFormat::Bgrx,
    ];
    // (frame size, model input (h, w), rectangular)
    let cases = [
        ((1920, 1080), (640, 640), true),
        ((1920, 1080), (640, 640), false),
        ((203, 301), (640, 640), false),
        ((1280, 720), (1280, 1280), true),
    ];
    let mut failed = false;
    for format in formats {
        for &((w, h), target, rect) in &cases {
            for half in [false, true] {
                let frame = TestFrame::random(format, w, h, 7 + w as u32);
                let view = frame.view(YuvMatrix::Bt709);
                let lb = Letterbox::new(w, h, target, 32, rect);
                let n = lb.slot_len();
                let expected: Vec<f32> = if half {
                    let mut v = vec![f16::ZERO; n];
                    letterbox_into(&view, &lb, &mut v).unwrap();
                    v.iter().map(|x| x.to_f32()).collect()
                } else {
                    let mut v = vec![0f32; n];
                    letterbox_into(&view, &lb, &mut v).unwrap();
                    v
                };
                let got = run(&frame, lb, half);
                let worst = max_abs_diff(&expected, &got);
                // One float16 step near 1.0 is 2^-11; float32 paths differ by rounding only.
                let ok = worst <= if half { 1e-3 } else { 1e-4 };
                failed |= !ok;
                println!(
                    "{format:?} {w}x{h} -> {}x{} {}: worst difference {worst:.2e} {}",
                    lb.dst_w,
                    lb.dst_h,
                    if half { "f16" } else { "f32" },
                    if ok { "ok" } else { "FAILED" }
                );
            }
        }
    }
    let frame = TestFrame::random(PixelFormat::Nv12, 1920, 1080, 3);
    let lb = Letterbox::new(1920, 1080, (640, 640), 32, true);
    let (input, device) =
        upload_frame(0, &frame.view(YuvMatrix::Bt709)).expect("frame on the device");
    let out = DeviceBuffer::new(0, lb.slot_len() * 4).expect("device memory");
    let target = LetterboxTarget {
        letterbox: lb,
        matrix: YuvMatrix::Bt709,
        full_range: false,
        half: false,
    };
    let runs = 500;
    let t = std::time::Instant::now();
    for _ in 0..runs {
        // SAFETY: `device` describes `input`'s planes; `out` holds one slot.
        unsafe { out.copier().letterbox(&device, out.ptr, &target) }.expect("letterbox");
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / runs as f64;
    // Queued back to back, one wait at the end: the kernel's own time on the GPU.
    let t = std::time::Instant::now();
    for _ in 0..runs {
        // SAFETY: as above; waited for before `input` goes.
        unsafe { out.copier().letterbox_queued(&device, out.ptr, &target) }.expect("letterbox");
    }
    out.copier().wait().expect("letterbox");
    let queued = t.elapsed().as_secs_f64() * 1e6 / runs as f64;
    drop(input);
    println!(
        "1080p NV12 -> 640x384 f32: {us:.1} us per frame (launch + wait), {queued:.1} us queued back to back"
    );
    std::process::exit(i32::from(failed));
}

/// The kernel's output for `frame` as float32.
fn run(frame: &TestFrame, lb: Letterbox, half: bool) -> Vec<f32> {
    let (_input, device) =
        upload_frame(0, &frame.view(YuvMatrix::Bt709)).expect("frame on the device");
    let n = lb.slot_len();
    let out = DeviceBuffer::new(0, n * if half { 2 } else { 4 }).expect("device memory");
    let target = LetterboxTarget {
        letterbox: lb,
        matrix: YuvMatrix::Bt709,
        full_range: false,
        half,
    };
    // SAFETY: `device` describes `_input`'s planes; `out` holds one slot.
    unsafe { out.copier().letterbox(&device, out.ptr, &target) }.expect("letterbox");
    let mut bytes = vec![0u8; out.len];
    out.download(&mut bytes).expect("download");
    if half {
        bytes
            .chunks_exact(2)
            .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect()
    } else {
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }
}
