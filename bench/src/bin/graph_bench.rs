// SPDX-License-Identifier: MIT OR Apache-2.0
//! Per-batch cost of the two preprocessing paths on one provider (a measurement, not a test):
//! `host`: CPU letterbox into the float batch tensor (`threads` workers) + run; `device`: the
//! frames copied as uint8 into a frames batch (pinned memory under CUDA), uploaded once,
//! letterboxed by the ONNX Runtime graph and run where they lie (what `preprocess=device`
//! does with frames from host memory under `COURTVISION_LETTERBOX_KERNEL=0`); on CUDA also
//! frames resident on the device, and frames uploaded one at a time for the letterbox kernel.
//! All include the copy of the output to the host.
//!
//!     cargo run --release -p courtvision-bench --bin graph_bench -- MODEL [cpu|cuda] [nv12|bgrx] [WxH] [BATCH] [RUNS] [THREADS]
use std::time::Instant;

use courtvision_infer::cuda::upload_frame;
use courtvision_infer::decode::ClassRows;
use courtvision_infer::graph::GraphSpec;
use courtvision_infer::{
    BatchTensor, Engine, EngineConfig, FrameView, FramesIn, Letterbox, PixelFormat, Provider,
    YuvMatrix,
};

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, d: &str| a.get(i).cloned().unwrap_or_else(|| d.to_string());
    let provider = if arg(1, "cpu") == "cuda" {
        Provider::Cuda
    } else {
        Provider::Cpu
    };
    let format = if arg(2, "nv12") == "bgrx" {
        PixelFormat::Bgrx
    } else {
        PixelFormat::Nv12
    };
    let (w, h) = arg(3, "1920x1080")
        .split_once('x')
        .map(|(w, h)| (w.parse().unwrap(), h.parse().unwrap()))
        .unwrap();
    let batch: usize = arg(4, "8").parse().unwrap();
    let runs: usize = arg(5, "20").parse().unwrap();
    let threads: usize = arg(6, "8").parse().unwrap();
    let (mut engine, _) = Engine::load(&EngineConfig {
        model: arg(0, "").into(),
        provider,
        ..Default::default()
    })
    .expect("model");
    let lb = Letterbox::new(
        w,
        h,
        engine.info.imgsz,
        engine.info.stride,
        engine.info.dynamic_size,
    );
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let (planes, strides): (Vec<Vec<u8>>, [usize; 3]) = match format {
        PixelFormat::Nv12 => (
            vec![vec![100u8; w * h], vec![128u8; 2 * cw * ch]],
            [w, 2 * cw, 0],
        ),
        _ => (vec![vec![90u8; w * h * 4]], [w * 4, 0, 0]),
    };
    let empty: &[u8] = &[];
    let view = FrameView {
        format,
        width: w,
        height: h,
        planes: [&planes[0], planes.get(1).map_or(empty, |p| p), empty],
        strides,
        matrix: YuvMatrix::Bt709,
        full_range: false,
    };
    let mut host = engine.new_batch(batch, lb);
    host.set_threads(threads);
    let spec = GraphSpec {
        format,
        matrix: YuvMatrix::Bt709,
        full_range: false,
        batch,
        letterbox: lb,
        output: engine.info.input_precision,
    };
    let mut device = engine
        .new_frames_batch(spec, FramesIn::Host)
        .expect("frames batch");
    device.set_threads(threads);
    let host_ms = time(&mut engine, &mut host, &view, runs);
    let device_ms = time(&mut engine, &mut device, &view, runs);
    // The device path's two halves: copying frames into the batch, and the run (upload,
    // graph, model, output copy).
    let t = Instant::now();
    for _ in 0..runs {
        for i in 0..batch {
            device.fill_slot(i, &view).unwrap();
        }
    }
    let copy_ms = t.elapsed().as_secs_f64() * 1000.0 / runs as f64;
    let t = Instant::now();
    for _ in 0..runs {
        engine.run(&device, ClassRows::Best).unwrap();
    }
    let run_ms = t.elapsed().as_secs_f64() * 1000.0 / runs as f64;
    // Frames already in device memory (as from nvh264dec): each slot filled from one frame
    // there (letterboxed by the kernel, or copied for the preprocessing graph with
    // COURTVISION_LETTERBOX_KERNEL=0), then the run; against `model_only ... resident` it prices
    // preprocessing.
    let resident = match (provider, courtvision_infer::cuda::FrameCopier::new(0)) {
        (Provider::Cuda, Ok(copier)) => {
            let mut t = engine
                .new_frames_batch(spec, FramesIn::Device(std::sync::Arc::new(copier)))
                .expect("device frames batch");
            let (_frame, on_device) = upload_frame(0, &view).expect("frame on the device");
            let mut once = || {
                for i in 0..batch {
                    // SAFETY: `on_device` describes `_frame`'s planes.
                    unsafe { t.fill_slot_device(i, &on_device) }.unwrap();
                }
                engine.run(&t, ClassRows::Best).unwrap();
            };
            for _ in 0..3 {
                once();
            }
            let start = Instant::now();
            for _ in 0..runs {
                once();
            }
            let ms = start.elapsed().as_secs_f64() * 1000.0 / runs as f64;
            format!("; frames resident on the device: fill + run {ms:.2} ms/batch")
        }
        _ => String::new(),
    };
    // Frames in host memory uploaded one at a time and letterboxed by the kernel (what
    // `preprocess=device` does with frames in system memory on a CUDA provider): fill + run,
    // and its output against the host letterbox's (the same frames).
    let uploaded = match (provider, courtvision_infer::cuda::FrameCopier::new(0)) {
        (Provider::Cuda, Ok(copier)) => {
            let mut t = engine
                .new_frames_batch(spec, FramesIn::HostToDevice(std::sync::Arc::new(copier)))
                .expect("upload frames batch");
            t.set_threads(threads);
            let ms = time(&mut engine, &mut t, &view, runs);
            let want = engine.run(&host, ClassRows::Best).unwrap().data.to_vec();
            let got = engine.run(&t, ClassRows::Best).unwrap().data.to_vec();
            let worst = courtvision_infer::preprocess::max_abs_diff(&got, &want);
            format!(
                "; frames uploaded one at a time ({}): fill + run {ms:.2} ms/batch = {:.0} fps, output against the host letterbox's: worst difference {worst:.2e}",
                if t.letterboxed_on_device() { "kernel" } else { "graph" },
                batch as f64 * 1000.0 / ms
            )
        }
        _ => String::new(),
    };
    println!(
        "{provider:?} {:?} {format:?} {w}x{h} -> {}x{} batch {batch}: host letterbox ({threads} workers) + run {host_ms:.2} ms/batch = {:.0} fps; device (uint8 pinned + graph + IoBinding) {device_ms:.2} ms/batch = {:.0} fps (copy {copy_ms:.2} ms, run {run_ms:.2} ms){resident}{uploaded}",
        engine.info.input_precision,
        lb.dst_w,
        lb.dst_h,
        batch as f64 * 1000.0 / host_ms,
        batch as f64 * 1000.0 / device_ms
    );
}

/// Mean milliseconds of filling every slot of `tensor` with `view` and running it, over `runs`
/// (after three untimed).
fn time(engine: &mut Engine, tensor: &mut BatchTensor, view: &FrameView, runs: usize) -> f64 {
    let mut once = || {
        for i in 0..tensor.slots() {
            tensor.fill_slot(i, view).unwrap();
        }
        engine.run(tensor, ClassRows::Best).unwrap();
    };
    for _ in 0..3 {
        once();
    }
    let t = Instant::now();
    for _ in 0..runs {
        once();
    }
    t.elapsed().as_secs_f64() * 1000.0 / runs as f64
}
