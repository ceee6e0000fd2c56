// SPDX-License-Identifier: MIT OR Apache-2.0
//! Model-only throughput through courtvision-infer's engine (a measurement, not a test):
//! `runs` timed runs after warm-up of one batch, fed either from host memory (a float batch
//! tensor, as `preprocess=host` does, the output copied back) or resident on the provider's
//! device with the output left there (`resident`: the model as exported, without the
//! best-class output the elements add: the limit of this stack), optionally replayed as a CUDA
//! graph (`resident-graph`). With SESSIONS above 1, as many engines (sessions) run side by
//! side, a thread each, started together: the rate is their frames over the slowest one's time
//! (an engine pool's sessions on one GPU).
//!
//!     cargo run --release -p courtvision-bench --bin model_only -- MODEL [cpu|cuda|tensorrt] [BATCH] [WxH] [RUNS] [host|resident|resident-graph] [SESSIONS]
use std::time::Instant;

use courtvision_infer::decode::ClassRows;
use courtvision_infer::{BatchTensor, Engine, EngineConfig, InferError, Letterbox, Provider};

/// Seconds per run: five warm-up runs (`step(false)`), a wait for the device (`step(true)`),
/// then `runs` timed runs and a wait.
fn seconds_per_run(
    runs: usize,
    mut step: impl FnMut(bool) -> Result<(), InferError>,
) -> Result<f64, InferError> {
    for _ in 0..5 {
        step(false)?;
    }
    step(true)?;
    let t = Instant::now();
    for _ in 0..runs {
        step(false)?;
    }
    step(true)?;
    Ok(t.elapsed().as_secs_f64() / runs.max(1) as f64)
}

/// The model alone on a batch resident on the device.
fn time_resident(
    engine: &mut Engine,
    batch: usize,
    size: (usize, usize),
    runs: usize,
) -> Result<f64, InferError> {
    let mut resident = engine.resident_batch(batch, size)?;
    seconds_per_run(runs, |wait| {
        if wait {
            resident.wait()
        } else {
            engine.run_resident(&resident)
        }
    })
}

/// A host batch through [`Engine::run`], output copied to the host every run.
fn time_host(engine: &mut Engine, batch: &BatchTensor, runs: usize) -> Result<f64, InferError> {
    seconds_per_run(runs, |wait| {
        if wait {
            Ok(())
        } else {
            engine.run(batch, ClassRows::Best).map(drop)
        }
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(model) = args.first() else {
        eprintln!("usage: model_only MODEL [cpu|cuda|tensorrt] [BATCH] [WxH] [RUNS] [host|resident|resident-graph] [SESSIONS]");
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
    let sessions: usize = args.get(6).and_then(|n| n.parse().ok()).unwrap_or(1).max(1);
    let cfg = EngineConfig {
        model: model.into(),
        provider,
        cuda_graph: mode == "resident-graph",
        // Resident: the model as exported, the limit the elements are measured against.
        plain_output: mode.starts_with("resident"),
        ..Default::default()
    };
    let fail = |e: String| -> ! {
        eprintln!("model_only: {e}");
        std::process::exit(1)
    };
    let t_load = Instant::now();
    let mut engines = Vec::new();
    for _ in 0..sessions {
        let (engine, warnings) = Engine::load(&cfg).unwrap_or_else(|e| fail(e.to_string()));
        for w in warnings {
            eprintln!("warning: {w}");
        }
        engines.push(engine);
    }
    let load_s = t_load.elapsed().as_secs_f64();
    // Start-up: the load, and the first run of the batch's shape (where ONNX Runtime picks its
    // kernels), host-fed; the timed runs below have their own warm-up.
    let t_first = Instant::now();
    let tensor = engines[0].new_batch(batch, Letterbox::new(w, h, (h, w), 32, false));
    for engine in &mut engines {
        if let Err(e) = engine.run(&tensor, ClassRows::Best) {
            fail(e.to_string());
        }
    }
    eprintln!(
        "load_s={load_s:.2} first_run_s={:.2}",
        t_first.elapsed().as_secs_f64()
    );
    let start = std::sync::Barrier::new(sessions);
    let times: Vec<Result<f64, String>> = std::thread::scope(|s| {
        let threads: Vec<_> = engines
            .iter_mut()
            .map(|engine| {
                let (start, tensor) = (&start, &tensor);
                s.spawn(move || {
                    // Every thread passes here before anything can fail (no thread left
                    // waiting); each mode warms up before its timed runs.
                    start.wait();
                    let per_run = match mode {
                        m if m.starts_with("resident") => {
                            time_resident(engine, batch, (h, w), runs)
                        }
                        _ => time_host(engine, tensor, runs),
                    };
                    per_run.map(|p| p * runs as f64).map_err(|e| e.to_string())
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|_| Err("a thread panicked".into())))
            .collect()
    });
    let mut dt: f64 = 0.0;
    for t in times {
        dt = dt.max(t.unwrap_or_else(|e| fail(e)));
    }
    let engine = &engines[0];
    println!(
        "model={model} provider={:?} precision={:?} mode={mode} sessions={sessions} input={batch}x3x{h}x{w} runs={runs} seconds={dt:.3} fps={:.1} ms_per_batch={:.3}",
        engine.provider,
        engine.info.input_precision,
        (sessions * runs * batch) as f64 / dt,
        dt * 1000.0 / runs as f64
    );
}
