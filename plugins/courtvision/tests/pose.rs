// SPDX-License-Identifier: MIT OR Apache-2.0
//! posedetect: keypoints at exact frame coordinates, alone and after yolodetect.

mod common;
use common::*;

fn check_pose_frames(frames: &[Frame], n: usize) {
    assert_eq!(frames.len(), n);
    for f in frames {
        let mut people: Vec<&Roi> = f.roi("person");
        people.sort_by_key(|r| r.rect);
        assert_eq!(people.len(), 2, "{:?}", f.rois);
        assert_eq!(people[0].rect, (160, 70, 80, 160));
        assert_eq!(people[1].rect, (370, 240, 60, 120));
        close(people[1].confidence, 0.95, 1e-6);
        for (p, (x0, y0)) in people.iter().zip([(180.0, 100.0), (380.0, 260.0)]) {
            assert_eq!(p.keypoints.len(), 17);
            assert_eq!(p.skeleton.as_deref(), Some("coco17"));
            for (i, k) in p.keypoints.iter().enumerate() {
                close(k[0], x0 + 4.0 * i as f64, 1e-3);
                close(k[1], y0 + 2.0 * i as f64, 1e-3);
                close(k[2], 0.5 + i as f64 / 40.0, 1e-6);
            }
        }
    }
}

#[test]
fn raw_pose_head() {
    let frames = run(
        &format!(
            "{} ! posedetect model={} batch-size=3 ! fakesink name=sink",
            appsrc_rgb(640, 480),
            planted("planted-pose-raw-dyn.onnx")
        ),
        grey_rgb(640, 480, vec![150; 7]),
    )
    .unwrap();
    check_pose_frames(&frames, 7);
}

#[test]
fn end_to_end_pose_head() {
    let frames = run(
        &format!(
            "{} ! posedetect model={} batch-size=2 ! fakesink name=sink",
            appsrc_rgb(640, 480),
            planted("planted-pose-e2e-dyn.onnx")
        ),
        grey_rgb(640, 480, vec![150; 5]),
    )
    .unwrap();
    check_pose_frames(&frames, 5);
}

#[test]
fn after_yolodetect_both_results_on_the_same_buffer() {
    let frames = run(
        &format!(
            "{} ! yolodetect model={} batch-size=2 ! posedetect model={} batch-size=3 ! fakesink name=sink",
            appsrc_rgb(640, 480),
            planted("planted-det-raw-dyn.onnx"),
            planted("planted-pose-raw-dyn.onnx")
        ),
        grey_rgb(640, 480, vec![150; 7]),
    )
    .unwrap();
    check_pose_frames(&frames, 7);
    for f in &frames {
        assert_eq!(f.detections, 5);
        assert_eq!(f.roi("ball")[0].rect, (275, 175, 50, 50));
        assert!(f.roi("ball")[0].source.starts_with("yolodetect"));
        assert!(f.roi("person")[0].source.starts_with("posedetect"));
    }
}
