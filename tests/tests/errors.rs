//! Bad input: each case ends with a clear error on the bus naming the cause, never a panic or hang.

use courtvision_tests::*;

fn error_of(element: &str) -> String {
    run(
        &format!("{} ! {element} ! fakesink name=sink", appsrc_rgb(64, 48)),
        grey_rgb(64, 48, vec![100; 3]),
    )
    .expect_err("the pipeline must fail")
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
    let err = error_of("yolodetect model=/nonexistent/model.onnx");
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
    assert_mentions(&error_of("yolodetect"), &["no model set"]);
}

#[test]
fn file_that_is_not_onnx() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.onnx");
    std::fs::write(&path, b"this is not a protobuf").unwrap();
    let err = error_of(&format!("yolodetect model={}", path.display()));
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
    let err = error_of(&format!(
        "yolodetect model={} classes=goalpost",
        planted("planted-det-raw-dyn.onnx")
    ));
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
