// SPDX-License-Identifier: MIT OR Apache-2.0
//! Ultralytics YOLO11n exports (the default models) and a miniature 80-class raw head through
//! whole pipelines: videotestsrc and an encoded file, at thresholds low enough that these
//! frames, which the models were not trained for, give boxes. These assert counts, order, and
//! that every result is well-formed and inside the frame.

mod common;
use common::*;

fn check(frames: &[Frame], n: usize, w: u32, h: u32, expect_some: bool) {
    assert_eq!(frames.len(), n, "frames in = frames out");
    let mut last = None;
    let mut total = 0;
    for f in frames {
        assert!(f.pts > last || last.is_none(), "in order");
        last = f.pts;
        for r in &f.rois {
            total += 1;
            assert!(
                r.rect.0 + r.rect.2 <= w && r.rect.1 + r.rect.3 <= h,
                "{r:?} outside {w}x{h}"
            );
            assert!((0.0..=1.0).contains(&r.confidence));
            for k in &r.keypoints {
                assert!(
                    k[0] >= 0.0 && k[0] <= w as f64 && k[1] >= 0.0 && k[1] <= h as f64,
                    "{k:?}"
                );
            }
        }
        assert_eq!(f.detections, f.rois.len());
    }
    assert_eq!(total > 0, expect_some, "{total} detections");
}

#[test]
fn videotestsrc_through_detection_and_pose() {
    let frames = run(
        &format!(
            "videotestsrc num-buffers=6 ! video/x-raw,width=480,height=270 ! videoconvert \
             ! yolodetect model={} conf-threshold=0.0001 batch-size=4 \
             ! posedetect model={} conf-threshold=0.0001 batch-size=4 ! fakesink name=sink",
            default_model("courtvision-det.onnx"),
            default_model("courtvision-pose.onnx")
        ),
        no_feed,
    )
    .unwrap();
    check(&frames, 6, 480, 270, true);
    assert!(frames
        .iter()
        .any(|f| f.rois.iter().any(|r| r.keypoints.len() == 17)));
}

#[test]
fn encoded_file_through_detection_and_pose() {
    init();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clip.mp4");
    run(
        &format!(
            "videotestsrc num-buffers=9 pattern=ball ! video/x-raw,format=I420,width=320,height=240,framerate=25/1 \
             ! x264enc ! mp4mux ! filesink name=sink location={}",
            file.display()
        ),
        no_feed,
    )
    .unwrap();
    let frames = run(
        &format!(
            "filesrc location={} ! decodebin ! videoconvert ! yolodetect model={} conf-threshold=0.01 \
             batch-size=4 ! fakesink name=sink",
            file.display(),
            planted("tiny-det-raw-80.onnx")
        ),
        no_feed,
    )
    .unwrap();
    check(&frames, 9, 320, 240, true);
    let frames = run(
        &format!(
            "filesrc location={} ! decodebin ! yolodetect model={} conf-threshold=0.0001 batch-size=3 \
             ! posedetect model={} conf-threshold=0.0001 ! fakesink name=sink",
            file.display(),
            default_model("courtvision-det.onnx"),
            default_model("courtvision-pose.onnx")
        ),
        no_feed,
    )
    .unwrap();
    check(&frames, 9, 320, 240, true);
}
