// SPDX-License-Identifier: MIT OR Apache-2.0
//! /metrics in Prometheus' text format: per stream (fps, latency and lag p50/p95, frames,
//! inferred, skipped, drops, detections, reconnects, state, skip level), per process (resident
//! memory, CPU seconds: the prometheus crate's process collector) and per GPU from NVML where
//! the NVIDIA driver answers (utilisation, memory, decoder use); no GPU, no GPU series.

use nvml_wrapper::Nvml;
use prometheus::core::Collector;
use prometheus::{Encoder, GaugeVec, IntCounterVec, Opts, Registry, TextEncoder};

use crate::stream::{State, Status};

fn gauge(r: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    let g = GaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(g.clone())).expect("unique metric");
    g
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), &["stream"]).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

/// The text of /metrics for these streams, with GPU figures from `nvml` where present.
pub fn render(streams: &[Status], nvml: Option<&Nvml>) -> String {
    let r = Registry::new();
    let fps = gauge(
        &r,
        "courtvision_stream_fps",
        "Frames per second out of the stream over the last report window",
        &["stream"],
    );
    let latency = gauge(
        &r,
        "courtvision_stream_latency_ms",
        "Ingress-to-egress latency of the analysis (ms)",
        &["stream", "quantile"],
    );
    let lag = gauge(
        &r,
        "courtvision_stream_lag_ms",
        "Lag of the output behind a live source (ms)",
        &["stream", "quantile"],
    );
    let state = gauge(
        &r,
        "courtvision_stream_state",
        "1 for the stream's current state",
        &["stream", "state"],
    );
    let level = gauge(
        &r,
        "courtvision_stream_skip_level",
        "Frames the live policy skips in a row at least (0 = as configured)",
        &["stream"],
    );
    let position = gauge(
        &r,
        "courtvision_stream_position_seconds",
        "Position in the input",
        &["stream"],
    );
    let duration = gauge(
        &r,
        "courtvision_stream_duration_seconds",
        "Duration of the input (0 = unknown or live)",
        &["stream"],
    );
    let frames = counter(
        &r,
        "courtvision_stream_frames_total",
        "Frames out of the analysis",
    );
    let inferred = counter(
        &r,
        "courtvision_stream_inferred_total",
        "Frames the detectors ran on",
    );
    let skipped = counter(
        &r,
        "courtvision_stream_skipped_total",
        "Frames motionskip skipped",
    );
    let drops = counter(
        &r,
        "courtvision_stream_drops_total",
        "Frames dropped before the output (a live stream that could not keep up)",
    );
    let detections = counter(
        &r,
        "courtvision_stream_detections_total",
        "Detections out of the analysis",
    );
    let reconnects = counter(
        &r,
        "courtvision_stream_reconnects_total",
        "Connections after the first",
    );
    for s in streams {
        let n = s.name.as_str();
        let f = &s.figures;
        fps.with_label_values(&[n]).set(f.fps);
        latency.with_label_values(&[n, "0.5"]).set(f.latency_p50_ms);
        latency
            .with_label_values(&[n, "0.95"])
            .set(f.latency_p95_ms);
        lag.with_label_values(&[n, "0.5"]).set(f.lag_p50_ms);
        lag.with_label_values(&[n, "0.95"]).set(f.lag_p95_ms);
        for st in State::ALL {
            state
                .with_label_values(&[n, st.name()])
                .set(f64::from(u8::from(s.state == st)));
        }
        level.with_label_values(&[n]).set(s.skip_level as f64);
        position.with_label_values(&[n]).set(f.position_s);
        duration.with_label_values(&[n]).set(f.duration_s);
        frames.with_label_values(&[n]).inc_by(f.frames);
        inferred.with_label_values(&[n]).inc_by(f.inferred);
        skipped.with_label_values(&[n]).inc_by(f.skipped);
        drops.with_label_values(&[n]).inc_by(f.drops);
        detections.with_label_values(&[n]).inc_by(f.detections);
        reconnects.with_label_values(&[n]).inc_by(s.reconnects);
    }
    let process = prometheus::process_collector::ProcessCollector::for_self();
    if !process.desc().is_empty() {
        r.register(Box::new(process)).expect("unique metric");
    }
    if let Some(nvml) = nvml {
        gpu(&r, nvml);
    }
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&r.gather(), &mut out)
        .expect("text encoding");
    String::from_utf8(out).expect("the text format is UTF-8")
}

fn gpu(r: &Registry, nvml: &Nvml) {
    let util = gauge(
        r,
        "courtvision_gpu_utilization_percent",
        "GPU utilisation (NVML)",
        &["gpu", "name"],
    );
    let used = gauge(
        r,
        "courtvision_gpu_memory_used_bytes",
        "GPU memory in use (NVML)",
        &["gpu", "name"],
    );
    let total = gauge(
        r,
        "courtvision_gpu_memory_total_bytes",
        "GPU memory (NVML)",
        &["gpu", "name"],
    );
    let dec = gauge(
        r,
        "courtvision_gpu_decoder_utilization_percent",
        "Video decoder (NVDEC) utilisation (NVML)",
        &["gpu", "name"],
    );
    for i in 0..nvml.device_count().unwrap_or(0) {
        let Ok(d) = nvml.device_by_index(i) else {
            continue;
        };
        let idx = i.to_string();
        let name = d.name().unwrap_or_default();
        let l = [idx.as_str(), name.as_str()];
        if let Ok(u) = d.utilization_rates() {
            util.with_label_values(&l).set(u.gpu as f64);
        }
        if let Ok(m) = d.memory_info() {
            used.with_label_values(&l).set(m.used as f64);
            total.with_label_values(&l).set(m.total as f64);
        }
        if let Ok(u) = d.decoder_utilization() {
            dec.with_label_values(&l).set(u.utilization as f64);
        }
    }
}
