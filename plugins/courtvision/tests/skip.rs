// SPDX-License-Identifier: MIT OR Apache-2.0
//! motionskip decisions on generated video, feedback from the detectors, and results on skipped
//! frames (fill=none|hold|interpolate) with a planted model whose box moves linearly.

mod common;
use common::*;
use gst::prelude::*;

/// A 320x240 RGB frame: black with a white vertical bar of 40 px at `x`.
fn bar_frame(x: usize) -> Vec<u8> {
    let (w, h) = (320, 240);
    let mut v = vec![0u8; w * h * 3];
    for y in 0..h {
        for xx in x..(x + 40).min(w) {
            let o = (y * w + xx) * 3;
            v[o..o + 3].copy_from_slice(&[255, 255, 255]);
        }
    }
    v
}

/// 10 static frames, 10 with the bar moving 25 px a frame, then static 10 px further on.
fn static_moving_static(src: gst_app::AppSrc) {
    let xs: Vec<usize> = (0..30)
        .map(|i| {
            if i < 10 {
                20
            } else if i < 20 {
                20 + 25 * (i - 9)
            } else {
                280
            }
        })
        .collect();
    for (i, x) in xs.into_iter().enumerate() {
        let mut b = gst::Buffer::from_mut_slice(bar_frame(x));
        b.get_mut()
            .unwrap()
            .set_pts(gst::ClockTime::from_mseconds(40 * i as u64));
        src.push_buffer(b).unwrap();
    }
    src.end_of_stream().unwrap();
}

fn motion(props: &str) -> Vec<Frame> {
    run(
        &format!(
            "{} ! motionskip {props} ! fakesink name=sink",
            appsrc_rgb(320, 240)
        ),
        static_moving_static,
    )
    .unwrap()
}

#[test]
fn fixed_mode_infers_every_interval_th_frame() {
    let frames = motion("mode=fixed interval=3");
    assert_eq!(decisions(&frames), "IssIssIssIssIssIssIssIssIssIss");
    assert_eq!(frames[0].stages.len(), 1);
    assert!(
        frames[0].stages[0].starts_with("motionskip"),
        "{:?}",
        frames[0].stages
    );
}

#[test]
fn adaptive_mode_skips_static_segments_and_infers_motion() {
    let frames = motion("mode=adaptive min-skip=0 max-skip=4");
    assert_eq!(frames.len(), 30);
    let d = decisions(&frames);
    // Static: the maximum skip run; moving (frames 10..20, score far above the high threshold):
    // every frame; static again from frame 21: skipping.
    assert_eq!(&d[..10], "IssssIssss");
    assert_eq!(&d[10..21], "IIIIIIIIIII");
    assert_eq!(&d[21..], "ssssIssss");
    assert_eq!(frames[3].motion.unwrap().score, 0.0);
    assert!(frames[12].motion.unwrap().score > 8.0);
}

#[test]
fn drop_skipped_drops_them() {
    let frames = motion("mode=fixed interval=3 drop-skipped=true");
    assert_eq!(frames.len(), 10);
    assert!(frames.iter().all(|f| f.decision() == 'I'));
}

/// Frames of grey 50 + 5i: the moving model's player box has centre x = 2 * grey in the 640-wide
/// model input, so x = grey = 50 + 5i in these 320x240 frames (box 20 px wide: left edge 40 + 5i).
fn ramp(n: usize) -> Vec<u8> {
    (0..n).map(|i| 50 + 5 * i as u8).collect()
}

fn player_x(f: &Frame) -> Option<(u32, bool)> {
    f.roi("player").first().map(|r| (r.rect.0, r.filled))
}

fn filled_run(fill: &str, n: usize) -> Vec<Frame> {
    run(
        &format!(
            "{} ! motionskip mode=fixed interval=4 ! yolodetect model={} batch-size=2 fill={fill} ! fakesink name=sink",
            appsrc_rgb(320, 240),
            planted("planted-det-moving.onnx")
        ),
        grey_rgb(320, 240, ramp(n)),
    )
    .unwrap()
}

#[test]
fn fill_none_hold_interpolate() {
    let n = 11; // inferred: 0, 4, 8; skipped 9 and 10 have no later inferred frame (EOS)
    let expected_x = |i: usize| (40 + 5 * i) as u32;

    let none = filled_run("none", n);
    assert_eq!(none.len(), n);
    assert_eq!(decisions(&none), "IsssIsssIss");
    for (i, f) in none.iter().enumerate() {
        match f.decision() {
            'I' => assert_eq!(player_x(f), Some((expected_x(i), false))),
            _ => assert!(f.rois.is_empty(), "frame {i}: no results without fill"),
        }
    }

    let hold = filled_run("hold", n);
    for (i, f) in hold.iter().enumerate() {
        let last_inferred = i - i % 4;
        let want = (expected_x(last_inferred), f.decision() == 's');
        assert_eq!(player_x(f), Some(want), "hold frame {i}");
    }

    let interp = filled_run("interpolate", n);
    assert_eq!(interp.len(), n, "frames in = frames out");
    let pts: Vec<_> = interp.iter().map(|f| f.pts.unwrap().mseconds()).collect();
    assert_eq!(
        pts,
        (0..n as u64).map(|i| 40 * i).collect::<Vec<_>>(),
        "order kept"
    );
    for (i, f) in interp.iter().enumerate() {
        let (x, filled) = player_x(f).unwrap_or_else(|| panic!("frame {i} has a player"));
        assert_eq!(filled, f.decision() == 's');
        if i <= 8 {
            // Between two inferred frames: exactly on the linear path.
            assert_eq!(x, expected_x(i), "interpolated frame {i}");
        } else {
            // After the last inferred frame (EOS): held.
            assert_eq!(x, expected_x(8), "held frame {i}");
        }
        // The static ball is there on every frame too.
        assert_eq!(f.roi("ball").len(), 1);
    }
}

#[test]
fn feedback_from_detectors_changes_decisions() {
    // A static grey ramp (score 5 < low-threshold 10) allows the maximum skip of 4; the moving
    // player (5 px a frame at 25 fps = 125 px/s) reported by yolodetect forces every frame
    // once fast-speed is under it. Lock-step feeding makes the feedback arrive in between frames.
    let run_with = |fast: f64, many: u32| {
        decisions(
            &run(
                &format!(
                    "{} ! motionskip mode=adaptive low-threshold=10 high-threshold=20 max-skip=4 \
                     fast-speed={fast} many-objects={many} ! yolodetect model={} batch-size=1 ! fakesink name=sink",
                    appsrc_rgb(320, 240),
                    planted("planted-det-moving.onnx")
                ),
                grey_rgb_lockstep(320, 240, ramp(12)),
            )
            .unwrap(),
        )
    };
    assert_eq!(
        run_with(1000.0, 100),
        "IssssIssssIs",
        "slow and few: skipping"
    );
    // Speed is known from the second inferred frame on (it needs two inferred frames).
    assert_eq!(
        run_with(100.0, 100),
        "IssssIIIIIII",
        "fast: every frame after the speed is known"
    );
    // Two objects (player and ball) reach many-objects=2 from the first inferred frame.
    assert_eq!(
        run_with(1000.0, 2),
        "IIIIIIIIIIII",
        "many objects: every frame"
    );
}

#[test]
fn interpolation_latency_is_reported() {
    let (pipeline, src) = play_live(&format!(
        "motionskip mode=fixed interval=4 \
         ! yolodetect name=det model={} batch-size=1 fill=interpolate",
        planted("planted-det-raw-dyn.onnx")
    ));
    // Once motionskip announced its skip run (with the first frame), the answer includes
    // 3 held frames (150 ms) on top of videotestsrc's 50 ms.
    let mut min = gst::ClockTime::ZERO;
    let ok = wait_for(|| {
        let mut q = gst::query::Latency::new();
        if src.query(&mut q) {
            min = q.result().1;
        }
        min >= gst::ClockTime::from_mseconds(200)
    });
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(ok, "latency {min}");
    assert!(min < gst::ClockTime::from_seconds(1), "latency {min}");
}
