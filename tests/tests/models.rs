//! The architecture-exact ultralytics exports of ../shared/models (random weights) through whole
//! pipelines: videotestsrc and an encoded file. Random weights give arbitrary boxes, so these
//! assert counts, order, and that every result is well-formed and inside the frame.

use courtvision_tests::*;

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
    // Random weights score about 1.5e-4 in the raw heads; the NMS export's own threshold drops all.
    assert_eq!(total > 0, expect_some, "{total} detections");
}

#[test]
fn videotestsrc_through_detection_and_pose() {
    let frames = run(
        &format!(
            "videotestsrc num-buffers=6 ! video/x-raw,width=480,height=270 ! videoconvert \
             ! yolodetect model={} conf-threshold=0.0001 batch-size=4 \
             ! posedetect model={} conf-threshold=0.0001 batch-size=4 ! fakesink name=sink",
            shared_model("yolo11n-det-dyn.onnx"),
            shared_model("yolo11n-pose-dyn.onnx")
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
fn encoded_file_through_detection_pose_and_nms_export() {
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
            shared_model("yolo11n-det-nms-dyn.onnx")
        ),
        no_feed,
    )
    .unwrap();
    check(&frames, 9, 320, 240, false);
    let frames = run(
        &format!(
            "filesrc location={} ! decodebin ! yolodetect model={} conf-threshold=0.0001 batch-size=3 \
             ! posedetect model={} conf-threshold=0.0001 ! fakesink name=sink",
            file.display(),
            shared_model("yolo11n-det-dyn.onnx"),
            shared_model("yolo11n-pose-dyn.onnx")
        ),
        no_feed,
    )
    .unwrap();
    check(&frames, 9, 320, 240, true);
}
