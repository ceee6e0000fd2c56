//! Model-only throughput through courtvision-infer's engine (a measurement, not a test):
//! `runs` timed runs after warm-up of one batch, fed either from host memory (a float batch
//! tensor, as `preprocess=host` does) or resident on the provider's device with the output left
//! there (`resident`: the model as exported, without the best-class output the elements add:
//! the limit of this stack), optionally replayed as a CUDA graph
//! (`resident-graph`).
//!
//!     cargo run --release -p courtvision-infer --example model_only -- MODEL [cpu|cuda|tensorrt] [BATCH] [WxH] [RUNS] [host|resident|resident-graph]
use std::time::Instant;

use courtvision_infer::decode::ClassRows;
use courtvision_infer::{Engine, EngineConfig, Letterbox, Provider};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(model) = args.first() else {
        eprintln!("usage: model_only MODEL [cpu|cuda|tensorrt] [BATCH] [WxH] [RUNS] [host|resident|resident-graph]");
        std::process::exit(2);
    };
    let provider = match args.get(1).map(String::as_str).unwrap_or("cpu") {
        "cuda" => Provider::Cuda,
        "tensorrt" => Provider::TensorRt,
        "auto" => Provider::Auto,
        _ => Provider::Cpu,
    };
    let batch: usize = args.get(2).and_then(|b| b.parse().ok()).unwrap_or(1);
    let (w, h) = args
        .get(3)
        .and_then(|s| s.split_once('x'))
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .unwrap_or((640usize, 640usize));
    let runs: usize = args.get(4).and_then(|r| r.parse().ok()).unwrap_or(50);
    let mode = args.get(5).map(String::as_str).unwrap_or("host");
    let cfg = EngineConfig {
        model: model.into(),
        provider,
        cuda_graph: mode == "resident-graph",
        // Resident: the model as exported, the limit the elements are measured against.
        plain_output: mode.starts_with("resident"),
        ..Default::default()
    };
    let t_load = Instant::now();
    let (mut engine, warnings) = match Engine::load(&cfg) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("model_only: {e}");
            std::process::exit(1);
        }
    };
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let load_s = t_load.elapsed().as_secs_f64();
    // Start-up: the load, and the first run of the batch's shape (where ONNX Runtime picks its
    // kernels), host-fed; the timed runs below have their own warm-up.
    let t_first = Instant::now();
    let tensor = engine.new_batch(batch, Letterbox::new(w, h, (h, w), 32, false));
    if let Err(e) = engine.run(&tensor, ClassRows::Best) {
        eprintln!("model_only: {e}");
        std::process::exit(1);
    }
    eprintln!(
        "load_s={load_s:.2} first_run_s={:.2}",
        t_first.elapsed().as_secs_f64()
    );
    let dt = if mode.starts_with("resident") {
        match engine.time_resident(batch, (h, w), runs) {
            Ok(per_run) => per_run * runs as f64,
            Err(e) => {
                eprintln!("model_only: {e}");
                std::process::exit(1);
            }
        }
    } else {
        for _ in 0..5 {
            engine.run(&tensor, ClassRows::Best).expect("warm-up run");
        }
        let t = Instant::now();
        for _ in 0..runs {
            engine.run(&tensor, ClassRows::Best).expect("run");
        }
        t.elapsed().as_secs_f64()
    };
    println!(
        "model={model} provider={:?} precision={:?} mode={mode} input={batch}x3x{h}x{w} runs={runs} seconds={dt:.3} fps={:.1} ms_per_batch={:.3}",
        engine.provider,
        engine.info.input_precision,
        (runs * batch) as f64 / dt,
        dt * 1000.0 / runs as f64
    );
}
