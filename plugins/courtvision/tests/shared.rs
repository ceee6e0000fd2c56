// SPDX-License-Identifier: MIT OR Apache-2.0
//! Engines shared by name (`engine-name`): several streams, one loaded model, each frame its
//! own result.

mod common;
use common::*;

/// One stream of `n` uniform grey frames (`level`) of `w`x`h` through `elements` into the
/// sink named `sink`.
fn branch(sink: &str, level: u32, n: usize, (w, h): (u32, u32), elements: &str) -> String {
    format!(
        "videotestsrc num-buffers={n} pattern=solid-color foreground-color={argb} \
         ! video/x-raw,format=RGB,width={w},height={h},framerate=25/1 \
         ! {elements} ! fakesink name={sink} ",
        argb = 0xff00_0000u32 | level << 16 | level << 8 | level,
    )
}

fn yolodetect(model: &str, props: &str) -> String {
    format!("yolodetect model={} {props}", planted(model))
}

/// Two streams of different greys, sizes and lengths (partial batches, EOS at different
/// times), each through its own yolodetect with `props`: the frames of each sink.
fn two_streams(props: &str) -> (Vec<Frame>, Vec<Frame>) {
    let det = yolodetect("planted-det-raw-dyn.onnx", props);
    let desc =
        branch("sink", 80, 9, (640, 480), &det) + &branch("sink_b", 150, 6, (320, 240), &det);
    let mut run = run_full(&desc, no_feed).unwrap();
    (run.frames, run.sinks.remove("sink_b").unwrap())
}

/// Frames in = frames out, in order, and each frame's player confidence is its own grey (the
/// planted model's score is the mean of its input): no result of the other stream's frames.
#[track_caller]
fn assert_own_results(frames: &[Frame], n: usize, level: u32) {
    assert_eq!(frames.len(), n, "frames in = frames out");
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.pts, Some(gst::ClockTime::from_mseconds(40 * i as u64)));
        let player = f.roi("player");
        assert_eq!(player.len(), 1, "frame {i}: {:?}", f.rois);
        close(player[0].confidence, level as f64 / 255.0, 2e-3);
    }
}

/// Each frame's ROIs, less the element that found them.
fn found(frames: &[Frame]) -> Vec<Vec<Roi>> {
    let anonymous = |r: &Roi| Roi {
        source: String::new(),
        ..r.clone()
    };
    frames
        .iter()
        .map(|f| f.rois.iter().map(anonymous).collect())
        .collect()
}

#[test]
fn streams_sharing_an_engine_get_their_own_results() {
    for preprocess in ["host", "device"] {
        let props = format!("batch-size=4 preprocess={preprocess}");
        let (a, b) = two_streams(&format!("{props} engine-name=shared-{preprocess}"));
        assert_own_results(&a, 9, 80);
        assert_own_results(&b, 6, 150);
        // The same detections as with a model each.
        let (own_a, own_b) = two_streams(&props);
        assert_eq!(found(&a), found(&own_a));
        assert_eq!(found(&b), found(&own_b));
    }
}

#[test]
fn elements_sharing_an_engine_must_agree_on_its_model() {
    let (fp32, fp16) = ("planted-det-raw-dyn.onnx", "planted-det-raw-dyn-fp16.onnx");
    let desc = branch(
        "sink",
        80,
        3,
        (64, 48),
        &yolodetect(fp32, "engine-name=disagree"),
    ) + &branch(
        "sink_b",
        80,
        3,
        (64, 48),
        &yolodetect(fp16, "engine-name=disagree"),
    );
    let err = run_full(&desc, no_feed)
        .err()
        .expect("the pipeline must fail");
    let message = err.split(" | debug: ").next().unwrap();
    for w in ["engine-name 'disagree'", "other settings", fp32, fp16] {
        assert!(message.contains(w), "error does not mention '{w}': {err}");
    }
    // The name is free again once no element holds its engine: the other model loads under it.
    let desc = branch(
        "sink",
        80,
        3,
        (64, 48),
        &yolodetect(fp16, "engine-name=disagree"),
    );
    let run = run_full(&desc, no_feed).unwrap();
    assert_own_results(&run.frames, 3, 80);
}

/// yolodetect → posedetect on two streams, each kind sharing an engine across the streams:
/// what a model each finds, keypoints included.
#[test]
fn detect_and_pose_chains_share_an_engine_per_model() {
    let chains = |shared: bool| {
        let name = |n: &str| {
            if shared {
                format!("engine-name={n}")
            } else {
                String::new()
            }
        };
        let chain = format!(
            "{} ! posedetect model={} batch-size=2 {}",
            yolodetect(
                "planted-det-raw-dyn.onnx",
                &format!("batch-size=3 {}", name("det"))
            ),
            planted("planted-pose-raw-dyn.onnx"),
            name("pose")
        );
        let desc = branch("sink", 90, 7, (640, 480), &chain)
            + &branch("sink_b", 140, 5, (640, 360), &chain);
        let mut run = run_full(&desc, no_feed).unwrap();
        (run.frames, run.sinks.remove("sink_b").unwrap())
    };
    let (a, b) = chains(true);
    let (own_a, own_b) = chains(false);
    assert_eq!((a.len(), b.len()), (7, 5), "frames in = frames out");
    assert!(
        a.iter()
            .chain(&b)
            .all(|f| f.rois.iter().any(|r| !r.keypoints.is_empty())),
        "every frame has a skeleton"
    );
    assert_eq!(found(&a), found(&own_a));
    assert_eq!(found(&b), found(&own_b));
}

/// Four streams' batches of two through one session: batches that queue up while it runs go
/// through the model together (the timing stage says how many frames ran together, never more
/// than engine-batch-size), and each frame still gets its own result — what a model each finds.
#[test]
fn queued_batches_of_several_streams_run_together() {
    let streams = [
        ("sink", 80),
        ("sink_b", 120),
        ("sink_c", 160),
        ("sink_d", 200),
    ];
    let run = |props: &str| {
        let det = yolodetect("planted-det-raw-dyn.onnx", &format!("batch-size=2 {props}"));
        let desc: String = streams
            .iter()
            .map(|&(sink, level)| branch(sink, level, 12, (640, 480), &det))
            .collect();
        let mut run = run_full(&desc, no_feed).unwrap();
        run.sinks.insert("sink".into(), run.frames);
        run.sinks
    };
    // The session waits up to 2 s for 8 frames: the streams' first batches run together.
    let shared =
        run("engine-name=combine engine-instances=1 engine-batch-size=8 engine-batch-latency=2000");
    let own = run("");
    let mut together = Vec::new();
    for (sink, level) in streams {
        let frames = &shared[sink];
        assert_own_results(frames, 12, level);
        assert_eq!(
            found(frames),
            found(&own[sink]),
            "{sink}: as with a model each"
        );
        for f in frames {
            let timing = f.timing.as_ref().expect("timing meta");
            let stage = timing
                .stages
                .iter()
                .find(|s| s.element.starts_with("yolodetect"));
            together.push(stage.expect("a yolodetect stage").batch_size);
        }
    }
    assert!(
        together.iter().all(|&n| (1..=8).contains(&n)),
        "{together:?}"
    );
    assert!(
        together.iter().any(|&n| n > 2),
        "no two streams' batches ran together: {together:?}"
    );
}
