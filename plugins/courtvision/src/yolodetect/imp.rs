// SPDX-License-Identifier: MIT OR Apache-2.0
//! yolodetect: runs an ultralytics YOLO detection export (raw `[B, 4+nc, A]` heads with NMS, or
//! NMS/end-to-end `[B, N, 6]` outputs) on batches of frames and attaches the boxes to each
//! buffer as courtvision detections and GstVideoRegionOfInterestMeta. Everything but its name
//! and debug category comes from the detector base class; it runs any YOLO export (a pose
//! export gives boxes with keypoints here too).

use std::sync::LazyLock;

use gst::glib;
use gst::subclass::prelude::*;

use crate::detector::DetectorImpl;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "yolodetect",
        gst::DebugColorFlags::empty(),
        Some("courtvision YOLO object detector"),
    )
});

#[derive(Default)]
pub struct YoloDetect;

#[glib::object_subclass]
impl ObjectSubclass for YoloDetect {
    const NAME: &'static str = "GstYoloDetect";
    type Type = super::YoloDetect;
    type ParentType = crate::detector::Detector;
}

impl ObjectImpl for YoloDetect {}

impl GstObjectImpl for YoloDetect {}

impl ElementImpl for YoloDetect {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "YOLO object detector",
                "Filter/Analyzer/Video",
                "Detects objects with an ultralytics YOLO ONNX model and attaches them as metadata",
                "courtvision developers",
            )
        });
        Some(&*META)
    }
}

impl DetectorImpl for YoloDetect {
    fn debug_category() -> gst::DebugCategory {
        *CAT
    }
}
