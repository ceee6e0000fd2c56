// SPDX-License-Identifier: MIT OR Apache-2.0
//! courtsrc on its own, in a gst_check::Harness: deterministic frames and ground truth per
//! seed, ground truth consistent with the frame, any size, format and rate, the YOLO dataset
//! export, and a clear error where it cannot write.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use courtvision_meta::{Detection, DetectionList, GroundTruthMeta, Keypoint};
use gst::prelude::*;

fn init() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gstcourtsrc::plugin_register_static().expect("register courtsrc");
    });
}

/// A frame as the harness received it.
struct Frame {
    pts: Option<gst::ClockTime>,
    buffer: gst::Buffer,
}

/// Every frame `courtsrc {props}` gives under `caps`, until EOS.
fn clip(props: &str, caps: &str) -> Vec<Frame> {
    init();
    let mut h = gst_check::Harness::new_parse(&format!("courtsrc name=cs {props}"));
    h.set_sink_caps_str(caps);
    h.play();
    let mut frames = Vec::new();
    while let Some(buffer) = h.pull_until_eos().expect("courtsrc runs") {
        frames.push(Frame {
            pts: buffer.pts(),
            buffer,
        });
    }
    frames
}

fn truth(f: &Frame) -> DetectionList {
    f.buffer
        .meta::<GroundTruthMeta>()
        .expect("every frame carries ground truth")
        .list()
        .clone()
}

fn bytes(f: &Frame) -> Vec<u8> {
    f.buffer.map_readable().unwrap().to_vec()
}

fn corners(d: &Detection) -> [f32; 4] {
    [d.bbox.x, d.bbox.y, d.bbox.x + d.bbox.w, d.bbox.y + d.bbox.h]
}

const CAPS: &str = "video/x-raw,format=RGBx,width=320,height=180,framerate=30/1";

#[test]
fn same_seed_gives_the_same_frames_and_truth_another_seed_does_not() {
    let a = clip("seed=7 players=3 num-buffers=6", CAPS);
    let b = clip("seed=7 players=3 num-buffers=6", CAPS);
    let c = clip("seed=8 players=3 num-buffers=6", CAPS);
    assert_eq!(a.len(), 6, "num-buffers frames out");
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(x.pts, y.pts);
        assert_eq!(
            x.pts,
            Some(gst::ClockTime::from_nseconds(i as u64 * 1_000_000_000 / 30))
        );
        // Every byte, the x of RGBx included (no uninitialised memory).
        let (bx, by) = (bytes(x), bytes(y));
        let diffs = bx.iter().zip(&by).filter(|(p, q)| p != q).count();
        assert_eq!(
            diffs, 0,
            "frame {i}: bytes differ between two runs of seed 7"
        );
        assert_eq!(truth(x), truth(y), "ground truth of frame {i} differs");
    }
    assert!(
        bytes(&a[3]) != bytes(&c[3]),
        "seeds 7 and 8 render the same frame"
    );
    assert_ne!(truth(&a[3]), truth(&c[3]));
    // Consecutive frames move.
    assert!(bytes(&a[0]) != bytes(&a[5]));
}

#[test]
fn ground_truth_is_inside_the_frame_with_keypoints_in_the_boxes() {
    let (w, h) = (320.0, 180.0);
    let frames = clip("seed=11 players=4 num-buffers=30", CAPS);
    let mut shuttles = 0;
    for f in &frames {
        let list = truth(f);
        let players: Vec<(&Detection, &[Keypoint])> = list
            .iter()
            .filter(|(d, _)| d.label.as_ref() == "player")
            .collect();
        assert_eq!(
            players.len(),
            4,
            "players=4: four labelled players per frame"
        );
        for (d, kpts) in list.iter() {
            let [x1, y1, x2, y2] = corners(d);
            assert!(
                x1 >= 0.0 && y1 >= 0.0 && x2 <= w && y2 <= h,
                "box {:?} leaves the frame",
                d.bbox
            );
            assert!(x2 > x1 && y2 > y1, "empty box {:?}", d.bbox);
            assert_eq!(d.confidence, 1.0);
            assert_eq!(&*d.source, "cs", "the source names itself");
            match d.label.as_ref() {
                "player" => {
                    assert_eq!(kpts.len(), 17);
                    let labelled = kpts.iter().filter(|k| k.score > 0.0).count();
                    assert!(labelled >= 10, "most keypoints of a player are labelled");
                    for k in kpts.iter().filter(|k| k.score > 0.0) {
                        // Keypoints are joint centres, the box bounds the drawn body: a joint
                        // lies inside it (1 px of rounding).
                        assert!(
                            k.x >= x1 - 1.0
                                && k.x <= x2 + 1.0
                                && k.y >= y1 - 1.0
                                && k.y <= y2 + 1.0,
                            "keypoint {k:?} outside its player's box {:?}",
                            d.bbox
                        );
                    }
                }
                "shuttle" => {
                    shuttles += 1;
                    assert!(kpts.is_empty());
                    assert!(
                        d.bbox.w < w / 8.0 && d.bbox.h < h / 8.0,
                        "a shuttle is small: {:?}",
                        d.bbox
                    );
                }
                other => panic!("unexpected ground-truth label {other}"),
            }
        }
        // Ground truth is not a detection: nothing lands in the detections meta or ROIs.
        assert!(f
            .buffer
            .meta::<courtvision_meta::DetectionsMeta>()
            .is_none());
        assert!(f
            .buffer
            .meta::<gst_video::VideoRegionOfInterestMeta>()
            .is_none());
    }
    assert!(
        shuttles >= 15,
        "the shuttle is in view most of a rally ({shuttles} of 30)"
    );
}

#[test]
fn ground_truth_can_be_turned_off_and_netball_has_a_ball() {
    let off = clip("seed=3 num-buffers=2 ground-truth=false", CAPS);
    assert!(off
        .iter()
        .all(|f| f.buffer.meta::<GroundTruthMeta>().is_none()));
    let netball = clip("seed=3 sport=netball num-buffers=30", CAPS);
    let labels: Vec<String> = netball
        .iter()
        .flat_map(|f| {
            truth(f)
                .detections()
                .iter()
                .map(|d| d.label.to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(labels.iter().any(|l| l == "ball"));
    assert!(!labels.iter().any(|l| l == "shuttle"));
}

#[test]
fn any_size_format_and_rate() {
    let frames = clip(
        "seed=5 num-buffers=4",
        "video/x-raw,format=BGR,width=333,height=201,framerate=25/1",
    );
    assert_eq!(frames.len(), 4);
    let stride = (333usize * 3).div_ceil(4) * 4;
    assert_eq!(bytes(&frames[0]).len(), stride * 201);
    assert_eq!(frames[1].pts, Some(gst::ClockTime::from_mseconds(40)));
    // The camera fits the court to any aspect: ground truth scales with the frame.
    for f in &frames {
        for d in truth(f).detections() {
            assert!(d.bbox.x + d.bbox.w <= 333.0 && d.bbox.y + d.bbox.h <= 201.0);
        }
    }
    // Unfixed caps fall back to 1280x720 at 30/1.
    let frames = clip("seed=5 num-buffers=1", "video/x-raw");
    let s = frames[0].buffer.size();
    assert_eq!(s, 1280 * 720 * 4, "default RGBx 1280x720");
}

#[test]
fn timestamps_go_on_over_a_caps_change() {
    init();
    let pipeline = gst::parse::launch(
        "courtsrc seed=5 num-buffers=20 ! capsfilter name=cf \
         caps=video/x-raw,format=RGBx,width=320,height=180,framerate=30/1 \
         ! appsink name=out sync=false",
    )
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sink = pipeline
        .by_name("out")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    let cf = pipeline.by_name("cf").unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut got = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        let b = sample.buffer().unwrap();
        let w = gst_video::VideoInfo::from_caps(sample.caps().unwrap())
            .unwrap()
            .width();
        got.push((b.pts().unwrap(), b.duration().unwrap(), b.offset(), w));
        if got.len() == 10 {
            // New size and rate mid-stream, in the same segment.
            cf.set_property(
                "caps",
                gst::Caps::from_str("video/x-raw,format=RGBx,width=160,height=90,framerate=10/1")
                    .unwrap(),
            );
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    assert_eq!(got.len(), 20, "every frame, before and after the change");
    assert!(got.iter().any(|f| f.3 == 160), "the new caps took effect");
    for pair in got.windows(2) {
        let ((p0, d0, o0, _), (p1, _, o1, _)) = (pair[0], pair[1]);
        assert_eq!(p1, p0 + d0, "timestamps go on without a gap or a restart");
        assert_eq!(o1, o0 + 1, "offsets go on");
    }
    let last = got.last().unwrap();
    assert_eq!(
        last.1,
        gst::ClockTime::from_mseconds(100),
        "10 fps after the change"
    );
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort();
    v
}

#[test]
fn dataset_dir_writes_yolo_detection_and_pose_datasets() {
    let dir = tempfile::tempdir().unwrap();
    let frames = clip(
        &format!(
            "seed=42 players=2 num-buffers=10 dataset-dir={} dataset-interval=3",
            dir.path().display()
        ),
        CAPS,
    );
    assert_eq!(frames.len(), 10, "writing a dataset loses no frame");
    for task in ["detect", "pose"] {
        let images = files(&dir.path().join(task).join("images"), "jpg");
        let labels = files(&dir.path().join(task).join("labels"), "txt");
        // Frames 0, 3, 6, 9.
        assert_eq!(images.len(), 4, "{task}: every third of 10 frames");
        assert_eq!(labels.len(), 4);
        let yaml = std::fs::read_to_string(dir.path().join(format!("{task}.yaml"))).unwrap();
        assert!(yaml.contains("0: player"), "{yaml}");
        for (n, (img, lab)) in images.iter().zip(&labels).enumerate() {
            assert_eq!(img.file_stem(), lab.file_stem());
            let jpg = std::fs::read(img).unwrap();
            assert_eq!(&jpg[..2], &[0xFF, 0xD8], "a JPEG");
            let text = std::fs::read_to_string(lab).unwrap();
            let list = truth(&frames[n * 3]);
            let want = if task == "pose" {
                list.iter()
                    .filter(|(d, _)| d.label.as_ref() == "player")
                    .count()
            } else {
                list.len()
            };
            assert_eq!(
                text.lines().count(),
                want,
                "{}: one line per object",
                lab.display()
            );
            for line in text.lines() {
                let v: Vec<f32> = line.split(' ').map(|x| x.parse().unwrap()).collect();
                assert_eq!(
                    v.len(),
                    if task == "pose" { 5 + 17 * 3 } else { 5 },
                    "{line}"
                );
                assert!(
                    v[1..5].iter().all(|x| (0.0..=1.0).contains(x)),
                    "normalised box: {line}"
                );
            }
        }
    }
    assert!(std::fs::read_to_string(dir.path().join("pose.yaml"))
        .unwrap()
        .contains("kpt_shape: [17, 3]"));
}

#[test]
fn unwritable_dataset_dir_is_a_clear_error() {
    init();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let mut h = gst_check::Harness::new_parse(&format!(
        "courtsrc name=cs num-buffers=3 dataset-dir={}",
        file.join("sub").display()
    ));
    h.set_sink_caps_str(CAPS);
    let src = h.element().unwrap();
    let bus = gst::Bus::new();
    src.set_bus(Some(&bus));
    // Not h.play(): it asserts that the element starts, which is what must not happen here.
    let started = src.set_state(gst::State::Playing);
    let msg = bus
        .timed_pop_filtered(gst::ClockTime::from_seconds(30), &[gst::MessageType::Error])
        .expect("an error on the bus");
    let gst::MessageView::Error(e) = msg.view() else {
        unreachable!()
    };
    let message = e.error().to_string();
    assert!(
        e.error().matches(gst::ResourceError::OpenWrite)
            && message.contains("dataset-dir")
            && message.contains("a-file"),
        "{message} ({started:?})"
    );
    assert_eq!(msg.src().map(|s| s.name()), Some("cs".into()));
    src.set_state(gst::State::Null).unwrap();
}
