// SPDX-License-Identifier: MIT OR Apache-2.0
//! metaexport: one valid JSON object per frame, in the documented schema.

mod common;
use common::*;

#[test]
fn one_json_line_per_frame_with_players_and_ball() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frames.jsonl");
    let frames = run(
        &format!(
            "{} ! yolodetect model={} batch-size=3 ! posedetect model={} ! metaexport location={} \
             ! fakesink name=sink",
            appsrc_rgb(640, 480),
            planted("planted-det-raw-dyn.onnx"),
            planted("planted-pose-raw-dyn.onnx"),
            path.display()
        ),
        grey_rgb(640, 480, vec![150; 7]),
    )
    .unwrap();
    assert_eq!(frames.len(), 7, "metaexport passes every buffer");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7);
    for (i, line) in lines.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
        assert_eq!(v["schema"], 1);
        assert_eq!(v["frame"], i as u64);
        assert_eq!(v["pts"], 40_000_000 * i as u64);
        assert!((v["time"].as_f64().unwrap() - 0.04 * i as f64).abs() < 1e-9);
        assert_eq!(
            (v["width"].as_u64(), v["height"].as_u64()),
            (Some(640), Some(480))
        );
        // 'player' from yolodetect and two 'person's with 17 keypoints from posedetect.
        let players = v["players"].as_array().unwrap();
        assert_eq!(players.len(), 3);
        let with_kpts: Vec<_> = players
            .iter()
            .filter(|p| p["keypoints"].as_array().is_some_and(|k| k.len() == 17))
            .collect();
        assert_eq!(with_kpts.len(), 2);
        assert_eq!(
            players[0]["box"],
            serde_json::json!({"x": 80.0, "y": 70.0, "w": 40.0, "h": 60.0})
        );
        // The ball: centre of the most confident ball box (275,175 50x50).
        assert_eq!(v["ball"]["x"], 300.0);
        assert_eq!(v["ball"]["y"], 200.0);
        assert!((v["ball"]["confidence"].as_f64().unwrap() - 0.9).abs() < 1e-6);
        assert_eq!(v["detections"].as_array().unwrap().len(), 5);
    }
}

#[test]
fn no_ball_is_null_and_roles_are_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frames.jsonl");
    run(
        &format!(
            "{} ! yolodetect model={} ! metaexport location={} player-labels=net ball-labels=none \
             ! fakesink name=sink",
            appsrc_rgb(640, 480),
            planted("planted-det-raw-dyn.onnx"),
            path.display()
        ),
        grey_rgb(640, 480, vec![150; 2]),
    )
    .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["ball"].is_null());
        assert_eq!(v["players"].as_array().unwrap().len(), 1);
        assert_eq!(v["players"][0]["box"]["x"], 276.0);
    }
}

#[test]
fn unwritable_location_is_a_clear_error() {
    let err = run(
        &format!(
            "{} ! metaexport location=/nonexistent/dir/out.jsonl ! fakesink name=sink",
            appsrc_rgb(64, 48)
        ),
        grey_rgb(64, 48, vec![1; 2]),
    )
    .expect_err("cannot open");
    assert!(
        err.contains("cannot write /nonexistent/dir/out.jsonl"),
        "{err}"
    );
}
