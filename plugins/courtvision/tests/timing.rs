// SPDX-License-Identifier: MIT OR Apache-2.0
//! timingmeta: monotonic stage times, bus messages with their fields, a valid per-frame log.

mod common;
use common::*;

#[test]
fn stages_messages_and_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("timing.jsonl");
    let n = 9;
    let r = run_full(
        &format!(
            "{} ! timingmeta mode=ingress ! motionskip mode=fixed interval=3 \
             ! yolodetect model={} batch-size=2 fill=hold ! overlayrender \
             ! timingmeta mode=egress interval=0 log-file={} ! fakesink name=sink",
            appsrc_rgb(320, 240),
            planted("planted-det-raw-dyn.onnx"),
            log.display()
        ),
        grey_rgb(320, 240, vec![150; n]),
    )
    .unwrap();
    assert_eq!(r.frames.len(), n);

    for f in &r.frames {
        let t = f.timing.as_ref().expect("timing meta");
        let names: Vec<&str> = t.stages.iter().map(|s| s.element.as_ref()).collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(
            names[0].starts_with("motionskip")
                && names[1].starts_with("yolodetect")
                && names[2].starts_with("overlayrender")
        );
        // Monotonic: ingress <= start <= end <= next start ...
        let mut t0 = t.ingress.expect("ingress stamped");
        for s in &t.stages {
            assert!(t0 <= s.start && s.start <= s.end, "{t:?}");
            t0 = s.end;
        }
        let batch = t.stages[1].batch_size;
        match f.decision() {
            'I' => assert!(batch == 2 || batch == 1, "{batch}"),
            _ => assert_eq!(batch, 0, "skipped frames ran in no batch"),
        }
    }

    let msgs: Vec<_> = r
        .messages
        .iter()
        .filter(|m| m.name() == "courtvision-timing")
        .collect();
    assert!(
        msgs.len() > n,
        "one per frame (interval=0) plus one at EOS: {}",
        msgs.len()
    );
    for m in &msgs {
        for field in [
            "fps",
            "latency-p50",
            "latency-p95",
            "latency-p99",
            "latency-mean",
        ] {
            assert!(m.get::<f64>(field).unwrap() >= 0.0, "{field} in {m}");
        }
        assert!(m.get::<f64>("latency-p50").unwrap() <= m.get::<f64>("latency-p99").unwrap());
        assert!(m.has_field("position") && m.has_field("duration") && m.has_field("stages"));
    }
    let last = msgs.last().unwrap();
    assert_eq!(last.get::<u64>("frames").unwrap(), n as u64);
    assert_eq!(last.get::<u64>("inferred").unwrap(), 3);
    assert_eq!(last.get::<u64>("skipped").unwrap(), 6);
    assert_eq!(
        last.get::<u64>("filled").unwrap(),
        6,
        "fill=hold gives every skipped frame results"
    );
    assert_eq!(
        last.get::<i64>("position").unwrap(),
        40_000_000 * (n as i64 - 1)
    );

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON"))
        .collect();
    assert_eq!(lines.len(), n);
    for (i, v) in lines.iter().enumerate() {
        assert_eq!(v["frame"], i as u64);
        assert_eq!(v["pts"], 40_000_000 * i as u64);
        assert!(v["processing_ms"].as_f64().unwrap() >= 0.0);
        assert!(v["avg_latency_ms"].as_f64().unwrap() >= 0.0);
        assert!(v["wall_time"].as_f64().unwrap() > 1.6e9);
        assert!((v["video_time"].as_f64().unwrap() - 0.04 * i as f64).abs() < 1e-9);
    }
}
