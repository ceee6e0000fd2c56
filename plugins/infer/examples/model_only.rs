//! Model-only throughput through courtvision-infer's engine: a preallocated batch tensor fed
//! from host memory, `runs` timed runs after warm-up (a measurement, not a test).
//!
//!     cargo run --release -p courtvision-infer --example model_only -- MODEL [cpu|cuda|tensorrt] [BATCH] [WxH] [RUNS]
use std::time::Instant;

use courtvision_infer::{Engine, EngineConfig, Letterbox, Provider};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(model) = args.first() else {
        eprintln!("usage: model_only MODEL [cpu|cuda|tensorrt] [BATCH] [WxH] [RUNS]");
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
    let cfg = EngineConfig {
        model: model.into(),
        provider,
        ..Default::default()
    };
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
    let lb = Letterbox::new(w, h, (h, w), 32, false);
    let tensor = engine.new_batch(batch, lb);
    for _ in 0..5 {
        engine.run(&tensor).expect("warm-up run");
    }
    let t = Instant::now();
    for _ in 0..runs {
        engine.run(&tensor).expect("run");
    }
    let dt = t.elapsed().as_secs_f64();
    println!(
        "model={model} provider={:?} input={batch}x3x{h}x{w} runs={runs} seconds={dt:.3} fps={:.1} ms_per_batch={:.2}",
        engine.provider,
        (runs * batch) as f64 / dt,
        dt * 1000.0 / runs as f64
    );
}
