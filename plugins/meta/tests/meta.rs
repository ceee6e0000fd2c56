// SPDX-License-Identifier: MIT OR Apache-2.0
//! The detections meta on plain buffers: push/read, keypoints, copies, ROI mirror, JSON.

use std::sync::Arc;

use courtvision_meta::*;

fn det(label: &str, x: f32) -> Detection {
    Detection::new(
        1,
        Arc::from(label),
        0.75,
        BBox {
            x,
            y: 2.0,
            w: 10.0,
            h: 20.0,
        },
        Arc::from("test0"),
    )
}

#[test]
fn push_read_copy_and_json() {
    gst::init().unwrap();
    let mut buffer = gst::Buffer::with_size(16).unwrap();
    {
        let b = buffer.get_mut().unwrap();
        b.set_pts(gst::ClockTime::from_mseconds(40));
        let kps: Vec<Keypoint> = (0..17)
            .map(|i| Keypoint {
                x: i as f32,
                y: 1.0,
                score: 0.5,
            })
            .collect();
        add_detection(b, det("person", 1.0), &kps);
        add_detection(b, det("ball", 5.0), &[]);
    }
    let check = |buffer: &gst::BufferRef| {
        let meta = buffer.meta::<DetectionsMeta>().expect("meta");
        let all: Vec<_> = meta.iter().collect();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].0.label.as_ref(), "person");
        assert_eq!(all[0].0.skeleton, Some(Skeleton::Coco17));
        assert_eq!(all[0].1.len(), 17);
        assert_eq!(all[0].1[16].x, 16.0);
        assert_eq!(all[1].0.label.as_ref(), "ball");
        assert!(all[1].1.is_empty());
        assert_eq!(
            buffer
                .iter_meta::<gst_video::VideoRegionOfInterestMeta>()
                .count(),
            2
        );
    };
    check(&buffer);
    // A deep copy (what a writable copy of a shared buffer does) carries both metas.
    let copy = buffer.copy_deep().unwrap();
    check(&copy);
    let json = frame_json(&copy, 640, 480);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["pts"], 40_000_000);
    assert_eq!(
        v["detections"][0]["keypoints"].as_array().unwrap().len(),
        17
    );
    assert_eq!(
        v["detections"][0]["keypoints"][3],
        serde_json::json!([3.0, 1.0, 0.5])
    );
    assert_eq!(v["detections"][1]["box"]["x"], 5.0);
    assert!(v["detections"][1].get("keypoints").is_none());
}

#[test]
fn coco_skeleton_edges_are_valid() {
    for (a, b) in Skeleton::Coco17.edges() {
        assert!((*a as usize) < COCO17_KEYPOINTS.len() && (*b as usize) < COCO17_KEYPOINTS.len());
    }
    assert_eq!(Skeleton::for_keypoints(17), Some(Skeleton::Coco17));
    assert_eq!(Skeleton::for_keypoints(0), None);
}
