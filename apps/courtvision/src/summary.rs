// SPDX-License-Identifier: MIT OR Apache-2.0
//! The table printed when a command ends: one row per stream.

use crate::stream::Status;

pub fn table(streams: &[Status]) -> String {
    let w = streams
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(6);
    let mut out = format!(
        "{:<w$}  {:<10} {:>8} {:>7} {:>8} {:>10} {:>6} {:>10}  {}\n",
        "stream",
        "state",
        "frames",
        "fps",
        "time_s",
        "detections",
        "drops",
        "reconnects",
        "outputs / error"
    );
    for s in streams {
        let f = &s.figures;
        let fps = if s.elapsed_s > 0.0 {
            f.frames as f64 / s.elapsed_s
        } else {
            0.0
        };
        let last = match &s.error {
            Some(e) if s.state != crate::stream::State::Done => e.clone(),
            _ => s.outputs.join(" "),
        };
        out += &format!(
            "{:<w$}  {:<10} {:>8} {:>7.1} {:>8.1} {:>10} {:>6} {:>10}  {}\n",
            s.name,
            s.state.name(),
            f.frames,
            fps,
            s.elapsed_s,
            f.detections,
            f.drops,
            s.reconnects,
            last
        );
    }
    out
}
