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

/// A live 30 frames/s source through `middle`, reporting every 200 ms with max-lag=150:
/// the bus messages of egress and the warnings.
fn live_run(middle: &str) -> (Vec<gst::Structure>, Vec<String>, usize) {
    let r = run_full(
        &format!(
            "videotestsrc is-live=true num-buffers=45 ! video/x-raw,width=64,height=48,framerate=30/1 \
             ! timingmeta mode=ingress ! {middle} \
             ! timingmeta mode=egress interval=200 max-lag=150 ! fakesink name=sink sync=false"
        ),
        no_feed,
    )
    .unwrap();
    let msgs = r
        .messages
        .into_iter()
        .filter(|m| m.name() == "courtvision-timing")
        .collect();
    (msgs, r.warnings, r.frames.len())
}

#[test]
fn a_live_stream_that_keeps_up_has_little_lag_and_no_warning() {
    let (msgs, warnings, frames) = live_run("identity");
    assert_eq!(frames, 45);
    let last = msgs.last().unwrap();
    assert!(last.get::<bool>("live").unwrap());
    assert_eq!(last.get::<u64>("drops").unwrap(), 0);
    for m in &msgs {
        let p95 = m.get::<f64>("lag-p95").unwrap();
        assert!((0.0..150.0).contains(&p95), "lag p95 {p95} ms in {m}");
    }
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn a_live_stream_that_falls_behind_reports_its_lag_and_warns() {
    // 60 ms a frame against a frame every 33 ms: each frame is later than the one before.
    let (msgs, warnings, frames) = live_run("identity sleep-time=60000");
    assert_eq!(frames, 45, "nothing dropped here, only late");
    let lag_max = msgs
        .iter()
        .map(|m| m.get::<f64>("lag-max").unwrap())
        .fold(0.0, f64::max);
    // 45 frames take 2.7 s to process against 1.5 s of video: the last is > 1 s behind.
    assert!(lag_max > 1000.0, "lag max {lag_max} ms");
    let p50 = msgs.last().unwrap().get::<f64>("latency-p50").unwrap();
    assert!(
        p50 < lag_max / 2.0,
        "ingress-to-egress latency ({p50} ms) does not show the lag"
    );
    assert_eq!(
        warnings.len(),
        1,
        "one warning until it catches up: {warnings:?}"
    );
    assert!(warnings[0].contains("cannot keep up"), "{}", warnings[0]);
}

#[test]
fn frames_dropped_upstream_are_counted() {
    // A leaky queue in front of a slow stage drops the oldest frames.
    let (msgs, _, frames) =
        live_run("queue leaky=downstream max-size-buffers=1 ! identity sleep-time=60000");
    let drops = msgs.last().unwrap().get::<u64>("drops").unwrap();
    assert!(drops > 10, "{drops} drops");
    assert_eq!(
        frames as u64 + drops,
        45,
        "every frame is either out or counted as dropped"
    );
}

/// The batch sizes yolodetect ran 8 frames of 320x240 RGB (230 kB each) in, with `props`.
fn batch_sizes(props: &str) -> Vec<u32> {
    let r = run_full(
        &format!(
            "{} ! timingmeta mode=ingress ! yolodetect model={} {props} \
             ! timingmeta mode=egress ! fakesink name=sink",
            appsrc_rgb(320, 240),
            planted("planted-det-raw-dyn.onnx"),
        ),
        grey_rgb(320, 240, vec![150; 8]),
    )
    .unwrap();
    r.frames
        .iter()
        .map(|f| f.timing.as_ref().unwrap().stages[0].batch_size)
        .collect()
}

#[test]
fn the_automatic_batch_holds_no_more_video_than_max_batch_bytes() {
    assert_eq!(
        batch_sizes("max-batch-bytes=0"),
        vec![4; 8],
        "unbounded: the default 4"
    );
    assert_eq!(
        batch_sizes("max-batch-bytes=500000"),
        vec![2; 8],
        "two 230 kB frames fit in 500 kB"
    );
    assert_eq!(
        batch_sizes("max-batch-bytes=100000"),
        vec![1; 8],
        "at least one frame"
    );
    assert_eq!(
        batch_sizes("batch-size=4 max-batch-bytes=100000"),
        vec![4; 8],
        "an explicit batch-size is kept"
    );
}
