// SPDX-License-Identifier: MIT OR Apache-2.0
//! Bad input: each case ends with a clear error on the bus naming the cause, in the GStreamer
//! error domain an application looks for, never a panic or hang. One element under test, in a
//! gst_check::Harness fed grey RGB frames.

mod common;
use common::*;
use gst::prelude::*;

/// The first error `element` (a launch line of one element) posts when it is started and fed
/// three frames: "element: message | debug: ...", and the error itself for its domain. An
/// element that starts is fed by a gst_check::Harness; one that does not posts its error going
/// to PLAYING (a harness would only assert).
fn failure_of(element: &str) -> (String, gst::glib::Error) {
    init();
    let element = gst::parse::launch(element).expect("one element");
    let bus = gst::Bus::new();
    element.set_bus(Some(&bus));
    if element.set_state(gst::State::Playing).is_ok() {
        let mut h = gst_check::Harness::with_element(&element, Some("sink"), Some("src"));
        h.set_src_caps_str("video/x-raw,format=RGB,width=64,height=48,framerate=25/1");
        for i in 0..3u64 {
            let mut buffer = gst::Buffer::from_mut_slice(vec![100u8; 64 * 48 * 3]);
            buffer
                .get_mut()
                .unwrap()
                .set_pts(gst::ClockTime::from_mseconds(40 * i));
            if h.push(buffer).is_err() {
                break;
            }
        }
        let _ = h.push_event(gst::event::Eos::new());
    }
    let msg = bus
        .timed_pop_filtered(gst::ClockTime::from_seconds(60), &[gst::MessageType::Error])
        .expect("the element must post an error");
    element.set_state(gst::State::Null).unwrap();
    let gst::MessageView::Error(e) = msg.view() else {
        unreachable!()
    };
    let text = format!(
        "{}: {} | debug: {}",
        msg.src().map(|s| s.name().to_string()).unwrap_or_default(),
        e.error(),
        e.debug().map(|d| d.to_string()).unwrap_or_default()
    );
    (text, e.error())
}

fn error_of(element: &str) -> String {
    failure_of(element).0
}

/// The words must be in the error's message, not only in its debug part.
#[track_caller]
fn assert_mentions(err: &str, words: &[&str]) {
    let message = err.split(" | debug: ").next().unwrap_or(err);
    for w in words {
        assert!(
            message.contains(w),
            "error message does not mention '{w}': {err}"
        );
    }
}

#[test]
fn missing_model_file() {
    let (err, e) = failure_of("yolodetect model=/nonexistent/model.onnx");
    assert!(e.matches(gst::ResourceError::NotFound), "{err}");
    assert_mentions(
        &err,
        &[
            "yolodetect",
            "model file not found",
            "/nonexistent/model.onnx",
        ],
    );
}

#[test]
fn no_model_set() {
    let (err, e) = failure_of("yolodetect");
    assert!(e.matches(gst::ResourceError::NotFound), "{err}");
    assert_mentions(&err, &["no model set"]);
}

#[test]
fn a_directory_is_not_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let (err, e) = failure_of(&format!("posedetect model={}", dir.path().display()));
    assert!(e.matches(gst::ResourceError::OpenRead), "{err}");
    assert_mentions(
        &err,
        &[
            "posedetect",
            "is a directory",
            &dir.path().display().to_string(),
        ],
    );
}

#[test]
fn file_that_is_not_onnx() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.onnx");
    std::fs::write(&path, b"this is not a protobuf").unwrap();
    let (err, e) = failure_of(&format!("yolodetect model={}", path.display()));
    assert!(e.matches(gst::ResourceError::Read), "{err}");
    assert_mentions(&err, &["could not be loaded", "notes.onnx"]);
}

#[test]
fn unsupported_output_layout() {
    let err = error_of(&format!(
        "yolodetect model={}",
        planted("planted-bad-layout.onnx")
    ));
    assert_mentions(&err, &["unsupported model", "output"]);
}

#[test]
fn pose_element_with_a_detection_model() {
    let err = error_of(&format!(
        "posedetect model={}",
        planted("planted-det-raw-dyn.onnx")
    ));
    assert_mentions(&err, &["not a pose model"]);
}

#[test]
fn wrong_ort_library_path() {
    let err = error_of(&format!(
        "yolodetect model={} ort-library=/nonexistent/libonnxruntime.so.1.31.1",
        planted("planted-det-raw-dyn.onnx")
    ));
    assert_mentions(
        &err,
        &[
            "ONNX Runtime library not found",
            "/nonexistent/libonnxruntime.so.1.31.1",
        ],
    );
}

#[test]
fn unknown_class_name() {
    let (err, e) = failure_of(&format!(
        "yolodetect model={} classes=goalpost",
        planted("planted-det-raw-dyn.onnx")
    ));
    assert!(e.matches(gst::LibraryError::Settings), "{err}");
    assert_mentions(&err, &["no class named 'goalpost'"]);
}

#[test]
fn unsupported_caps() {
    let err = run(
        &format!(
            "appsrc name=src format=time caps=video/x-raw,format=GRAY8,width=64,height=48,framerate=25/1 \
             ! yolodetect model={} ! fakesink name=sink",
            planted("planted-det-raw-dyn.onnx")
        ),
        |src: gst_app::AppSrc| {
            let _ = src.push_buffer(gst::Buffer::from_mut_slice(vec![0u8; 64 * 48]));
            let _ = src.end_of_stream();
        },
    )
    .expect_err("GRAY8 must be refused");
    assert_mentions(&err, &["unsupported caps", "GRAY8", "videoconvert"]);
}

#[test]
fn gpu_providers_fail_clearly_without_a_gpu_build() {
    for ep in ["cuda", "tensorrt"] {
        let err = error_of(&format!(
            "yolodetect model={} execution-provider={ep}",
            planted("planted-det-raw-dyn.onnx")
        ));
        assert_mentions(
            &err,
            &[
                "is not available in this ONNX Runtime build",
                "execution-provider=cpu",
            ],
        );
    }
}

#[test]
fn auto_provider_falls_back_to_cpu_with_a_warning() {
    let (frames, warnings) = run_with_warnings(
        &format!(
            "{} ! yolodetect model={} execution-provider=auto ! fakesink name=sink",
            appsrc_rgb(64, 48),
            planted("planted-det-raw-dyn.onnx")
        ),
        grey_rgb(64, 48, vec![100; 3]),
    )
    .unwrap();
    assert_eq!(frames.len(), 3);
    assert!(!frames[0].rois.is_empty());
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("execution-provider=auto") && w.contains("CPU")),
        "{warnings:?}"
    );
}

/// The model loads on a thread of its own from NULL → READY: a file ONNX Runtime cannot load
/// fails going to PAUSED (once, with its error on the bus), every later try says so again
/// without hanging, and back in NULL the element takes a good model and runs it.
#[test]
fn a_model_that_fails_to_load_fails_going_to_paused_and_the_element_recovers() {
    init();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.onnx");
    std::fs::write(&bad, b"not a model at all").unwrap();
    let element = gst::ElementFactory::make("yolodetect")
        .property("model", bad.display().to_string())
        .build()
        .unwrap();
    let bus = gst::Bus::new();
    element.set_bus(Some(&bus));
    element.set_state(gst::State::Ready).unwrap();
    // A caps query in READY waits for the load, and answers even though it failed.
    let caps = element.static_pad("sink").unwrap().query_caps(None);
    assert!(!caps.is_empty(), "{caps}");
    assert!(element.set_state(gst::State::Paused).is_err());
    assert!(element.set_state(gst::State::Paused).is_err());
    let errors: Vec<String> = std::iter::from_fn(|| bus.pop_filtered(&[gst::MessageType::Error]))
        .map(|m| match m.view() {
            gst::MessageView::Error(e) => e.error().to_string(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_mentions(&errors[0], &["could not be loaded", "broken.onnx"]);
    assert_eq!(errors[0], errors[1]);
    element.set_state(gst::State::Null).unwrap();
    element.set_bus(None);

    element.set_property("model", planted("planted-det-raw-dyn.onnx"));
    let pipeline = gst::Pipeline::new();
    let src = gst::ElementFactory::make("videotestsrc")
        .property("num-buffers", 3)
        .build()
        .unwrap();
    let caps = gst::ElementFactory::make("capsfilter")
        .property(
            "caps",
            gst::Caps::builder("video/x-raw")
                .field("format", "RGB")
                .field("width", 64)
                .field("height", 48)
                .build(),
        )
        .build()
        .unwrap();
    let sink = gst::ElementFactory::make("fakesink").build().unwrap();
    pipeline.add_many([&src, &caps, &element, &sink]).unwrap();
    gst::Element::link_many([&src, &caps, &element, &sink]).unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let msg = pipeline
        .bus()
        .unwrap()
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(60),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("EOS or an error");
    assert!(matches!(msg.view(), gst::MessageView::Eos(_)), "{msg:?}");
    pipeline.set_state(gst::State::Null).unwrap();
}
