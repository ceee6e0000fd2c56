// SPDX-License-Identifier: MIT OR Apache-2.0
//! The tracking measures of `track_eval` against the reference implementations from PyPI
//! (py-motmetrics and TrackEval, run by tests/track_metrics_reference.py) on the same data:
//! sequences of objects that move, cross, are missed, doubled, fragmented and swapped.

use std::io::Write;
use std::process::{Command, Stdio};

use courtvision_infer::track_eval::{MotEval, TrackedBox};
use serde_json::{json, Value};

/// A small deterministic generator (the data must be the same in every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Sequences of `objects` walkers with a tracker's typical errors.
fn sequences(rng: &mut Lcg) -> Vec<Vec<(Vec<TrackedBox>, Vec<TrackedBox>)>> {
    let mut all = Vec::new();
    for s in 0..4 {
        let objects = 3 + s * 2;
        let mut pos: Vec<(f32, f32, f32, f32)> = (0..objects)
            .map(|_| {
                (
                    rng.next() * 600.0,
                    rng.next() * 300.0,
                    (rng.next() - 0.5) * 12.0,
                    (rng.next() - 0.5) * 4.0,
                )
            })
            .collect();
        // The predicted identity of each object, which a swap or a fragmentation changes.
        let mut pred_id: Vec<u64> = (0..objects as u64).map(|i| 100 + i).collect();
        let mut next = 500;
        let mut seq = Vec::new();
        for _ in 0..120 {
            let mut truth = Vec::new();
            let mut preds = Vec::new();
            for (i, p) in pos.iter_mut().enumerate() {
                p.0 += p.2;
                p.1 += p.3;
                if !(0.0..640.0).contains(&p.0) {
                    p.2 = -p.2;
                }
                let b = [p.0, p.1, p.0 + 40.0, p.1 + 90.0];
                truth.push(TrackedBox {
                    id: i as u64 + 1,
                    bbox: b,
                });
                if rng.next() < 0.08 {
                    continue; // missed
                }
                let j = |r: &mut Lcg| (r.next() - 0.5) * 14.0;
                let bbox = [b[0] + j(rng), b[1] + j(rng), b[2] + j(rng), b[3] + j(rng)];
                preds.push(TrackedBox {
                    id: pred_id[i],
                    bbox,
                });
            }
            if rng.next() < 0.05 {
                let (a, b) = (
                    (rng.next() * objects as f32) as usize,
                    (rng.next() * objects as f32) as usize,
                );
                pred_id.swap(a.min(objects - 1), b.min(objects - 1));
            }
            if rng.next() < 0.03 {
                let a = ((rng.next() * objects as f32) as usize).min(objects - 1);
                pred_id[a] = next;
                next += 1;
            }
            if rng.next() < 0.2 {
                let x = rng.next() * 600.0;
                preds.push(TrackedBox {
                    id: 900 + (rng.next() * 5.0) as u64,
                    bbox: [x, 10.0, x + 30.0, 80.0],
                });
            }
            seq.push((truth, preds));
        }
        all.push(seq);
    }
    all
}

fn rows(boxes: &[TrackedBox]) -> Vec<Value> {
    boxes
        .iter()
        .map(|b| json!([b.id, b.bbox[0], b.bbox[1], b.bbox[2], b.bbox[3]]))
        .collect()
}

#[test]
fn tracking_measures_agree_with_motmetrics_and_trackeval() {
    let mut rng = Lcg(7);
    let data = sequences(&mut rng);
    let mut eval = MotEval::new();
    for seq in &data {
        eval.new_sequence();
        for (t, p) in seq {
            eval.add_frame(t, p);
        }
    }
    let ours = eval.results();
    let input = json!({
        "sequences": data.iter().map(|seq| seq.iter().map(|(t, p)| json!({"gt": rows(t), "pred": rows(p)})).collect::<Vec<_>>()).collect::<Vec<_>>()
    });
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/track_metrics_reference.py"
    );
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the reference script (py-motmetrics and TrackEval: setup.sh installs them): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let refs: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        ours.id_switches > 5 && ours.mota < 0.95 && ours.idf1 < 0.95,
        "errors to measure: {ours:?}"
    );
    let close = |what: &str, a: f64, b: &Value| {
        let b = b.as_f64().unwrap();
        assert!((a - b).abs() < 1e-6, "{what}: ours {a}, reference {b}");
    };
    for name in ["motmetrics", "trackeval"] {
        let r = &refs[name];
        close(&format!("{name} MOTA"), ours.mota, &r["mota"]);
        close(&format!("{name} IDF1"), ours.idf1, &r["idf1"]);
        assert_eq!(
            ours.id_switches as u64,
            r["id_switches"].as_u64().unwrap(),
            "{name} switches"
        );
    }
    let t = &refs["trackeval"];
    close("HOTA", ours.hota, &t["hota"]);
    close("DetA", ours.deta, &t["deta"]);
    close("AssA", ours.assa, &t["assa"]);
}
