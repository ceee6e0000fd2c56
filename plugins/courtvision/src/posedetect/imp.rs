// SPDX-License-Identifier: MIT OR Apache-2.0
//! posedetect: runs an ultralytics YOLO pose export (raw `[B, 4+nc+3k, A]` or end-to-end
//! `[B, N, 6+3k]`) and attaches each person's box and keypoints (with the COCO-17 skeleton when
//! k = 17). Works alone or after yolodetect: both results end up on the same buffer. The
//! detector base class does the work; this subclass refuses models without keypoints.

use std::path::Path;
use std::sync::LazyLock;

use gst::glib;
use gst::subclass::prelude::*;

use courtvision_infer::{ModelInfo, Task};

use crate::detector::{DetectorError, DetectorImpl};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "posedetect",
        gst::DebugColorFlags::empty(),
        Some("courtvision YOLO pose estimator"),
    )
});

#[derive(Default)]
pub struct PoseDetect;

#[glib::object_subclass]
impl ObjectSubclass for PoseDetect {
    const NAME: &'static str = "GstPoseDetect";
    type Type = super::PoseDetect;
    type ParentType = crate::detector::Detector;
}

impl ObjectImpl for PoseDetect {}

impl GstObjectImpl for PoseDetect {}

impl ElementImpl for PoseDetect {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "YOLO pose estimator",
                "Filter/Analyzer/Video",
                "Estimates human poses (boxes and keypoints) with an ultralytics YOLO pose ONNX \
                 model and attaches them as metadata",
                "courtvision developers",
            )
        });
        Some(&*META)
    }
}

impl DetectorImpl for PoseDetect {
    fn debug_category() -> gst::DebugCategory {
        *CAT
    }

    fn check_model(&self, model: &Path, info: &ModelInfo) -> Result<(), DetectorError> {
        if info.task == Task::Pose {
            Ok(())
        } else {
            Err(DetectorError::WrongModel(format!(
                "{} is not a pose model (no kpt_shape); use yolodetect for detection models",
                model.display()
            )))
        }
    }
}
