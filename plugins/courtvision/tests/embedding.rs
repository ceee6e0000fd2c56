// SPDX-License-Identifier: MIT OR Apache-2.0
//! The documented ways to read results from C and Python (examples/): each example, run
//! against the plugin of this build on planted models, prints every box and keypoint where the
//! models put them, and both read the same detections.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

mod common;
use common::*;

/// The folder of this build's libgstcourtvision.so and libgstcourtsrc.so, built first: `cargo test` builds only the
/// Rust library the tests link, not the plugin GStreamer loads (a no-op when it is current).
fn plugin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // target/<profile>/deps/<this test>
        let exe = std::env::current_exe().unwrap();
        let dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .args([
                "build",
                "--lib",
                "-p",
                "gst-plugin-courtvision",
                "-p",
                "gst-plugin-courtsrc",
                "--manifest-path",
            ])
            .arg(repo().join("Cargo.toml"))
            .arg("--target-dir")
            .arg(dir.parent().unwrap());
        if dir.ends_with("release") {
            cargo.arg("--release");
        }
        let status = cargo.status().expect("cargo");
        assert!(status.success(), "building the plugin failed");
        assert!(
            dir.join("libgstcourtvision.so").exists(),
            "no libgstcourtvision.so in {}",
            dir.display()
        );
        dir
    })
    .clone()
}

fn output(cmd: &mut Command) -> String {
    let out = cmd
        .env("GST_PLUGIN_PATH", plugin_dir())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The detection lines of each frame.
fn frames(text: &str) -> Vec<Vec<String>> {
    let mut frames: Vec<Vec<String>> = Vec::new();
    for line in text.lines() {
        if line.starts_with("frame ") {
            frames.push(Vec::new());
        } else if let Some(f) = frames.last_mut() {
            f.push(line.trim().to_string());
        }
    }
    frames
}

/// planted-det-raw-dyn and planted-pose-raw-dyn on 640x360 frames (letterboxed to 640x640,
/// boxes mapped back): after NMS three boxes of the detector, two people with 17 keypoints.
fn check(frames: &[Vec<String>]) {
    assert_eq!(frames.len(), 3, "frames in = frames out");
    for f in frames {
        assert_eq!(f.len(), 5, "{f:#?}");
        assert!(f.contains(&"ball 0.900 box (275, 163, 50, 50) from yolodetect0".to_string()));
        assert!(f.contains(&"net 0.700 box (276, 163, 50, 50) from yolodetect0".to_string()));
        let people: Vec<&String> = f.iter().filter(|l| l.starts_with("person ")).collect();
        assert_eq!(people.len(), 2);
        for p in people {
            assert!(p.contains("from posedetect0 keypoints"), "{p}");
            assert_eq!(p.matches('(').count(), 1 + 17, "box and 17 keypoints: {p}");
        }
        assert!(f
            .iter()
            .any(|l| l.starts_with("person 0.950 box (370, 228, 60, 120)")
                && l.contains("(380.0,248.0,0.50)")));
    }
}

#[test]
fn python_example_reads_boxes_and_keypoints() {
    let script = repo().join("examples/python/read_detections.py");
    let python = frames(&output(
        Command::new("/usr/bin/python3")
            .arg(script)
            .args(["--det", &planted("planted-det-raw-dyn.onnx")])
            .args(["--pose", &planted("planted-pose-raw-dyn.onnx")])
            .args(["--frames", "3"]),
    ));
    check(&python);
}

#[test]
fn c_example_reads_what_the_python_example_reads() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("read_detections");
    let flags = Command::new("pkg-config")
        .args([
            "--cflags",
            "--libs",
            "gstreamer-1.0",
            "gstreamer-video-1.0",
            "gstreamer-app-1.0",
        ])
        .output()
        .expect("pkg-config");
    let flags = String::from_utf8(flags.stdout).unwrap();
    let status = Command::new("cc")
        .arg(repo().join("examples/c/read_detections.c"))
        .arg("-o")
        .arg(&exe)
        .args(flags.split_whitespace())
        .status()
        .expect("a C compiler");
    assert!(status.success(), "the C example compiles");
    let (det, pose) = (
        planted("planted-det-raw-dyn.onnx"),
        planted("planted-pose-raw-dyn.onnx"),
    );
    let c = frames(&output(Command::new(&exe).args([&det, &pose, "3"])));
    check(&c);
    let python = frames(&output(
        Command::new("/usr/bin/python3")
            .arg(repo().join("examples/python/read_detections.py"))
            .args(["--det", &det, "--pose", &pose, "--frames", "3"]),
    ));
    assert_eq!(c, python);
}

/// Both plugin libraries loaded by gst-launch-1.0, each with its own copy of the meta code:
/// courtsrc's ground truth (its meta) reaches metaexport (the other library's) on every frame.
#[test]
fn both_plugin_libraries_share_the_metas_in_one_process() {
    assert!(plugin_dir().join("libgstcourtsrc.so").exists());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("frames.jsonl");
    output(Command::new("gst-launch-1.0").args([
        "-q",
        "courtsrc",
        "seed=5",
        "num-buffers=4",
        "ground-truth=true",
        "!",
        "video/x-raw,width=320,height=180",
        "!",
        "metaexport",
        &format!("location={}", out.display()),
        "!",
        "fakesink",
    ]));
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "frames in = frames out");
    for l in &lines {
        let truth = l["ground_truth"].as_array().expect("a ground_truth list");
        assert!(
            truth
                .iter()
                .any(|d| d["label"] == "player" && d["track_id"].is_u64()),
            "{l}"
        );
    }
}
