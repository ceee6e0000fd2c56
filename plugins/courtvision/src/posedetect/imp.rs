//! posedetect: runs an ultralytics YOLO pose export (raw `[B, 4+nc+3k, A]` or end-to-end
//! `[B, N, 6+3k]`) and attaches each person's box and keypoints (with the COCO-17 skeleton when
//! k = 17). Works alone or after yolodetect: both results end up on the same buffer.

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use crate::detector::{detector_element_impl, new_detector, runtime::Detector, Kind};

pub struct PoseDetect {
    detector: Detector,
}

impl AsRef<Detector> for PoseDetect {
    fn as_ref(&self) -> &Detector {
        &self.detector
    }
}

#[glib::object_subclass]
impl ObjectSubclass for PoseDetect {
    const NAME: &'static str = "GstPoseDetect";
    type Type = super::PoseDetect;
    type ParentType = gst::Element;

    fn with_class(_klass: &Self::Class) -> Self {
        PoseDetect {
            detector: new_detector::<Self>(Kind::Pose),
        }
    }
}

detector_element_impl!(
    PoseDetect,
    "YOLO pose estimator",
    "Estimates human poses (boxes and keypoints) with an ultralytics YOLO pose ONNX model and \
     attaches them as metadata"
);
