//! Per-batch cost of the two preprocessing paths on one provider (a measurement, not a test):
//! CPU letterbox into the batch tensor (`threads` workers) + run, against uint8 frames copied
//! tight + graph preprocessing chained to the model with IoBinding (`Engine::run_frames`).
//!
//!     cargo run --release -p courtvision-infer --example graph_bench -- MODEL [cpu|cuda] [nv12|bgrx] [WxH] [BATCH] [RUNS] [THREADS]
use std::time::Instant;

use courtvision_infer::graph::{copy_tight, tight_len, GraphSpec};
use courtvision_infer::{
    Engine, EngineConfig, FrameView, Letterbox, PixelFormat, Provider, YuvMatrix,
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
    let mut tensor = engine.new_batch(batch, lb);
    tensor.set_threads(threads);
    let spec = GraphSpec {
        format,
        matrix: YuvMatrix::Bt709,
        full_range: false,
        batch,
        letterbox: lb,
        output: engine.info.input_precision,
    };
    let mut pre = engine.preprocess_graph(spec).expect("graph");
    let len = tight_len(format, w, h);
    let mut tight = vec![0u8; batch * len];
    let mut cpu = || {
        for i in 0..batch {
            tensor.fill_slot(i, &view).unwrap();
        }
        engine.run(&tensor).unwrap();
    };
    for _ in 0..3 {
        cpu();
    }
    let t = Instant::now();
    for _ in 0..runs {
        cpu();
    }
    let cpu_ms = t.elapsed().as_secs_f64() * 1000.0 / runs as f64;
    let mut graph = || {
        for i in 0..batch {
            copy_tight(&view, &mut tight[i * len..(i + 1) * len]);
        }
        engine.run_frames(&mut pre, &tight).unwrap();
    };
    for _ in 0..3 {
        graph();
    }
    let t = Instant::now();
    for _ in 0..runs {
        graph();
    }
    let graph_ms = t.elapsed().as_secs_f64() * 1000.0 / runs as f64;
    println!(
        "{provider:?} {format:?} {w}x{h} -> {}x{} batch {batch}: cpu letterbox ({threads} workers) + run {cpu_ms:.2} ms/batch = {:.0} fps; uint8 + graph + IoBinding {graph_ms:.2} ms/batch = {:.0} fps",
        lb.dst_w,
        lb.dst_h,
        batch as f64 * 1000.0 / cpu_ms,
        batch as f64 * 1000.0 / graph_ms
    );
}
