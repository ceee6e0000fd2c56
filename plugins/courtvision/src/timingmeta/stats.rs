// SPDX-License-Identifier: MIT OR Apache-2.0
//! Egress statistics: latency percentiles, fps, frame counts and per-stage times over a window.

use std::collections::BTreeMap;

use courtvision_meta::{Decision, TimingData};

/// Statistics since the last report (latencies, stage times) and since the start (counts).
#[derive(Debug, Default)]
pub struct Stats {
    pub frames: u64,
    pub inferred: u64,
    pub skipped: u64,
    pub filled: u64,
    /// Frames missing between consecutive timestamps (dropped anywhere upstream).
    pub drops: u64,
    latency_sum_ms: f64,
    window_lag_ms: Vec<f64>,
    latency_n: u64,
    window_latency_ms: Vec<f64>,
    window_frames: u64,
    window_stage_ms: BTreeMap<String, (f64, u64)>,
}

/// One report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub fps: f64,
    pub latency_p50: f64,
    pub latency_p95: f64,
    pub latency_p99: f64,
    pub latency_mean: f64,
    pub frames: u64,
    pub inferred: u64,
    pub skipped: u64,
    pub filled: u64,
    pub drops: u64,
    /// Lag behind the source (ms, clock running time minus the frame's running time): p50,
    /// p95 and max over the window; empty window: 0.
    pub lag_p50: f64,
    pub lag_p95: f64,
    pub lag_max: f64,
    /// Mean time per stage (element name → ms) over the window.
    pub stage_ms: Vec<(String, f64)>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

impl Stats {
    /// Adds a frame. `latency_ms` is None when the frame had no ingress stamp.
    pub fn add(
        &mut self,
        timing: Option<&TimingData>,
        latency_ms: Option<f64>,
        decision: Option<Decision>,
        filled: bool,
    ) {
        self.frames += 1;
        self.window_frames += 1;
        match decision {
            Some(Decision::Skip) => self.skipped += 1,
            _ => self.inferred += 1,
        }
        if filled {
            self.filled += 1;
        }
        if let Some(l) = latency_ms {
            self.latency_sum_ms += l;
            self.latency_n += 1;
            self.window_latency_ms.push(l);
        }
        for s in timing.map(|t| t.stages.as_slice()).unwrap_or_default() {
            let e = self
                .window_stage_ms
                .entry(s.element.to_string())
                .or_default();
            e.0 += s.end.saturating_sub(s.start) as f64 / 1e6;
            e.1 += 1;
        }
    }

    /// Adds the lag of the last frame behind its source (ms).
    pub fn add_lag(&mut self, lag_ms: f64) {
        self.window_lag_ms.push(lag_ms);
    }

    /// Mean latency since the start (ms).
    pub fn mean_latency(&self) -> f64 {
        if self.latency_n == 0 {
            0.0
        } else {
            self.latency_sum_ms / self.latency_n as f64
        }
    }

    /// The report for a window of `seconds`, and a new window.
    pub fn report(&mut self, seconds: f64) -> Report {
        let mut l = std::mem::take(&mut self.window_latency_ms);
        l.sort_by(f64::total_cmp);
        let mean = if l.is_empty() {
            0.0
        } else {
            l.iter().sum::<f64>() / l.len() as f64
        };
        let mut lag = std::mem::take(&mut self.window_lag_ms);
        lag.sort_by(f64::total_cmp);
        let r = Report {
            fps: if seconds > 0.0 {
                self.window_frames as f64 / seconds
            } else {
                0.0
            },
            latency_p50: percentile(&l, 0.50),
            latency_p95: percentile(&l, 0.95),
            latency_p99: percentile(&l, 0.99),
            latency_mean: mean,
            frames: self.frames,
            inferred: self.inferred,
            skipped: self.skipped,
            filled: self.filled,
            drops: self.drops,
            lag_p50: percentile(&lag, 0.50),
            lag_p95: percentile(&lag, 0.95),
            lag_max: lag.last().copied().unwrap_or(0.0),
            stage_ms: std::mem::take(&mut self.window_stage_ms)
                .into_iter()
                .map(|(k, (sum, n))| (k, sum / n.max(1) as f64))
                .collect(),
        };
        self.window_frames = 0;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_counts() {
        let mut s = Stats::default();
        for i in 1..=100 {
            s.add(
                None,
                Some(i as f64),
                Some(if i % 4 == 0 {
                    Decision::Infer
                } else {
                    Decision::Skip
                }),
                i % 2 == 0,
            );
        }
        let r = s.report(2.0);
        assert_eq!(
            (r.latency_p50, r.latency_p95, r.latency_p99),
            (51.0, 95.0, 99.0)
        );
        assert_eq!(r.fps, 50.0);
        assert_eq!(
            (r.frames, r.inferred, r.skipped, r.filled),
            (100, 25, 75, 50)
        );
        assert_eq!((r.lag_p50, r.lag_max), (0.0, 0.0), "no lag measured");
        for lag in [30.0, 10.0, 20.0] {
            s.add_lag(lag);
        }
        s.drops = 3;
        let r = s.report(1.0);
        assert_eq!(
            (r.lag_p50, r.lag_p95, r.lag_max, r.drops),
            (20.0, 30.0, 30.0, 3)
        );
        assert_eq!(s.report(1.0).fps, 0.0, "a new window");
        assert_eq!(s.mean_latency(), 50.5);
    }
}
