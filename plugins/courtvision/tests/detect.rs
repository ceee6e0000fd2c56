// SPDX-License-Identifier: MIT OR Apache-2.0
//! yolodetect on planted-output models: exact boxes, order, batching, formats, filters.

mod common;
use common::*;
use gst::prelude::*;

/// Expected confidence of the first planted object: the mean of the frame's input tensor.
fn mean_conf(g: u8, content: f64, padding: f64) -> f64 {
    (g as f64 * content + 114.0 * padding) / (content + padding) / 255.0
}

fn levels(n: usize) -> Vec<u8> {
    (0..n).map(|i| 80 + 9 * i as u8).collect()
}

#[test]
fn raw_head_boxes_in_frame_pixels_nms_and_order_for_every_batch_size() {
    for batch in 1..=8usize {
        let n = 11; // a partial last batch for every size but 1 and 11
        let frames = run(
            &format!(
                "{} ! yolodetect model={} batch-size={batch} ! fakesink name=sink",
                appsrc_rgb(640, 480),
                planted("planted-det-raw-dyn.onnx")
            ),
            grey_rgb(640, 480, levels(n)),
        )
        .unwrap();
        assert_eq!(
            frames.len(),
            n,
            "batch-size {batch}: frames in = frames out"
        );
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(
                f.pts,
                Some(gst::ClockTime::from_mseconds(40 * i as u64)),
                "order"
            );
            assert_eq!(f.rois.len(), 3, "batch {batch} frame {i}: {:?}", f.rois);
            assert_eq!(f.detections, 3);
            let player = f.roi("player");
            assert_eq!(player.len(), 1);
            assert_eq!(player[0].rect, (80, 70, 40, 60));
            assert_eq!(player[0].class_id, 0);
            assert!(player[0].source.starts_with("yolodetect"));
            // This frame's own result, not a neighbour's in the batch.
            close(player[0].confidence, levels(n)[i] as f64 / 255.0, 1e-3);
            let ball = f.roi("ball");
            assert_eq!(
                ball.len(),
                1,
                "the overlapping ball box is suppressed by NMS"
            );
            assert_eq!(ball[0].rect, (275, 175, 50, 50));
            close(ball[0].confidence, 0.9, 1e-6);
            let net = f.roi("net");
            assert_eq!(
                net.len(),
                1,
                "class-aware NMS keeps another class in the same place"
            );
            assert_eq!(net[0].rect, (276, 175, 50, 50));
        }
    }
}

#[test]
fn rectangular_letterbox_is_undone() {
    // 1280x720 into a dynamic 640 model: 640x360 padded to 640x384 (12 rows on top), scale 2.
    let frames = run(
        &format!(
            "{} ! yolodetect model={} batch-size=2 ! fakesink name=sink",
            appsrc_rgb(1280, 720),
            planted("planted-det-raw-dyn.onnx")
        ),
        grey_rgb(1280, 720, vec![100, 200, 150]),
    )
    .unwrap();
    assert_eq!(frames.len(), 3);
    for (f, g) in frames.iter().zip([100u8, 200, 150]) {
        let p = f.roi("player");
        assert_eq!(p[0].rect, (160, 116, 80, 120));
        close(p[0].confidence, mean_conf(g, 360.0, 24.0), 1e-3);
        assert_eq!(f.roi("ball")[0].rect, (550, 326, 100, 100));
    }
}

#[test]
fn end_to_end_static_batch_and_square_letterbox() {
    // Static 320x320, batch 2: 640x480 → 320x240 with 40 rows of padding on top, scale 2.
    let frames = run(
        &format!(
            "{} ! yolodetect model={} ! fakesink name=sink",
            appsrc_rgb(640, 480),
            planted("planted-det-e2e-static.onnx")
        ),
        grey_rgb(640, 480, vec![90, 120, 150, 180, 210]),
    )
    .unwrap();
    assert_eq!(frames.len(), 5, "the partial last batch (1 of 2) runs");
    for (f, g) in frames.iter().zip([90u8, 120, 150, 180, 210]) {
        let p = f.roi("player");
        assert_eq!(p[0].rect, (160, 40, 80, 160));
        close(p[0].confidence, mean_conf(g, 240.0, 80.0), 1e-3);
        let mut balls: Vec<_> = f.roi("ball").iter().map(|r| r.rect).collect();
        balls.sort();
        assert_eq!(
            balls,
            vec![(400, 120, 120, 120), (404, 120, 120, 120)],
            "no second NMS"
        );
        assert!(f.roi("net").is_empty(), "under the threshold");
    }
}

#[test]
fn fp16_model() {
    let frames = run(
        &format!(
            "{} ! yolodetect model={} batch-size=4 ! fakesink name=sink",
            appsrc_rgb(640, 480),
            planted("planted-det-raw-dyn-fp16.onnx")
        ),
        grey_rgb(640, 480, levels(6)),
    )
    .unwrap();
    assert_eq!(frames.len(), 6);
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.roi("player")[0].rect, (80, 70, 40, 60));
        close(
            f.roi("player")[0].confidence,
            levels(6)[i] as f64 / 255.0,
            3e-3,
        );
        assert_eq!(f.roi("ball")[0].rect, (275, 175, 50, 50));
    }
}

fn labels_of(props: &str) -> Vec<Vec<String>> {
    let frames = run(
        &format!(
            "{} ! yolodetect model={} {props} ! fakesink name=sink",
            appsrc_rgb(640, 480),
            planted("planted-det-raw-dyn.onnx")
        ),
        grey_rgb(640, 480, vec![204, 204]),
    )
    .unwrap();
    frames
        .iter()
        .map(|f| {
            let mut rois = f.rois.clone();
            rois.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
            rois.into_iter().map(|r| r.label).collect()
        })
        .collect()
}

#[test]
fn filters_and_thresholds() {
    // Frame mean 0.8: player 0.8, ball 0.9, net 0.7.
    assert_eq!(labels_of("")[0], ["ball", "player", "net"]);
    assert_eq!(labels_of("classes=ball")[1], ["ball"]);
    assert_eq!(labels_of("classes=0,2")[0], ["player", "net"]);
    assert_eq!(
        labels_of("agnostic-nms=true")[0],
        ["ball", "player"],
        "net suppressed by the ball"
    );
    assert_eq!(labels_of("max-detections=1")[0], ["ball"]);
    assert_eq!(labels_of("conf-threshold=0.85")[0], ["ball"]);
    assert_eq!(
        labels_of("conf-threshold=0.05")[0],
        ["ball", "player", "net", "net"]
    );
    // IoU of the two ball boxes is about 0.9: a threshold above it keeps both.
    assert_eq!(
        labels_of("iou-threshold=0.95")[0],
        ["ball", "ball", "player", "net"]
    );
}

#[test]
fn labels_file_overrides_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.txt");
    std::fs::write(&path, "athlete\nshuttle\nnet\n").unwrap();
    let got = labels_of(&format!("labels={}", path.display()));
    assert_eq!(got[0], ["shuttle", "athlete", "net"]);
}

#[test]
fn every_pixel_format() {
    for format in ["RGB", "RGBA", "BGR", "BGRx", "I420", "NV12"] {
        let frames = run(
            &format!(
                "videotestsrc num-buffers=5 pattern=solid-color foreground-color=0xff808080 ! video/x-raw,width=640,height=480 ! videoconvert \
                 ! video/x-raw,format={format} ! yolodetect model={} batch-size=2 ! fakesink name=sink",
                planted("planted-det-raw-dyn.onnx")
            ),
            no_feed,
        )
        .unwrap();
        assert_eq!(frames.len(), 5, "{format}");
        for f in &frames {
            assert_eq!(f.roi("ball")[0].rect, (275, 175, 50, 50), "{format}");
            // solid grey 128 in every format: the mean lands near 0.5.
            close(f.roi("player")[0].confidence, 0.5, 0.03);
        }
    }
}

/// Three 640x480 frames of level 100, then a caps change, then two 320x240 frames of level
/// 200, through `yolodetect model=planted-det-raw-dyn.onnx batch-size=4 {props}`.
fn caps_change_run(props: &str) -> Vec<Frame> {
    let desc = format!(
        "{} ! yolodetect model={} batch-size=4 {props} ! fakesink name=sink",
        appsrc_rgb(640, 480),
        planted("planted-det-raw-dyn.onnx")
    );
    run(&desc, |src: gst_app::AppSrc| {
        let push = |src: &gst_app::AppSrc, w: usize, h: usize, i: u64, level: u8| {
            let mut b = gst::Buffer::from_mut_slice(vec![level; w * h * 3]);
            b.get_mut()
                .unwrap()
                .set_pts(gst::ClockTime::from_mseconds(40 * i));
            src.push_buffer(b).unwrap();
        };
        for i in 0..3 {
            push(&src, 640, 480, i, 100);
        }
        src.set_caps(Some(
            &gst::Caps::builder("video/x-raw")
                .field("format", "RGB")
                .field("width", 320)
                .field("height", 240)
                .field("framerate", gst::Fraction::new(25, 1))
                .build(),
        ));
        for i in 3..5 {
            push(&src, 320, 240, i, 200);
        }
        src.end_of_stream().unwrap();
    })
    .unwrap()
}

#[test]
fn caps_change_runs_the_partial_batch_and_reletterboxes() {
    let frames = caps_change_run("");
    assert_eq!(frames.len(), 5);
    for f in &frames[..3] {
        assert_eq!(f.roi("player")[0].rect, (80, 70, 40, 60));
    }
    // 320x240 is scaled up 2x into 640x480: boxes halve.
    for f in &frames[3..] {
        assert_eq!(f.roi("player")[0].rect, (40, 35, 20, 30));
    }
}

#[test]
fn max_batch_latency_releases_a_partial_batch_without_eos() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    // Three frames into a batch of 8, then silence: with max-batch-latency the frames come out
    // before EOS. The feed waits (bounded) until they did, then ends the stream.
    let seen_before_eos = Arc::new(AtomicBool::new(false));
    let flag = seen_before_eos.clone();
    init();
    let desc = format!(
        "{} ! yolodetect model={} batch-size=8 max-batch-latency=30 ! fakesink name=sink",
        appsrc_rgb(64, 48),
        planted("planted-det-raw-dyn.onnx")
    );
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c2 = counter.clone();
    let frames = run(&desc, move |src: gst_app::AppSrc| {
        let sink_pad = src
            .parent()
            .and_then(|p| p.downcast::<gst::Bin>().ok())
            .and_then(|b| b.by_name("sink"))
            .and_then(|s| s.static_pad("sink"))
            .unwrap();
        sink_pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            c2.fetch_add(1, Ordering::SeqCst);
            gst::PadProbeReturn::Ok
        });
        for i in 0..3u64 {
            let mut b = gst::Buffer::from_mut_slice(vec![100u8; 64 * 48 * 3]);
            b.get_mut()
                .unwrap()
                .set_pts(gst::ClockTime::from_mseconds(40 * i));
            src.push_buffer(b).unwrap();
        }
        flag.store(
            wait_for(|| counter.load(Ordering::SeqCst) == 3),
            Ordering::SeqCst,
        );
        src.end_of_stream().unwrap();
    })
    .unwrap();
    assert_eq!(frames.len(), 3);
    assert!(
        seen_before_eos.load(Ordering::SeqCst),
        "partial batch held until EOS"
    );
}

#[test]
fn latency_query_reports_the_batch_wait() {
    let (pipeline, src) = play_live(&format!(
        "yolodetect name=det model={} batch-size=5",
        planted("planted-det-raw-dyn.onnx")
    ));
    let mut q = gst::query::Latency::new();
    assert!(wait_for(|| src.query(&mut q)));
    let (live, min, _max) = q.result();
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(live);
    // videotestsrc reports one frame (50 ms); batching adds 4 frames (200 ms) plus run time.
    assert!(
        min >= gst::ClockTime::from_mseconds(250),
        "min latency {min}"
    );
    assert!(min < gst::ClockTime::from_seconds(2), "min latency {min}");
}

/// A shared engine whose session may wait for other streams' batches (engine-batch-latency)
/// adds that wait to the latency; where its runs are not combined (engine-batch-size=1, or the
/// CPU provider's default) the wait never happens and is not reported.
#[test]
fn latency_query_reports_the_engine_wait() {
    let min_latency = |name: &str, engine: &str| {
        let (pipeline, src) = play_live(&format!(
            "yolodetect name=det model={} batch-size=1 engine-name={name} \
             engine-batch-latency=300 {engine}",
            planted("planted-det-raw-dyn.onnx")
        ));
        let mut q = gst::query::Latency::new();
        assert!(wait_for(|| src.query(&mut q)));
        pipeline.set_state(gst::State::Null).unwrap();
        q.result().1
    };
    // videotestsrc's frame (50 ms) and the session's wait (300 ms), plus run time.
    let waits = min_latency("latency-waits", "engine-batch-size=8");
    assert!(
        waits >= gst::ClockTime::from_mseconds(350),
        "min latency {waits}"
    );
    // Runs not combined: asked for, or the CPU provider's default (engine-batch-size=0).
    for (name, props) in [
        ("latency-alone", "engine-batch-size=1"),
        ("latency-cpu", ""),
    ] {
        let alone = min_latency(name, props);
        assert!(
            alone < gst::ClockTime::from_mseconds(300),
            "{name}: min latency {alone}"
        );
    }
}

#[test]
fn json_serialization_of_a_frame() {
    let frames = run(
        &format!(
            "{} ! yolodetect model={} ! fakesink name=sink",
            appsrc_rgb(640, 480),
            planted("planted-det-raw-dyn.onnx")
        ),
        grey_rgb(640, 480, vec![204]),
    )
    .unwrap();
    let json = &frames[0].json;
    assert!(
        json.starts_with("{\"schema\":1,\"frame\":0,\"pts\":0,"),
        "{json}"
    );
    assert!(json.contains("\"label\":\"ball\""), "{json}");
    assert!(
        json.contains("\"box\":{\"x\":275.0,\"y\":175.0,\"w\":50.0,\"h\":50.0}"),
        "{json}"
    );
}

#[test]
fn metadata_follows_videoscale() {
    let frames = run(
        &format!(
            "{} ! yolodetect model={} ! videoscale ! video/x-raw,width=320,height=240 ! fakesink name=sink",
            appsrc_rgb(640, 480),
            planted("planted-det-raw-dyn.onnx")
        ),
        grey_rgb(640, 480, vec![150; 2]),
    )
    .unwrap();
    assert_eq!(frames.len(), 2);
    for f in &frames {
        let ball = f
            .boxes
            .iter()
            .find(|(l, _)| l == "ball")
            .expect("detections meta kept");
        assert_eq!(
            ball.1,
            [137.5, 87.5, 25.0, 25.0],
            "courtvision meta scaled with the frame"
        );
        assert_eq!(
            f.roi("ball")[0].rect,
            (137, 87, 25, 25),
            "ROI meta scaled too"
        );
        assert!(
            f.rois.iter().all(|r| r.confidence.is_nan()),
            "1.22 drops ROI params on scale"
        );
    }
}

#[test]
fn flushing_seek_discards_queued_frames_and_continues() {
    seek_and_check("");
}

#[test]
fn flushing_seek_with_skipping_and_interpolation() {
    // Skipped frames held for interpolation before the seek are dropped with the flush; after
    // it, every frame comes out with results (the last ones held at EOS).
    seek_and_check("motionskip mode=fixed interval=3 ! ");
}

/// Seeks (flushing) to 2.0-2.4 s and checks the 10 frames after it: in order, each with boxes.
fn seek_and_check(before: &str) {
    use std::sync::{Arc, Mutex};
    init();
    let fill = if before.is_empty() {
        ""
    } else {
        "fill=interpolate"
    };
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc ! video/x-raw,width=64,height=48,framerate=25/1 ! {before}\
         yolodetect model={} batch-size=4 {fill} ! fakesink name=sink sync=false",
        planted("planted-det-raw-dyn.onnx")
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let pad = pipeline
        .by_name("sink")
        .unwrap()
        .static_pad("sink")
        .unwrap();
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        let b = info.buffer().unwrap();
        let n = b
            .iter_meta::<gst_video::VideoRegionOfInterestMeta>()
            .count();
        s.lock().unwrap().push((b.pts().unwrap(), n));
        gst::PadProbeReturn::Ok
    });
    pipeline.set_state(gst::State::Paused).unwrap();
    assert_eq!(
        pipeline.state(gst::ClockTime::from_seconds(30)).0,
        Ok(gst::StateChangeSuccess::Success)
    );
    pipeline
        .seek(
            1.0,
            gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE,
            gst::SeekType::Set,
            gst::ClockTime::from_seconds(2),
            gst::SeekType::Set,
            gst::ClockTime::from_mseconds(2400),
        )
        .unwrap();
    seen.lock().unwrap().clear();
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(60),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("EOS after the seek segment");
    assert_eq!(msg.type_(), gst::MessageType::Eos, "{msg:?}");
    pipeline.set_state(gst::State::Null).unwrap();
    let seen = seen.lock().unwrap();
    let pts: Vec<u64> = seen.iter().map(|(p, _)| p.mseconds()).collect();
    // 2.0 s to 2.4 s at 25 fps: 10 frames (a partial last batch at EOS), each with its boxes.
    assert_eq!(pts, (0..10).map(|i| 2000 + 40 * i).collect::<Vec<_>>());
    assert!(seen.iter().all(|(_, n)| *n == 3));
}

/// `preprocess=device` (uint8 frames letterboxed by an ONNX Runtime graph, here on the CPU
/// provider) gives the host path's results: planted models in every format, partial batches,
/// fp16, and a caps change that re-letterboxes.
#[test]
fn device_preprocessing_matches_host() {
    for format in ["RGB", "RGBA", "BGR", "BGRx", "I420", "NV12"] {
        for model in ["planted-det-raw-dyn.onnx", "planted-det-raw-dyn-fp16.onnx"] {
            let results = |pre: &str| {
                run(
                    &format!(
                        "videotestsrc num-buffers=7 pattern=smpte ! video/x-raw,width=320,height=240 \
                         ! videoconvert ! video/x-raw,format={format} \
                         ! yolodetect model={} batch-size=3 preprocess={pre} ! fakesink name=sink",
                        planted(model)
                    ),
                    no_feed,
                )
                .unwrap()
            };
            let (host, device) = (results("host"), results("device"));
            assert_eq!(device.len(), 7, "{format} {model}: frames in = frames out");
            for (h, d) in host.iter().zip(&device) {
                assert_eq!(h.pts, d.pts);
                let (hp, dp) = (h.roi("player"), d.roi("player"));
                assert_eq!(dp.len(), 1, "{format} {model}");
                assert_eq!(hp[0].rect, dp[0].rect);
                // The frame mean, within the uint8 resize's rounding.
                close(dp[0].confidence, hp[0].confidence, 4e-3);
                assert_eq!(d.roi("ball")[0].rect, h.roi("ball")[0].rect);
            }
        }
    }
}

#[test]
fn device_preprocessing_follows_a_caps_change() {
    let frames = caps_change_run("preprocess=device");
    assert_eq!(frames.len(), 5);
    for f in &frames[..3] {
        assert_eq!(f.roi("player")[0].rect, (80, 70, 40, 60));
        close(f.roi("player")[0].confidence, 100.0 / 255.0, 4e-3);
    }
    for f in &frames[3..] {
        assert_eq!(f.roi("player")[0].rect, (40, 35, 20, 30));
        close(f.roi("player")[0].confidence, 200.0 / 255.0, 4e-3);
    }
}

/// `cuda-graph` where it cannot apply (the CPU provider) says so on the bus and runs without.
#[test]
fn cuda_graph_without_cuda_warns_and_runs() {
    let (frames, warnings) = run_with_warnings(
        &format!(
            "{} ! yolodetect model={} cuda-graph=true ! fakesink name=sink",
            appsrc_rgb(640, 480),
            planted("planted-det-raw-dyn.onnx")
        ),
        grey_rgb(640, 480, levels(3)),
    )
    .unwrap();
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0].roi("player")[0].rect, (80, 70, 40, 60));
    assert!(
        warnings.iter().any(|w| w.contains("cuda-graph")),
        "{warnings:?}"
    );
}

/// CUDA memory (nvh264dec's output) is in the templates, but an element that cannot read it
/// (the CPU provider here) takes it out of its caps answer and shares no CUDA context, so
/// decoders upstream fall back to system memory. Caps that still say CUDA memory over
/// readable buffers are read on the host.
#[test]
fn cuda_memory_only_where_the_element_can_take_it() {
    init();
    let cuda = |caps: &gst::CapsRef| {
        caps.iter_with_features()
            .any(|(_, f)| f.contains("memory:CUDAMemory"))
    };
    let element = gst::ElementFactory::make("yolodetect")
        .property("model", planted("planted-det-raw-dyn.onnx"))
        .build()
        .unwrap();
    let pad = element.static_pad("sink").unwrap();
    assert!(
        cuda(&pad.pad_template_caps()),
        "template offers CUDA memory"
    );
    element.set_state(gst::State::Ready).unwrap();
    let caps = pad.query_caps(None);
    assert!(!caps.is_empty() && !cuda(&caps), "{caps}");
    let src_caps = element.static_pad("src").unwrap().query_caps(None);
    assert!(!src_caps.is_empty() && !cuda(&src_caps), "{src_caps}");
    let mut query = gst::query::Context::new("gst.cuda.context");
    assert!(!pad.query(&mut query), "no CUDA context to share");
    element.set_state(gst::State::Null).unwrap();

    let run_with = |feature: &str| {
        run(
            &format!(
                "appsrc name=src format=time caps=\"video/x-raw{feature},format=RGB,width=640,\
                 height=480,framerate=25/1\" ! yolodetect model={} ! fakesink name=sink",
                planted("planted-det-raw-dyn.onnx")
            ),
            grey_rgb(640, 480, levels(3)),
        )
        .unwrap()
    };
    let (system, cuda_caps) = (run_with(""), run_with("(memory:CUDAMemory)"));
    assert_eq!(cuda_caps.len(), 3);
    for (s, c) in system.iter().zip(&cuda_caps) {
        assert_eq!(c.roi("player")[0].rect, (80, 70, 40, 60));
        assert_eq!(c.roi("player")[0].rect, s.roi("player")[0].rect);
        assert_eq!(c.roi("player")[0].confidence, s.roi("player")[0].confidence);
    }
}
