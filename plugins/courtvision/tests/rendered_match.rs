// SPDX-License-Identifier: MIT OR Apache-2.0
//! The detectors on a rendered match (courtsrc): the default models, trained on other seeds,
//! find the ground truth, and device preprocessing finds what host preprocessing finds.

use courtvision_meta::{Detection, DetectionList, GroundTruthMeta};
mod common;
use common::*;

fn truth(f: &Frame) -> DetectionList {
    f.buffer
        .meta::<GroundTruthMeta>()
        .expect("every frame carries ground truth")
        .list()
        .clone()
}

fn corners(d: &Detection) -> [f32; 4] {
    [d.bbox.x, d.bbox.y, d.bbox.x + d.bbox.w, d.bbox.y + d.bbox.h]
}

fn iou(a: [f32; 4], b: [f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let area = |r: [f32; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    iw * ih / (area(a) + area(b) - iw * ih)
}

/// The picture and the ground truth agree: the default models, trained on other seeds, find
/// every labelled player at IoU ≥ 0.5 and place its keypoints within a tenth of its size.
#[test]
fn default_models_find_the_ground_truth_players() {
    players_found("courtvision-det.onnx", "courtvision-pose.onnx");
}

/// The same with the int8 models, which load like any other.
#[test]
fn int8_models_find_the_ground_truth_players() {
    players_found("courtvision-det-int8.onnx", "courtvision-pose-int8.onnx");
}

fn players_found(det: &str, pose: &str) {
    let frames = run(
        &format!(
            "courtsrc seed=9002 players=3 num-buffers=24 ! video/x-raw,width=640,height=360 \
             ! videorate drop-only=true max-rate=5 \
             ! yolodetect name=det model={} ! posedetect name=pose model={} ! fakesink name=sink",
            default_model(det),
            default_model(pose)
        ),
        no_feed,
    )
    .expect("detection pipeline runs");
    assert!(frames.len() >= 4);
    let (mut found, mut total, mut near, mut kpts) = (0, 0, 0, 0);
    for f in &frames {
        let list = truth(f);
        let preds = f.buffer.meta::<DetectionsMeta>().expect("detections");
        for (t, tk) in list.iter().filter(|(d, _)| d.label.as_ref() == "player") {
            total += 1;
            let det = preds.detections().iter().any(|p| {
                &*p.source == "det"
                    && p.label.as_ref() == "player"
                    && iou(corners(p), corners(t)) >= 0.5
            });
            found += det as usize;
            let pose = preds
                .iter()
                .filter(|(p, _)| &*p.source == "pose")
                .max_by(|a, b| {
                    iou(corners(a.0), corners(t)).total_cmp(&iou(corners(b.0), corners(t)))
                });
            let reach = 0.1 * t.bbox.w.max(t.bbox.h);
            for (k, g) in tk.iter().enumerate().filter(|(_, g)| g.score > 0.0) {
                kpts += 1;
                if let Some((_, pk)) = pose {
                    near += ((pk[k].x - g.x).hypot(pk[k].y - g.y) <= reach) as usize;
                }
            }
        }
    }
    assert!(
        found as f64 >= 0.9 * total as f64,
        "{det} found {found} of {total} players"
    );
    assert!(
        near as f64 >= 0.8 * kpts as f64,
        "{pose}: {near} of {kpts} keypoints within 0.1"
    );
}

/// The default detector gives the same boxes with device preprocessing as with host
/// preprocessing on real frames (NV12 through videoconvert, as a decoder delivers).
#[test]
fn device_preprocessing_finds_what_host_preprocessing_finds() {
    let results = |pre: &str| {
        run(
            &format!(
                "courtsrc seed=9003 players=4 num-buffers=6 ! video/x-raw,width=640,height=360 \
                 ! videoconvert ! video/x-raw,format=NV12 \
                 ! yolodetect model={} batch-size=4 preprocess={pre} ! fakesink name=sink",
                default_model("courtvision-det.onnx")
            ),
            no_feed,
        )
        .unwrap()
    };
    let (host, device) = (results("host"), results("device"));
    assert_eq!(device.len(), 6);
    let mut players = 0;
    for (h, d) in host.iter().zip(&device) {
        let mut hb: Vec<&(String, [f32; 4])> = h.boxes.iter().collect();
        let mut db: Vec<&(String, [f32; 4])> = d.boxes.iter().collect();
        assert_eq!(hb.len(), db.len(), "same detections: {hb:?} vs {db:?}");
        hb.sort_by(|a, b| a.1[0].total_cmp(&b.1[0]));
        db.sort_by(|a, b| a.1[0].total_cmp(&b.1[0]));
        for (x, y) in hb.iter().zip(&db) {
            assert_eq!(x.0, y.0);
            players += (x.0 == "player") as usize;
            for k in 0..4 {
                assert!((x.1[k] - y.1[k]).abs() < 2.0, "{x:?} vs {y:?}");
            }
        }
    }
    assert!(
        players >= 20,
        "the players are found ({players} in 6 frames)"
    );
}
