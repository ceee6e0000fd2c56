// SPDX-License-Identifier: MIT OR Apache-2.0
//! cvlaunch: gst-launch for courtvision pipelines, with the plugin registered from this build
//! and a summary at the end: frames, wall time, frames/s, detections per label.
//!
//!     cargo run --release -p courtvision-bench --bin cvlaunch -- [--progress] [--json FILE] 'PIPELINE ... ! fakesink name=sink'
//!
//! The summary counts buffers reaching the element named `sink` (else every sink: with several
//! streams in one pipeline, the frames of all of them).
//! With `--json FILE`, every frame's metadata is written as one JSON line (courtvision-meta schema).
//! With `--progress`, each `courtvision-timing` message of a `timingmeta mode=egress` prints a
//! progress line on stderr (position/duration, fps, latency).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use gst::prelude::*;

#[derive(Default)]
struct Stats {
    frames: u64,
    detections: BTreeMap<String, u64>,
    /// When every sink had its first frame, and the frames counted by then.
    first: Option<(Instant, u64)>,
    /// Sinks that have had a frame (several streams warm up one after another).
    started: Vec<bool>,
    /// When the first sink had EOS, and the frames counted by then: with `first`, the span in
    /// which every stream ran (the rate of N streams at once, without the start-up of the
    /// late ones nor the tail where the early ones have finished).
    first_eos: Option<(Instant, u64)>,
    json: Option<std::io::BufWriter<std::fs::File>>,
    size: (u32, u32),
    /// Per egress timingmeta: each report's lag p95 (ms) after the first 3 s of video, and
    /// the drops of its last report.
    lag: BTreeMap<String, (Vec<f64>, u64)>,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("cvlaunch: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let progress = args.first().map(String::as_str) == Some("--progress");
    if progress {
        args.remove(0);
    }
    let mut json = None;
    if args.first().map(String::as_str) == Some("--json") {
        if args.len() < 2 {
            return Err("--json needs a file".into());
        }
        json = Some(args.remove(1));
        args.remove(0);
    }
    if args.is_empty() {
        return Err("usage: cvlaunch [--json FILE] PIPELINE".into());
    }
    courtvision_bench::register_plugins()?;
    let pipeline = gst::parse::launch(&args.join(" "))
        .map_err(|e| format!("pipeline: {e}"))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline")?;
    // The element named `sink`, else every sink (several streams: frames of all of them).
    let sinks: Vec<gst::Element> = match pipeline.by_name("sink") {
        Some(s) => vec![s],
        None => pipeline.iterate_sinks().into_iter().flatten().collect(),
    };
    if sinks.is_empty() {
        return Err("no sink in the pipeline".into());
    }
    let stats = Arc::new(Mutex::new(Stats::default()));
    if let Some(path) = &json {
        let f = std::fs::File::create(path).map_err(|e| format!("{path}: {e}"))?;
        stats.lock().unwrap().json = Some(std::io::BufWriter::new(f));
    }
    stats.lock().unwrap().started = vec![false; sinks.len()];
    for (index, sink) in sinks.iter().enumerate() {
        let s = stats.clone();
        let pad = sink.static_pad("sink").ok_or("sink has no sink pad")?;
        let e = stats.clone();
        pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
            if let Some(gst::PadProbeData::Event(ev)) = &info.data {
                if ev.type_() == gst::EventType::Eos {
                    let mut s = e.lock().unwrap();
                    if s.first_eos.is_none() {
                        s.first_eos = Some((Instant::now(), s.frames));
                    }
                }
            }
            gst::PadProbeReturn::Ok
        });
        pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            let Some(buffer) = info.buffer() else {
                return gst::PadProbeReturn::Ok;
            };
            let mut s = s.lock().unwrap();
            s.frames += 1;
            if !s.started[index] {
                s.started[index] = true;
                if s.started.iter().all(|&b| b) {
                    s.first = Some((Instant::now(), s.frames));
                }
            }
            if s.frames == 1 {
                if let Some(info) = pad
                    .current_caps()
                    .and_then(|c| gst_video::VideoInfo::from_caps(&c).ok())
                {
                    s.size = (info.width(), info.height());
                }
            }
            if let Some(meta) = buffer.meta::<courtvision_meta::DetectionsMeta>() {
                for d in meta.detections() {
                    *s.detections.entry(d.label.to_string()).or_default() += 1;
                }
            }
            let (w, h) = s.size;
            if let Some(out) = s.json.as_mut() {
                let _ = writeln!(out, "{}", courtvision_meta::frame_json(buffer, w, h));
            }
            gst::PadProbeReturn::Ok
        });
    }
    let start = Instant::now();
    courtvision_bench::start(&pipeline)?;
    let lag_stats = stats.clone();
    let result = courtvision_bench::run_to_eos(&pipeline, |msg| match msg.view() {
        gst::MessageView::Warning(w) => eprintln!("warning: {}", w.error()),
        gst::MessageView::Element(e)
            if e.structure()
                .is_some_and(|s| s.name() == "courtvision-timing" && !progress) =>
        {
            let s = e.structure().expect("checked");
            let src = msg.src().map(|s| s.name().to_string()).unwrap_or_default();
            let mut st = lag_stats.lock().unwrap();
            let entry = st.lag.entry(src).or_default();
            if s.get::<i64>("position").unwrap_or(0) >= 3_000_000_000 {
                entry.0.push(s.get::<f64>("lag-p95").unwrap_or(0.0));
            }
            entry.1 = s.get::<u64>("drops").unwrap_or(0);
        }
        gst::MessageView::Element(e) if progress => {
            if let Some(s) = e.structure().filter(|s| s.name() == "courtvision-timing") {
                let pos = s.get::<i64>("position").unwrap_or(-1);
                let dur = s.get::<i64>("duration").unwrap_or(-1);
                let pct = if pos >= 0 && dur > 0 {
                    format!("{:5.1}%", (100.0 * pos as f64 / dur as f64).min(100.0))
                } else {
                    "  -  ".into()
                };
                eprintln!(
                    "progress {pct} frames {} ({} inferred, {} skipped) {:.1} fps latency p50 {:.0} ms p95 {:.0} ms",
                    s.get::<u64>("frames").unwrap_or(0),
                    s.get::<u64>("inferred").unwrap_or(0),
                    s.get::<u64>("skipped").unwrap_or(0),
                    s.get::<f64>("fps").unwrap_or(0.0),
                    s.get::<f64>("latency-p50").unwrap_or(0.0),
                    s.get::<f64>("latency-p95").unwrap_or(0.0),
                );
            }
        }
        _ => {}
    });
    // The end of the streams (EOS, or the error), before the pipeline is torn down: tearing it
    // down (models unloaded, GPU memory freed) takes a few hundred ms that no rate below counts.
    let end = Instant::now();
    let wall = (end - start).as_secs_f64();
    pipeline.set_state(gst::State::Null).ok();
    let mut s = stats.lock().unwrap();
    if let Some(out) = s.json.as_mut() {
        out.flush().map_err(|e| e.to_string())?;
    }
    // Steady-state rate: from the moment every sink has had its first frame (model load and
    // warm-up excluded, also where several streams start one after another).
    let steady_fps = match s.first {
        Some((t, n)) if s.frames > n && end > t => (s.frames - n) as f64 / (end - t).as_secs_f64(),
        _ => 0.0,
    };
    // Every stream at once: from the last sink's first frame to the first sink's EOS (0 when
    // the first stream finished before the last one started).
    let (all_fps, all_s) = match (s.first, s.first_eos) {
        (Some((t0, n0)), Some((t1, n1))) if t1 > t0 && n1 > n0 => {
            let span = (t1 - t0).as_secs_f64();
            ((n1 - n0) as f64 / span, span)
        }
        _ => (0.0, 0.0),
    };
    // With several streams, the span on the wall clock, to line up with the elements' logs.
    if sinks.len() > 1 {
        let wall_ns = |t: Option<(Instant, u64)>| {
            t.map_or(0, |(t, _)| {
                courtvision_meta::wall_clock_ns().saturating_sub(t.elapsed().as_nanos() as u64)
            })
        };
        eprintln!(
            "all streams from_ns={} to_ns={}",
            wall_ns(s.first),
            wall_ns(s.first_eos)
        );
    }
    let dets: u64 = s.detections.values().sum();
    // Start-up: until every stream had its first frame out.
    let started = s.first.map_or(0.0, |(t, _)| (t - start).as_secs_f64());
    println!(
        "frames={} wall_s={:.3} started_s={started:.2} fps={:.2} steady_fps={:.2} all_streams_fps={:.2} all_streams_s={:.2} detections={} per_label={:?}",
        s.frames,
        wall,
        s.frames as f64 / wall,
        steady_fps,
        all_fps,
        all_s,
        dets,
        s.detections
    );
    // Live capacity: each stream's worst window p95 lag, the worst and the median stream.
    let mut worst: Vec<f64> = s
        .lag
        .values()
        .filter(|(v, _)| !v.is_empty())
        .map(|(v, _)| v.iter().copied().fold(0.0, f64::max))
        .collect();
    if !worst.is_empty() {
        worst.sort_by(f64::total_cmp);
        println!(
            "lag_streams={} lag_p95_max_ms={:.1} lag_p95_median_ms={:.1} drops={}",
            worst.len(),
            worst[worst.len() - 1],
            worst[worst.len() / 2],
            s.lag.values().map(|(_, d)| d).sum::<u64>()
        );
    }
    result
}
