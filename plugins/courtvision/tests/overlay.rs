// SPDX-License-Identifier: MIT OR Apache-2.0
//! overlayrender: shapes at the right place and colour in every format, nothing else changed.

mod common;
use common::*;

const GREY: i32 = 100;

/// RGB pixels of a frame converted back to RGB after the overlay.
fn rgb_of(frame: &Frame, w: usize) -> impl Fn(usize, usize) -> [i32; 3] + '_ {
    let map = frame.buffer.map_readable().unwrap();
    let data: Vec<u8> = map.as_slice().to_vec();
    move |x, y| {
        let o = (y * w + x) * 3;
        [data[o] as i32, data[o + 1] as i32, data[o + 2] as i32]
    }
}

fn near(a: [i32; 3], b: [i32; 3], tol: i32) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

/// Runs grey 640x480 frames through yolodetect (planted boxes) and overlayrender in `format`.
fn overlay(format: &str, props: &str, model: &str) -> Vec<Frame> {
    run(
        &format!(
            "{} ! yolodetect model={} ! videoconvert ! video/x-raw,format={format} ! overlayrender {props} \
             ! videoconvert ! video/x-raw,format=RGB ! fakesink name=sink",
            appsrc_rgb(640, 480),
            planted(model)
        ),
        grey_rgb(640, 480, vec![GREY as u8; 2]),
    )
    .unwrap()
}

#[test]
fn boxes_in_every_format_and_nothing_outside() {
    // Planted boxes (x, y, w, h) and class colours (ultralytics palette): player 0, ball 1, net 2.
    let boxes = [
        ((80, 70, 40, 60), [0x04, 0x2A, 0xFF]),
        ((275, 175, 50, 50), [0x0B, 0xDB, 0xEB]),
        ((276, 175, 50, 50), [0xF3, 0xF3, 0xF3]),
    ];
    let lw = 4i32;
    for format in ["RGB", "RGBA", "BGR", "BGRx", "I420", "NV12"] {
        let yuv = format == "I420" || format == "NV12";
        // YUV 4:2:0 blends colour per 2x2 block and round-trips through limited range.
        let (tol_colour, tol_grey, margin) = if yuv { (24, 3, 2) } else { (1, 1, 0) };
        let frames = overlay(
            format,
            "draw-labels=false line-width=4",
            "planted-det-raw-dyn.onnx",
        );
        assert_eq!(frames.len(), 2);
        let px = rgb_of(&frames[0], 640);
        // The left edge of the player box, mid-height, is drawn in its class colour.
        assert!(
            near(px(80, 100), boxes[0].1, tol_colour),
            "{format}: {:?}",
            px(80, 100)
        );
        // The top edge of the net box (drawn last over the ball box).
        assert!(
            near(px(300, 175), boxes[2].1, tol_colour),
            "{format}: {:?}",
            px(300, 175)
        );
        // Inside the player box (not filled) the frame is untouched.
        assert!(
            near(px(100, 100), [GREY; 3], tol_grey),
            "{format}: {:?}",
            px(100, 100)
        );
        // Nothing changed outside the strokes.
        let drawn = |x: i32, y: i32| {
            boxes.iter().any(|&((bx, by, bw, bh), _)| {
                let m = lw / 2 + 1 + margin;
                let outer = x >= bx - m && x <= bx + bw + m && y >= by - m && y <= by + bh + m;
                let inner = x > bx + m && x < bx + bw - m && y > by + m && y < by + bh - m;
                outer && !inner
            })
        };
        let mut changed_outside = 0;
        for y in 0..480 {
            for x in 0..640 {
                if !drawn(x, y) && !near(px(x as usize, y as usize), [GREY; 3], tol_grey) {
                    changed_outside += 1;
                }
            }
        }
        assert_eq!(
            changed_outside, 0,
            "{format}: pixels changed outside the drawn boxes"
        );
    }
}

#[test]
fn labels_are_drawn_above_the_box() {
    let frames = overlay(
        "RGB",
        "line-width=2 font-size=14",
        "planted-det-raw-dyn.onnx",
    );
    let px = rgb_of(&frames[0], 640);
    // The label background of the player box (class 0 colour) sits just above its top edge.
    // 14 px text in an 18 px label from y = 52 to 70: row 53 is background above the glyphs.
    let above: usize = (80..120)
        .filter(|&x| near(px(x, 53), [0x04, 0x2A, 0xFF], 1))
        .count();
    assert!(
        above > 20,
        "label background above the player box: {above} px"
    );
    // Label text (white on the dark blue) is there too.
    let white = (80..160)
        .flat_map(|x| (52..70).map(move |y| (x, y)))
        .filter(|&(x, y)| px(x, y)[0] > 200)
        .count();
    assert!(white > 10, "label text: {white} px");
    // Far from every box and label, nothing changed.
    assert!(near(px(600, 20), [GREY; 3], 1) && near(px(20, 450), [GREY; 3], 1));
}

#[test]
fn keypoints_and_skeleton_in_pose_colours() {
    let frames = run(
        &format!(
            "{} ! posedetect model={} ! overlayrender draw-boxes=false draw-labels=false line-width=4 \
             ! fakesink name=sink",
            appsrc_rgb(640, 480),
            planted("planted-pose-raw-dyn.onnx")
        ),
        grey_rgb(640, 480, vec![GREY as u8; 1]),
    )
    .unwrap();
    let px = rgb_of(&frames[0], 640);
    // Keypoint 0 (nose, pose palette 16 = green) of the second person at (380, 260).
    assert!(near(px(380, 260), [0, 255, 0], 1), "{:?}", px(380, 260));
    // Keypoint 16 (ankle, pose palette 9) at (380 + 64, 260 + 32).
    assert!(near(px(444, 292), [51, 153, 255], 1), "{:?}", px(444, 292));
    // Box corners are not drawn when boxes are off.
    assert!(near(px(370, 240), [GREY; 3], 1));
    assert!(near(px(370, 300), [GREY; 3], 1));
}

#[test]
fn hud_is_drawn_top_left_only_when_asked() {
    let with = overlay(
        "RGB",
        "hud=true draw-boxes=false draw-labels=false",
        "planted-det-raw-dyn.onnx",
    );
    let without = overlay(
        "RGB",
        "draw-boxes=false draw-labels=false",
        "planted-det-raw-dyn.onnx",
    );
    let (a, b) = (rgb_of(&with[0], 640), rgb_of(&without[0], 640));
    let changed = (0..120)
        .flat_map(|x| (0..30).map(move |y| (x, y)))
        .filter(|&(x, y)| a(x, y) != b(x, y))
        .count();
    assert!(changed > 100, "HUD pixels: {changed}");
    assert!(
        (0..640).all(|x| near(b(x, 10), [GREY; 3], 1)),
        "nothing drawn without HUD and shapes"
    );
}
